/**
 * The scale-out queue on PostgreSQL: the job store, plus a pg-boss queue that carries two kinds of
 * entries between processes:
 *
 * - `rcpt-plan` `{ jobId }`: a job whose input is stored and waits to be split into per-MX-host work
 *   (sent by the store's `finishIngest`, in the transaction that marks the job ingested; taken by one
 *   worker);
 * - `rcpt-host` `{ host }`: "this MX host address has work due" (sent by the planner, by a worker
 *   handing a host back, and as *delayed* entries for greylisting retries).
 *
 * Who may talk to a host is not decided by the queue but by a lease row per host (`host_leases`),
 * renewed while its holder works and free once it expires: pg-boss's `singleton` policy would fail a
 * whole fetch when the oldest entry's host is busy, so exclusivity lives in our own table.
 *
 * A job may be submitted more than once (`rcpt serve` and `rcpt bulk` still submit after ingesting, a
 * `--resume` submits a job still `queued`, the sweep and a failed plan submit again): a worker plans
 * a job once at a time (its plan lease) and never again once it is planned, so a second entry costs a
 * lookup, not a second verification.
 */
// Types only here: pg-boss is loaded when the queue is opened, so the library starts without it.
import type pg from 'pg';
import type PgBoss from 'pg-boss';

import { retrying } from './conflicts.js';
import { openPgJobStore, type PgJobStore, type PgJobStoreOptions } from './pg-job-store.js';
import { JobStoreError } from '../errors.js';

export const PLAN_QUEUE = 'rcpt-plan';
export const HOST_QUEUE = 'rcpt-host';
/**
 * A planning worker that dies leaves its entry active; pg-boss hands it to another worker after this
 * long. Planning resolves each domain once and writes in pages, so minutes cover millions of rows.
 */
export const DEFAULT_PLAN_EXPIRE_SECONDS = 600;
/** How often pg-boss expires dead entries (its default is two minutes: too slow for a dead planner). */
export const DEFAULT_MAINTENANCE_SECONDS = 30;

export interface ScaleOutOptions extends PgJobStoreOptions {
  /** Run pg-boss's maintenance (expiry of dead entries) in this process. Default true. */
  readonly supervise?: boolean;
  /** Seconds between pg-boss maintenance runs. Default 30. */
  readonly maintenanceIntervalSeconds?: number;
  /** Seconds before a dead planner's entry is handed to another worker. Default 600. */
  readonly planExpireSeconds?: number;
  /** Errors pg-boss reports in the background (connection lost, maintenance failed). */
  readonly onError?: (error: Error) => void;
}

export interface PlanEntry {
  readonly jobId: string;
  /** Plans of this job that failed before this entry (absent on the first). */
  readonly attempt?: number;
}

export interface HostEntry {
  readonly host: string;
}

/**
 * Queue writes inside a transaction of the store (`PgJobStore.transaction`): the entry is stored with
 * the change that makes it due, or not at all, so a process killed between the two loses nothing.
 */
export interface InTransaction {
  readonly db?: PgBoss.Db;
}

/** pg-boss's view of one of our transactions' connections. */
export function queueDb(client: pg.PoolClient): PgBoss.Db {
  return { executeSql: (text, values) => client.query(text, values) };
}

/** The store and the queue, sharing one database. */
export interface ScaleOut {
  readonly store: PgJobStore;
  readonly boss: PgBoss;
  /**
   * Hands an ingested job to the workers (at `startAfter`, for a retry). A job ingested through this
   * store is already handed over; submitting it again is harmless (planned once).
   */
  submit(jobId: string, options?: InTransaction & { startAfter?: Date; attempt?: number }): Promise<void>;
  /** Announces work due on these hosts, now or at `startAfter`. */
  announceHosts(hosts: Iterable<string>, startAfter?: Date, options?: InTransaction): Promise<void>;
  close(): Promise<void>;
}

/**
 * Creates the queues that are missing. Two processes creating the same queue at once deadlock inside
 * pg-boss's `create_queue()`: the second waits for the first's new `queue` row while holding a
 * RowExclusiveLock on `queue`, and the first's foreign key on its new partition then wants a
 * ShareRowExclusiveLock on `queue` (the workers and `rcpt bulk` of a new cluster starting together
 * lost one of them to "deadlock detected"). So creators take turns under an advisory lock per schema,
 * and each creation is run again on a retriable error (another pg-boss user not taking the lock).
 * When every queue exists, as on every start but the first, no lock is taken.
 */
async function ensureQueues(store: PgJobStore, boss: PgBoss, queues: readonly PgBoss.Queue[]): Promise<void> {
  const missing = async () => {
    const found = await Promise.all(queues.map((queue) => boss.getQueue(queue.name)));
    return queues.filter((_, index) => found[index] === null);
  };
  if ((await missing()).length === 0) return;
  const client = await store.pool.connect();
  let unlocked = false;
  try {
    const key = `rcpt-queues:${store.schema}`;
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
    try {
      for (const queue of await missing()) {
        await retrying(async () => {
          if ((await boss.getQueue(queue.name)) === null) await boss.createQueue(queue.name, queue);
        });
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).then(
        () => (unlocked = true),
        () => undefined,
      );
    }
  } finally {
    // A session lock not given back goes with its connection.
    client.release(!unlocked);
  }
}

/**
 * Opens the job store and the queue (creating rcpt's schema and pg-boss's `<schema>_boss` schema).
 *
 * @example
 * const cluster = await openScaleOut('postgres://rcpt@db.internal/rcpt');
 * const job = await cluster.store.createJob({ options: {} });
 * // … ingest rows; finishIngest() hands the job to the workers …
 * await cluster.store.finishIngest(job.id);
 */
export async function openScaleOut(url: string, options: ScaleOutOptions = {}): Promise<ScaleOut> {
  const planExpire = options.planExpireSeconds ?? DEFAULT_PLAN_EXPIRE_SECONDS;
  // A job is handed to the workers in the transaction that marks it ingested, so no process killed
  // between the two (`rcpt serve`, `rcpt bulk`, a library caller) leaves a job stored whole that nobody
  // plans. pg-boss is started below; no job is ingested through this store before it returns.
  let submit: ScaleOut['submit'] = () => Promise.reject(new JobStoreError('the queue is not started yet'));
  const store = await openPgJobStore(url, options, {
    onIngested: (client, jobId) => submit(jobId, { db: queueDb(client) }),
  });
  const { default: Boss } = await import('pg-boss');
  const boss = new Boss({
    connectionString: url,
    schema: `${store.schema}_boss`,
    max: 4,
    application_name: 'rcpt-queue',
    supervise: options.supervise ?? true,
    schedule: false,
    maintenanceIntervalSeconds: options.maintenanceIntervalSeconds ?? DEFAULT_MAINTENANCE_SECONDS,
  });
  boss.on('error', (error) => {
    options.onError?.(error);
  });
  try {
    await boss.start();
    await ensureQueues(store, boss, [
      { name: PLAN_QUEUE, policy: 'standard', expireInSeconds: planExpire, retryLimit: 20, retryDelay: 1 },
      // Host entries are completed as soon as they are taken (the lease takes over), so they never expire.
      { name: HOST_QUEUE, policy: 'standard', retryLimit: 0 },
    ]);
  } catch (error) {
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await store.close();
    throw error;
  }
  let closed = false;
  submit = async (jobId, submitOptions = {}) => {
    const { db, startAfter, attempt } = submitOptions;
    await boss.send(
      PLAN_QUEUE,
      { jobId, ...(attempt === undefined ? {} : { attempt }) } satisfies PlanEntry,
      {
        expireInSeconds: planExpire,
        ...(db === undefined ? {} : { db }),
        ...(startAfter === undefined ? {} : { startAfter }),
      },
    );
  };
  return {
    store,
    boss,
    submit,
    async announceHosts(hosts, startAfter, announceOptions = {}) {
      const entries = [...new Set(hosts)].map((host) => ({
        name: HOST_QUEUE,
        data: { host } satisfies HostEntry,
        ...(startAfter === undefined ? {} : { startAfter }),
      }));
      if (entries.length > 0)
        await boss.insert(entries, announceOptions.db === undefined ? {} : { db: announceOptions.db });
    },
    async close() {
      if (closed) return;
      closed = true;
      await boss.stop({ graceful: false, wait: true, close: true });
      await store.close();
    },
  };
}
