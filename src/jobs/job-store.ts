/**
 * The job store: what a bulk job keeps so it can be resumed after a crash, served over HTTP, and shared
 * by workers. One interface, implemented on SQLite here (one machine) and on PostgreSQL for scale-out;
 * every method is asynchronous so a networked store fits the same shape.
 *
 * The model: a job has items (one per input row, in row order, with the original CSV fields), and
 * results (one per distinct address key per job). Rows that share an address share its result, so a
 * duplicate is verified once and reported for each row. An item is *done* when its key has a result:
 * that is derived, not stored, so a crash can never leave an item marked done without its result.
 */
import type { HostLimitsRecord, Verdict, VerifyResult } from '../types.js';

/** Where a job is in its life. */
export const JOB_STATUSES = ['queued', 'running', 'done', 'cancelled', 'failed'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** How the input was read, kept with the job so output can rebuild the input's columns. */
export interface InputLayout {
  /** `csv` (fields, a header unless `headerless`) or `list` (one address per line). */
  readonly format: 'csv' | 'list';
  /** The field delimiter of a CSV input; `null` for a list. */
  readonly delimiter: string | null;
  /** The input's column names, in order (for a list: `['email']`). */
  readonly columns: readonly string[];
  /** Index into `columns` of the address column. */
  readonly addressColumn: number;
  /** True when the CSV had no header row (columns are then named `column1`, `column2`, …). */
  readonly headerless: boolean;
}

/** What identifies the input of a job, so `--resume` can refuse an input that changed. */
export interface JobSource {
  /** The absolute path of the input file; `null` for stdin or an upload. */
  readonly path: string | null;
  readonly size: number | null;
  readonly mtimeMs: number | null;
  /** SHA-256 (hex) of the input's first bytes. */
  readonly headSha256: string | null;
}

export interface JobRecord {
  readonly id: string;
  /** Who made the job (an API key id); `null` for the CLI. */
  readonly owner: string | null;
  readonly status: JobStatus;
  readonly createdAt: string;
  /** When verification first started; `null` while queued. */
  readonly startedAt: string | null;
  readonly updatedAt: string;
  /** Free-form JSON the caller stores with the job (the CLI keeps its verify options). */
  readonly options: Readonly<Record<string, unknown>>;
  readonly source: JobSource | null;
  readonly layout: InputLayout | null;
  /** True once every input row is stored; a job is resumable only from then (or re-ingested). */
  readonly ingested: boolean;
  /** Input rows (malformed ones included). */
  readonly totalRows: number;
  /** Distinct address keys: the verifications the job needs. */
  readonly totalAddresses: number;
  /** Distinct address keys with a result. */
  readonly doneAddresses: number;
  readonly error: string | null;
}

/** One input row as stored. */
export interface JobItem {
  /** 1-based data row number (the header is not a row). */
  readonly row: number;
  /** 1-based physical line in the input where the row starts. */
  readonly line: number;
  /** The address as read from the row (trimmed). */
  readonly input: string;
  /** The normalised address key (see `addressKey()`). */
  readonly key: string;
  /** The row's CSV fields as read; `null` for a list. */
  readonly fields: readonly string[] | null;
  /** Why the row could not be read (malformed CSV, over-long line), with its line; `null` otherwise. */
  readonly error: string | null;
}

/** A result to store under its address key. */
export interface KeyedResult {
  readonly key: string;
  readonly result: VerifyResult;
}

/** One row of a job's output: the item and the result of its key (`null` while not verified). */
export interface OutputRow extends JobItem {
  readonly result: VerifyResult | null;
}

/** Counts over a job's distinct addresses. */
export interface JobProgress {
  readonly totalRows: number;
  readonly totalAddresses: number;
  readonly doneAddresses: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  /** Count by reason code, only reasons seen. */
  readonly reasons: Readonly<Record<string, number>>;
}

/** A pending address: its key and one of the inputs that have it. */
export interface PendingAddress {
  readonly key: string;
  readonly input: string;
}

/** What a verifier learned about a domain, shared across jobs until it expires. */
export interface DomainFacts {
  /** The ASCII domain. */
  readonly domain: string;
  /** The MX records as JSON-stable data (the verifier decides the shape). */
  readonly mx: unknown;
  /** Whether the domain accepts any local part; `null` when not probed. */
  readonly catchAll: boolean | null;
  readonly provider: string | null;
  /** Epoch milliseconds after which the facts must not be used. */
  readonly expiresAt: number;
}

/**
 * What runs learned of one MX host's limits (`HostLimitsFacts`: error budget, recipients per
 * transaction, sessions at once), shared by runs and workers until it expires (src/jobs/host-limits.ts).
 */
export interface StoredHostLimits {
  /**
   * The key it is stored under: the scheduler's host key (the MX address, or `proxy|address`), followed
   * by a space and a namespace when the runs that share it reach other servers (another SMTP port).
   */
  readonly key: string;
  readonly record: HostLimitsRecord;
  /** Epoch milliseconds of the last time something was learned there. */
  readonly learnedAt: number;
  /** Epoch milliseconds after which it must not be used (and may be deleted). */
  readonly expiresAt: number;
}

/**
 * What a job's webhook asks for, kept in its options under `webhook` (the store reads these two flags;
 * the URL and the rest are the caller's): a delivery per verified address, and one when the job ends.
 */
export interface JobWebhookFlags {
  readonly onResult: boolean;
  readonly onEnd: boolean;
}

/** A webhook call owed: one per address whose first result was stored, and one when the job ended. */
export interface WebhookDelivery {
  /** The delivery's own number (stable across retries and restarts). */
  readonly id: number;
  readonly jobId: string;
  /** `result` for an address's result (its `key`), `end` for the job's end (`key` is `''`). */
  readonly event: 'result' | 'end';
  readonly key: string;
  /** Attempts made before this one. */
  readonly attempts: number;
  /** The address's stored result for a `result` delivery; `null` for `end`. */
  readonly result: VerifyResult | null;
}

/** What became of a delivery attempt. */
export type WebhookOutcome =
  | { readonly state: 'delivered' }
  | { readonly state: 'failed'; readonly error: string }
  | { readonly state: 'pending'; readonly error: string; readonly nextAt: number };

export interface NewJob {
  readonly owner?: string | null;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly source?: JobSource | null;
  readonly layout?: InputLayout | null;
}

/**
 * A job store. Writes are idempotent where a crash may replay them: `addItems` on (job, row),
 * `putResults` on (job, key). Implementations batch each call in one transaction.
 */
export interface JobStore {
  createJob(job: NewJob): Promise<JobRecord>;
  getJob(id: string): Promise<JobRecord | null>;
  /** The most recent job whose source has this path, or `null`. */
  findJobBySourcePath(path: string): Promise<JobRecord | null>;
  /** Jobs in any of these statuses, oldest first (a server resumes its unfinished jobs at start). */
  listJobs(statuses: readonly JobStatus[]): Promise<JobRecord[]>;
  /** Records how the input is read (known after its first bytes). */
  setLayout(id: string, layout: InputLayout): Promise<void>;
  /** Replaces the job's caller-owned options (`rcpt bulk --resume --override-settings` records new settings). */
  setOptions(id: string, options: Readonly<Record<string, unknown>>): Promise<void>;
  /** Stores rows; a row already stored (same job and row number) is left as it is. */
  addItems(id: string, items: readonly JobItem[]): Promise<void>;
  /** Marks the input as completely stored and computes the row and address totals. */
  finishIngest(id: string): Promise<JobRecord>;
  /**
   * Sets the status (and the error, for `failed`); `startedAt` is set on the first `running`. With
   * `from`, only a job whose status is one of those is changed, in the same statement that reads it
   * (compare-and-set): a runner's "back to queued" then never undoes a cancel that landed after the
   * runner last read the job. Resolves with the job as it is after, changed or not.
   */
  setStatus(
    id: string,
    status: JobStatus,
    error?: string | null,
    from?: readonly JobStatus[],
  ): Promise<JobRecord>;
  /**
   * Up to `limit` distinct keys without a result, from readable rows, in key order after `afterKey`
   * (keyset paging: a consumer pages through while results are being written).
   */
  pendingAddresses(id: string, afterKey: string | null, limit: number): Promise<PendingAddress[]>;
  /**
   * Stores results keyed by (job, key): a replayed write replaces the stored result and never adds a
   * second one. Resolves with how many keys got their first result.
   */
  putResults(id: string, results: readonly KeyedResult[]): Promise<number>;
  getProgress(id: string): Promise<JobProgress>;
  /** Every row of the job in row order with its result, read in pages (never all in memory). */
  readOutput(id: string, options?: { readonly pageSize?: number }): AsyncIterable<OutputRow>;
  /** Deletes a job, its items and results. Resolves with false when there was no such job. */
  deleteJob(id: string): Promise<boolean>;
  getDomainFacts(domain: string, now?: number): Promise<DomainFacts | null>;
  putDomainFacts(facts: DomainFacts): Promise<void>;
  /** Removes expired domain facts; resolves with how many. */
  purgeDomainFacts(now?: number): Promise<number>;
  /**
   * The live host limits stored under keys whose MX address is one of `hosts` (the address is the
   * key's part after its last `|`, before any space), or every live one when `hosts` is `null`.
   */
  getHostLimits(hosts: readonly string[] | null, now?: number): Promise<StoredHostLimits[]>;
  /**
   * Stores what a run learned at host `key`, merged in one transaction with what is stored there and
   * still live (the more cautious of the two: `mergeHostLimits()`); it lives `HOST_LIMITS_TTL_MS` from
   * `now`. Resolves with what is stored now.
   */
  putHostLimits(key: string, record: HostLimitsRecord, now?: number): Promise<StoredHostLimits>;
  /** Removes expired host limits; resolves with how many. */
  purgeHostLimits(now?: number): Promise<number>;
  /**
   * A small positive integer naming the job, given on first asking and kept (APIs whose clients expect
   * an integer id, such as Reacher's bulk `job_id`). Never reused, even after the job is deleted.
   */
  numberJob(id: string): Promise<number>;
  /** The job a number names, or `null`. */
  jobIdOfNumber(number: number): Promise<string | null>;
  /**
   * Takes up to `limit` webhook deliveries due at `now` (epoch ms), holding each for `leaseMs` (another
   * process asking meanwhile does not get it). Deliveries are owed, in the store, by the writes that
   * cause them: `putResults` adds one per first result of a job whose options say `webhook.onResult`,
   * and a job that ended (done, cancelled, failed) with `webhook.onEnd` owes one `end` delivery, so a
   * crash between a result and its delivery loses nothing.
   */
  claimWebhookDeliveries(now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt: delivered, given up, or due again at `nextAt`. */
  settleWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<void>;
  close(): Promise<void>;
}
