/**
 * The PostgreSQL schema of the job store and of the scale-out work tables, as numbered migrations.
 * Every process that opens the store runs `migrate()`: the steps not yet applied run in one
 * transaction under an advisory lock, so three workers and a server starting at once apply each step
 * exactly once.
 */
import type { PoolClient } from 'pg';
import { OptionsError } from '../../errors.js';
import { JobStoreError } from '../errors.js';

/** A schema name we interpolate into SQL: a plain identifier, never user text with quotes. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** Throws unless `schema` is a plain lower-case SQL identifier. */
export function checkSchemaName(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new OptionsError(
      'schema',
      `expected a lower-case SQL identifier (a-z, 0-9, _), got ${JSON.stringify(schema)}`,
    );
  }
  return schema;
}

/**
 * The steps, in order; a step is never edited once released, only followed by another. Keys are
 * `text COLLATE "C"`: keyset paging (`key > $after ORDER BY key`) must not depend on the server's locale.
 */
function migrations(s: string): readonly string[] {
  return [
    `
    CREATE TABLE ${s}.jobs (
      id text PRIMARY KEY,
      owner text,
      status text NOT NULL CHECK (status IN ('queued','running','done','cancelled','failed')),
      created_at text NOT NULL,
      started_at text,
      updated_at text NOT NULL,
      options text NOT NULL,
      source text,
      source_path text,
      layout text,
      ingested boolean NOT NULL DEFAULT false,
      planned boolean NOT NULL DEFAULT false,
      total_rows integer NOT NULL DEFAULT 0,
      total_addresses integer NOT NULL DEFAULT 0,
      done_addresses integer NOT NULL DEFAULT 0,
      error text,
      seq bigserial
    );
    CREATE INDEX jobs_source_path ON ${s}.jobs (source_path, created_at);
    CREATE TABLE ${s}.items (
      job_id text NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
      row_no integer NOT NULL,
      line integer NOT NULL,
      key text COLLATE "C" NOT NULL,
      input text NOT NULL,
      fields text,
      error text,
      PRIMARY KEY (job_id, row_no)
    );
    CREATE INDEX items_key ON ${s}.items (job_id, key);
    CREATE TABLE ${s}.results (
      job_id text NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
      key text COLLATE "C" NOT NULL,
      verdict text NOT NULL,
      reason text NOT NULL,
      result text NOT NULL,
      checked_at text NOT NULL,
      PRIMARY KEY (job_id, key)
    );
    CREATE TABLE ${s}.domain_cache (
      domain text PRIMARY KEY,
      mx text,
      catch_all boolean,
      provider text,
      expires_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    -- Scale-out: every address still to verify, assigned to the MX host address it reaches.
    CREATE TABLE ${s}.work (
      job_id text NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
      key text COLLATE "C" NOT NULL,
      input text NOT NULL,
      host text NOT NULL,
      not_before timestamptz NOT NULL DEFAULT now(),
      attempts integer NOT NULL DEFAULT 0,
      PRIMARY KEY (job_id, key)
    );
    CREATE INDEX work_host ON ${s}.work (host, job_id, key);
    -- One holder per MX host address, cluster-wide, until expires_at (renewed while it works).
    CREATE TABLE ${s}.host_leases (
      host text PRIMARY KEY,
      worker text NOT NULL,
      expires_at timestamptz NOT NULL
    );
    CREATE TABLE ${s}.workers (
      id text PRIMARY KEY,
      hostname text NOT NULL,
      pid integer NOT NULL,
      source_ip text,
      started_at timestamptz NOT NULL DEFAULT now(),
      seen_at timestamptz NOT NULL DEFAULT now(),
      verified bigint NOT NULL DEFAULT 0,
      stopped_at timestamptz
    );
    `,
    `
    -- A small integer per job for APIs that want one (Reacher's bulk job_id); never given twice.
    CREATE TABLE ${s}.job_numbers (
      number bigserial PRIMARY KEY,
      job_id text NOT NULL UNIQUE REFERENCES ${s}.jobs (id) ON DELETE CASCADE
    );
    -- Webhook calls owed, written in the transaction that causes them (JobStore.claimWebhookDeliveries).
    CREATE TABLE ${s}.webhook_deliveries (
      id bigserial PRIMARY KEY,
      job_id text NOT NULL REFERENCES ${s}.jobs (id) ON DELETE CASCADE,
      event text NOT NULL CHECK (event IN ('result','end')),
      key text COLLATE "C" NOT NULL,
      state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_at bigint NOT NULL,
      last_error text,
      UNIQUE (job_id, event, key)
    );
    CREATE INDEX webhook_deliveries_due ON ${s}.webhook_deliveries (state, next_at);
    `,
    `
    -- RCPTs granted per MX host address under the ceiling on RCPTs per minute (src/jobs/postgres/host-rate.ts),
    -- each counting until counts_until (epoch milliseconds of the database's clock).
    CREATE TABLE ${s}.host_rcpts (
      id bigserial PRIMARY KEY,
      host text NOT NULL,
      count integer NOT NULL,
      counts_until bigint NOT NULL
    );
    CREATE INDEX host_rcpts_host ON ${s}.host_rcpts (host, counts_until);
    `,
    `
    -- Limits learned at MX hosts (src/jobs/host-limits.ts), shared by the workers: the record as JSON,
    -- under the scheduler's host key (and a job profile's namespace); host is its MX address. Epoch ms.
    CREATE TABLE ${s}.host_limits (
      key text PRIMARY KEY,
      host text NOT NULL,
      record text NOT NULL,
      learned_at bigint NOT NULL,
      expires_at bigint NOT NULL
    );
    CREATE INDEX host_limits_host ON ${s}.host_limits (host);
    CREATE INDEX host_limits_expires ON ${s}.host_limits (expires_at);
    -- The sweep deletes expired grants of every host (host-rate.ts deletes a host's own as it grants).
    CREATE INDEX host_rcpts_expires ON ${s}.host_rcpts (counts_until);
    `,
  ];
}

/** The schema version this rcpt knows. */
export const PG_SCHEMA_VERSION = 4;

/** Creates the schema and applies the steps not yet applied. Refuses a database newer than this rcpt. */
export async function migrate(client: PoolClient, schema: string): Promise<void> {
  const s = checkSchemaName(schema);
  await client.query('BEGIN');
  try {
    // One migrator at a time per schema; the lock ends with the transaction.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`rcpt-migrate:${s}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      `SELECT max(version) AS version FROM ${s}.migrations`,
    );
    const current = rows[0]?.version ?? 0;
    if (current > PG_SCHEMA_VERSION) {
      throw new JobStoreError(`job store schema ${current} is newer than this rcpt (${PG_SCHEMA_VERSION})`);
    }
    const steps = migrations(s);
    for (let version = current + 1; version <= steps.length; version++) {
      await client.query(steps[version - 1] as string);
      await client.query(`INSERT INTO ${s}.migrations (version) VALUES ($1)`, [version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
