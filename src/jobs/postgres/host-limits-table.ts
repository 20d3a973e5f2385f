/**
 * The `host_limits` table on PostgreSQL (schema.ts, migration 4): limits learned at MX hosts, shared
 * by every worker (src/jobs/host-limits.ts says what is kept, for how long, and how two records merge).
 */
import type pg from 'pg';

import type { HostLimitsRecord } from '../../types.js';
import type { StoredHostLimits } from '../job-store.js';
import { HOST_LIMITS_TTL_MS, hostOfLimitsKey, mergeHostLimits } from '../host-limits.js';
import { toStoredHostLimits, type StoredHostLimitsRow } from '../stored-rows.js';
import type { PgTables } from './domain-cache-table.js';

/** The live rows of these MX addresses, or every live row when `hosts` is `null`. */
export async function selectHostLimits(
  db: PgTables,
  hosts: readonly string[] | null,
  at: number,
): Promise<StoredHostLimits[]> {
  const { rows } = await db.pool.query<StoredHostLimitsRow>(
    `SELECT key, record, learned_at, expires_at FROM ${db.schema}.host_limits
     WHERE expires_at > $1 AND ($2::text[] IS NULL OR host = ANY($2::text[]))`,
    [at, hosts],
  );
  return rows.flatMap((row) => toStoredHostLimits(row) ?? []);
}

/**
 * Merges `record` into the live row of `key` and stores it for a TTL, in one transaction: the row is
 * created if missing (two workers creating it at once: one inserts, the other merges), then locked,
 * so two workers' merges run one after the other and neither loses the other's.
 */
export async function mergeHostLimitsRow(
  tx: pg.PoolClient,
  s: string,
  key: string,
  record: HostLimitsRecord,
  at: number,
): Promise<StoredHostLimits> {
  const fresh: StoredHostLimits = { key, record, learnedAt: at, expiresAt: at + HOST_LIMITS_TTL_MS };
  const values = [key, hostOfLimitsKey(key), JSON.stringify(record), at, fresh.expiresAt];
  const { rowCount } = await tx.query(
    `INSERT INTO ${s}.host_limits (key, host, record, learned_at, expires_at) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (key) DO NOTHING`,
    values,
  );
  if ((rowCount ?? 0) > 0) return fresh;
  const { rows } = await tx.query<StoredHostLimitsRow>(
    `SELECT key, record, learned_at, expires_at FROM ${s}.host_limits WHERE key = $1 FOR UPDATE`,
    [key],
  );
  const row = rows[0];
  const before = row === undefined ? null : toStoredHostLimits(row);
  // An expired row is as good as none: what this run learned replaces it.
  const merged =
    before === null || before.expiresAt <= at
      ? fresh
      : { ...fresh, record: mergeHostLimits(before.record, record) };
  await tx.query(`UPDATE ${s}.host_limits SET record = $2, learned_at = $3, expires_at = $4 WHERE key = $1`, [
    key,
    JSON.stringify(merged.record),
    merged.learnedAt,
    merged.expiresAt,
  ]);
  return merged;
}

/** Deletes the rows expired at `at`; resolves with how many. */
export async function deleteExpiredHostLimits(db: PgTables, at: number): Promise<number> {
  const { rowCount } = await db.pool.query(`DELETE FROM ${db.schema}.host_limits WHERE expires_at <= $1`, [
    at,
  ]);
  return rowCount ?? 0;
}
