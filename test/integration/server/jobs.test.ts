/**
 * The `/v1/jobs` routes through `app.request()` on a real SQLite job store (a temp file) and the real
 * runner against the demo world: uploads (JSON, CSV, text), status, events, results, ownership,
 * limits, bad CSV and cancel.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { LIST_LAYOUT, openSqliteJobStore } from '../../../src/jobs/index.js';
import { createApp, type App } from '../../../src/server/app.js';
import { createJobsBackend, type ClosableJobsBackend } from '../../../src/server/jobs-backend.js';
import { createLogger } from '../../../src/server/logger.js';
import { listItems } from '../../helpers/job-items.js';
import { streamed } from '../../reliability/helpers/upload-list.js';
import { KEY_A, KEY_B, bearer, startWorld, type World } from './helpers.js';

interface Job {
  id: string;
  status: string;
  total: number;
  done: number;
  progress: number;
  counts: Record<string, number>;
  reasons: Record<string, number>;
  warnings: string[];
  etaSeconds: number | null;
  error: string | null;
}

let world: World;
let app: App;
let jobs: ClosableJobsBackend;
let directory: string;

before(async () => {
  world = await startWorld();
  directory = mkdtempSync(join(tmpdir(), 'rcpt-server-jobs-'));
  jobs = createJobsBackend({
    store: openSqliteJobStore(join(directory, 'jobs.db')),
    verifier: world.verifier(),
    logger: createLogger({ level: 'silent' }),
  });
  app = createApp({
    verifier: world.verifier(),
    jobs,
    apiKeys: [KEY_A, KEY_B],
    rateLimit: null,
    limits: { maxUploadBytes: 4_096, maxJobAddresses: 20 },
    uploadSpoolDirectory: directory,
  });
});

after(async () => {
  await jobs.close();
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

async function create(body: string | Uint8Array, type: string, key = KEY_A): Promise<Response> {
  return app.request('/v1/jobs', { method: 'POST', headers: { ...bearer(key), 'content-type': type }, body });
}

async function createOk(body: string | Uint8Array, type: string, key = KEY_A): Promise<string> {
  const response = await create(body, type, key);
  assert.equal(response.status, 202, await response.clone().text());
  const created = (await response.json()) as { id: string; status: string };
  assert.equal(response.headers.get('location'), `/v1/jobs/${created.id}`);
  return created.id;
}

async function getJob(id: string, key = KEY_A): Promise<Job> {
  const response = await app.request(`/v1/jobs/${id}`, { headers: bearer(key) });
  assert.equal(response.status, 200);
  return (await response.json()) as Job;
}

async function waitFor(id: string, statuses: string[], timeoutMs = 20_000): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(id);
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) assert.fail(`job ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function results(id: string, format: 'csv' | 'ndjson', key = KEY_A): Promise<Response> {
  return app.request(`/v1/jobs/${id}/results?format=${format}`, { headers: bearer(key) });
}

describe('POST /v1/jobs and GET /v1/jobs/{id}', () => {
  it('runs a JSON list to the end with totals by verdict and reason', async () => {
    const id = await createOk(
      JSON.stringify({ emails: ['alice@acme.test', 'nobody@acme.test', 'alice@acme.test', 'bad@@x'] }),
      'application/json',
    );
    const job = await waitFor(id, ['done']);
    // Three distinct addresses: the duplicate is verified once.
    assert.equal(job.total, 3);
    assert.equal(job.done, 3);
    assert.equal(job.progress, 1);
    assert.equal(job.etaSeconds, 0);
    assert.deepEqual(job.counts, { deliverable: 1, undeliverable: 2, risky: 0, unknown: 0 });
    assert.deepEqual(job.reasons, { accepted: 1, mailbox_not_found: 1, invalid_syntax: 1 });

    const ndjson = await results(id, 'ndjson');
    assert.equal(ndjson.status, 200);
    assert.match(ndjson.headers.get('content-type') ?? '', /application\/x-ndjson/);
    const rows = (await ndjson.text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { row: number; input: string; verdict: string; reason: string });
    assert.deepEqual(
      rows.map((row) => [row.row, row.input, row.reason]),
      [
        [1, 'alice@acme.test', 'accepted'],
        [2, 'nobody@acme.test', 'mailbox_not_found'],
        [3, 'alice@acme.test', 'accepted'],
        [4, 'bad@@x', 'invalid_syntax'],
      ],
    );
  });

  it('keeps a CSV upload’s columns and appends the result columns', async () => {
    const csv = 'Name;E-Mail;Team\nAlice;alice@acme.test;red\n"Smith; Bob";bob@acme.test;blue\n';
    const id = await createOk(csv, 'text/csv');
    await waitFor(id, ['done']);
    const response = await results(id, 'csv');
    assert.match(response.headers.get('content-type') ?? '', /text\/csv/);
    assert.match(response.headers.get('content-disposition') ?? '', new RegExp(`rcpt-${id}\\.csv`));
    const lines = (await response.text()).trim().split('\n');
    // Output keeps the input's delimiter; a field is quoted only when it must be.
    assert.match(lines[0] ?? '', /^Name;E-Mail;Team;verdict;reason;address;/);
    assert.match(lines[1] ?? '', /^Alice;alice@acme.test;red;deliverable;accepted;/);
    assert.match(lines[2] ?? '', /^"Smith; Bob";bob@acme.test;blue;deliverable;accepted;/);
  });

  it('takes a plain text list', async () => {
    const id = await createOk('alice@acme.test\r\n\r\nuser@nullmx.test\r\n', 'text/plain');
    const job = await waitFor(id, ['done']);
    assert.equal(job.total, 2);
    assert.deepEqual(job.reasons, { accepted: 1, null_mx: 1 });
  });

  it('reads a CSV or text upload in its charset, or as UTF-16 by its byte-order mark', async () => {
    const utf16 = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('email\tname\r\nalice@acme.test\tZoë\r\n', 'utf16le'),
    ]);
    const latin1 = Buffer.from('email;nom\nalice@acme.test;J\xe9r\xf4me\n', 'latin1');
    // Before: 400 "not a text file (a NUL byte at byte 4)" for UTF-16, and "J�r�me" with a warning.
    for (const [body, type, name] of [
      [utf16, 'text/plain; charset=utf-16', 'Zoë'],
      [utf16, 'text/csv', 'Zoë'],
      [latin1, 'text/csv; charset="windows-1252"', 'Jérôme'],
    ] as const) {
      const id = await createOk(body, type);
      const job = await waitFor(id, ['done']);
      assert.deepEqual(job.warnings, [], type);
      const lines = (await (await results(id, 'csv')).text()).trim().split('\n');
      assert.match(lines[1] ?? '', new RegExp(`^alice@acme.test.${name}.deliverable`), type);
    }
    const response = await create(latin1, 'text/csv; charset=klingon');
    assert.equal(response.status, 400);
    assert.match(
      ((await response.json()) as { message: string }).message,
      /^charset klingon is not an encoding/,
    );
  });

  it('answers a CSV without an address column with a 400 naming the columns, and stores nothing', async () => {
    const response = await create('name,team\nAlice,red\n', 'text/csv');
    assert.equal(response.status, 400);
    const body = (await response.json()) as { error: string; message: string };
    assert.equal(body.error, 'bad_request');
    assert.match(body.message, /no address column in the header \(name, team\)/);
  });

  it('reports a malformed CSV row with its line and verifies the rest', async () => {
    const id = await createOk(
      'email,note\nalice@acme.test,ok\n"broken,"x"y\nnobody@acme.test,ok\n',
      'text/csv',
    );
    await waitFor(id, ['done']);
    const rows = (await (await results(id, 'ndjson')).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; reason: string; error: string | null });
    assert.equal(rows.length, 3);
    assert.equal(rows[0]?.reason, 'accepted');
    assert.match(rows[1]?.error ?? '', /^line 3/);
    // Kept as written, and not called undeliverable.
    assert.equal(rows[1]?.input, '"broken,"x"y');
    assert.equal(rows[1]?.reason, 'unreadable_row');
    assert.equal(rows[2]?.reason, 'mailbox_not_found');
  });

  it('gives a row without an address unknown/no_address, not undeliverable/invalid_syntax', async () => {
    const id = await createOk('name,email\nAlice,alice@acme.test\nPhone only,\nBob,"  "\n', 'text/csv');
    const job = await waitFor(id, ['done']);
    const rows = (await (await results(id, 'ndjson')).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; verdict: string; reason: string; error: null });
    assert.deepEqual(
      rows.map((row) => [row.input, row.verdict, row.reason, row.error]),
      [
        ['alice@acme.test', 'deliverable', 'accepted', null],
        ['', 'unknown', 'no_address', null],
        ['', 'unknown', 'no_address', null],
      ],
    );
    assert.equal(job.reasons.invalid_syntax, undefined);
    assert.equal(job.reasons.no_address, 1);
  });

  it('says in warnings which column of several address columns is verified, and how to choose', async () => {
    const id = await createOk(
      'Name,E-mail Address,E-mail 2 Address\nAlice,alice@acme.test,\nBob,,nobody@acme.test\n',
      'text/csv',
    );
    const job = await waitFor(id, ['done']);
    assert.deepEqual(job.warnings, [
      'the column "E-mail Address" is verified; "E-mail 2 Address" also holds addresses and is not: to verify another, name that column "email" in the upload',
    ]);
    const renamed = await createOk('Name,E-mail Address,email\nBob,,nobody@acme.test\n', 'text/csv');
    await waitFor(renamed, ['done']);
    const rows = (await (await results(renamed, 'ndjson')).text()).trim().split('\n');
    assert.equal((JSON.parse(rows[0] ?? '{}') as { reason: string }).reason, 'mailbox_not_found');
  });

  it('refuses empty and unsupported bodies', async () => {
    assert.equal((await create(JSON.stringify({ emails: [] }), 'application/json')).status, 400);
    assert.equal((await create(JSON.stringify({ list: ['a@b.test'] }), 'application/json')).status, 400);
    assert.equal((await create('{"emails": [', 'application/json')).status, 400);
    const xml = await create('<emails/>', 'application/xml');
    assert.equal(xml.status, 415);
    assert.equal(((await xml.json()) as { error: string }).error, 'unsupported_media_type');
  });
});

describe('limits', () => {
  it('answers 413 for an upload over the byte limit, declared or streamed', async () => {
    const big = `${'x'.repeat(60)}@acme.test\n`.repeat(80);
    const declared = await create(big, 'text/plain');
    assert.equal(declared.status, 413);
    assert.match(((await declared.json()) as { message: string }).message, /larger than 4096 bytes/);

    // No Content-Length: the body is counted as it streams in.
    const chunked = await app.request('/v1/jobs', {
      method: 'POST',
      headers: { ...bearer(KEY_A), 'content-type': 'text/plain' },
      body: streamed(big.slice(0, 1_000).repeat(10)),
      duplex: 'half',
    });
    assert.equal(chunked.status, 413);
  });

  it('answers 413 for more addresses than a job may hold', async () => {
    const emails = Array.from({ length: 21 }, (_, i) => `u${i}@acme.test`);
    const json = await create(JSON.stringify({ emails }), 'application/json');
    assert.equal(json.status, 413);
    assert.match(((await json.json()) as { message: string }).message, /At most 20 addresses per job/);
    const text = await create(emails.join('\n'), 'text/plain');
    assert.equal(text.status, 413);
    assert.match(((await text.json()) as { message: string }).message, /At most 20 addresses per job/);
  });
});

describe('uploads wait in a spool until they are whole', () => {
  const ALL = ['queued', 'running', 'done', 'cancelled', 'failed'] as const;
  /** Every job in the store, read through a second connection to the same file. */
  async function storedJobs(): Promise<number> {
    const store = openSqliteJobStore(join(directory, 'jobs.db'));
    try {
      return (await store.listJobs(ALL)).length;
    } finally {
      await store.close();
    }
  }
  /** The ids of the jobs still queued or running. */
  async function unfinishedJobs(): Promise<string[]> {
    const store = openSqliteJobStore(join(directory, 'jobs.db'));
    try {
      return (await store.listJobs(['queued', 'running'])).map((job) => job.id);
    } finally {
      await store.close();
    }
  }
  /** The spool files in the store's directory: none once an upload is answered. */
  const spools = () => readdirSync(directory).filter((name) => name.startsWith('.rcpt-upload-'));
  /** The bytes of every file in the store's directory (the database, its WAL), by name. */
  const storeBytes = () =>
    Object.fromEntries(readdirSync(directory).map((name) => [name, statSync(join(directory, name)).size]));

  it('refuses a malformed, mistyped or oversized list with its reason (400 or 413) and stores nothing', async () => {
    const before = await storedJobs();
    const emails = (n: number) => Array.from({ length: n }, (_, i) => `"u${i}@acme.test"`).join(',');
    for (const [body, status, message] of [
      ['{"emails": ["alice@acme.test"', 400, /^Malformed JSON: the body ends before its object does/],
      ['{"emails": ["alice@acme.test",]}', 400, /^Malformed JSON: /],
      ['["alice@acme.test"]', 400, /must be a JSON object \{"emails": \["…", …\]\}, not an array/],
      ['{"emails": "alice@acme.test"}', 400, /^"emails" must be an array of addresses, not a string/],
      ['{"emails": ["alice@acme.test", 7]}', 400, /^"emails"\[1\] is a number, not a string/],
      ['{"emails": []}', 400, /^"emails" is empty/],
      ['{"emails": ["alice@acme.test"], "name": 7}', 400, /^"name" is a number, not a string$/],
      [`{"x": ${'['.repeat(100)}`, 400, /nested deeper than 16 levels/],
      [`{"emails": [${emails(21)}]}`, 413, /^At most 20 addresses per job$/],
      [`{"emails": [${emails(300)}]}`, 413, /larger than 4096 bytes/],
    ] as const) {
      const response = await create(body, 'application/json');
      const answer = (await response.json()) as { error: string; message: string };
      assert.equal(response.status, status, `${body.slice(0, 60)}: ${answer.message}`);
      assert.equal(answer.error, status === 400 ? 'bad_request' : 'payload_too_large');
      assert.match(answer.message, message, body.slice(0, 60));
    }
    assert.equal(await storedJobs(), before, 'a refused list left a job');
    assert.deepEqual(spools(), []);
  });

  it('refuses an over-count, oversized or unreadable CSV or text upload without writing a byte to the store', async () => {
    // The runs of the tests before end first, so that nothing else writes meanwhile.
    for (const id of await unfinishedJobs()) await waitFor(id, ['done', 'cancelled', 'failed']);
    const before = { jobs: await storedJobs(), bytes: storeBytes() };
    const addresses = Array.from({ length: 21 }, (_, i) => `u${i}@acme.test`);
    for (const [type, body, status, message] of [
      ['text/plain', addresses.join('\n'), 413, /^At most 20 addresses per job$/],
      [
        'text/csv',
        `email,name\n${addresses.map((a) => `${a},x`).join('\n')}\n`,
        413,
        /^At most 20 addresses per job$/,
      ],
      ['text/plain', streamed(`${'x'.repeat(400)}@acme.test\n`.repeat(15)), 413, /larger than 4096 bytes/],
      [
        'text/csv',
        streamed(`email\n${`${'x'.repeat(400)}@acme.test\n`.repeat(15)}`),
        413,
        /larger than 4096 bytes/,
      ],
      ['text/csv', 'name,team\nAlice,red\n', 400, /no address column in the header \(name, team\)/],
      ['text/csv', 'email\n\n', 400, /^the upload has no rows with an address$/],
      ['text/plain', 'alice@acme.test\n\u0000\u0001', 400, /^not a text file \(a NUL byte at byte 17\)/],
    ] as const) {
      const response = await app.request('/v1/jobs', {
        method: 'POST',
        headers: { ...bearer(KEY_A), 'content-type': type },
        body,
        ...(typeof body === 'string' ? {} : { duplex: 'half' }),
      });
      const answer = (await response.json()) as { error: string; message: string };
      const label = `${type} ${typeof body === 'string' ? body.slice(0, 40) : 'streamed'}`;
      assert.equal(response.status, status, `${label}: ${answer.message}`);
      assert.match(answer.message, message, label);
    }
    assert.deepEqual(storeBytes(), before.bytes, 'a refused upload wrote to the store');
    assert.equal(await storedJobs(), before.jobs, 'a refused upload left a job');
    assert.deepEqual(spools(), []);
  });

  it('stores a list as it was sent, row by row, and leaves no spool behind', async () => {
    const id = await createOk(
      JSON.stringify({ name: 'n', emails: [' alice@acme.test ', 'nobody@acme.test', 'alice@acme.test'] }),
      'application/json',
    );
    const job = await waitFor(id, ['done']);
    assert.deepEqual([job.total, job.done], [2, 2]);
    const rows = (
      await (await app.request(`/v1/jobs/${id}/results?format=ndjson`, { headers: bearer(KEY_A) })).text()
    )
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { input: string; reason: string }).input);
    assert.deepEqual(rows, ['alice@acme.test', 'nobody@acme.test', 'alice@acme.test']);
    assert.deepEqual(spools(), []);
  });
});

describe('ownership', () => {
  it('shows a job only to the key that made it: 404 for another key on every route', async () => {
    const id = await createOk(JSON.stringify({ emails: ['alice@acme.test'] }), 'application/json');
    await waitFor(id, ['done']);
    for (const [method, path] of [
      ['GET', `/v1/jobs/${id}`],
      ['GET', `/v1/jobs/${id}/events`],
      ['GET', `/v1/jobs/${id}/results?format=csv`],
      ['DELETE', `/v1/jobs/${id}`],
    ] as const) {
      const other = await app.request(path, { method, headers: bearer(KEY_B) });
      assert.equal(other.status, 404, `${method} ${path}`);
      assert.deepEqual(await other.json(), { error: 'not_found', message: `No job ${id}` });
      const none = await app.request(path, { method });
      assert.equal(none.status, 401, `${method} ${path} without a key`);
    }
    assert.equal((await getJob(id)).status, 'done');
    assert.equal((await app.request('/v1/jobs/no-such-job', { headers: bearer(KEY_A) })).status, 404);
  });
});

describe('GET /v1/jobs/{id}/events', () => {
  it('streams progress events, then an end event with the finished job', async () => {
    const id = await createOk(
      JSON.stringify({ emails: ['alice@acme.test', 'ann@slow.test', 'nobody@acme.test'] }),
      'application/json',
    );
    const response = await app.request(`/v1/jobs/${id}/events`, { headers: bearer(KEY_A) });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await response.text();
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('data:'))
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)?.[1],
        job: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') as Job,
      }));
    assert.ok(events.length >= 2, text);
    assert.equal(events.at(-1)?.event, 'end');
    assert.equal(events.at(-1)?.job.status, 'done');
    assert.equal(events.at(-1)?.job.done, 3);
    assert.ok(events.slice(0, -1).every((e) => e.event === 'progress'));
    // Progress only grows.
    const done = events.map((e) => e.job.done);
    assert.deepEqual(
      done,
      [...done].sort((a, b) => a - b),
    );
  });
});

describe('DELETE /v1/jobs/{id}', () => {
  it('cancels a running job; what was done stays downloadable', async () => {
    // slow.test greets after 1.5 s: enough time to cancel with most addresses still pending.
    const emails = ['alice@acme.test', ...Array.from({ length: 12 }, (_, i) => `ann${i}@slow.test`)];
    const id = await createOk(JSON.stringify({ emails }), 'application/json');
    await waitFor(id, ['running', 'done']);
    const response = await app.request(`/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(KEY_A) });
    assert.equal(response.status, 200);
    const cancelled = (await response.json()) as Job;
    assert.equal(cancelled.status, 'cancelled');
    assert.ok(cancelled.done < cancelled.total, `done ${cancelled.done} of ${cancelled.total}`);
    // It stays cancelled: the runner does not finish it behind the caller's back.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const later = await getJob(id);
    assert.equal(later.status, 'cancelled');
    const rows = (await (await results(id, 'ndjson')).text())
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { error: string | null; verdict?: string });
    assert.equal(rows.length, 13);
    assert.ok(
      rows.some((row) => row.error === 'not verified'),
      'some rows were never verified',
    );
    // Cancelling again is harmless.
    const again = await app.request(`/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(KEY_A) });
    assert.equal(((await again.json()) as Job).status, 'cancelled');
  });
});

describe('with jobs', () => {
  it('reports the store in /healthz', async () => {
    assert.deepEqual(await (await app.request('/healthz')).json(), {
      status: 'ok',
      jobs: true,
      auth: 'api-key',
    });
  });
});

describe('after a restart', () => {
  it('runs the jobs an earlier process left unfinished, and fails an upload cut short', async () => {
    const file = join(directory, 'restart.db');
    const before = openSqliteJobStore(file);
    // A job as the API stores it, left queued by a process that stopped before running it.
    const left = await before.createJob({ owner: 'key-id', options: { via: 'http', input: 'list' } });
    await before.setLayout(left.id, LIST_LAYOUT);
    const emails = ['alice@acme.test', 'nobody@acme.test', 'user@nullmx.test'];
    await before.addItems(left.id, listItems(emails));
    await before.finishIngest(left.id);
    await before.setStatus(left.id, 'running');
    const cut = await before.createJob({ owner: 'key-id', options: { via: 'http', input: 'csv' } });
    const cli = await before.createJob({ options: {} });
    await before.close();

    const backend = createJobsBackend({
      store: openSqliteJobStore(file),
      verifier: world.verifier(),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      assert.equal(await backend.resumed, 1);
      const deadline = Date.now() + 20_000;
      let view = await backend.get(left.id);
      while (view?.status !== 'done' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        view = await backend.get(left.id);
      }
      assert.equal(view?.status, 'done');
      assert.equal(view.done, 3);
      assert.equal(view.counts.deliverable, 1);
      assert.equal(view.counts.undeliverable, 2);
      assert.equal((await backend.get(cut.id))?.status, 'failed');
      // A CLI job in the same file is left to `rcpt bulk --resume`.
      assert.equal((await backend.get(cli.id))?.status, 'queued');
    } finally {
      await backend.close();
    }
  });
});
