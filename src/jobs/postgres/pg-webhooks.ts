/**
 * The job store's webhook ledger on PostgreSQL (`webhook_deliveries`, schema.ts migration 2): the
 * deliveries owed are written by the statements that cause them (pg-job-store.ts `putResults`, and
 * here for jobs that ended); these two take them out and record how each attempt went.
 */
import type pg from 'pg';

import type { WebhookDelivery, WebhookOutcome } from '../job-store.js';
import { toWebhookDelivery, type StoredDeliveryRow } from '../stored-rows.js';

/**
 * Takes up to `limit` deliveries due at `at`, holding each for `leaseMs`, inside the caller's
 * transaction; first owes the `end` call of every job that ended with an end webhook.
 */
export async function claimWebhookDeliveries(
  tx: pg.PoolClient,
  s: string,
  at: number,
  leaseMs: number,
  limit: number,
): Promise<WebhookDelivery[]> {
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
}

/** Records an attempt: delivered, given up, or due again at `nextAt`. */
export async function settleWebhookDelivery(
  pool: pg.Pool,
  s: string,
  id: number,
  outcome: WebhookOutcome,
): Promise<void> {
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
}
