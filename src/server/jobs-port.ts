/**
 * The job store and runner as the API's routes see them (job-routes.ts, reacher-routes.ts,
 * job-upload.ts): a job's view, a new job's input, the errors a creation is refused with, and the
 * backend interface that jobs-backend.ts implements over `src/jobs/`.
 */
import type { Verdict } from '../index.js';
import type {
  InputLayout,
  InputRow,
  OutputRow,
  WebhookDelivery,
  WebhookOutcome,
  FormatOptions,
} from '../jobs/index.js';
import type { JOB_STATUSES } from './schemas.js';

export type JobStatus = (typeof JOB_STATUSES)[number];

/** What the API needs to know of a job. */
export interface JobView {
  readonly id: string;
  /** The key id that created the job. */
  readonly owner: string;
  readonly status: JobStatus;
  /** Distinct addresses, not counting rows that could not be read. */
  readonly total: number;
  readonly done: number;
  /** Rows that could not be read (unknown/unreadable_row), apart from `total`, `counts` and `reasons`. */
  readonly unreadable: number;
  readonly counts: Readonly<Record<Verdict, number>>;
  readonly reasons: Readonly<Record<string, number>>;
  readonly createdAt: string;
  /** When work started, for the ETA; `null` while queued. */
  readonly startedAt: string | null;
  readonly updatedAt: string | null;
  readonly error: string | null;
  /** What the user should know about the upload (a CSV not in UTF-8), said once per job. */
  readonly warnings: readonly string[];
  /** What the job was created with (its webhook, the API it came from). */
  readonly options: Readonly<Record<string, unknown>>;
}

/** What a job was uploaded as: a JSON list (rcpt's or Reacher's), a CSV or a text list. */
export type JobUploadKind = 'list' | 'csv' | 'text';

/** The input of a new job: its rows, read already (job-upload.ts reads them back from its spool). */
export interface JobInput {
  readonly kind: JobUploadKind;
  readonly layout: InputLayout;
  readonly rows: AsyncIterable<InputRow> | Iterable<InputRow>;
  /** What the user should know about the upload (a CSV not in UTF-8): kept with the job, in its view. */
  readonly warnings?: readonly string[];
}

/** Bad input found while reading an upload (a CSV without an address column, a broken quote, …). */
export class JobInputError extends Error {
  override readonly name = 'JobInputError';
  constructor(
    message: string,
    /** True when the input is over a size or count limit (answered 413 rather than 400). */
    readonly tooLarge = false,
  ) {
    super(message);
  }
}

/**
 * The job store has no space left (SQLite's SQLITE_FULL, PostgreSQL's 53100 disk_full): answered 507
 * with a message saying so, instead of a bare 500. What the write was for is in the message.
 */
export class JobStoreFullError extends Error {
  override readonly name = 'JobStoreFullError';
}

/**
 * The job store and runner as the API sees them (implemented over `src/jobs/` in jobs-backend.ts).
 * `create` consumes the input as it arrives and resolves once it is stored and queued.
 */
export interface JobsBackend {
  create(
    owner: string,
    input: JobInput,
    options: {
      readonly maxAddresses: number;
      /** Stored with the job's options (its webhook, the API it came from). */
      readonly extra?: Readonly<Record<string, unknown>>;
    },
  ): Promise<JobView>;
  /**
   * The job as the store has it; a view read less than a moment ago may be given again, unless
   * `fresh` (a job's end webhook must say it ended).
   */
  get(id: string, options?: { readonly fresh?: boolean }): Promise<JobView | null>;
  /** The job's small integer (given on first asking; Reacher's `job_id`). */
  number(id: string): Promise<number>;
  /** The job a number names, or `null`. */
  idOfNumber(number: number): Promise<string | null>;
  /** Every input row in order with its result (`null` while not verified), read in pages. */
  rows(id: string): AsyncIterable<OutputRow>;
  /** Webhook calls owed (see `JobStore.claimWebhookDeliveries`). */
  claimWebhooks(now: number, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  settleWebhook(id: number, outcome: WebhookOutcome): Promise<void>;
  /** Cancels a queued or running job; what is done stays readable. Resolves with the job after. */
  cancel(id: string): Promise<JobView | null>;
  /**
   * Deletes a job that has ended (done, cancelled, failed) with its rows and results: `unfinished`
   * for one queued or running (or still stopping after a cancel), `null` for no such job.
   */
  delete(id: string): Promise<'deleted' | 'unfinished' | null>;
  /** The results so far, streamed: CSV (input columns, then result columns) or one JSON result a line. */
  results(id: string, format: 'csv' | 'ndjson', options?: FormatOptions): AsyncIterable<string>;
  /** Addresses waiting in queued and running jobs (the `rcpt_jobs_queue_depth` metric). */
  queueDepth(): number | Promise<number>;
}
