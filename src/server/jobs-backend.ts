/**
 * The API's `JobsBackend` over the library's job store and runner (its entry src/jobs/index.ts, `rcpt/jobs`): an
 * upload's rows (read back from where it waited, job-upload.ts) are stored, then queued; a few jobs run at once in this process, sharing
 * the server's verifier (and so its DNS and catch-all caches).
 */
import { VERDICTS, type Verdict, type Verifier } from '../index.js';
import {
  InputError,
  InputTooLargeError,
  compareSettings,
  describeDifferences,
  formatOutput,
  recordedSettings,
  ingestRows,
  runJob,
  type JobRecord,
  type JobSettings,
  type JobStore,
} from '../jobs/index.js';
import {
  JobInputError,
  JobStoreFullError,
  type JobInput,
  type JobView,
  type JobsBackend,
} from './jobs-port.js';
import type { Logger } from './logger.js';

/** Jobs verified at once: a second job need not wait for a long first one; the scheduler shares hosts. */
export const DEFAULT_RUNNING_JOBS = 2;
/** The event stream asks often; a job's counts are read from the store at most this often. */
const VIEW_CACHE_MS = 200;

export interface JobsBackendOptions {
  readonly store: JobStore;
  readonly verifier: Verifier;
  readonly logger: Logger;
  /** Jobs run at once. Default 2. */
  readonly runningJobs?: number;
  /** Addresses in flight per job (`verifyMany` concurrency). Default: the verifier's. */
  readonly concurrency?: number;
  /**
   * Hands a stored job to someone else instead of running it here: scale-out on PostgreSQL sends it to
   * the workers' queue (`rcpt worker`), and this process only accepts jobs and serves results. Called
   * once the job is ingested, so it must bear a job handed over already: the PostgreSQL store submits
   * it in the transaction that marks it ingested (a server killed before this call loses nothing), and
   * a second submission is planned at most once.
   */
  readonly dispatch?: (jobId: string) => Promise<void>;
  /**
   * The settings this server verifies with, by flag name (src/jobs/job-settings.ts): recorded with
   * each job, and compared with those of the unfinished jobs an earlier process left. Without it,
   * nothing is recorded or compared.
   */
  readonly settings?: JobSettings;
  /**
   * Resume unfinished jobs that began with other settings with this server's (recorded from then on).
   * Without it, such jobs make `resumed` reject with a `JobSettingsError` and none is resumed.
   */
  readonly overrideSettings?: boolean;
  /**
   * The learned host limits the verifier writes to this store behind it (src/jobs/host-limits.ts):
   * their writes finish before the store closes.
   */
  readonly hostLimits?: { flush(): Promise<void> };
}

/**
 * Unfinished jobs began with settings other than this server's: resuming them would mix two
 * configurations in one job's results. The message names each job and difference.
 */
export class JobSettingsError extends Error {
  override readonly name = 'JobSettingsError';
}

export interface ClosableJobsBackend extends JobsBackend {
  /**
   * Settles when the jobs that an earlier process left `queued` or `running` (a restart, a crash) are
   * queued again here, with their number. Always 0 when jobs are dispatched to workers. Rejects with
   * a `JobSettingsError` when some began with other settings (see `overrideSettings`).
   */
  readonly resumed: Promise<number>;
  /** Stops running jobs (they go back to `queued`, resumable) and closes the store. */
  close(): Promise<void>;
}

/**
 * Whether a job store error (or one of its causes) means "no space left": better-sqlite3's SQLITE_FULL
 * (a full disk, or the file at its `max_page_count`), PostgreSQL's SQLSTATE 53100 disk_full.
 */
export function isStoreFull(error: unknown): boolean {
  for (let cause = error, depth = 0; typeof cause === 'object' && cause !== null && depth < 5; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && (code.startsWith('SQLITE_FULL') || code === '53100')) return true;
    cause = (cause as { cause?: unknown }).cause;
  }
  return false;
}

/** The reason of a row that could not be read (src/jobs/write-output.ts). */
const UNREADABLE_ROW = 'unreadable_row';

const zeroCounts = (): Record<Verdict, number> =>
  Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;

export function createJobsBackend(options: JobsBackendOptions): ClosableJobsBackend {
  return new StoreJobsBackend(options);
}

/** A job as the API shows it: its record and its progress counts. */
async function viewOf(store: JobStore, record: JobRecord): Promise<JobView> {
  const progress = await store.getProgress(record.id);
  // Rows that could not be read are counted apart, as the CLI's summary does: each has a result of
  // its own (unknown/unreadable_row, stored at ingest), but is no address and has no verdict.
  const { [UNREADABLE_ROW]: unreadable = 0, ...reasons } = progress.reasons;
  const counts = { ...zeroCounts(), ...progress.counts };
  counts.unknown -= unreadable;
  return {
    id: record.id,
    owner: record.owner ?? '',
    status: record.status,
    total: progress.totalAddresses - unreadable,
    done: progress.doneAddresses - unreadable,
    unreadable,
    counts,
    reasons,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    updatedAt: record.updatedAt,
    error: record.error,
    warnings: warningsOf(record.options),
    options: record.options,
  };
}

/** The warnings kept with a job's options (`warnings`, strings), none for a job from before them. */
function warningsOf(options: Readonly<Record<string, unknown>>): string[] {
  const warnings = options.warnings;
  return Array.isArray(warnings) ? warnings.filter((warning) => typeof warning === 'string') : [];
}

/**
 * Before anything is resumed: the jobs whose recorded settings differ from this server's are
 * refused all together (`JobSettingsError`), or with `overrideSettings` get this server's settings
 * recorded. A job from before settings were recorded resumes with this server's.
 */
async function checkSettings(options: JobsBackendOptions, jobs: readonly JobRecord[]): Promise<void> {
  const current = options.settings;
  if (current === undefined) return;
  const conflicts: string[] = [];
  for (const job of jobs) {
    const recorded = recordedSettings(job.options);
    if (recorded === null) continue;
    const differences = compareSettings(recorded, current, { complete: true });
    if (differences.length === 0) continue;
    if (options.overrideSettings === true) {
      await options.store.setOptions(job.id, { ...job.options, settings: current });
      options.logger.warn(
        { job: job.id, differences },
        `job ${job.id} goes on with this server's settings (${describeDifferences(differences)})`,
      );
    } else {
      conflicts.push(`job ${job.id}: ${describeDifferences(differences)}`);
    }
  }
  if (conflicts.length > 0) {
    throw new JobSettingsError(
      `unfinished jobs began with other settings than this server's (${conflicts.join('; ')}); start it with the jobs' settings, or add --override-settings to finish them with these`,
    );
  }
}

/**
 * With workers (PostgreSQL): each job is verified with the settings recorded with it, whatever this
 * server's (src/jobs/postgres/job-profile.ts), so nothing mixes and nothing is refused; the unfinished
 * jobs that began with other settings are named, so an operator sees why their results differ.
 */
async function noteDispatchedSettings(options: JobsBackendOptions): Promise<void> {
  const current = options.settings;
  if (current === undefined) return;
  for (const job of await options.store.listJobs(['queued', 'running'])) {
    const recorded = recordedSettings(job.options);
    if (recorded === null || job.options.via !== 'http') continue;
    const differences = compareSettings(recorded, current, { complete: true });
    if (differences.length === 0) continue;
    options.logger.warn(
      { job: job.id, differences },
      `job ${job.id} goes on with the settings it began with, not this server's (${describeDifferences(differences)}): workers verify each job with its own`,
    );
  }
}

/**
 * The backend over one store: the jobs waiting and running in this process (at most `runningJobs`
 * at once), the shutdown signal they run under, and a short cache of job views.
 */
class StoreJobsBackend implements ClosableJobsBackend {
  readonly resumed: Promise<number>;
  readonly #options: JobsBackendOptions;
  readonly #store: JobStore;
  readonly #maxRunning: number;
  readonly #waiting: string[] = [];
  readonly #running = new Map<string, Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #cache = new Map<string, { view: JobView; at: number }>();

  constructor(options: JobsBackendOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#maxRunning = options.runningJobs ?? DEFAULT_RUNNING_JOBS;
    this.resumed =
      options.dispatch === undefined
        ? this.#resumeUnfinished().catch((error: unknown) => {
            if (error instanceof JobSettingsError) throw error;
            options.logger.error({ err: error }, 'could not resume unfinished jobs');
            return 0;
          })
        : noteDispatchedSettings(options).then(
            () => 0,
            (error: unknown) => {
              options.logger.error({ err: error }, 'could not read the settings of unfinished jobs');
              return 0;
            },
          );
    // Whoever awaits `resumed` hears a conflict; nobody awaiting it must not crash the process.
    this.resumed.catch(() => undefined);
  }

  async create(
    owner: string,
    input: JobInput,
    limits: Parameters<JobsBackend['create']>[2],
  ): Promise<JobView> {
    const store = this.#store;
    const options = this.#options;
    let id: string | null = null;
    let stored: JobRecord | null;
    try {
      id = (
        await store.createJob({
          owner,
          options: {
            ...limits.extra,
            via: 'http',
            input: input.kind,
            ...(options.settings === undefined ? {} : { settings: options.settings }),
            ...(input.warnings === undefined || input.warnings.length === 0
              ? {}
              : { warnings: input.warnings }),
          },
        })
      ).id;
      await ingestRows(store, id, input.layout, input.rows, { maxRows: limits.maxAddresses });
      stored = await store.getJob(id);
      if (stored === null) throw new Error(`job ${id} vanished after ingest`);
      if (stored.totalRows === 0) throw new InputError('the upload has no rows with an address');
      if (options.dispatch !== undefined) await options.dispatch(id);
    } catch (error) {
      // A refused upload leaves nothing behind (a worker given a deleted job skips it).
      if (id !== null) await store.deleteJob(id).catch(() => undefined);
      if (error instanceof InputTooLargeError) {
        throw new JobInputError(`At most ${limits.maxAddresses} addresses per job`, true);
      }
      if (error instanceof InputError) throw new JobInputError(error.message);
      throw this.#whenFull(error, 'the job was not stored');
    }
    if (options.dispatch === undefined) {
      this.#waiting.push(stored.id);
      this.#pump();
    }
    return viewOf(store, stored);
  }

  async get(id: string, options: { readonly fresh?: boolean } = {}): Promise<JobView | null> {
    const cached = this.#cache.get(id);
    if (options.fresh !== true && cached !== undefined && Date.now() - cached.at < VIEW_CACHE_MS)
      return cached.view;
    const record = await this.#store.getJob(id);
    if (record === null) return null;
    const fresh = await viewOf(this.#store, record);
    this.#cache.set(id, { view: fresh, at: Date.now() });
    return fresh;
  }

  async cancel(id: string): Promise<JobView | null> {
    const store = this.#store;
    const waiting = this.#waiting;
    const record = await store.getJob(id);
    if (record === null) return null;
    this.#cache.delete(id);
    if (record.status === 'queued' || record.status === 'running') {
      const index = waiting.indexOf(id);
      if (index !== -1) waiting.splice(index, 1);
      // A running job sees the status at its next write and stops (no need to wait for it here);
      // what is written stays downloadable.
      await store.setStatus(id, 'cancelled').catch((error: unknown) => {
        // Not cancelled after all: a waiting job keeps its turn.
        if (index !== -1) {
          waiting.splice(Math.min(index, waiting.length), 0, id);
          this.#pump();
        }
        throw this.#whenFull(error, 'the job was not cancelled');
      });
    }
    const after = await store.getJob(id);
    return after === null ? null : viewOf(store, after);
  }

  number(id: string): Promise<number> {
    return this.#store.numberJob(id);
  }

  idOfNumber(number: number): Promise<string | null> {
    return this.#store.jobIdOfNumber(number);
  }

  rows(id: string): ReturnType<JobsBackend['rows']> {
    return this.#store.readOutput(id);
  }

  claimWebhooks(now: number, leaseMs: number, limit: number): ReturnType<JobsBackend['claimWebhooks']> {
    return this.#store.claimWebhookDeliveries(now, leaseMs, limit);
  }

  settleWebhook(id: number, outcome: Parameters<JobsBackend['settleWebhook']>[1]): Promise<void> {
    return this.#store.settleWebhookDelivery(id, outcome);
  }

  async *results(
    id: string,
    format: Parameters<JobsBackend['results']>[1],
    formatOptions: Parameters<JobsBackend['results']>[2] = {},
  ): ReturnType<JobsBackend['results']> {
    const record = await this.#store.getJob(id);
    if (record?.layout == null) return;
    yield* formatOutput(this.#store.readOutput(id), record.layout, format, formatOptions);
  }

  async queueDepth(): Promise<number> {
    // Here the queue is this process's own; with workers it is the store's: every queued or running
    // job there (from any `rcpt serve` or `rcpt bulk` on the database) waits for the same workers.
    const records =
      this.#options.dispatch === undefined
        ? await Promise.all([...this.#waiting, ...this.#running.keys()].map((id) => this.#store.getJob(id)))
        : await this.#store.listJobs(['queued', 'running']);
    let depth = 0;
    for (const record of records) {
      if (record !== null) depth += Math.max(0, record.totalAddresses - record.doneAddresses);
    }
    return depth;
  }

  async close(): Promise<void> {
    this.#shutdown.abort();
    this.#waiting.length = 0;
    await Promise.allSettled(this.#running.values());
    await this.#options.hostLimits?.flush();
    await this.#store.close();
  }

  /** Starts waiting jobs while fewer than `runningJobs` run. */
  #pump(): void {
    while (
      this.#running.size < this.#maxRunning &&
      this.#waiting.length > 0 &&
      !this.#shutdown.signal.aborted
    ) {
      const id = this.#waiting.shift();
      if (id === undefined) break;
      this.#running.set(id, this.#run(id));
    }
  }

  async #run(id: string): Promise<void> {
    const { store, verifier, logger, concurrency } = this.#options;
    const signal = this.#shutdown.signal;
    try {
      const outcome = await runJob(store, id, verifier, {
        signal,
        ...(concurrency === undefined ? {} : { verifyMany: { concurrency } }),
      });
      logger.info({ job: id, status: outcome.job.status, verified: outcome.verified }, 'job ended');
    } catch (error) {
      logger.error({ err: error, job: id }, 'job failed');
      if (!signal.aborted) {
        const message = error instanceof Error ? error.message : String(error);
        await store.setStatus(id, 'failed', message).catch(() => undefined);
      }
    } finally {
      this.#cache.delete(id);
      this.#running.delete(id);
      this.#pump();
    }
  }

  /**
   * Queues again the API's jobs that an earlier process left unfinished: the runner skips what has a
   * result, so a restart costs only the verifications in flight. A job whose upload never finished
   * cannot run and is marked failed. CLI jobs (`rcpt bulk`) in the same file are left to `--resume`.
   */
  async #resumeUnfinished(): Promise<number> {
    const store = this.#store;
    const unfinished = (await store.listJobs(['queued', 'running'])).filter(
      (job) => job.options.via === 'http' && !this.#waiting.includes(job.id) && !this.#running.has(job.id),
    );
    await checkSettings(
      this.#options,
      unfinished.filter((job) => job.ingested),
    );
    let resumed = 0;
    for (const job of unfinished) {
      if (!job.ingested) {
        await store.setStatus(job.id, 'failed', 'the upload was interrupted before it was stored whole');
        continue;
      }
      this.#waiting.push(job.id);
      resumed += 1;
    }
    if (resumed > 0) this.#options.logger.info({ jobs: resumed }, 'resuming unfinished jobs');
    this.#pump();
    return resumed;
  }

  /** A store error that means "no space left" becomes a `JobStoreFullError` saying what was refused. */
  #whenFull(error: unknown, refused: string): unknown {
    if (!isStoreFull(error)) return error;
    this.#options.logger.error({ err: error }, `job store full: ${refused}`);
    return new JobStoreFullError(
      `The job store is full (no space left on the server): ${refused}. Try again once space is freed.`,
    );
  }
}
