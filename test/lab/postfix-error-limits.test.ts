/**
 * Many unknown users at one real Postfix (issue 5). Postfix counts every rejected RCPT as an error:
 * past `smtpd_soft_error_limit` it sleeps `smtpd_error_sleep_time` before *every* reply, and at
 * `smtpd_hard_error_limit` it ends the session with "421 4.7.0 … Error: too many errors" (the lab sets
 * 3 / 6 / 1s in postfix/reject.cf). rcpt must read each reply correctly up to the 421, never turn the
 * disconnect into "undeliverable", reconnect for the addresses still unanswered, and stay polite.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { classifyReply } from '../../src/classify/index.js';
import { CHANNELS, createVerifier, type VerifyResult } from '../../src/index.js';
import { SmtpSession } from '../../src/smtp/session.js';
import type { SmtpReplyInfo, TranscriptEntry } from '../../src/types.js';
import {
  LAB_ADDR,
  LAB_HELO,
  LAB_MAIL_FROM,
  LAB_MX,
  LAB_OPTIONS,
  LAB_POSTFIX_LIMITS,
  LAB_RUN,
  postfixSessions,
} from './lab.js';

const MAILLOG = `${LAB_RUN}/postfix-reject/maillog`;
/** Sessions at once to the host: the scheduler's default, said out loud. */
const HOST_CONCURRENCY = 2;
/** First wait after a 421, in milliseconds: short, so the run stays short. */
const BACKOFF_MS = 1_000;

/** Reasons that say "we could not tell" without blaming the mailbox. */
const INCONCLUSIVE = new Set([
  'rate_limited',
  'connection_failed',
  'timeout',
  'protocol_error',
  'unexpected_reply',
]);

/** The lines Postfix logged since `offset`. */
function maillogSince(offset: number): string[] {
  return readFileSync(MAILLOG, 'utf8').slice(offset).split('\n');
}

function isOwnRejection(result: VerifyResult): boolean {
  const reply = result.smtp?.reply;
  return (
    result.reason === 'mailbox_not_found' &&
    reply?.stage === 'rcpt' &&
    reply.code === 550 &&
    reply.enhanced === '5.1.1' &&
    reply.text.includes(`<${result.address ?? ''}>`)
  );
}

describe('30 unknown users at Postfix in one verifyMany() run (session reuse)', () => {
  const verifier = createVerifier(LAB_OPTIONS);
  const events: { ms: number; kind: 'connect' | 'reply'; line: string }[] = [];
  const onConnect = (message: unknown) => {
    if ((message as { ip?: string }).ip === LAB_ADDR.postfix)
      events.push({ ms: performance.now(), kind: 'connect', line: '' });
  };
  const onLine = (message: unknown) => {
    const { ip, dir, line } = message as { ip: string; dir: string; line: string };
    if (ip === LAB_ADDR.postfix && dir === '<') events.push({ ms: performance.now(), kind: 'reply', line });
  };
  subscribe(CHANNELS.smtpConnect, onConnect);
  subscribe(CHANNELS.smtpLine, onLine);
  after(async () => {
    unsubscribe(CHANNELS.smtpConnect, onConnect);
    unsubscribe(CHANNELS.smtpLine, onLine);
    await verifier.close();
  });

  it('every one ends mailbox_not_found from its own 550, through sleeps and 421s, at a polite pace', async (t) => {
    const offset = statSync(MAILLOG).size;
    const addresses = Array.from({ length: 30 }, (_, i) => `unknown${String(i).padStart(2, '0')}@pf.test`);
    const results: VerifyResult[] = [];
    for await (const result of verifier.verifyMany(addresses, {
      hostConcurrency: HOST_CONCURRENCY,
      backoffMs: BACKOFF_MS,
    })) {
      results.push(result);
    }

    assert.deepEqual(results.map((r) => r.input).sort(), addresses);
    for (const result of results) {
      // Never "undeliverable" from anything but the address's own rejection.
      if (result.verdict === 'undeliverable') assert.ok(isOwnRejection(result), JSON.stringify(result.smtp));
      else assert.ok(INCONCLUSIVE.has(result.reason), `${result.input}: ${result.reason}`);
    }
    const notFound = results.filter(isOwnRejection).length;
    assert.equal(notFound, 30, `${notFound} of 30 got their own 550`);

    // Postfix really reached its limits (the lab's are below the scheduler's per-session error budget,
    // which is sized for Postfix's defaults): it slept and then disconnected with 421.
    const closings = events.filter((e) => e.kind === 'reply' && e.line.startsWith('421 '));
    // (If a future scheduler stays under the limits by itself, this scenario needs stricter lab limits.)
    assert.ok(closings.length >= 1, 'Postfix never said "too many errors"');
    for (const closing of closings)
      assert.match(closing.line, /^421 4\.7\.0 mx\.pf\.test Error: too many errors$/);

    // Polite: no reconnection sooner than the backoff after a 421.
    for (const closing of closings) {
      const next = events.find((e) => e.kind === 'connect' && e.ms > closing.ms);
      if (next !== undefined) {
        assert.ok(
          next.ms - closing.ms >= BACKOFF_MS * 0.9,
          `reconnected ${Math.round(next.ms - closing.ms)} ms after a 421`,
        );
      }
    }

    // Polite: Postfix never saw more sessions at once than allowed, nor one session per address.
    await new Promise((resolve) => setTimeout(resolve, 300)); // postlogd writes the last disconnects
    const seen = postfixSessions(maillogSince(offset));
    assert.equal(seen.tooManyErrors, closings.length);
    assert.ok(seen.maxOpen <= HOST_CONCURRENCY, `Postfix saw ${seen.maxOpen} sessions open at once`);
    assert.ok(seen.sessions < 30, `sessions ${seen.sessions}: no reuse`);
    t.diagnostic(
      `${seen.sessions} sessions (at most ${seen.maxOpen} at once), ${closings.length} ended by Postfix's 421`,
    );
  });
});

describe('8 unknown users in reused sessions (SmtpSession, one transaction each)', () => {
  // The session layer alone, one RCPT per transaction, so Postfix's exact limits show: `hard` errors
  // per session, every reply slept after `soft`, then the 421.
  it("reads every reply through Postfix's sleeps up to its 421, then reconnects", async () => {
    const { soft, hard, sleepMs } = LAB_POSTFIX_LIMITS;
    const COUNT = hard + 2;
    const pending = Array.from({ length: COUNT }, (_, i) => `reuse${String(i).padStart(2, '0')}@pf.test`);
    const answers = new Map<string, SmtpReplyInfo>();
    const closings: SmtpReplyInfo[] = [];
    const transcripts: TranscriptEntry[][] = [];

    while (pending.length > 0) {
      assert.ok(transcripts.length < 10, 'too many sessions');
      const transcript: TranscriptEntry[] = [];
      transcripts.push(transcript);
      const session = new SmtpSession({
        host: LAB_MX.postfix,
        ip: LAB_ADDR.postfix,
        port: 25,
        helo: LAB_HELO,
        localAddress: null,
        connectTimeoutMs: 2_000,
        greetingTimeoutMs: 5_000,
        commandTimeoutMs: 5_000,
        startTls: true,
        transcript,
      });
      try {
        assert.equal(await session.open(), null);
        for (let n = 0; pending.length > 0; n++) {
          const recipient = pending[0]!;
          const result = await session.transaction({
            mailFrom: LAB_MAIL_FROM,
            recipients: [recipient],
            smtputf8: false,
            reset: n > 0,
          });
          const reply = result.recipients[0];
          if (reply !== undefined && reply.code !== 421) {
            answers.set(recipient, reply);
            pending.shift();
            continue;
          }
          // The session ended before this address got its own reply: it goes to the next session.
          const closing = reply ?? result.failure?.reply ?? null;
          assert.notEqual(closing, null, `session ended without a reply: ${result.failure?.message ?? ''}`);
          closings.push(closing!);
          break;
        }
      } finally {
        await session.quit();
      }
    }

    // Every address got its own 550 5.1.1, and the classifier reads each as a missing mailbox.
    assert.equal(answers.size, COUNT);
    for (const [recipient, reply] of answers) {
      assert.equal(reply.code, 550, recipient);
      assert.equal(reply.enhanced, '5.1.1', recipient);
      assert.ok(
        reply.text.startsWith(`<${recipient}>: Recipient address rejected: User unknown`),
        reply.text,
      );
      assert.equal(classifyReply(reply).reason, 'mailbox_not_found');
    }

    // Postfix allows `hard` errors per session: one full session ended by a 421, then a second one.
    assert.equal(transcripts.length, 2);
    assert.equal(closings.length, 1);
    for (const closing of closings) {
      assert.equal(closing.code, 421);
      assert.equal(closing.enhanced, '4.7.0');
      assert.equal(closing.text, `${LAB_MX.postfix} Error: too many errors`);
      // A 421 is about the session, whatever command it answered: never undeliverable.
      for (const stage of ['rset', 'mail', 'rcpt'] as const) {
        const classification = classifyReply({ ...closing, stage });
        assert.equal(classification.verdict, 'unknown', stage);
        assert.equal(classification.backOff, true, stage);
      }
    }

    // Postfix's sleep, seen from the client: after the soft limit every reply waits `sleepMs`.
    const first = transcripts[0]!;
    const rejections = first.filter((e) => e.dir === '<' && e.line.startsWith('550 '));
    assert.equal(rejections.length, hard);
    const gaps = first.flatMap((entry, i) => {
      const previous = first[i - 1];
      return entry.dir === '<' && previous?.dir === '>'
        ? [{ line: entry.line, ms: entry.ms - previous.ms }]
        : [];
    });
    // The replies to each transaction's first command: fast up to `soft` errors, slept after.
    const slow = gaps.filter((gap) => gap.ms >= sleepMs * 0.9);
    assert.ok(slow.length >= hard - soft, `replies slept: ${JSON.stringify(gaps)}`);
    for (const gap of gaps.slice(0, soft))
      assert.ok(gap.ms < sleepMs * 0.9, `early reply slept: ${gap.line}`);
  });
});
