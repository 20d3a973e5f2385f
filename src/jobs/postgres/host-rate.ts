/**
 * The ceiling on RCPTs per minute at one MX host address (`hostRate`, docs/bulk.md), kept in
 * PostgreSQL so that it holds for the whole cluster: the host's lease passes from worker to worker, and
 * a window kept in one worker's memory would let the next holder send a second minute's worth at once.
 *
 * One row per grant (`host_rcpts`), taken in a transaction under the host's advisory lock, so that two
 * workers granting at once see each other's rows. A grant counts until `counts_until`: while in flight,
 * the end of the longest transaction plus a window (a worker killed mid-batch leaves a row that
 * expires by itself); once settled, a window after its replies were read. Times are the database's
 * clock, the one clock all workers share.
 */
import type { HostRateLimiter, RateGrant } from '../../types.js';
import type { PgJobStore } from './pg-job-store.js';

/** The window the ceiling counts over (the scheduler's `HOST_RATE_WINDOW_MS`). */
const WINDOW_MS = 60_000;

export interface PgHostRateOptions {
  /** Default 60000; tests shorten it. */
  readonly windowMs?: number;
  /** Longest a grant may stay in flight before it is settled (the transaction deadline and a margin). */
  readonly holdMs: number;
  /** A settlement that could not be written (its row then counts until it expires by itself). */
  readonly onError?: (error: unknown) => void;
}

interface Row {
  count: number;
  counts_until: string;
}

/** The database's clock in epoch milliseconds: the one clock all workers share. */
const NOW_MS = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;

/**
 * Deletes the grants of every host that no longer count (the worker's sweep): a host's own expired
 * grants go when it is granted again, but a host no worker asks again would keep them for ever.
 * Resolves with how many.
 *
 * Outside `reserve()`'s transaction and its host's lock, and safe so: one statement is atomic (a crash
 * deletes all of them or none), it deletes only rows whose `counts_until` has passed by the database's
 * clock, which no grant counts any more (`reserve()` deletes the same rows of its host itself), and
 * what it deletes is counted nowhere, so a sweep run again, by a restarted worker or two workers at once,
 * deletes what is left and nothing twice. A `reserve()` that reads its host's rows after a sweep that
 * began later than its own clock reading misses rows that expired in between: they no longer count when
 * its grant is made, so no 60 s holds more than the ceiling. A grant in flight counts until its hold
 * ends (`holdMs` and a window); one swept after that had a worker dead or past its deadline, and its
 * settlement then updates nothing, as after `reserve()`'s own delete.
 */
export async function sweepHostRcpts(store: Pick<PgJobStore, 'pool' | 'schema'>): Promise<number> {
  const { rowCount } = await store.pool.query(
    `DELETE FROM ${store.schema}.host_rcpts WHERE counts_until <= ${NOW_MS}`,
  );
  return rowCount ?? 0;
}

/** A `HostRateLimiter` over the store's `host_rcpts` table. */
export function pgHostRate(store: PgJobStore, options: PgHostRateOptions): HostRateLimiter {
  const s = store.schema;
  const windowMs = options.windowMs ?? WINDOW_MS;
  const nowMs = NOW_MS;
  return {
    async reserve(host, perMinute, wanted): Promise<RateGrant> {
      const taken = await store.transaction(async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`rcpt-rate:${s}:${host}`]);
        const { rows: clock } = await tx.query<{ now: string }>(`SELECT ${nowMs} AS now`);
        const now = Number(clock[0]?.now ?? Date.now());
        await tx.query(`DELETE FROM ${s}.host_rcpts WHERE host = $1 AND counts_until <= $2`, [host, now]);
        const { rows } = await tx.query<Row>(
          `SELECT count, counts_until FROM ${s}.host_rcpts WHERE host = $1 ORDER BY counts_until`,
          [host],
        );
        const used = rows.reduce((sum, row) => sum + row.count, 0);
        const count = Math.max(0, Math.min(wanted, perMinute - used));
        if (count === 0) {
          // Until enough of the soonest-expiring grants leave the window for one more RCPT. A grant in
          // flight counts until its safety expiry (`holdMs` and a window) only in case its worker dies;
          // it is settled as soon as its replies are read, and then counts one window more: a window
          // from now is when it leaves, as `rateWaitMs()` says of RCPTs held in one process. (Read as
          // its expiry, a host that a session found full while another's grant was in flight, or
          // before a settlement was written, waited out the whole hold: 71 s in place of 1.5 s in
          // test/scale/host-rate.test.ts.)
          let over = used - (perMinute - 1);
          let waitMs = windowMs;
          for (const row of rows) {
            over -= row.count;
            if (over <= 0) {
              waitMs = Math.min(windowMs, Math.max(1, Number(row.counts_until) - now));
              break;
            }
          }
          return { id: null, count, waitMs };
        }
        const { rows: inserted } = await tx.query<{ id: string }>(
          `INSERT INTO ${s}.host_rcpts (host, count, counts_until) VALUES ($1, $2, $3) RETURNING id`,
          [host, count, now + options.holdMs + windowMs],
        );
        return { id: inserted[0]?.id ?? null, count, waitMs: 0 };
      });
      let open = taken.id !== null;
      return {
        count: taken.count,
        waitMs: taken.waitMs,
        settle(sent) {
          if (!open) return;
          open = false;
          const kept = Math.max(0, Math.min(taken.count, sent));
          const done =
            kept === 0
              ? store.pool.query(`DELETE FROM ${s}.host_rcpts WHERE id = $1`, [taken.id])
              : store.pool.query(
                  `UPDATE ${s}.host_rcpts SET count = $2, counts_until = ${nowMs} + $3 WHERE id = $1`,
                  [taken.id, kept, windowMs],
                );
          done.catch((error: unknown) => {
            options.onError?.(error);
          });
        },
      };
    },
  };
}
