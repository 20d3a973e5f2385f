/**
 * The row shapes both job stores (SQLite and PostgreSQL) keep, and their one decoding into the
 * `JobStore` records: JSON columns are text, names are snake_case, as the two schemas agree.
 */
import { VERDICTS, type Verdict, type VerifyResult } from '../types.js';
import type {
  InputLayout,
  JobProgress,
  JobRecord,
  JobSource,
  JobStatus,
  JobWebhookFlags,
  OutputRow,
  StoredHostLimits,
  WebhookDelivery,
} from './job-store.js';
import { parseHostLimitsRecord } from './host-limits.js';

/** The webhook flags in a job's stored options (JSON text); both off when there is no webhook. */
export function webhookFlagsOf(options: string): JobWebhookFlags {
  let webhook: unknown;
  try {
    webhook = (JSON.parse(options) as { webhook?: unknown }).webhook;
  } catch {
    webhook = undefined;
  }
  if (typeof webhook !== 'object' || webhook === null) return { onResult: false, onEnd: false };
  const flags = webhook as { onResult?: unknown; onEnd?: unknown };
  return { onResult: flags.onResult === true, onEnd: flags.onEnd === true };
}

/** A `webhook_deliveries` row as both stores return it. */
export interface StoredDeliveryRow {
  id: number | string;
  job_id: string;
  event: 'result' | 'end';
  key: string;
  attempts: number;
  result: string | null;
}

/** A claimed delivery row as the store returns it. */
export function toWebhookDelivery(row: StoredDeliveryRow): WebhookDelivery {
  return {
    id: Number(row.id),
    jobId: row.job_id,
    event: row.event,
    key: row.key,
    attempts: row.attempts,
    result: row.result === null ? null : (JSON.parse(row.result) as VerifyResult),
  };
}

/** A `jobs` row. SQLite has no boolean type, so `ingested` is 0/1 there and a boolean in PostgreSQL. */
export interface StoredJobRow {
  id: string;
  owner: string | null;
  status: JobStatus;
  created_at: string;
  started_at: string | null;
  updated_at: string;
  options: string;
  source: string | null;
  layout: string | null;
  ingested: number | boolean;
  total_rows: number;
  total_addresses: number;
  done_addresses: number;
  error: string | null;
}

/** An `items` row joined with its key's result (`null` while not verified). */
export interface StoredOutputRow {
  row: number;
  line: number;
  key: string;
  input: string;
  fields: string | null;
  error: string | null;
  result: string | null;
}

export function toJobRecord(row: StoredJobRow): JobRecord {
  return {
    id: row.id,
    owner: row.owner,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    options: JSON.parse(row.options) as Record<string, unknown>,
    source: row.source === null ? null : (JSON.parse(row.source) as JobSource),
    layout: row.layout === null ? null : (JSON.parse(row.layout) as InputLayout),
    ingested: row.ingested === true || row.ingested === 1,
    totalRows: row.total_rows,
    totalAddresses: row.total_addresses,
    doneAddresses: row.done_addresses,
    error: row.error,
  };
}

export function toOutputRow(row: StoredOutputRow): OutputRow {
  return {
    row: row.row,
    line: row.line,
    key: row.key,
    input: row.input,
    fields: row.fields === null ? null : (JSON.parse(row.fields) as string[]),
    error: row.error,
    result: row.result === null ? null : (JSON.parse(row.result) as VerifyResult),
  };
}

/** One `(verdict, reason)` group of a job's results, as both stores count them. */
export interface StoredResultCount {
  verdict: Verdict;
  reason: string;
  n: number;
}

/** A job's progress from its record and its results counted by verdict and reason. */
export function toJobProgress(job: JobRecord, groups: Iterable<StoredResultCount>): JobProgress {
  const counts = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
  const reasons: Record<string, number> = {};
  for (const { verdict, reason, n } of groups) {
    counts[verdict] += n;
    reasons[reason] = (reasons[reason] ?? 0) + n;
  }
  return {
    totalRows: job.totalRows,
    totalAddresses: job.totalAddresses,
    doneAddresses: job.doneAddresses,
    counts,
    reasons,
  };
}

/** A `host_limits` row as both stores return it (PostgreSQL's bigint columns come back as text). */
export interface StoredHostLimitsRow {
  key: string;
  record: string;
  learned_at: number | string;
  expires_at: number | string;
}

/** The row decoded; `null` for a record that cannot be read (it is then as good as absent). */
export function toStoredHostLimits(row: StoredHostLimitsRow): StoredHostLimits | null {
  const record = parseHostLimitsRecord(row.record);
  return record === null
    ? null
    : { key: row.key, record, learnedAt: Number(row.learned_at), expiresAt: Number(row.expires_at) };
}
