/**
 * Retriable database errors in the scale-out suite's real PostgreSQL (docs/scale-out.md, "What is run
 * again"). Two transactions of the store locking two rows in opposite orders: PostgreSQL ends one with
 * "deadlock detected" (40P01), and `transaction()` runs it again, so both finish.
 *
 * Processes starting at once on a fresh schema (the workers and `rcpt bulk` of a new cluster, as the
 * crash test starts them): each creates rcpt's tables and pg-boss's queues if missing. Two processes
 * creating the same pg-boss queue at once deadlock inside pg-boss's `create_queue()` (the loser waits
 * for the winner's `queue` row holding RowExclusiveLock on `queue`, and the winner's foreign key on the
 * new partition wants ShareRowExclusiveLock on `queue`); the victim's `rcpt worker` exited with
 * "rcpt: deadlock detected" before it logged a line. Every process must open.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { openPgJobStore, openScaleOut, type ScaleOut } from '../../src/jobs/postgres/index.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, query } from './helpers.js';

/** Fresh schemas tried, and processes (here: scale-out handles, each with its own pools) per schema. */
const ROUNDS = 4;
const AT_ONCE = 4;

describe('a deadlock between two transactions of the store', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';

  it('two transactions locking two rows in opposite orders: the victim is run again, both commit', async () => {
    const schema = freshSchema('deadlock');
    const store = await openPgJobStore(url, { schema });
    try {
      const s = schema;
      await store.pool.query(
        `INSERT INTO ${s}.host_leases (host, worker, expires_at) VALUES ('a', '', now()), ('b', '', now())`,
      );
      // Each first run holds its first row until both do; then each asks for the other's row.
      let holding = 0;
      let bothHold: () => void = () => undefined;
      const barrier = new Promise<void>((resolve) => (bothHold = resolve));
      const runs = { ab: 0, ba: 0 };
      const lockBoth = (name: 'ab' | 'ba', first: string, second: string) =>
        store.transaction(async (tx) => {
          runs[name] += 1;
          await tx.query(`SELECT 1 FROM ${s}.host_leases WHERE host = $1 FOR UPDATE`, [first]);
          if (runs[name] === 1) {
            holding += 1;
            if (holding === 2) bothHold();
            await barrier;
          }
          for (const host of [first, second]) {
            await tx.query(`UPDATE ${s}.host_leases SET worker = worker || $2 WHERE host = $1`, [host, name]);
          }
        });
      const settled = await Promise.allSettled([lockBoth('ab', 'a', 'b'), lockBoth('ba', 'b', 'a')]);
      assert.deepEqual(
        settled.map((r) => r.status),
        ['fulfilled', 'fulfilled'],
      );
      // One of the two was the victim and ran twice.
      assert.equal(runs.ab + runs.ba, 3);
      const rows = await query<{ host: string; worker: string }>(
        url,
        `SELECT host, worker FROM ${s}.host_leases ORDER BY host`,
      );
      const first = runs.ab === 1 ? 'ab' : 'ba';
      const second = first === 'ab' ? 'ba' : 'ab';
      assert.deepEqual(rows, [
        { host: 'a', worker: `${first}${second}` },
        { host: 'b', worker: `${first}${second}` },
      ]);
    } finally {
      await store.close();
      await dropSchema(url, schema);
    }
  });
});

describe('scale-out processes starting at once on a fresh schema', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';

  it(`${AT_ONCE} at once, ${ROUNDS} fresh schemas: every one opens, and each queue exists once`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const schema = freshSchema('first');
      const opened = await Promise.allSettled(
        Array.from({ length: AT_ONCE }, () => openScaleOut(url, { schema, supervise: false })),
      );
      const clusters = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
      try {
        const failures = opened.flatMap((o) =>
          o.status === 'rejected' ? [o.reason instanceof Error ? o.reason.message : String(o.reason)] : [],
        );
        assert.deepEqual(failures, [], `round ${round + 1}`);
        const first = clusters[0] as ScaleOut;
        const queues = (await first.boss.getQueues()).map((q) => q.name).sort();
        assert.deepEqual(queues, ['rcpt-host', 'rcpt-plan']);
      } finally {
        await Promise.all(clusters.map((c) => c.close()));
        await dropSchema(url, schema);
      }
    }
  });
});
