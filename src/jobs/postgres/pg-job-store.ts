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

import type { HostLimitsRecord, VerifyResult } from '../../types.js';
import type {
  DomainFacts,
  InputLayout,
  JobItem,
  JobRecord,
  JobStore,
  KeyedResult,
  JobStatus,
  NewJob,
  OutputRow,
  PendingAddress,
  StoredHostLimits,
  WebhookDelivery,
  WebhookOutcome,
} from '../job-store.js';
import {
  toJobProgress,
  toJobRecord,
  toOutputRow,
  type StoredJobRow,
  type StoredOutputRow,
  type StoredResultCount,
} from '../stored-rows.js';
import { checkSchemaName, migrate } from './schema.js';
import { deleteExpiredDomains, selectDomainFacts, upsertDomainFacts } from './domain-cache-table.js';
import { claimWebhookDeliveries, settleWebhookDelivery } from './pg-webhooks.js';
import { deleteExpiredHostLimits, mergeHostLimitsRow, selectHostLimits } from './host-limits-table.js';
import { noSuchJob } from '../errors.js';
import { retrying } from './conflicts.js';

/** The schema the tables live in unless told otherwise. */
export const DEFAULT_PG_SCHEMA = 'rcpt';
/** Rows per page when reading output. */
const DEFAULT_OUTPUT_PAGE = 1_000;
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
  try {
    const client = await pool.connect();
    try {
      await migrate(client, schema);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  return new PostgresJobStore(pool, schema, hooks);
}

/** An ISO 8601 timestamp, as the job rows store times. */
const now = () => new Date().toISOString();

/**
 * The store over one pool. Each method is one statement, or one `transaction()`; `pool` and `schema`
 * are public so the scale-out queue and the worker run their own statements on the same connections.
 */
class PostgresJobStore implements PgJobStore {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly #hooks: PgJobStoreHooks;
  #closed = false;

  constructor(pool: pg.Pool, schema: string, hooks: PgJobStoreHooks) {
    this.pool = pool;
    this.schema = schema;
    this.#hooks = hooks;
  }

  /**
   * Runs `body` in one transaction. Workers writing overlapping rows can still deadlock (PostgreSQL
   * picks one victim, 40P01) or fail to serialize (40001): the transaction is whole or nothing, so it
   * is run again (src/jobs/postgres/conflicts.ts).
   */
  transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return retrying(async () => {
      const tx = await this.pool.connect();
      try {
        await tx.query('BEGIN');
        const value = await body(tx);
        await tx.query('COMMIT');
        return value;
      } catch (error) {
        await tx.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        tx.release();
      }
    });
  }

  async #requireJob(id: string): Promise<JobRecord> {
    const job = await this.getJob(id);
    if (job === null) throw noSuchJob(id);
    return job;
  }

  async createJob(job: NewJob): Promise<JobRecord> {
    // 128 bits from the CSPRNG (a v4 UUID carries 122): the id is a capability in URLs and logs.
    const id = randomBytes(16).toString('hex');
    await this.pool.query(
      `INSERT INTO ${this.schema}.jobs (id, owner, status, created_at, updated_at, options, source, source_path, layout)
       VALUES ($1, $2, 'queued', $3, $3, $4, $5, $6, $7)`,
      [
        id,
        job.owner ?? null,
        now(),
        JSON.stringify(job.options ?? {}),
        job.source ? JSON.stringify(job.source) : null,
        job.source?.path ?? null,
        job.layout ? JSON.stringify(job.layout) : null,
      ],
    );
    return this.#requireJob(id);
  }

  async getJob(id: string): Promise<JobRecord | null> {
    const { rows } = await this.pool.query<JobRow>(`SELECT * FROM ${this.schema}.jobs WHERE id = $1`, [id]);
    const row = rows[0];
    return row === undefined ? null : toJobRecord(row);
  }

  async findJobBySourcePath(path: string): Promise<JobRecord | null> {
    const { rows } = await this.pool.query<JobRow>(
      `SELECT * FROM ${this.schema}.jobs WHERE source_path = $1 ORDER BY created_at DESC, seq DESC LIMIT 1`,
      [path],
    );
    const row = rows[0];
    return row === undefined ? null : toJobRecord(row);
  }

  async listJobs(statuses: readonly JobStatus[]): Promise<JobRecord[]> {
    if (statuses.length === 0) return [];
    const { rows } = await this.pool.query<JobRow>(
      `SELECT * FROM ${this.schema}.jobs WHERE status = ANY($1::text[]) ORDER BY created_at, seq`,
      [statuses],
    );
    return rows.map(toJobRecord);
  }

  async setLayout(id: string, layout: InputLayout): Promise<void> {
    await this.pool.query(`UPDATE ${this.schema}.jobs SET layout = $1, updated_at = $2 WHERE id = $3`, [
      JSON.stringify(layout),
      now(),
      id,
    ]);
  }

  async setOptions(id: string, options: Readonly<Record<string, unknown>>): Promise<void> {
    await this.pool.query(`UPDATE ${this.schema}.jobs SET options = $1, updated_at = $2 WHERE id = $3`, [
      JSON.stringify(options),
      now(),
      id,
    ]);
  }

  async addItems(id: string, items: readonly JobItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.pool.query(
      `INSERT INTO ${this.schema}.items (job_id, row_no, line, key, input, fields, error)
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
  }

  async finishIngest(id: string): Promise<JobRecord> {
    const s = this.schema;
    await this.transaction(async (tx) => {
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
      if (!before.ingested && before.status === 'queued') await this.#hooks.onIngested?.(tx, id);
    });
    return this.#requireJob(id);
  }

  async setStatus(
    id: string,
    status: JobStatus,
    error: string | null = null,
    from?: readonly JobStatus[],
  ): Promise<JobRecord> {
    const at = now();
    await this.transaction(async (tx) => {
      // One statement: the row lock makes a concurrent change wait, then `from` is checked again.
      const { rowCount } = await tx.query(
        `UPDATE ${this.schema}.jobs SET status = $2, error = $3, updated_at = $4,
           started_at = CASE WHEN $2 = 'running' AND started_at IS NULL THEN $4 ELSE started_at END
         WHERE id = $1 AND ($5::text[] IS NULL OR status = ANY($5::text[]))`,
        [id, status, error, at, from ?? null],
      );
      // A cancelled or failed job leaves no work behind for the workers.
      if (rowCount !== 0 && (status === 'cancelled' || status === 'failed')) {
        await tx.query(`DELETE FROM ${this.schema}.work WHERE job_id = $1`, [id]);
      }
    });
    return this.#requireJob(id);
  }

  async pendingAddresses(id: string, afterKey: string | null, limit: number): Promise<PendingAddress[]> {
    const s = this.schema;
    const { rows } = await this.pool.query<PendingAddress>(
      `SELECT i.key AS key, min(i.input) AS input FROM ${s}.items i
       WHERE i.job_id = $1 AND i.key > $2 AND i.error IS NULL
         AND NOT EXISTS (SELECT 1 FROM ${s}.results r WHERE r.job_id = $1 AND r.key = i.key)
       GROUP BY i.key ORDER BY i.key LIMIT $3`,
      [id, afterKey ?? '', limit],
    );
    return rows;
  }

  async putResults(id: string, results: readonly KeyedResult[]): Promise<number> {
    if (results.length === 0) return 0;
    // One row per key: ON CONFLICT DO UPDATE may not touch a row twice in one statement.
    const byKey = new Map<string, VerifyResult>();
    for (const { key, result } of results) byKey.set(key, result);
    // Rows locked in one order by every writer, so two workers' batches wait rather than deadlock.
    const keys = [...byKey.keys()].sort();
    const values = keys.map((key) => byKey.get(key) as VerifyResult);
    return this.transaction(async (tx) => {
      const added = await insertResults(tx, this.schema, id, keys, values);
      if (added > 0) {
        await tx.query(
          `UPDATE ${this.schema}.jobs SET done_addresses = done_addresses + $2, updated_at = $3 WHERE id = $1`,
          [id, added, now()],
        );
      }
      // An address with its result is no longer work, whoever verified it.
      await tx.query(`DELETE FROM ${this.schema}.work WHERE job_id = $1 AND key = ANY($2::text[])`, [
        id,
        keys,
      ]);
      return added;
    });
  }

  async getProgress(id: string): ReturnType<JobStore['getProgress']> {
    const job = await this.#requireJob(id);
    const { rows } = await this.pool.query<StoredResultCount>(
      `SELECT verdict, reason, count(*)::int AS n FROM ${this.schema}.results WHERE job_id = $1 GROUP BY verdict, reason`,
      [id],
    );
    return toJobProgress(job, rows);
  }

  async *readOutput(id: string, readOptions: { readonly pageSize?: number } = {}): AsyncIterable<OutputRow> {
    const s = this.schema;
    const pageSize = readOptions.pageSize ?? DEFAULT_OUTPUT_PAGE;
    let after = 0;
    for (;;) {
      const { rows } = await this.pool.query<StoredOutputRow>(
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
  }

  async deleteJob(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.schema}.jobs WHERE id = $1`, [id]);
    return (rowCount ?? 0) > 0;
  }

  getDomainFacts(domain: string, at = Date.now()): Promise<DomainFacts | null> {
    return selectDomainFacts(this, domain, at);
  }

  putDomainFacts(facts: DomainFacts): Promise<void> {
    return upsertDomainFacts(this, facts, Date.now());
  }

  purgeDomainFacts(at = Date.now()): Promise<number> {
    return deleteExpiredDomains(this, at);
  }

  getHostLimits(hosts: readonly string[] | null, at = Date.now()): Promise<StoredHostLimits[]> {
    return selectHostLimits(this, hosts, at);
  }

  putHostLimits(key: string, record: HostLimitsRecord, at = Date.now()): Promise<StoredHostLimits> {
    return this.transaction((tx) => mergeHostLimitsRow(tx, this.schema, key, record, at));
  }

  purgeHostLimits(at = Date.now()): Promise<number> {
    return deleteExpiredHostLimits(this, at);
  }

  async numberJob(id: string): Promise<number> {
    const s = this.schema;
    const { rows } = await this.pool.query<{ number: string }>(
      `WITH added AS (
         INSERT INTO ${s}.job_numbers (job_id) VALUES ($1) ON CONFLICT (job_id) DO NOTHING RETURNING number
       )
       SELECT number FROM added UNION ALL SELECT number FROM ${s}.job_numbers WHERE job_id = $1`,
      [id],
    );
    const number = rows[0]?.number;
    if (number === undefined) throw noSuchJob(id);
    return Number(number);
  }

  async jobIdOfNumber(number: number): Promise<string | null> {
    const { rows } = await this.pool.query<{ job_id: string }>(
      `SELECT job_id FROM ${this.schema}.job_numbers WHERE number = $1`,
      [number],
    );
    return rows[0]?.job_id ?? null;
  }

  claimWebhookDeliveries(at: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]> {
    return this.transaction((tx) => claimWebhookDeliveries(tx, this.schema, at, leaseMs, limit));
  }

  settleWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<void> {
    return settleWebhookDelivery(this.pool, this.schema, id, outcome);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.pool.end();
  }
}

/**
 * Writes results keyed (job, key), replacing a stored one, and owes the webhook call of each first
 * result of a job with a per-result webhook, in the caller's transaction. Resolves with how many keys
 * got their first result.
 */
async function insertResults(
  tx: pg.PoolClient,
  s: string,
  id: string,
  keys: readonly string[],
  values: readonly VerifyResult[],
): Promise<number> {
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
  return rows[0]?.added ?? 0;
}
