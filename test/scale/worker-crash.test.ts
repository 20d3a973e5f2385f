/**
 * A worker killed with SIGKILL at a point where work passes from one record to another must not leave
 * a job that nobody finishes. Each test puts a real `rcpt worker` process at one such point and kills
 * it there; a second worker must then finish the job within seconds, not after pg-boss expires an
 * active entry (10 minutes for a plan) or never. Before the fix each of them timed out:
 *
 * - killed while planning (slow DNS answers keep it there): its plan entry stayed active, so nobody
 *   planned the job again before the entry expired;
 * - killed between taking host entries and leasing their hosts (a lock on `host_leases` holds it
 *   there): the entries were completed, no lease existed, the hosts' work was announced nowhere;
 * - killed between sweeping a dead worker's expired lease and announcing its host (a lock on the queue
 *   table holds it there): the same loss;
 * - killed between writing a job's last results and marking it done (the state such a kill leaves is
 *   written by hand): the job stayed `running`.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import pg from 'pg';

import type { VerifyResult } from '../../src/index.js';
import { addressKey } from '../../src/jobs/index.js';
import { openScaleOut, type ScaleOut } from '../../src/jobs/postgres/index.js';
import {
  PG_URL,
  SKIP_NO_PG,
  blockedAt,
  dropSchema,
  ensureStopped,
  freshSchema,
  query,
  startRcpt,
  storeAddresses,
  until,
  type RcptProcess,
} from './helpers.js';
import { startScaleWorld, workerArgs, type ScaleWorld } from './world.js';

const LEASE_MS = 1_000;
/** Well under pg-boss's expiry of an active entry (15 minutes; 10 for a plan). */
const FINISH_WITHIN_MS = 30_000;

describe('a worker killed at a hand-over point', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  let world: ScaleWorld;
  let dnsDelayMs = 0;
  let schema = '';
  let cluster: ScaleOut | null = null;
  const processes: RcptProcess[] = [];
  const schemas: string[] = [];

  before(async () => {
    world = await startScaleWorld({
      size: 200,
      hostCount: 6,
      domainCount: 80,
      latencyMs: 1,
      dnsDelayMs: () => dnsDelayMs,
    });
  });

  afterEach(async () => {
    dnsDelayMs = 0;
    for (const process of processes.splice(0)) await ensureStopped(process);
    await cluster?.close();
    cluster = null;
  });

  after(async () => {
    await world?.close();
    for (const name of schemas) await dropSchema(url, name);
  });

  async function open(): Promise<ScaleOut> {
    schema = freshSchema('wcrash');
    schemas.push(schema);
    cluster = await openScaleOut(url, { schema, supervise: false });
    return cluster;
  }

  function worker(n: number): RcptProcess {
    const process = startRcpt(
      workerArgs(url, world, n, { leaseMs: LEASE_MS, flags: ['--greylist-wait', '1'] }),
      { RCPT_PG_SCHEMA: schema },
    );
    processes.push(process);
    return process;
  }

  /** A job of these addresses, stored whole (not submitted). */
  async function storeJob(addresses: readonly string[]): Promise<string> {
    return storeAddresses(cluster as ScaleOut, addresses);
  }

  async function status(jobId: string): Promise<{ status: string; planned: boolean; done: number }> {
    const [row] = await query<{ status: string; planned: boolean; done: number }>(
      url,
      `SELECT status, planned, done_addresses AS done FROM ${schema}.jobs WHERE id = $1`,
      [jobId],
    );
    return row ?? { status: 'missing', planned: false, done: 0 };
  }

  /** Resolves when the job is done, every address with the world's verdict; fails after FINISH_WITHIN_MS. */
  async function finishes(jobId: string, addresses: readonly string[]): Promise<void> {
    await until(
      `job ${jobId} to finish`,
      async () => (await status(jobId)).status === 'done',
      FINISH_WITHIN_MS,
    ).catch(async (error: unknown) => {
      const left = await query(url, `SELECT host, count(*)::int AS n FROM ${schema}.work GROUP BY host`);
      const leases = await query(url, `SELECT host, worker, expires_at FROM ${schema}.host_leases`);
      throw new Error(
        `${(error as Error).message}: ${JSON.stringify(await status(jobId))}, work ${JSON.stringify(left)}, leases ${JSON.stringify(leases)}`,
      );
    });
    const rows = await query<{ key: string; verdict: string; reason: string }>(
      url,
      `SELECT key, verdict, reason FROM ${schema}.results WHERE job_id = $1`,
      [jobId],
    );
    assert.equal(rows.length, addresses.length);
    const expected = new Map(world.addresses.map((a) => [addressKey(a.address), a.verdict]));
    for (const row of rows) assert.equal(row.verdict, expected.get(row.key), `${row.key}: ${row.reason}`);
  }

  /**
   * Holds every writer of `table` at its next statement there (an EXCLUSIVE lock in an open
   * transaction), until `release()`.
   */
  async function lockTable(table: string): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    await client.query(`LOCK TABLE ${table} IN EXCLUSIVE MODE`);
    return {
      async release() {
        await client.query('ROLLBACK');
        await client.end();
      },
    };
  }

  /**
   * Kills the worker held at a lock, and ends its sessions' statements too: a statement already at the
   * server would still run once the lock is released (PostgreSQL sees the client gone only when it
   * answers), so this is a kill that came just before the statement was sent.
   */
  async function killHeld(process: RcptProcess): Promise<void> {
    await ensureStopped(process);
    await query(
      url,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND application_name LIKE 'rcpt%'`,
    );
  }

  it('killed while planning: another worker plans the job within a lease', async () => {
    const scaleOut = await open();
    // 44 domains at 300 ms a DNS answer, 16 at once: planning takes about a second.
    const addresses = world.addresses.slice(0, 120).map((a) => a.address);
    const jobId = await storeJob(addresses);
    dnsDelayMs = 300;
    const first = worker(1);
    await first.waitFor((line) => line.type === 'started');
    await scaleOut.submit(jobId);
    await until('planning to start', async () => {
      const job = await status(jobId);
      return job.status === 'running' && !job.planned;
    });
    await ensureStopped(first);
    assert.equal((await status(jobId)).planned, false, 'the worker was killed mid-plan');
    dnsDelayMs = 0;
    worker(2);
    await finishes(jobId, addresses);
  });

  it('killed between taking a host entry and leasing the host: the host is not lost', async () => {
    const scaleOut = await open();
    const addresses = world.addresses.slice(0, 60).map((a) => a.address);
    const jobId = await storeJob(addresses);
    const first = worker(1);
    await first.waitFor((line) => line.type === 'started');
    const lock = await lockTable(`${schema}.host_leases`);
    try {
      await scaleOut.submit(jobId);
      await blockedAt(url, /INSERT INTO \w+\.host_leases/);
      await killHeld(first);
    } finally {
      await lock.release();
    }
    worker(2);
    await finishes(jobId, addresses);
  });

  it('killed between sweeping a dead worker’s lease and announcing its host: the host is not lost', async () => {
    await open();
    const addresses = world.addresses.slice(0, 60).map((a) => a.address);
    const jobId = await storeJob(addresses);
    // The state a worker killed while holding every host leaves: planned work, expired leases, no entry.
    await (cluster as ScaleOut).store.setStatus(jobId, 'running');
    const hostOf = new Map(
      [...world.domainsByHost].flatMap(([host, domains]) => domains.map((domain) => [domain, host] as const)),
    );
    const hosts = addresses.map((address) => hostOf.get(address.split('@')[1] ?? '') ?? '-');
    await query(
      url,
      `INSERT INTO ${schema}.work (job_id, key, input, host)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])`,
      [jobId, addresses.map((address) => addressKey(address)), addresses, hosts],
    );
    await query(url, `UPDATE ${schema}.jobs SET planned = true WHERE id = $1`, [jobId]);
    await query(
      url,
      `INSERT INTO ${schema}.host_leases (host, worker, expires_at)
       SELECT DISTINCT host, 'dead', now() - interval '1 second' FROM unnest($1::text[]) AS t(host)`,
      [hosts],
    );
    // A worker sweeps the expired leases; it is killed before its announcement of the hosts is stored.
    const lock = await lockTable(`${schema}_boss.job`);
    try {
      const sweeper = worker(1);
      await blockedAt(url, /INSERT INTO \w+\.job/);
      await killHeld(sweeper);
    } finally {
      await lock.release();
    }
    worker(2);
    await finishes(jobId, addresses);
  });

  it('killed between its last results and marking the job done: the job is marked done', async () => {
    await open();
    const store = (cluster as ScaleOut).store;
    const addresses = world.addresses.slice(0, 5).map((a) => a.address);
    const jobId = await storeJob(addresses);
    // The state such a kill leaves: planned, every result stored, no work, still `running`.
    await store.setStatus(jobId, 'running');
    const result = (address: string): VerifyResult =>
      ({
        input: address,
        verdict: world.addresses.find((a) => a.address === address)?.verdict ?? 'unknown',
        reason: 'accepted',
        checkedAt: new Date().toISOString(),
      }) as unknown as VerifyResult;
    await store.putResults(
      jobId,
      addresses.map((address) => ({ key: addressKey(address), result: result(address) })),
    );
    await query(url, `UPDATE ${schema}.jobs SET planned = true WHERE id = $1`, [jobId]);
    worker(1);
    await finishes(jobId, addresses);
  });
});
