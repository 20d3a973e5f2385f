/**
 * The parts of a scale-out worker on their own (src/jobs/postgres/worker-*.ts), on a real PostgreSQL:
 * leases (one holder, renewal, release, expiry, hand-back announcing what is left), the shared
 * domain cache (MX routes and catch-all verdicts, each job profile in its own part), the bounded
 * cache of one verifier per job profile, the host's window of RCPTs per minute, and the planner
 * meeting a cancel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import pg from 'pg';

import { upsertRoutes } from '../../src/jobs/postgres/domain-cache-table.js';
import { pgHostRate } from '../../src/jobs/postgres/host-rate.js';
import { openScaleOut, type ScaleOut } from '../../src/jobs/postgres/index.js';
import { Leases } from '../../src/jobs/postgres/worker-leases.js';
import { Planner } from '../../src/jobs/postgres/worker-planner.js';
import { JobProfiles, type ProfileRun } from '../../src/jobs/postgres/worker-profiles.js';
import type { WorkerContext, WorkerEvent } from '../../src/jobs/postgres/worker-shared.js';
import {
  PG_URL,
  SKIP_NO_PG,
  blockedAt,
  dropSchema,
  freshSchema,
  query,
  storeAddresses,
  until,
} from './helpers.js';

describe('worker parts', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('parts');
  let cluster: ScaleOut;
  const stopping = new AbortController();
  const events: WorkerEvent[] = [];

  const context = (id: string, leaseMs = 60_000): WorkerContext => ({
    id,
    cluster,
    store: cluster.store,
    leaseMs,
    pollMs: 100,
    stopping: stopping.signal,
    report: (event) => events.push(event),
  });

  before(async () => {
    cluster = await openScaleOut(url, { schema, supervise: false });
  });

  after(async () => {
    stopping.abort();
    await cluster?.close();
    await dropSchema(url, schema);
  });

  it('a statement PostgreSQL ends as a deadlock victim is run again: the shared domain cache written crosswise', async () => {
    const store = cluster.store;
    const far = Date.now() + 3_600_000;
    await upsertRoutes(
      store,
      [
        { key: 'deadlock-a.test', mx: '"a0"' },
        { key: 'deadlock-b.test', mx: '"b0"' },
      ],
      far,
      1,
    );
    // Another session holds b, and will wait for a after the upsert below holds a and waits for b.
    // Its own deadlock check comes late (30 s), so the upsert's (1 s, the default) finds the cycle and
    // PostgreSQL ends the upsert: before, that error (40P01) reached the worker.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query(`SET deadlock_timeout = '30s'`);
      await other.query('BEGIN');
      await other.query(`UPDATE ${schema}.domain_cache SET mx = '"b1"' WHERE domain = 'deadlock-b.test'`);
      const upsert = upsertRoutes(
        store,
        [
          { key: 'deadlock-a.test', mx: '"a2"' },
          { key: 'deadlock-b.test', mx: '"b2"' },
        ],
        far,
        2,
      );
      await blockedAt(url, /INSERT INTO \S+\.domain_cache/);
      // The crossing: a, held by the upsert, until PostgreSQL ends it as the victim.
      await other.query(`UPDATE ${schema}.domain_cache SET mx = '"a1"' WHERE domain = 'deadlock-a.test'`);
      await other.query('COMMIT');
      // Run again once the other session let go: it wins over what that session wrote.
      await upsert;
    } finally {
      await other.end();
    }
    const rows = await query<{ domain: string; mx: string }>(
      url,
      `SELECT domain, mx::text AS mx FROM ${schema}.domain_cache WHERE domain LIKE 'deadlock-%' ORDER BY domain`,
    );
    assert.deepEqual(
      rows.map((row) => [row.domain, row.mx]),
      [
        ['deadlock-a.test', '"a2"'],
        ['deadlock-b.test', '"b2"'],
      ],
    );
  });

  it('Leases: one holder at a time; renewed only by it; free again once released or run out', async () => {
    const a = new Leases(context('worker-a'));
    const b = new Leases(context('worker-b', 300));
    assert.equal(await a.take('127.0.10.1'), true);
    assert.equal(await b.take('127.0.10.1'), false);
    assert.equal(await a.renew('127.0.10.1'), true);
    assert.equal(await b.renew('127.0.10.1'), false);
    await b.release('127.0.10.1'); // not b's: nothing happens
    assert.equal(await b.take('127.0.10.1'), false);
    await a.release('127.0.10.1');
    assert.equal(await b.take('127.0.10.1'), true);
    // b's lease (300 ms) runs out unrenewed: a takes it over.
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(await a.take('127.0.10.1'), true);
    assert.equal(await b.renew('127.0.10.1'), false);
  });

  it('Leases.keep(): renews while held, and aborts the work when the lease was taken away', async () => {
    const a = new Leases(context('worker-keep', 300));
    assert.equal(await a.take('127.0.10.2'), true);
    const lease = new AbortController();
    const timer = a.keep('127.0.10.2', lease);
    try {
      // Held past its own length: kept by the renewals.
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(lease.signal.aborted, false);
      assert.equal(await new Leases(context('thief')).take('127.0.10.2'), false);
      // Swept away (as after a stall): the next renewal finds it gone and aborts.
      await query(url, `DELETE FROM ${schema}.host_leases WHERE host = '127.0.10.2'`);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(lease.signal.aborted, true);
      assert.ok(events.some((event) => event.type === 'lease-lost' && event.host === '127.0.10.2'));
    } finally {
      clearInterval(timer);
    }
  });

  it('Leases.handBack(): lets go and announces the host when work is due there', async () => {
    const job = await cluster.store.createJob({});
    await cluster.store.finishIngest(job.id);
    await query(
      url,
      `INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, 'a@x.test', 'a@x.test', '127.0.10.3')`,
      [job.id],
    );
    const a = new Leases(context('worker-hand'));
    assert.equal(await a.take('127.0.10.3'), true);
    await a.handBack('127.0.10.3');
    assert.equal(await new Leases(context('next')).take('127.0.10.3'), true);
    const announced = await query<{ n: string }>(
      url,
      `SELECT count(*) AS n FROM ${schema}_boss.job WHERE name = 'rcpt-host' AND data->>'host' = '127.0.10.3'`,
    );
    assert.equal(Number(announced[0]?.n), 1);
  });

  it('pgHostRate: a window filled by a grant in flight has room again a window after it is settled, not at its safety expiry', async () => {
    const rate = pgHostRate(cluster.store, { windowMs: 1_500, holdMs: 70_000 });
    const first = await rate.reserve('127.0.10.9', 8, 8);
    assert.equal(first.count, 8);
    // In flight (its row counts until holdMs and a window, in case its worker dies): full, and room
    // again at most a window from now, when it will have been settled at the soonest.
    const during = await rate.reserve('127.0.10.9', 8, 1);
    assert.equal(during.count, 0);
    assert.ok(during.waitMs > 0 && during.waitMs <= 1_500, `waitMs ${during.waitMs}`);
    first.settle(8);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const settled = await rate.reserve('127.0.10.9', 8, 1);
    assert.equal(settled.count, 0);
    assert.ok(settled.waitMs > 0 && settled.waitMs <= 1_500, `waitMs ${settled.waitMs}`);
    await new Promise((resolve) => setTimeout(resolve, settled.waitMs + 50));
    assert.equal((await rate.reserve('127.0.10.9', 8, 8)).count, 8);
  });

  /** A job recorded with its own HELO: a profile of its own. */
  async function jobWithHelo(helo: string): Promise<string> {
    return (await cluster.store.createJob({ options: { via: 'cli', settings: { '--helo': helo } } })).id;
  }

  /** Open: verify() answers (a malformed address needs no network); closed: it throws. */
  async function isOpen(run: ProfileRun): Promise<boolean> {
    try {
      await run.verifier.verify('not an address');
      return true;
    } catch (error) {
      assert.match(String(error), /verifier is closed/);
      return false;
    }
  }

  it('JobProfiles: many sets of settings keep at most the bound, least recently used closed first, never one in use', async () => {
    const profiles = new JobProfiles(context('worker-profiles'), { allowPrivateTargets: true }, 2, 60_000, 3);
    try {
      const jobs: string[] = [];
      for (let i = 0; i < 12; i++) jobs.push(await jobWithHelo(`p${i}.rcpt.test`));
      // Held throughout, as a job's planning or a host's pass holds its run.
      const held = await profiles.ofJob(jobs[0] ?? '');
      const runs: ProfileRun[] = [];
      for (const id of jobs.slice(1)) {
        const run = await profiles.ofJob(id);
        runs.push(run);
        profiles.release(run);
        assert.ok(profiles.size <= 3, `${profiles.size} kept`);
      }
      assert.equal(profiles.size, 3);
      assert.equal(await isOpen(held), true, 'the run in use was closed');
      // Kept: the held one and the two most recent; every other was closed.
      const open = await Promise.all(runs.map(isOpen));
      assert.deepEqual(open, [...Array<boolean>(9).fill(false), true, true]);
      // A job with the settings of a kept run shares it.
      const twin = await profiles.ofJob(await jobWithHelo('p11.rcpt.test'));
      assert.equal(twin, runs.at(-1));
      profiles.release(twin);
      // Let go, the held run is the least recently used: the next new profile closes it.
      profiles.release(held);
      assert.equal(await isOpen(held), true);
      profiles.release(await profiles.ofJob(await jobWithHelo('p12.rcpt.test')));
      assert.equal(profiles.size, 3);
      assert.equal(await isOpen(held), false);
    } finally {
      await profiles.close();
    }
  });

  it('JobProfiles.atHost(): every group of a pass is held, past the bound too, until released', async () => {
    const profiles = new JobProfiles(context('worker-at-host'), { allowPrivateTargets: true }, 2, 60_000, 2);
    try {
      const jobs: string[] = [];
      for (let i = 0; i < 5; i++) {
        const id = await jobWithHelo(`host${i}.rcpt.test`);
        await cluster.store.finishIngest(id);
        await query(
          url,
          `INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, 'a@x.test', 'a@x.test', '127.0.10.9')`,
          [id],
        );
        jobs.push(id);
      }
      // A sixth job with the first one's settings: the same group.
      const twin = await jobWithHelo('host0.rcpt.test');
      await cluster.store.finishIngest(twin);
      await query(
        url,
        `INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, 'b@x.test', 'b@x.test', '127.0.10.9')`,
        [twin],
      );
      const groups = await profiles.atHost('127.0.10.9');
      assert.equal(groups.length, 5);
      assert.deepEqual(groups.find((group) => group.jobs.some(({ job }) => job === twin))?.jobs.length, 2);
      // Five runs in use, bound two: none is closed while the pass holds them.
      assert.equal(profiles.size, 5);
      assert.deepEqual(await Promise.all(groups.map(({ run }) => isOpen(run))), [
        true,
        true,
        true,
        true,
        true,
      ]);
      for (const { run } of groups) profiles.release(run);
      assert.equal(profiles.size, 2);
      // The two used last stay open, the three others are closed.
      const open = await Promise.all(groups.map(({ run }) => isOpen(run)));
      assert.deepEqual([open.filter(Boolean).length, open.filter((o) => !o).length], [2, 3]);
    } finally {
      await profiles.close();
    }
  });

  it('Planner: a job cancelled while its work is written gets no later page, and keeps no work', async () => {
    const store = cluster.store;
    // 4,500 addresses, pages of 2,000, over domains routed already (no DNS asked).
    const domains = [0, 1, 2, 3, 4].map((d) => `d${d}.plan.test`);
    await upsertRoutes(
      store,
      domains.map((key) => ({ key, mx: '"none"' })),
      Date.now() + 3_600_000,
      1,
    );
    const id = await storeAddresses(
      cluster,
      Array.from({ length: 4_500 }, (_, i) => `a${String(i).padStart(5, '0')}@${domains[i % 5] ?? ''}`),
    );
    // The second page's write waits behind a row of it another session inserts and has not committed,
    // the first page written: the cancel comes in the middle of the plan.
    const [held] = await query<{ key: string }>(
      url,
      `SELECT key FROM ${schema}.items WHERE job_id = $1 ORDER BY key OFFSET 2500 LIMIT 1`,
      [id],
    );
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, $2, $2, 'held')`, [
        id,
        held?.key,
      ]);
      const profiles = new JobProfiles(context('planner'), { allowPrivateTargets: true }, 2, 60_000);
      const planner = new Planner(context('planner'), new Leases(context('planner')), profiles);
      const planning = planner.plan(id, stopping.signal);
      await blockedAt(url, /INSERT INTO \S+\.work/);
      const written = await query<{ n: string }>(
        url,
        `SELECT count(*) AS n FROM ${schema}.work WHERE job_id = $1`,
        [id],
      );
      assert.equal(Number(written[0]?.n), 2_000);
      let settled = false;
      const cancelling = store.setStatus(id, 'cancelled', null, ['queued', 'running']).finally(() => {
        settled = true;
      });
      // The cancel either ends now or waits for the page being written: either way it comes first.
      await until('the cancel to end or wait for the page being written', async () => {
        if (settled) return true;
        const waiting = await query(
          url,
          `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE %.jobs SET status%'`,
        );
        return waiting.length > 0;
      });
      await other.query('ROLLBACK');
      assert.equal((await cancelling).status, 'cancelled');
      await planning;
      await profiles.close();
      const left = await query<{ n: string }>(
        url,
        `SELECT count(*) AS n FROM ${schema}.work WHERE job_id = $1`,
        [id],
      );
      assert.equal(Number(left[0]?.n), 0, 'work kept for a cancelled job');
      assert.equal((await store.getJob(id))?.status, 'cancelled');
      assert.ok(!events.some((event) => event.type === 'planned' && event.job === id), 'reported planned');
    } finally {
      await other.end();
    }
  });
});
