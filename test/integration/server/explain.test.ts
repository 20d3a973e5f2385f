/**
 * `POST /v1/explain` through `app.request()`: text and JSON bodies, transcripts, bad input, and the
 * app's authentication, rate limit and body limit.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { readFileSync } from 'node:fs';

import { createVerifier, type BounceExplanation, type ReplyExplanation } from '../../../src/index.js';
import { createApp } from '../../../src/server/app.js';
import { KEY_A, bearer } from './helpers.js';

// Never asked to verify: the explain route only reads what it is sent.
const verifier = createVerifier({});
after(async () => {
  await verifier.close();
});

const app = createApp({
  verifier,
  apiKeys: [KEY_A],
  rateLimit: { perMinute: 600, burst: 100 },
  limits: { maxBodyBytes: 4_096 },
});

async function explain(
  body: string | Uint8Array,
  type: string,
  headers: Record<string, string> = bearer(KEY_A),
): Promise<Response> {
  return app.request('/v1/explain', { method: 'POST', headers: { 'Content-Type': type, ...headers }, body });
}

async function explanationsOf(response: Response): Promise<ReplyExplanation[]> {
  assert.equal(response.status, 200);
  const { explanations } = (await response.json()) as { explanations: ReplyExplanation[] };
  return explanations;
}

describe('POST /v1/explain', () => {
  it('explains a text/plain reply', async () => {
    const [e, ...rest] = await explanationsOf(
      await explain(
        '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in local recipient table',
        'text/plain',
      ),
    );
    assert.equal(rest.length, 0);
    assert.deepEqual(
      [e?.verdict, e?.reason, e?.category, e?.side, e?.action.kind],
      ['undeliverable', 'mailbox_not_found', 'mailbox_unknown', 'recipient', 'remove_address'],
    );
  });

  it('reads a text body in its charset, or as UTF-16 by its byte-order mark', async () => {
    const reply = '550 5.1.1 <zoë@example.com>: Recipient address rejected: User unknown';
    const utf16 = Buffer.from(reply, 'utf16le');
    // Before: "The input is binary data", every other byte of UTF-16 read as a NUL.
    for (const [body, type] of [
      [utf16, 'text/plain; charset=utf-16le'],
      [Buffer.concat([Buffer.from([0xff, 0xfe]), utf16]), 'text/plain'],
      [Buffer.from(reply.replace('zoë', 'zo\xeb'), 'latin1'), 'text/plain; charset=ISO-8859-1'],
    ] as const) {
      const [e] = await explanationsOf(await explain(body, type));
      assert.deepEqual([e?.reason, e?.reply.text], ['mailbox_not_found', reply.slice(10)], type);
    }
    const refused = await explain(reply, 'text/plain; charset=klingon');
    assert.equal(refused.status, 400);
  });

  it('takes {reply, command, provider} as JSON', async () => {
    const body = JSON.stringify({
      reply: '550 5.5.0 Requested action not taken: mailbox unavailable',
      command: 'RCPT',
      provider: 'outlook',
    });
    const [e] = await explanationsOf(await explain(body, 'application/json'));
    assert.deepEqual([e?.reason, e?.provider, e?.reply.command], ['mailbox_not_found', 'outlook', 'RCPT']);
    const [plain] = await explanationsOf(
      await explain(
        JSON.stringify({ reply: '552 5.3.4 Message size exceeds fixed limit', command: 'DATA' }),
        'application/json',
      ),
    );
    assert.deepEqual([plain?.category, plain?.readAs], ['content_size', 'data']);
  });

  it('answers one explanation per reply of a transcript', async () => {
    const transcript =
      'S: 220 mx.example.com ESMTP\nC: HELO probe.example.net\nS: 250 mx.example.com\nC: MAIL FROM:<a@example.net>\nS: 553 5.7.1 Sender address rejected: not owned by user\n';
    const explanations = await explanationsOf(await explain(transcript, 'text/plain'));
    assert.deepEqual(
      explanations.map((e) => [e.reply.command, e.category]),
      [
        ['CONNECT', 'accepted'],
        ['HELO', 'accepted'],
        ['MAIL', 'sender_address'],
      ],
    );
  });

  it('answers bad input with a not_a_reply explanation that says why', async () => {
    const [empty] = await explanationsOf(await explain('', 'text/plain'));
    assert.equal(empty?.category, 'not_a_reply');
    assert.match(empty?.meaning ?? '', /empty/);
    const [none] = await explanationsOf(
      await explain(JSON.stringify({ reply: 'User unknown' }), 'application/json'),
    );
    assert.match(none?.meaning ?? '', /No SMTP reply code/);
  });

  it('refuses malformed JSON, a bad command and other media types', async () => {
    assert.equal((await explain('{"reply":', 'application/json')).status, 400);
    assert.equal(
      (await explain(JSON.stringify({ reply: '550 x', command: 'LIST' }), 'application/json')).status,
      400,
    );
    const other = await explain('<x/>', 'application/xml');
    assert.equal(other.status, 415);
    assert.equal(((await other.json()) as { error: string }).error, 'unsupported_media_type');
  });

  it('needs an API key, and applies the body limit', async () => {
    assert.equal((await explain('550 x', 'text/plain', {})).status, 401);
    assert.equal((await explain(`550 ${'x'.repeat(5_000)}`, 'text/plain')).status, 413);
  });

  it('is in the OpenAPI document with its schemas', async () => {
    const document = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    };
    assert.ok(document.paths['/v1/explain']?.post !== undefined);
    for (const name of ['ExplainRequest', 'ExplainResponse', 'ReplyExplanation']) {
      assert.ok(name in document.components.schemas, name);
    }
  });
});

describe('POST /v1/explain with a message/rfc822 body (a bounce)', () => {
  const fixture = (name: string): string =>
    readFileSync(new URL(`../../fixtures/bounces/${name}`, import.meta.url), 'utf8');

  interface Answer {
    explanations: ReplyExplanation[];
    bounce: BounceExplanation;
  }

  it('answers the bounce per recipient, and the recipients’ explanations', async () => {
    const response = await explain(fixture('qmail.eml'), 'message/rfc822');
    assert.equal(response.status, 200);
    const { explanations, bounce } = (await response.json()) as Answer;
    assert.equal(bounce.kind, 'bounce');
    assert.deepEqual(
      bounce.recipients.map((r) => [r.address, r.command, r.remoteMta, r.explanation?.reason]),
      [['erin@example.com', 'RCPT', '192.0.2.30', 'mailbox_not_found']],
    );
    assert.deepEqual(
      explanations.map((e) => e.reason),
      ['mailbox_not_found'],
    );
  });

  it('says what is not a bounce, and what is no message', async () => {
    const vacation = (await (await explain(fixture('vacation.eml'), 'message/rfc822')).json()) as Answer;
    assert.equal(vacation.bounce.kind, 'auto_reply');
    assert.deepEqual(vacation.explanations, []);
    const arf = (await (await explain(fixture('arf.eml'), 'message/global')).json()) as Answer;
    assert.equal(arf.bounce.kind, 'feedback_report');
    const empty = (await (await explain('', 'message/rfc822')).json()) as Answer;
    assert.equal(empty.bounce.kind, 'empty');
    assert.match(empty.bounce.problem ?? '', /empty/);
  });

  it('needs an API key, and applies the same body limit', async () => {
    assert.equal((await explain(fixture('qmail.eml'), 'message/rfc822', {})).status, 401);
    const big = `${fixture('qmail.eml')}\n${'x'.repeat(5_000)}\n`;
    const tooLarge = await explain(big, 'message/rfc822');
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as { error: string }).error, 'payload_too_large');
  });

  it('is in the OpenAPI document', async () => {
    const document = (await (await app.request('/openapi.json')).json()) as {
      paths: Record<string, { post?: { requestBody?: { content?: Record<string, unknown> } } }>;
      components: { schemas: Record<string, unknown> };
    };
    assert.ok('message/rfc822' in (document.paths['/v1/explain']?.post?.requestBody?.content ?? {}));
    for (const name of ['BounceExplanation', 'BounceRecipient', 'FeedbackRecipient'])
      assert.ok(name in document.components.schemas, name);
    const bounce = document.components.schemas.BounceExplanation as { properties: Record<string, unknown> };
    assert.ok('feedbackRecipients' in bounce.properties);
  });

  it('a feedback report names who complained or unsubscribed, and a redacted address as such', async () => {
    const feedback = (name: string): string =>
      readFileSync(new URL(`../../fixtures/feedback/${name}`, import.meta.url), 'utf8');
    const who = async (name: string) => {
      const response = await explain(feedback(name), 'message/rfc822');
      assert.equal(response.status, 200);
      const { bounce, explanations } = (await response.json()) as Answer;
      assert.equal(bounce.kind, 'feedback_report');
      assert.deepEqual(explanations, []);
      return [bounce.feedbackType, bounce.feedbackRecipients.map((r) => [r.address, r.source, r.redacted])];
    };
    assert.deepEqual(await who('arf-original-rcpt-to.eml'), [
      'abuse',
      [['olga@example.com', 'original-rcpt-to', false]],
    ]);
    assert.deepEqual(await who('arf-redacted.eml'), [
      'abuse',
      [['redacted@isp.example', 'original-rcpt-to', true]],
    ]);
    assert.deepEqual(await who('ses-complaint.eml'), [
      'abuse',
      [
        ['rosa@example.com', 'ses', false],
        ['sam@example.org', 'ses', false],
      ],
    ]);
    assert.deepEqual(await who('apple-unsubscribe.eml'), [
      'unsubscribe',
      [['uma@example.com', 'from', false]],
    ]);
  });
});
