/**
 * Every statement on the shared `domain_cache` table (schema.ts, migration 1): the job store's
 * `getDomainFacts` / `putDomainFacts` / `purgeDomainFacts`, and the worker's MX routes and catch-all
 * verdicts (worker-domains.ts). One home, so a column or an expiry rule changes in one place.
 *
 * Rows are keyed by `domain` as the caller names it (the worker appends its profile's namespace);
 * `expires_at` and `updated_at` are epoch milliseconds; a row is live while `expires_at > now`.
 */
import type pg from 'pg';

import type { DomainFacts } from '../job-store.js';
import { retrying } from './conflicts.js';

/** Where the table lives: a pool and the schema name (checked by `checkSchemaName`). */
export interface PgTables {
  readonly pool: pg.Pool;
  readonly schema: string;
}

interface DomainRow {
  domain: string;
  mx: string | null;
  catch_all: boolean | null;
  provider: string | null;
  expires_at: string;
}

/** The live facts of one domain, or `null`. */
export async function selectDomainFacts(
  db: PgTables,
  domain: string,
  at: number,
): Promise<DomainFacts | null> {
  const { rows } = await db.pool.query<DomainRow>(
    `SELECT domain, mx, catch_all, provider, expires_at FROM ${db.schema}.domain_cache
     WHERE domain = $1 AND expires_at > $2`,
    [domain, at],
  );
  const row = rows[0];
  if (row === undefined) return null;
  return {
    domain: row.domain,
    mx: row.mx === null ? null : (JSON.parse(row.mx) as unknown),
    catchAll: row.catch_all,
    provider: row.provider,
    expiresAt: Number(row.expires_at),
  };
}

/** Stores every fact of one domain, replacing what was there. */
export async function upsertDomainFacts(db: PgTables, facts: DomainFacts, at: number): Promise<void> {
  await db.pool.query(
    `INSERT INTO ${db.schema}.domain_cache (domain, mx, catch_all, provider, expires_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, catch_all = excluded.catch_all,
       provider = excluded.provider, expires_at = excluded.expires_at, updated_at = excluded.updated_at`,
    [
      facts.domain,
      facts.mx === null || facts.mx === undefined ? null : JSON.stringify(facts.mx),
      facts.catchAll,
      facts.provider,
      facts.expiresAt,
      at,
    ],
  );
}

/** Deletes the rows expired at `at`; resolves with how many. */
export async function deleteExpiredDomains(db: PgTables, at: number): Promise<number> {
  const { rowCount } = await db.pool.query(`DELETE FROM ${db.schema}.domain_cache WHERE expires_at <= $1`, [
    at,
  ]);
  return rowCount ?? 0;
}

/** A stored MX route: the row's key, the route's JSON, when it expires. */
export interface StoredRoute {
  readonly key: string;
  readonly mx: string;
  readonly expiresAt: number;
}

/** The live routes among these keys (rows with no route yet are left out). */
export async function selectRoutes(
  db: PgTables,
  keys: readonly string[],
  at: number,
): Promise<StoredRoute[]> {
  const { rows } = await db.pool.query<{ domain: string; mx: string; expires_at: string }>(
    `SELECT domain, mx, expires_at FROM ${db.schema}.domain_cache
     WHERE domain = ANY($1::text[]) AND expires_at > $2 AND mx IS NOT NULL`,
    [keys, at],
  );
  return rows.map((row) => ({ key: row.domain, mx: row.mx, expiresAt: Number(row.expires_at) }));
}

/**
 * Stores routes (key and route JSON), all expiring at `expiresAt`. A row that exists keeps its
 * catch-all verdict and provider: they are facts about the domain, not about its route.
 */
export async function upsertRoutes(
  db: PgTables,
  routes: readonly { readonly key: string; readonly mx: string }[],
  expiresAt: number,
  at: number,
): Promise<void> {
  if (routes.length === 0) return;
  // Rows in one order for every worker (fewer deadlocks), and a deadlock victim run again.
  const sorted = [...routes].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  await retrying(() =>
    db.pool.query(
      `INSERT INTO ${db.schema}.domain_cache (domain, mx, expires_at, updated_at)
       SELECT domain, mx, $3, $4 FROM unnest($1::text[], $2::text[]) AS t(domain, mx)
       ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, expires_at = excluded.expires_at,
         updated_at = excluded.updated_at`,
      [sorted.map((r) => r.key), sorted.map((r) => r.mx), expiresAt, at],
    ),
  );
}

/** The live catch-all verdicts among these keys. */
export async function selectCatchAll(
  db: PgTables,
  keys: readonly string[],
  at: number,
): Promise<{ key: string; catchAll: boolean; expiresAt: number }[]> {
  const { rows } = await db.pool.query<{ domain: string; catch_all: boolean; expires_at: string }>(
    `SELECT domain, catch_all, expires_at FROM ${db.schema}.domain_cache
     WHERE domain = ANY($1::text[]) AND catch_all IS NOT NULL AND expires_at > $2`,
    [keys, at],
  );
  return rows.map((row) => ({ key: row.domain, catchAll: row.catch_all, expiresAt: Number(row.expires_at) }));
}

/** Records catch-all verdicts and providers on rows that exist (a route was stored first). */
export async function updateCatchAll(
  db: PgTables,
  facts: readonly { readonly key: string; readonly catchAll: boolean; readonly provider: string | null }[],
  at: number,
): Promise<void> {
  if (facts.length === 0) return;
  // A deadlock victim (another worker updating the same domains) is run again.
  await retrying(() =>
    db.pool.query(
      `UPDATE ${db.schema}.domain_cache d SET catch_all = t.catch_all, provider = t.provider, updated_at = $4
       FROM unnest($1::text[], $2::boolean[], $3::text[]) AS t(domain, catch_all, provider)
       WHERE d.domain = t.domain`,
      [facts.map((f) => f.key), facts.map((f) => f.catchAll), facts.map((f) => f.provider), at],
    ),
  );
}
