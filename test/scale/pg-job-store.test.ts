/**
 * The PostgreSQL job store on a real server: the `JobStore` contract of the SQLite store (idempotent
 * writes, keyset paging, output order, statuses, domain cache), and what only a shared database has to
 * get right: migrations run once when processes start together, two writers racing on one address
 * leave one result counted once, and the in-process runner works over it unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  addressKey,
  createVerifier,
  openPgJobStore,
  parseAddress,
  runJob,
  verdictOf,
  type JobItem,
  type PgJobStore,
  type Reason,
  type VerifyResult,
} from '../../src/index.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, query } from './helpers.js';
import { startScaleWorld } from './world.js';

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

describe('openPgJobStore', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('store');
  let store: PgJobStore;

  before(async () => {
    store = await openPgJobStore(url, { schema });
  });
  after(async () => {
    await store.close();
    await dropSchema(url, schema);
  });

  it('migrates once when several processes open the store at the same moment', async () => {
    const fresh = freshSchema('migrate');
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPgJobStore(url, { schema: fresh })));
    try {
      const rows = await query<{ version: number }>(url, `SELECT version FROM ${fresh}.migrations`);
      assert.deepEqual(
        rows.map((r) => r.version),
        [1],
      );
      const job = await (stores[0] as PgJobStore).createJob({});
      assert.equal((await (stores[3] as PgJobStore).getJob(job.id))?.id, job.id);
    } finally {
      for (const s of stores) await s.close();
    }
    // A database migrated by a newer rcpt is refused, not damaged.
    await query(url, `INSERT INTO ${fresh}.migrations (version) VALUES (99)`);
    await assert.rejects(openPgJobStore(url, { schema: fresh }), /schema 99 is newer/);
    await dropSchema(url, fresh);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(openPgJobStore(url, { schema: 'x; DROP TABLE jobs' }), RangeError);
  });

  it('stores a job, its items once (a replayed batch adds nothing) and computes totals', async () => {
    const job = await store.createJob({
      owner: 'key1',
      options: { format: 'csv' },
      source: { path: '/lists/a.csv', size: 10, mtimeMs: 5, headSha256: 'ab' },
    });
    assert.equal(job.status, 'queued');
    assert.equal(job.ingested, false);
    assert.equal(job.owner, 'key1');
    const items = [item(1, 'a@x.test'), item(2, 'B@X.TEST'), item(3, 'a@x.test'), item(4, 'b@x.test')];
    await store.addItems(job.id, items);
    await store.addItems(job.id, items.slice(1));
    const ingested = await store.finishIngest(job.id);
    assert.equal(ingested.ingested, true);
    assert.equal(ingested.totalRows, 4);
    assert.equal(ingested.totalAddresses, 3);
    assert.equal((await store.findJobBySourcePath('/lists/a.csv'))?.id, job.id);
    assert.equal(await store.findJobBySourcePath('/lists/other.csv'), null);
    // The most recent job of a path wins (what `rcpt bulk --resume` continues).
    const later = await store.createJob({
      source: { path: '/lists/a.csv', size: 11, mtimeMs: 6, headSha256: 'cd' },
    });
    assert.equal((await store.findJobBySourcePath('/lists/a.csv'))?.id, later.id);
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
    // One key twice in one batch: the last result stands, counted once.
    const twice = [
      { key: 'c@x.test', result: fakeResult('c@x.test', 'timeout') },
      { key: 'c@x.test', result: fakeResult('c@x.test', 'mailbox_not_found') },
    ];
    assert.equal(await store.putResults(job.id, twice), 1);
    const progress = await store.getProgress(job.id);
    assert.equal(progress.doneAddresses, 2);
    assert.deepEqual(progress.counts, { deliverable: 1, undeliverable: 1, risky: 0, unknown: 0 });
    assert.deepEqual(progress.reasons, { accepted: 1, mailbox_not_found: 1 });
    const output = [];
    for await (const row of store.readOutput(job.id)) output.push(row);
    assert.deepEqual(
      output.map((row) => [row.row, row.input, row.result?.reason ?? null]),
      [
        [1, 'a@x.test', 'accepted'],
        [2, 'a@x.test', 'accepted'],
        [3, 'c@x.test', 'mailbox_not_found'],
      ],
    );
  });

  it('counts an address once when two writers race on it (a lease that changed hands)', async () => {
    const other = await openPgJobStore(url, { schema });
    try {
      const job = await store.createJob({});
      const inputs = Array.from({ length: 200 }, (_, i) => `race${i}@x.test`);
      await store.addItems(
        job.id,
        inputs.map((input, i) => item(i + 1, input)),
      );
      await store.finishIngest(job.id);
      const results = inputs.map((input) => ({
        key: addressKey(input),
        result: fakeResult(input, 'accepted'),
      }));
      const added = await Promise.all([
        store.putResults(job.id, results),
        other.putResults(job.id, [...results].reverse()),
        store.putResults(job.id, results.slice(50, 150)),
      ]);
      assert.equal(
        added.reduce((a, b) => a + b, 0),
        200,
      );
      const [row] = await query<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM ${schema}.results WHERE job_id = $1`,
        [job.id],
      );
      assert.equal(row?.n, 200);
      assert.equal((await store.getJob(job.id))?.doneAddresses, 200);
    } finally {
      await other.close();
    }
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
      // Byte order, not the server's locale: upper case sorts before lower case.
      item(27, 'Z@x.test'),
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
    assert.deepEqual(seen, ['Z@x.test', ...inputs.filter((input) => input !== 'u03@x.test')]);
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

  it('sets statuses, started time once; a cancelled job leaves no work; deletes cascade', async () => {
    const job = await store.createJob({});
    const running = await store.setStatus(job.id, 'running');
    assert.ok(running.startedAt !== null);
    await store.addItems(job.id, [item(1, 'a@x.test')]);
    await query(
      url,
      `INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, 'a@x.test', 'a@x.test', '127.0.0.1')`,
      [job.id],
    );
    const cancelled = await store.setStatus(job.id, 'cancelled');
    assert.equal(cancelled.startedAt, running.startedAt);
    const [work] = await query<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM ${schema}.work WHERE job_id = $1`,
      [job.id],
    );
    assert.equal(work?.n, 0);
    const failed = await store.setStatus(job.id, 'failed', 'disk full');
    assert.equal(failed.error, 'disk full');
    assert.equal(await store.deleteJob(job.id), true);
    assert.equal(await store.getJob(job.id), null);
    assert.equal(await store.deleteJob(job.id), false);
    const [items] = await query<{ n: number }>(
      url,
      `SELECT count(*)::int AS n FROM ${schema}.items WHERE job_id = $1`,
      [job.id],
    );
    assert.equal(items?.n, 0);
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

  it('runs a job in-process with runJob(), as the SQLite store does', async () => {
    const world = await startScaleWorld({ size: 300, hostCount: 6, domainCount: 40, latencyMs: 1 });
    const verifier = createVerifier({
      dnsServers: [world.dns.address],
      smtpPort: world.port,
      allowPrivateTargets: true,
      helo: 'probe.rcpt.test',
      mailFrom: 'verify@rcpt.test',
      greylistWaitMs: 700,
      timeoutMs: 10_000,
    });
    try {
      const job = await store.createJob({});
      await store.addItems(
        job.id,
        world.addresses.map((a, i) => item(i + 1, a.address)),
      );
      await store.finishIngest(job.id);
      const outcome = await runJob(store, job.id, verifier);
      assert.equal(outcome.job.status, 'done');
      assert.equal(outcome.job.doneAddresses, 300);
      const expected = new Map(world.addresses.map((a) => [a.address, a.verdict]));
      for await (const row of store.readOutput(job.id)) {
        assert.equal(row.result?.verdict, expected.get(row.input), row.input);
      }
    } finally {
      await verifier.close();
      await world.close();
    }
  });
});
