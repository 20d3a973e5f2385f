/**
 * The job store on PostgreSQL (`pg`), for scale-out: the same `JobStore` contract as the SQLite
 * store, so the runner, the HTTP server and `rcpt bulk` work on either. Every call is one statement or
 * one transaction; rows go in as arrays through `unnest()`, so a batch of thousands is one round trip.
 *
 * Results are keyed (job, key) with `ON CONFLICT DO UPDATE`: a worker that replays a write after a
 * crash, or two workers that both verified an address while a lease changed hands, leave one result.
 */
import { randomBytes } from 'node:crypto';

// Types only here: `pg` is loaded when a store is opened, so the library and the CLI start without it.
import type pg from 'pg';

import type { VerifyResult } from '../../types.js';
import type {
  DomainFacts,
  JobItem,
  JobRecord,
  JobStore,
  KeyedResult,
  NewJob,
  PendingAddress,
} from '../job-store.js';
import {
  toJobProgress,
  toJobRecord,
  toOutputRow,
  toWebhookDelivery,
  type StoredDeliveryRow,
  type StoredJobRow,
  type StoredOutputRow,
  type StoredResultCount,
} from '../stored-rows.js';
import { checkSchemaName, migrate } from './schema.js';
import { noSuchJob } from '../errors.js';

/** The schema the tables live in unless told otherwise. */
export const DEFAULT_PG_SCHEMA = 'rcpt';
/** Rows per page when reading output. */
const DEFAULT_OUTPUT_PAGE = 1_000;
/** SQLSTATE of a deadlock victim, and how often its transaction is run again. */
const DEADLOCK_DETECTED = '40P01';
const DEADLOCK_RETRIES = 5;
/** Connections per process: a worker's host loops, its planner and its heartbeats. */
const DEFAULT_POOL_SIZE = 10;

export interface PgJobStoreOptions {
  /** The schema for rcpt's tables (created when missing). Default `rcpt`. */
  readonly schema?: string;
  /** Connections in this process's pool. Default 10. */
  readonly poolSize?: number;
}

/** What the scale-out queue does inside the store's own transactions (`openScaleOut` sets it). */
export interface PgJobStoreHooks {
  /**
   * Called inside `finishIngest`'s transaction when a `queued` job becomes ingested, on that
   * transaction's connection: what it writes is committed with the `ingested` flag, or neither is.
   */
  readonly onIngested?: (client: pg.PoolClient, jobId: string) => Promise<void>;
}

/** A PostgreSQL job store, with what the scale-out queue needs to share its connection pool. */
export interface PgJobStore extends JobStore {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** Runs `body` in one transaction on one connection. */
  transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T>;
}

type JobRow = StoredJobRow;

/** True for a `postgres://` or `postgresql://` URL (what `--db` and `RCPT_DB` take for scale-out). */
export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/**
 * Connects to PostgreSQL, creates or migrates rcpt's schema, and returns the job store.
 *
 * @example
 * const store = await openPgJobStore('postgres://rcpt@db.internal/rcpt');
 * const job = await store.createJob({ options: {} });
 * await store.close();
 */
export async function openPgJobStore(
  url: string,
  options: PgJobStoreOptions = {},
  hooks: PgJobStoreHooks = {},
): Promise<PgJobStore> {
  const schema = checkSchemaName(options.schema ?? DEFAULT_PG_SCHEMA);
  const { default: driver } = await import('pg');
  const pool = new driver.Pool({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    application_name: 'rcpt',
  });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const client = await pool.connect().catch(async (error: unknown) => {
    await pool.end().catch(() => undefined);
    throw error;
  });
  try {
    await migrate(client, schema);
  } catch (error) {
    client.release();
    await pool.end().catch(() => undefined);
    throw error;
  }
  client.release();
  const s = schema;
  const now = () => new Date().toISOString();
  let closed = false;

  async function transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tx = await pool.connect();
      try {
        await tx.query('BEGIN');
        const value = await body(tx);
        await tx.query('COMMIT');
        return value;
      } catch (error) {
        await tx.query('ROLLBACK').catch(() => undefined);
        // Workers writing overlapping rows can still deadlock (PostgreSQL picks one victim, 40P01):
        // the transaction is whole or nothing, so running it again is safe.
        if ((error as { code?: unknown }).code !== DEADLOCK_DETECTED || attempt >= DEADLOCK_RETRIES)
          throw error;
      } finally {
        tx.release();
      }
    }
  }

  async function getJob(id: string): Promise<JobRecord | null> {
    const { rows } = await pool.query<JobRow>(`SELECT * FROM ${s}.jobs WHERE id = $1`, [id]);
    const row = rows[0];
    return row === undefined ? null : toJobRecord(row);
  }

  async function requireJob(id: string): Promise<JobRecord> {
    const job = await getJob(id);
    if (job === null) throw noSuchJob(id);
    return job;
  }

  const store: PgJobStore = {
    pool,
    schema,
    transaction,
    async createJob(job: NewJob) {
      // 128 bits from the CSPRNG (a v4 UUID carries 122): the id is a capability in URLs and logs.
      const id = randomBytes(16).toString('hex');
      const at = now();
      await pool.query(
        `INSERT INTO ${s}.jobs (id, owner, status, created_at, updated_at, options, source, source_path, layout)
         VALUES ($1, $2, 'queued', $3, $3, $4, $5, $6, $7)`,
        [
          id,
          job.owner ?? null,
          at,
          JSON.stringify(job.options ?? {}),
          job.source ? JSON.stringify(job.source) : null,
          job.source?.path ?? null,
          job.layout ? JSON.stringify(job.layout) : null,
        ],
      );
      return requireJob(id);
    },
    getJob,
    async findJobBySourcePath(path) {
      const { rows } = await pool.query<JobRow>(
        `SELECT * FROM ${s}.jobs WHERE source_path = $1 ORDER BY created_at DESC, seq DESC LIMIT 1`,
        [path],
      );
      const row = rows[0];
      return row === undefined ? null : toJobRecord(row);
    },
    async listJobs(statuses) {
      if (statuses.length === 0) return [];
      const { rows } = await pool.query<JobRow>(
        `SELECT * FROM ${s}.jobs WHERE status = ANY($1::text[]) ORDER BY created_at, seq`,
        [statuses],
      );
      return rows.map(toJobRecord);
    },
    async setLayout(id, layout) {
      await pool.query(`UPDATE ${s}.jobs SET layout = $1, updated_at = $2 WHERE id = $3`, [
        JSON.stringify(layout),
        now(),
        id,
      ]);
    },
    async setOptions(id, options) {
      await pool.query(`UPDATE ${s}.jobs SET options = $1, updated_at = $2 WHERE id = $3`, [
        JSON.stringify(options),
        now(),
        id,
      ]);
    },
    async addItems(id, items: readonly JobItem[]) {
      if (items.length === 0) return;
      await pool.query(
        `INSERT INTO ${s}.items (job_id, row_no, line, key, input, fields, error)
         SELECT $1, * FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[])
         ON CONFLICT (job_id, row_no) DO NOTHING`,
        [
          id,
          items.map((item) => item.row),
          items.map((item) => item.line),
          items.map((item) => item.key),
          items.map((item) => item.input),
          items.map((item) => (item.fields === null ? null : JSON.stringify(item.fields))),
          items.map((item) => item.error),
        ],
      );
    },
    async finishIngest(id) {
      await transaction(async (tx) => {
        // The row is locked first: of two calls at once, one sees the job not yet ingested.
        const { rows } = await tx.query<{ ingested: boolean; status: string }>(
          `SELECT ingested, status FROM ${s}.jobs WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const before = rows[0];
        if (before === undefined) return;
        await tx.query(
          `UPDATE ${s}.jobs SET ingested = true,
             total_rows = (SELECT count(*) FROM ${s}.items WHERE job_id = $1),
             total_addresses = (SELECT count(DISTINCT key) FROM ${s}.items WHERE job_id = $1),
             done_addresses = (SELECT count(*) FROM ${s}.results WHERE job_id = $1),
             updated_at = $2
           WHERE id = $1`,
          [id, now()],
        );
        if (!before.ingested && before.status === 'queued') await hooks.onIngested?.(tx, id);
      });
      return requireJob(id);
    },
    async setStatus(id, status, error = null) {
      const at = now();
      await transaction(async (tx) => {
        await tx.query(
          `UPDATE ${s}.jobs SET status = $2, error = $3, updated_at = $4,
             started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN $4 ELSE started_at END
           WHERE id = $1`,
          [id, status, error, at],
        );
        // A cancelled or failed job leaves no work behind for the workers.
        if (status === 'cancelled' || status === 'failed') {
          await tx.query(`DELETE FROM ${s}.work WHERE job_id = $1`, [id]);
        }
      });
      return requireJob(id);
    },
    async pendingAddresses(id, afterKey, limit) {
      const { rows } = await pool.query<PendingAddress>(
        `SELECT i.key AS key, min(i.input) AS input FROM ${s}.items i
         WHERE i.job_id = $1 AND i.key > $2 AND i.error IS NULL
           AND NOT EXISTS (SELECT 1 FROM ${s}.results r WHERE r.job_id = $1 AND r.key = i.key)
         GROUP BY i.key ORDER BY i.key LIMIT $3`,
        [id, afterKey ?? '', limit],
      );
      return rows;
    },
    async putResults(id, results: readonly KeyedResult[]) {
      if (results.length === 0) return 0;
      // One row per key: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
      const byKey = new Map<string, VerifyResult>();
      for (const { key, result } of results) byKey.set(key, result);
      // Rows locked in one order by every writer, so two workers' batches wait rather than deadlock.
      const keys = [...byKey.keys()].sort();
      const values = keys.map((key) => byKey.get(key) as VerifyResult);
      return transaction(async (tx) => {
        // A first result of a job with a per-result webhook owes its call, in this same transaction.
        const { rows } = await tx.query<{ added: number }>(
          `WITH written AS (
             INSERT INTO ${s}.results (job_id, key, verdict, reason, result, checked_at)
             SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
             ON CONFLICT (job_id, key) DO UPDATE SET verdict = excluded.verdict, reason = excluded.reason,
               result = excluded.result, checked_at = excluded.checked_at
             RETURNING key, (xmax = 0) AS inserted
           ), owed AS (
             INSERT INTO ${s}.webhook_deliveries (job_id, event, key, next_at)
             SELECT $1, 'result', w.key, $7::bigint FROM written w
             WHERE w.inserted AND EXISTS (
               SELECT 1 FROM ${s}.jobs j WHERE j.id = $1
                 AND (j.options::jsonb #>> '{webhook,onResult}') = 'true')
             ON CONFLICT (job_id, event, key) DO NOTHING
           )
           SELECT count(*) FILTER (WHERE inserted)::int AS added FROM written`,
          [
            id,
            keys,
            values.map((r) => r.verdict),
            values.map((r) => r.reason),
            values.map((r) => JSON.stringify(r)),
            values.map((r) => r.checkedAt),
            Date.now(),
          ],
        );
        const added = rows[0]?.added ?? 0;
        if (added > 0) {
          await tx.query(
            `UPDATE ${s}.jobs SET done_addresses = done_addresses + $2, updated_at = $3 WHERE id = $1`,
            [id, added, now()],
          );
        }
        // An address with its result is no longer work, whoever verified it.
        await tx.query(`DELETE FROM ${s}.work WHERE job_id = $1 AND key = ANY($2::text[])`, [id, keys]);
        return added;
      });
    },
    async getProgress(id) {
      const job = await requireJob(id);
      const { rows } = await pool.query<StoredResultCount>(
        `SELECT verdict, reason, count(*)::int AS n FROM ${s}.results WHERE job_id = $1 GROUP BY verdict, reason`,
        [id],
      );
      return toJobProgress(job, rows);
    },
    async *readOutput(id, readOptions = {}) {
      const pageSize = readOptions.pageSize ?? DEFAULT_OUTPUT_PAGE;
      let after = 0;
      for (;;) {
        const { rows } = await pool.query<StoredOutputRow>(
          `SELECT i.row_no AS row, i.line, i.key, i.input, i.fields, i.error, r.result FROM ${s}.items i
           LEFT JOIN ${s}.results r ON r.job_id = i.job_id AND r.key = i.key
           WHERE i.job_id = $1 AND i.row_no > $2 ORDER BY i.row_no LIMIT $3`,
          [id, after, pageSize],
        );
        for (const row of rows) yield toOutputRow(row);
        const last = rows.at(-1);
        if (last === undefined || rows.length < pageSize) return;
        after = last.row;
      }
    },
    async deleteJob(id) {
      const { rowCount } = await pool.query(`DELETE FROM ${s}.jobs WHERE id = $1`, [id]);
      return (rowCount ?? 0) > 0;
    },
    async getDomainFacts(domain, at = Date.now()) {
      const { rows } = await pool.query<{
        domain: string;
        mx: string | null;
        catch_all: boolean | null;
        provider: string | null;
        expires_at: string;
      }>(`SELECT * FROM ${s}.domain_cache WHERE domain = $1 AND expires_at > $2`, [domain, at]);
      const row = rows[0];
      if (row === undefined) return null;
      const facts: DomainFacts = {
        domain: row.domain,
        mx: row.mx === null ? null : (JSON.parse(row.mx) as unknown),
        catchAll: row.catch_all,
        provider: row.provider,
        expiresAt: Number(row.expires_at),
      };
      return facts;
    },
    async putDomainFacts(facts) {
      await pool.query(
        `INSERT INTO ${s}.domain_cache (domain, mx, catch_all, provider, expires_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, catch_all = excluded.catch_all,
           provider = excluded.provider, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
        [
          facts.domain,
          facts.mx === null || facts.mx === undefined ? null : JSON.stringify(facts.mx),
          facts.catchAll,
          facts.provider,
          facts.expiresAt,
          Date.now(),
        ],
      );
    },
    async purgeDomainFacts(at = Date.now()) {
      const { rowCount } = await pool.query(`DELETE FROM ${s}.domain_cache WHERE expires_at <= $1`, [at]);
      return rowCount ?? 0;
    },
    async numberJob(id) {
      const { rows } = await pool.query<{ number: string }>(
        `WITH added AS (
           INSERT INTO ${s}.job_numbers (job_id) VALUES ($1) ON CONFLICT (job_id) DO NOTHING RETURNING number
         )
         SELECT number FROM added UNION ALL SELECT number FROM ${s}.job_numbers WHERE job_id = $1`,
        [id],
      );
      const number = rows[0]?.number;
      if (number === undefined) throw noSuchJob(id);
      return Number(number);
    },
    async jobIdOfNumber(number) {
      const { rows } = await pool.query<{ job_id: string }>(
        `SELECT job_id FROM ${s}.job_numbers WHERE number = $1`,
        [number],
      );
      return rows[0]?.job_id ?? null;
    },
    async claimWebhookDeliveries(at, leaseMs, limit) {
      return transaction(async (tx) => {
        // Jobs that ended (however: a worker marks them done in its own statements) owe their end call.
        await tx.query(
          `INSERT INTO ${s}.webhook_deliveries (job_id, event, key, next_at)
           SELECT j.id, 'end', '', $1::bigint FROM ${s}.jobs j
           WHERE j.status IN ('done','cancelled','failed')
             AND (j.options::jsonb #>> '{webhook,onEnd}') = 'true'
             AND NOT EXISTS (SELECT 1 FROM ${s}.webhook_deliveries d WHERE d.job_id = j.id AND d.event = 'end')
           ON CONFLICT (job_id, event, key) DO NOTHING`,
          [at],
        );
        // SKIP LOCKED: two servers claiming at once take different deliveries.
        const { rows } = await tx.query<StoredDeliveryRow>(
          `WITH held AS (
             UPDATE ${s}.webhook_deliveries SET next_at = $1::bigint + $2::bigint
             WHERE id IN (SELECT id FROM ${s}.webhook_deliveries WHERE state = 'pending' AND next_at <= $1::bigint
                          ORDER BY next_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED)
             RETURNING id, job_id, event, key, attempts
           )
           SELECT h.*, r.result FROM held h
           LEFT JOIN ${s}.results r ON h.event = 'result' AND r.job_id = h.job_id AND r.key = h.key
           ORDER BY h.id`,
          [at, leaseMs, limit],
        );
        return rows.map(toWebhookDelivery);
      });
    },
    async settleWebhookDelivery(id, outcome) {
      await pool.query(
        `UPDATE ${s}.webhook_deliveries SET state = $2, attempts = attempts + 1, last_error = $3,
           next_at = coalesce($4, next_at) WHERE id = $1`,
        [
          id,
          outcome.state,
          outcome.state === 'delivered' ? null : outcome.error,
          outcome.state === 'pending' ? outcome.nextAt : null,
        ],
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
  return store;
}
