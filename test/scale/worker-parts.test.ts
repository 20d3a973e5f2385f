/**
 * The parts of a scale-out worker on their own (src/jobs/postgres/worker-*.ts), on a real PostgreSQL:
 * leases (one holder, renewal, release, expiry, hand-back announcing what is left) and the shared
 * domain cache (MX routes and catch-all verdicts, each job profile in its own part).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { openScaleOut, type ScaleOut } from '../../src/jobs/postgres/index.js';
import { Leases } from '../../src/jobs/postgres/worker-leases.js';
import type { WorkerContext, WorkerEvent } from '../../src/jobs/postgres/worker-shared.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, query } from './helpers.js';

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
});
