/**
 * Worker behaviour that the big run cannot isolate: a host leased by one worker is not touched by
 * another until the lease is released or runs out; the shared domain cache spares the next worker the
 * MX lookups and the catch-all probe of a domain another worker already verified.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { VerifyOptions } from '../../src/index.js';
import { openScaleOut, startWorker, type ScaleOut } from '../../src/jobs/postgres/index.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, jobDone, query, submitAddresses } from './helpers.js';
import { startScaleWorld, worldVerifyOptions, type ScaleWorld } from './world.js';

describe('startWorker', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('worker');
  let world: ScaleWorld;
  let cluster: ScaleOut;
  let verify: VerifyOptions;

  before(async () => {
    world = await startScaleWorld({ size: 400, hostCount: 5, domainCount: 20, latencyMs: 1 });
    cluster = await openScaleOut(url, { schema, supervise: false });
    verify = {
      ...worldVerifyOptions(world),
      greylistWaitMs: 400,
      timeoutMs: 10_000,
    };
  });

  after(async () => {
    await cluster?.close();
    await world?.close();
    await dropSchema(url, schema);
  });

  const submit = (addresses: readonly string[]): Promise<string> => submitAddresses(cluster, addresses);

  const finished = (jobId: string): Promise<void> => jobDone(cluster, jobId);

  it('leaves a host alone while another worker holds its lease, and takes it when the lease runs out', async () => {
    const host = '127.0.10.1';
    const domains = new Set(world.domainsByHost.get(host));
    const list = world.addresses
      .filter((a) => domains.has(a.address.split('@')[1] ?? ''))
      .map((a) => a.address);
    assert.ok(list.length > 10);
    // A lease held by a worker that is not running: as after kill -9, before it expires.
    await query(
      url,
      `INSERT INTO ${schema}.host_leases (host, worker, expires_at) VALUES ($1, 'dead-worker', now() + interval '2 seconds')`,
      [host],
    );
    const before = world.hosts.find((h) => h.ip === host)?.connections ?? 0;
    const worker = await startWorker({ url, schema, verify, leaseMs: 1_000, pollMs: 100 });
    try {
      const started = Date.now();
      const jobId = await submit(list);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      assert.equal(world.hosts.find((h) => h.ip === host)?.connections, before, 'no connection while leased');
      await finished(jobId);
      assert.ok(Date.now() - started >= 1_500, 'waited for the lease to run out');
      assert.ok((world.hosts.find((h) => h.ip === host)?.connections ?? 0) > before);
    } finally {
      await worker.stop();
    }
    const leases = await query<{ n: number }>(url, `SELECT count(*)::int AS n FROM ${schema}.host_leases`);
    assert.equal(leases[0]?.n, 0, 'every lease released once the worker stopped');
  });

  it('shares MX answers and catch-all verdicts: a second worker neither looks up nor probes again', async () => {
    const host = '127.0.10.2';
    const domains = new Set(world.domainsByHost.get(host));
    const list = world.addresses
      .filter((a) => domains.has(a.address.split('@')[1] ?? ''))
      .map((a) => a.address);
    const half = Math.floor(list.length / 2);
    const probes = () =>
      [...world.rcptsByAddress]
        .filter(([address]) => /^r[0-9a-f]{16}@/.test(address) && domains.has(address.split('@')[1] ?? ''))
        .reduce((sum, [, n]) => sum + n, 0);
    const first = await startWorker({ url, schema, verify, leaseMs: 1_000, pollMs: 100 });
    try {
      await finished(await submit(list.slice(0, half)));
    } finally {
      await first.stop();
    }
    const probesAfterFirst = probes();
    assert.equal(probesAfterFirst, domains.size, 'one catch-all probe per domain');
    const queriesBefore = world.dns.queries;
    // A new process: nothing in memory, only what PostgreSQL holds.
    const second = await startWorker({ url, schema, verify, leaseMs: 1_000, pollMs: 100 });
    try {
      const jobId = await submit(list.slice(half));
      await finished(jobId);
      const rows = await query<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM ${schema}.results WHERE job_id = $1 AND verdict IN ('deliverable', 'undeliverable')`,
        [jobId],
      );
      assert.equal(rows[0]?.n, list.length - half);
    } finally {
      await second.stop();
    }
    assert.equal(probes(), probesAfterFirst, 'no catch-all probe again');
    assert.equal(world.dns.queries, queriesBefore, 'no DNS query again');
  });
});
