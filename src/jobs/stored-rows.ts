/**
 * The row shapes both job stores (SQLite and PostgreSQL) keep, and their one decoding into the
 * `JobStore` records: JSON columns are text, names are snake_case, as the two schemas agree.
 */
import { VERDICTS, type Verdict, type VerifyResult } from '../types.js';
import type { InputLayout, JobProgress, JobRecord, JobSource, JobStatus, OutputRow } from './job-store.js';

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
