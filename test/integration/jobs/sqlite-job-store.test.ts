/** The SQLite job store on a real file: idempotent writes, keyset paging, output order, domain cache. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import {
  addressKey,
  openSqliteJobStore,
  parseAddress,
  verdictOf,
  type JobItem,
  type JobStore,
  type Reason,
  type VerifyResult,
} from '../../../src/index.js';

function fakeResult(input: string, reason: Reason): VerifyResult {
  return {
    input,
    address: input,
    verdict: verdictOf(reason),
    reason,
    flags: { role: false, free: false, disposable: false, catchAll: false },
    suggestion: null,
    syntax: parseAddress(input),
    dns: null,
    smtp: null,
    durationMs: 1,
    checkedAt: '2026-11-28T20:00:00.000Z',
    retryAt: null,
  };
}

function item(row: number, input: string): JobItem {
  return { row, line: row + 1, input, key: addressKey(input), fields: [String(row), input], error: null };
}

let dir: string;
let path: string;
let store: JobStore;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-store-'));
  path = join(dir, 'jobs.db');
  store = openSqliteJobStore(path);
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('openSqliteJobStore', () => {
  it('uses WAL mode and records its schema version', () => {
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('user_version', { simple: true }), 1);
    } finally {
      db.close();
    }
  });

  it('stores a job, its items once (a replayed batch adds nothing) and computes totals', async () => {
    const job = await store.createJob({
      owner: 'key1',
      options: { format: 'csv' },
      source: { path: '/lists/a.csv', size: 10, mtimeMs: 5, headSha256: 'ab' },
    });
    assert.equal(job.status, 'queued');
    assert.equal(job.ingested, false);
    const items = [item(1, 'a@x.test'), item(2, 'B@X.TEST'), item(3, 'a@x.test'), item(4, 'b@x.test')];
    await store.addItems(job.id, items);
    await store.addItems(job.id, items.slice(1));
    const ingested = await store.finishIngest(job.id);
    assert.equal(ingested.ingested, true);
    assert.equal(ingested.totalRows, 4);
    // a@x.test twice; B@X.TEST and b@x.test differ in the local part (RFC 5321 §2.4) but not the domain.
    assert.equal(ingested.totalAddresses, 3);
    assert.equal((await store.findJobBySourcePath('/lists/a.csv'))?.id, job.id);
    assert.equal(await store.findJobBySourcePath('/lists/other.csv'), null);
    // listJobs: by status, oldest first (a server resumes its unfinished jobs with it).
    assert.ok((await store.listJobs(['queued'])).some((listed) => listed.id === job.id));
    await store.setStatus(job.id, 'done');
    assert.ok(!(await store.listJobs(['queued', 'running'])).some((listed) => listed.id === job.id));
    assert.ok((await store.listJobs(['done'])).some((listed) => listed.id === job.id));
    assert.deepEqual(await store.listJobs([]), []);
  });

  it('upserts results by (job, key): a replayed write neither duplicates nor recounts', async () => {
    const job = await store.createJob({});
    await store.addItems(job.id, [item(1, 'a@x.test'), item(2, 'a@x.test'), item(3, 'c@x.test')]);
    await store.finishIngest(job.id);
    const first = [{ key: addressKey('a@x.test'), result: fakeResult('a@x.test', 'greylisted') }];
    assert.equal(await store.putResults(job.id, first), 1);
    assert.equal(await store.putResults(job.id, first), 0);
    const retried = [{ key: addressKey('a@x.test'), result: fakeResult('a@x.test', 'accepted') }];
    assert.equal(await store.putResults(job.id, retried), 0);
    const progress = await store.getProgress(job.id);
    assert.equal(progress.doneAddresses, 1);
    assert.deepEqual(progress.counts, { deliverable: 1, undeliverable: 0, risky: 0, unknown: 0 });
    assert.deepEqual(progress.reasons, { accepted: 1 });
    const output = [];
    for await (const row of store.readOutput(job.id)) output.push(row);
    assert.deepEqual(
      output.map((row) => [row.row, row.input, row.result?.reason ?? null]),
      [
        [1, 'a@x.test', 'accepted'],
        [2, 'a@x.test', 'accepted'],
        [3, 'c@x.test', null],
      ],
    );
  });

  it('pages pending keys after a key, skipping keys with a result and unreadable rows', async () => {
    const job = await store.createJob({});
    const inputs = Array.from({ length: 25 }, (_, index) => `u${String(index).padStart(2, '0')}@x.test`);
    await store.addItems(job.id, [
      ...inputs.map((input, index) => item(index + 1, input)),
      {
        row: 26,
        line: 27,
        input: '',
        key: '#row:26',
        fields: null,
        error: 'line 27: unterminated quoted field',
      },
    ]);
    await store.finishIngest(job.id);
    await store.putResults(job.id, [{ key: 'u03@x.test', result: fakeResult('u03@x.test', 'accepted') }]);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await store.pendingAddresses(job.id, after, 10);
      seen.push(...page.map((p) => p.input));
      if (page.length < 10) break;
      after = page.at(-1)?.key ?? null;
    }
    assert.deepEqual(
      seen,
      inputs.filter((input) => input !== 'u03@x.test'),
    );
  });

  it('reads output in row order across pages', async () => {
    const job = await store.createJob({});
    const count = 2_345;
    const items = Array.from({ length: count }, (_, index) => item(index + 1, `n${count - index}@x.test`));
    await store.addItems(job.id, items);
    await store.finishIngest(job.id);
    let expected = 1;
    for await (const row of store.readOutput(job.id, { pageSize: 100 })) {
      assert.equal(row.row, expected);
      assert.deepEqual(row.fields, [String(expected), `n${count - expected + 1}@x.test`]);
      expected += 1;
    }
    assert.equal(expected, count + 1);
  });

  it('sets statuses, started time once, and deletes a job with its rows', async () => {
    const job = await store.createJob({});
    const running = await store.setStatus(job.id, 'running');
    assert.ok(running.startedAt !== null);
    const failed = await store.setStatus(job.id, 'failed', 'disk full');
    assert.equal(failed.error, 'disk full');
    assert.equal(failed.startedAt, running.startedAt);
    await store.addItems(job.id, [item(1, 'a@x.test')]);
    assert.equal(await store.deleteJob(job.id), true);
    assert.equal(await store.getJob(job.id), null);
    assert.equal(await store.deleteJob(job.id), false);
  });

  it('keeps domain facts until they expire', async () => {
    const now = Date.now();
    await store.putDomainFacts({
      domain: 'x.test',
      mx: [{ exchange: 'mx.x.test', priority: 10 }],
      catchAll: true,
      provider: null,
      expiresAt: now + 1_000,
    });
    await store.putDomainFacts({
      domain: 'old.test',
      mx: null,
      catchAll: null,
      provider: 'google',
      expiresAt: now - 1,
    });
    assert.deepEqual(await store.getDomainFacts('x.test', now), {
      domain: 'x.test',
      mx: [{ exchange: 'mx.x.test', priority: 10 }],
      catchAll: true,
      provider: null,
      expiresAt: now + 1_000,
    });
    assert.equal(await store.getDomainFacts('old.test', now), null);
    assert.equal(await store.purgeDomainFacts(now), 1);
  });

  it('survives a reopen: the same file gives the same jobs', async () => {
    const job = await store.createJob({ options: { a: 1 } });
    const other = openSqliteJobStore(path);
    try {
      assert.deepEqual((await other.getJob(job.id))?.options, { a: 1 });
    } finally {
      await other.close();
    }
  });
});
