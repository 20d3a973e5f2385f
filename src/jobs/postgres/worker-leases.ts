/**
 * A worker's leases (`host_leases`): one holder per MX host address, or per job being planned
 * (`plan:JOB`), cluster-wide. A lease is renewed every third of its length while its holder works; a
 * dead holder's runs out, and the sweep (src/jobs/postgres/worker.ts) hands its work on.
 */
import type pg from 'pg';

import { queueDb } from './scale-out.js';
import type { WorkerContext } from './worker-shared.js';

/**
 * Planning holds a lease too, named after the job in `host_leases` (no host address starts so): a
 * planner killed mid-plan is found by the sweep within a lease, instead of its queue entry staying
 * active until pg-boss expires it (10 minutes).
 */
export const PLAN_LEASE_PREFIX = 'plan:';

/** The lease key of a job's planning. */
export function planLease(jobId: string): string {
  return `${PLAN_LEASE_PREFIX}${jobId}`;
}

export class Leases {
  readonly #context: WorkerContext;

  constructor(context: WorkerContext) {
    this.#context = context;
  }

  /** Takes the lease of `key` (a host or a plan) unless a live holder has it; on `client` when given. */
  async take(key: string, client: pg.Pool | pg.PoolClient = this.#context.store.pool): Promise<boolean> {
    const { id, leaseMs, store } = this.#context;
    const s = store.schema;
    const { rowCount } = await client.query(
      `INSERT INTO ${s}.host_leases (host, worker, expires_at)
       VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (host) DO UPDATE SET worker = excluded.worker, expires_at = excluded.expires_at
       WHERE ${s}.host_leases.expires_at < now()`,
      [key, id, leaseMs],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Extends this worker's lease of `key`; false when it is no longer this worker's. */
  async renew(key: string): Promise<boolean> {
    const { id, leaseMs, store } = this.#context;
    const { rowCount } = await store.pool.query(
      `UPDATE ${store.schema}.host_leases SET expires_at = now() + $3 * interval '1 millisecond'
       WHERE host = $1 AND worker = $2`,
      [key, id, leaseMs],
    );
    return (rowCount ?? 0) > 0;
  }

  /** Lets go of this worker's lease of `key`; on `client` when given. */
  async release(key: string, client: pg.Pool | pg.PoolClient = this.#context.store.pool): Promise<void> {
    const { id, store } = this.#context;
    await client.query(`DELETE FROM ${store.schema}.host_leases WHERE host = $1 AND worker = $2`, [key, id]);
  }

  /**
   * Renews `key`'s lease every third of the lease until cleared; aborts `lease` when it was lost (it ran
   * out and was swept or taken).
   */
  keep(key: string, lease: AbortController): NodeJS.Timeout {
    const { report, leaseMs } = this.#context;
    return setInterval(
      () => {
        this.renew(key).then(
          (kept) => {
            if (!kept && !lease.signal.aborted) {
              report({ type: 'lease-lost', host: key });
              lease.abort();
            }
          },
          (error: unknown) => {
            report({ type: 'error', error, where: `renew ${key}` });
          },
        );
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
  }

  /**
   * Releases the lease of `host` and announces what is left (due now, or the next greylisting retry),
   * in one transaction: killed half-way, the lease stays, runs out, and the sweep announces the host.
   */
  async handBack(host: string): Promise<void> {
    const { store, cluster } = this.#context;
    const s = store.schema;
    await store.transaction(async (tx) => {
      await this.release(host, tx);
      const { rows } = await tx.query<{ due: boolean | null; next: Date | null }>(
        `SELECT bool_or(w.not_before <= now()) AS due, min(w.not_before) AS next
         FROM ${s}.work w JOIN ${s}.jobs j ON j.id = w.job_id
         WHERE w.host = $1 AND j.status IN ('queued', 'running')`,
        [host],
      );
      const row = rows[0];
      const db = queueDb(tx);
      if (row?.due === true) await cluster.announceHosts([host], undefined, { db });
      else if (row?.next != null) await cluster.announceHosts([host], row.next, { db });
    });
  }
}
