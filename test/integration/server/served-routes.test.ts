/**
 * What a client switching over sends first, through a real `rcpt serve` process: Reacher's `GET
 * /version` (its clients and health checks call it, without a key), and path or query parameters no
 * route takes, which get the API's own error body in plain words on every route, rcpt's and
 * Reacher's, never the schema validator's message; and a bounce's enhanced code sent to `POST
 * /v1/explain` without its reply code.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { KEY_A, bearer, spawnServe, type ServeProcess } from './helpers.js';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

let directory: string;
let serve: ServeProcess;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'rcpt-served-routes-'));
  serve = await spawnServe(['--port', '0', '--db', join(directory, 'jobs.db')], { RCPT_API_KEYS: KEY_A });
});
after(async () => {
  serve.child.kill('SIGTERM');
  await serve.exited;
  rmSync(directory, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${serve.url}${path}`, { headers: bearer(KEY_A) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET /version (Reacher)', () => {
  it("answers {version} in Reacher's shape, with rcpt's version, without a key", async () => {
    const response = await fetch(`${serve.url}/version`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await response.json(), { version });
  });
});

describe('path and query parameters no route takes', () => {
  it('answers a job id that cannot be one as a job nobody has: 404, in the route’s error body', async () => {
    // 0x10, 1e1 and 016 were jobs 16, 10 and 16 (JavaScript's Number() reads them so): an id is plain decimal.
    for (const id of ['abc', '0', '1.5', '-3', '99999999999999999999', '0x10', '1e1', '016']) {
      for (const path of [`/v1/bulk/${id}`, `/v1/bulk/${id}/results`]) {
        const { status, body } = await get(path);
        assert.equal(status, 404, path);
        assert.deepEqual(
          body,
          {
            error: `No job ${id}: a job_id is a positive integer, as POST /v1/bulk answers it`,
            code: 'not_found',
          },
          path,
        );
      }
    }
    const long = 'a'.repeat(150);
    for (const path of [`/v1/jobs/${long}`, `/v1/jobs/${long}/results`, `/v1/jobs/${long}/events`]) {
      const { status, body } = await get(path);
      assert.equal(status, 404, path);
      assert.deepEqual(body, { error: 'not_found', message: `No job ${'a'.repeat(100)}…` }, path);
    }
    const cancel = await fetch(`${serve.url}/v1/jobs/${long}`, { method: 'DELETE', headers: bearer(KEY_A) });
    assert.equal(cancel.status, 404);
  });

  it('names a bad query parameter, what it takes and what was sent: 400 in plain words', async () => {
    const created = await fetch(`${serve.url}/v1/jobs`, {
      method: 'POST',
      headers: bearer(KEY_A, { 'content-type': 'application/json' }),
      body: JSON.stringify({ emails: ['not-an-address'] }),
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    const rcptCases: [string, string][] = [
      ['format=xml', 'format must be csv or ndjson (got "xml")'],
      ['csv_formulas=no', 'csv_formulas must be escape or keep (got "no")'],
    ];
    for (const [query, message] of rcptCases) {
      const { status, body } = await get(`/v1/jobs/${id}/results?${query}`);
      assert.equal(status, 400, query);
      assert.deepEqual(body, { error: 'bad_request', message }, query);
    }
    const reacherCases: [string, string][] = [
      ['format=xml', 'format must be json or csv (got "xml")'],
      // Before: read as 0, a page of no results.
      ['limit=', 'limit must be a whole number, 0 or more (got "")'],
      ['offset=0x10', 'offset must be a whole number, 0 or more (got "0x10")'],
      ['limit=x', 'limit must be a whole number, 0 or more (got "x")'],
      ['limit=-1', 'limit must be a whole number, 0 or more (got "-1")'],
      ['offset=1.5', 'offset must be a whole number, 0 or more (got "1.5")'],
    ];
    for (const [query, message] of reacherCases) {
      const { status, body } = await get(`/v1/bulk/1/results?${query}`);
      assert.equal(status, 400, query);
      assert.deepEqual(body, { error: message, code: 'bad_request' }, query);
    }
  });

  it('takes a format in any case, as the CLI takes --format CSV', async () => {
    const created = await fetch(`${serve.url}/v1/bulk`, {
      method: 'POST',
      headers: bearer(KEY_A, { 'content-type': 'application/json' }),
      body: JSON.stringify({ input: ['not-an-address'] }),
    });
    assert.equal(created.status, 200);
    const { job_id: number } = (await created.json()) as { job_id: number };
    for (;;) {
      const { body } = await get(`/v1/bulk/${number}`);
      if (body.job_status === 'Completed') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const made = await fetch(`${serve.url}/v1/jobs`, {
      method: 'POST',
      headers: bearer(KEY_A, { 'content-type': 'application/json' }),
      body: JSON.stringify({ emails: ['not-an-address'] }),
    });
    const { id } = (await made.json()) as { id: string };
    while ((await get(`/v1/jobs/${id}`)).body.status !== 'done') {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Before: 400, format must be csv or ndjson (got "CSV").
    for (const path of [`/v1/jobs/${id}/results?format=CSV`, `/v1/bulk/${number}/results?format=Csv`]) {
      const response = await fetch(`${serve.url}${path}`, { headers: bearer(KEY_A) });
      assert.equal(response.status, 200, path);
      assert.match(response.headers.get('content-type') ?? '', /^text\/csv/, path);
    }
  });
});

describe('a JSON body the route does not take', () => {
  it('is a 400 saying what was sent and what is taken, not the validator’s wording', async () => {
    const cases: [string, string, string][] = [
      ['/v1/verify', '{"email": 5}', '"email" is a number, not a string'],
      ['/v1/verify', '{"emails": "a@b.test"}', '"emails" is a string, not an array'],
      ['/v1/explain', '{"reply": null}', '"reply" is null, not a string'],
      ['/v1/jobs', '{"emails": ["a@b.test"], "name": 7}', '"name" is a number, not a string'],
    ];
    for (const [path, body, message] of cases) {
      const response = await fetch(`${serve.url}${path}`, {
        method: 'POST',
        headers: bearer(KEY_A, { 'content-type': 'application/json' }),
        body,
      });
      assert.equal(response.status, 400, body);
      // Before: "The request does not match the schema" (details: "Invalid input: expected string, received number").
      const answer = (await response.json()) as { error: string; message: string };
      assert.deepEqual([answer.error, answer.message], ['bad_request', message], body);
    }
  });
});

describe('POST /v1/explain with an enhanced code and no reply code', () => {
  it('reads it by its class, says so in the note, and keeps reply.code null', async () => {
    for (const [type, body] of [
      ['text/plain', '5.1.1 user unknown'],
      ['application/json', JSON.stringify({ reply: '5.1.1 user unknown' })],
    ] as const) {
      const response = await fetch(`${serve.url}/v1/explain`, {
        method: 'POST',
        headers: bearer(KEY_A, { 'content-type': type }),
        body,
      });
      assert.equal(response.status, 200, type);
      const { explanations } = (await response.json()) as {
        explanations: {
          reply: { code: number | null; enhanced: string };
          reason: string;
          note: string | null;
        }[];
      };
      // Before: one not_a_reply explanation, "No SMTP reply code was found".
      assert.deepEqual(
        explanations.map((e) => [e.reply.code, e.reply.enhanced, e.reason]),
        [[null, '5.1.1', 'mailbox_not_found']],
        type,
      );
      assert.match(explanations[0]?.note ?? '', /^No reply code was given/, type);
    }
  });
});
