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
import { DEFAULT_KEEP_FINISHED_JOBS_DAYS } from './defaults.js';
import type { Logger } from './logger.js';

/** Jobs verified at once: a second job need not wait for a long first one; the scheduler shares hosts. */
export const DEFAULT_RUNNING_JOBS = 2;
/**
 * Addresses a job verifies in one turn before it gives its place to the job of a key that has fewer
 * running (docs/api.md, "Whose job runs"): long enough that a turn's restart (its pending addresses
 * found again, its hosts' sessions opened again) is a small part of it.
 */
export const DEFAULT_TURN_ADDRESSES = 1_000;
/**
 * How long a job that gave its place may go on answering the addresses it had read (up to its run's
 * window, 2,000 by default), its sessions ending with QUIT, before the rest are cut and left pending
 * for its next turn: a window at slow hosts, or a greylisted address, would hold it for minutes.
 */
export const DEFAULT_PAUSE_GRACE_MS = 30_000;
const DAY_MS = 86_400_000;
/** How often jobs past their keeping are looked for (and once at start). */
const RETENTION_SWEEP_MS = 3_600_000;
/** The event stream asks often; a job's counts are read from the store at most this often. */
const VIEW_CACHE_MS = 200;

export interface JobsBackendOptions {
  readonly store: JobStore;
  readonly verifier: Verifier;
  readonly logger: Logger;
  /** Jobs run at once. Default 2. */
  readonly runningJobs?: number;
  /**
   * Addresses a job verifies before it gives its place to a job of a key with fewer running (a key
   * with two fewer gets one at once). Default 1,000.
   */
  readonly turnAddresses?: number;
  /** How long a job that gave its place may answer what it had read. Default 30 s. */
  readonly pauseGraceMs?: number;
  /**
   * How long a job of the API (`via: 'http'`) is kept once it ended, with its results, in
   * milliseconds; `Infinity` keeps them all. Default 30 days. Jobs of `rcpt bulk` in the same store are
   * left alone.
   */
  readonly keepFinishedMs?: number;
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
  readonly hostLimits?: { flush(): Promise<unknown> };
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

/** A job waiting for a place: its key, and its order among all jobs (kept across turns). */
interface WaitingJob {
  readonly id: string;
  readonly owner: string;
  readonly order: number;
}

/** A job holding a place, or giving it back (paused, answering what it had in flight). */
interface RunningJob extends WaitingJob {
  /** Addresses verified since this turn began. */
  turn: number;
  /** Takes no more addresses: the job gives its place (`RunJobOptions.pause`). */
  readonly pause: AbortController;
  /** Cuts what is in flight: a shutdown, or a pause past its grace. */
  readonly stop: AbortController;
  grace: NodeJS.Timeout | null;
}

/**
 * The backend over one store: the jobs waiting and running in this process (at most `runningJobs`
 * at once, shared fairly between keys), the shutdown signal they run under, and a short cache of job
 * views.
 *
 * Fairness between keys (docs/api.md, "Whose job runs"): a place that frees goes to the waiting job of
 * the key with the fewest running, then of the key whose last turn began longest ago, then the oldest
 * job; and a key that runs more jobs than a waiting key gives one of them back, at once when it runs
 * two more, else after the job's turn of `turnAddresses`. A job so paused reads no more addresses,
 * answers those it had read for up to `pauseGraceMs` (the rest cut, left pending), and waits again
 * (`queued`), keeping its order. With one key, or with every key's jobs running, nothing is paused,
 * and no place is left empty while a job waits.
 */
class StoreJobsBackend implements ClosableJobsBackend {
  readonly resumed: Promise<number>;
  readonly #options: JobsBackendOptions;
  readonly #store: JobStore;
  readonly #maxRunning: number;
  readonly #turnAddresses: number;
  readonly #pauseGraceMs: number;
  readonly #waiting: WaitingJob[] = [];
  /** Jobs holding a place. */
  readonly #running = new Map<string, RunningJob>();
  /** Jobs that gave their place and are answering what they had in flight. */
  readonly #pausing = new Map<string, RunningJob>();
  readonly #runs = new Set<Promise<void>>();
  /** When each key with jobs here last began a turn (`#order` then), for the round. */
  readonly #lastTurn = new Map<string, number>();
  #order = 0;
  readonly #shutdown = new AbortController();
  readonly #cache = new Map<string, { view: JobView; at: number }>();
  readonly #keepFinishedMs: number;
  readonly #sweeper: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> = Promise.resolve();

  constructor(options: JobsBackendOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#maxRunning = options.runningJobs ?? DEFAULT_RUNNING_JOBS;
    this.#turnAddresses = options.turnAddresses ?? DEFAULT_TURN_ADDRESSES;
    this.#pauseGraceMs = options.pauseGraceMs ?? DEFAULT_PAUSE_GRACE_MS;
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
    this.#keepFinishedMs = options.keepFinishedMs ?? DEFAULT_KEEP_FINISHED_JOBS_DAYS * DAY_MS;
    if (Number.isFinite(this.#keepFinishedMs)) {
      this.#sweep();
      this.#sweeper = setInterval(() => {
        this.#sweep();
      }, RETENTION_SWEEP_MS);
      this.#sweeper.unref();
    }
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
      this.#waiting.push({ id: stored.id, owner, order: this.#order++ });
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
      const index = waiting.findIndex((job) => job.id === id);
      const [removed] = index === -1 ? [] : waiting.splice(index, 1);
      // A running job sees the status at its next write and stops (no need to wait for it here);
      // what is written stays downloadable. A job that ended since the read above stays as it ended.
      await store.setStatus(id, 'cancelled', null, ['queued', 'running']).catch((error: unknown) => {
        // Not cancelled after all: a waiting job keeps its order.
        if (removed !== undefined) {
          waiting.push(removed);
          this.#pump();
        }
        throw this.#whenFull(error, 'the job was not cancelled');
      });
    }
    const after = await store.getJob(id);
    return after === null ? null : viewOf(store, after);
  }

  async delete(id: string): ReturnType<JobsBackend['delete']> {
    const record = await this.#store.getJob(id);
    if (record === null) return null;
    // A cancelled job's run writes until its next flush sees the cancel: its rows stay until it stops.
    const stopping = this.#running.has(id) || this.#pausing.has(id);
    if (record.status === 'queued' || record.status === 'running' || stopping) return 'unfinished';
    this.#cache.delete(id);
    const deleted = await this.#store.deleteJob(id).catch((error: unknown) => {
      throw this.#whenFull(error, 'the job was not deleted');
    });
    return deleted ? 'deleted' : null;
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
        ? await Promise.all(
            [...this.#waiting.map((job) => job.id), ...this.#running.keys(), ...this.#pausing.keys()].map(
              (id) => this.#store.getJob(id),
            ),
          )
        : await this.#store.listJobs(['queued', 'running']);
    let depth = 0;
    for (const record of records) {
      if (record !== null) depth += Math.max(0, record.totalAddresses - record.doneAddresses);
    }
    return depth;
  }

  async close(): Promise<void> {
    this.#shutdown.abort();
    if (this.#sweeper !== null) clearInterval(this.#sweeper);
    await this.#sweeping;
    this.#waiting.length = 0;
    for (const job of [...this.#running.values(), ...this.#pausing.values()]) job.stop.abort();
    await Promise.allSettled(this.#runs);
    await this.#options.hostLimits?.flush();
    await this.#store.close();
  }

  /**
   * Gives places to waiting jobs: a free one, or one a key running more than the next job's key gives
   * back. Called whenever a job waits, ends, or writes progress (its turn grows).
   */
  #pump(): void {
    while (!this.#shutdown.signal.aborted) {
      const next = this.#next();
      if (next === undefined) return;
      if (this.#running.size >= this.#maxRunning) {
        const paused = this.#toPause(next.owner);
        if (paused === undefined) return;
        this.#pause(paused);
      }
      this.#waiting.splice(this.#waiting.indexOf(next), 1);
      this.#start(next);
    }
  }

  /** Jobs holding a place, by key. */
  #runningByOwner(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const job of this.#running.values()) counts.set(job.owner, (counts.get(job.owner) ?? 0) + 1);
    return counts;
  }

  /**
   * The job that gets the next place: of the key with the fewest jobs running, then the key whose
   * last turn began longest ago (a key new here first), then the oldest.
   */
  #next(): WaitingJob | undefined {
    const running = this.#runningByOwner();
    const rank = (job: WaitingJob): [number, number, number] => [
      running.get(job.owner) ?? 0,
      this.#lastTurn.get(job.owner) ?? -1,
      job.order,
    ];
    let best: WaitingJob | undefined;
    let bestRank: [number, number, number] | undefined;
    for (const job of this.#waiting) {
      const jobRank = rank(job);
      if (bestRank === undefined || isBefore(jobRank, bestRank)) {
        best = job;
        bestRank = jobRank;
      }
    }
    return best;
  }

  /**
   * The running job that gives its place to a job of `owner`: one of a key running more jobs than
   * `owner`, at once if two more, else once its turn is over; of those, the key running the most,
   * then the longest turn.
   */
  #toPause(owner: string): RunningJob | undefined {
    const running = this.#runningByOwner();
    const theirs = running.get(owner) ?? 0;
    let chosen: RunningJob | undefined;
    for (const job of this.#running.values()) {
      const mine = running.get(job.owner) ?? 0;
      if (mine <= theirs) continue;
      if (mine - theirs < 2 && job.turn < this.#turnAddresses) continue;
      const chosenCount = chosen === undefined ? -1 : (running.get(chosen.owner) ?? 0);
      if (chosen === undefined || mine > chosenCount || (mine === chosenCount && job.turn > chosen.turn)) {
        chosen = job;
      }
    }
    return chosen;
  }

  /** The job stops reading addresses and gives its place; what it has read gets a grace. */
  #pause(job: RunningJob): void {
    this.#running.delete(job.id);
    this.#pausing.set(job.id, job);
    job.pause.abort();
    job.grace = setTimeout(() => {
      job.stop.abort();
    }, this.#pauseGraceMs);
    job.grace.unref();
    this.#options.logger.info({ job: job.id, verified: job.turn }, 'job paused for another key');
  }

  #start(waiting: WaitingJob): void {
    const job: RunningJob = {
      ...waiting,
      turn: 0,
      pause: new AbortController(),
      stop: new AbortController(),
      grace: null,
    };
    this.#running.set(job.id, job);
    this.#lastTurn.set(job.owner, this.#order++);
    const run = this.#run(job).finally(() => this.#runs.delete(run));
    this.#runs.add(run);
  }

  async #run(job: RunningJob): Promise<void> {
    const { store, verifier, logger, concurrency } = this.#options;
    const id = job.id;
    let again = false;
    try {
      const outcome = await runJob(store, id, verifier, {
        signal: job.stop.signal,
        pause: job.pause.signal,
        ...(concurrency === undefined ? {} : { verifyMany: { concurrency } }),
        onResult: () => {
          job.turn += 1;
        },
        onProgress: () => {
          if (this.#waiting.length > 0) this.#pump();
        },
      });
      // Paused (or cut after its grace) for another key's job: it waits for its next turn.
      again = outcome.job.status === 'queued' && !this.#shutdown.signal.aborted;
      logger.info(
        { job: id, status: outcome.job.status, verified: outcome.verified },
        again ? 'job waits for its next turn' : 'job ended',
      );
    } catch (error) {
      logger.error({ err: error, job: id }, 'job failed');
      if (!this.#shutdown.signal.aborted) {
        const message = error instanceof Error ? error.message : String(error);
        // Not over a cancel (or an end) another request wrote meanwhile.
        await store.setStatus(id, 'failed', message, ['queued', 'running']).catch(() => undefined);
      }
    } finally {
      if (job.grace !== null) clearTimeout(job.grace);
      this.#cache.delete(id);
      this.#running.delete(id);
      this.#pausing.delete(id);
      if (again) this.#waiting.push({ id, owner: job.owner, order: job.order });
      this.#forgetIdleOwner(job.owner);
      this.#pump();
    }
  }

  /** Starts a sweep of the jobs past their keeping, unless one is going on. */
  #sweep(): void {
    this.#sweeping = this.#sweeping.then(() =>
      this.#deleteExpired().catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'could not delete jobs past their keeping');
      }),
    );
  }

  /** Deletes the API's jobs that ended longer than `keepFinishedMs` ago, a job at a time. */
  async #deleteExpired(): Promise<void> {
    const before = Date.now() - this.#keepFinishedMs;
    let deleted = 0;
    for (const job of await this.#store.listJobs(['done', 'cancelled', 'failed'])) {
      if (this.#shutdown.signal.aborted) break;
      if (job.options.via !== 'http' || Date.parse(job.updatedAt) >= before) continue;
      if (this.#running.has(job.id) || this.#pausing.has(job.id)) continue;
      this.#cache.delete(job.id);
      if (await this.#store.deleteJob(job.id)) deleted += 1;
    }
    if (deleted > 0) {
      this.#options.logger.info(
        { jobs: deleted, keptMs: this.#keepFinishedMs },
        'jobs deleted: ended longer ago than they are kept',
      );
    }
  }

  /** A key with no job here leaves the round (the map stays as small as the keys at work). */
  #forgetIdleOwner(owner: string): void {
    const busy = (job: WaitingJob) => job.owner === owner;
    if (this.#waiting.some(busy)) return;
    if ([...this.#running.values(), ...this.#pausing.values()].some(busy)) return;
    this.#lastTurn.delete(owner);
  }

  /**
   * Queues again the API's jobs that an earlier process left unfinished: the runner skips what has a
   * result, so a restart costs only the verifications in flight. A job whose upload never finished
   * cannot run and is marked failed. CLI jobs (`rcpt bulk`) in the same file are left to `--resume`.
   */
  async #resumeUnfinished(): Promise<number> {
    const store = this.#store;
    const here = new Set([...this.#waiting.map((job) => job.id), ...this.#running.keys()]);
    const unfinished = (await store.listJobs(['queued', 'running'])).filter(
      (job) => job.options.via === 'http' && !here.has(job.id),
    );
    await checkSettings(
      this.#options,
      unfinished.filter((job) => job.ingested),
    );
    let resumed = 0;
    for (const job of unfinished) {
      if (!job.ingested) {
        await store.setStatus(job.id, 'failed', 'the upload was interrupted before it was stored whole', [
          'queued',
          'running',
        ]);
        continue;
      }
      this.#waiting.push({ id: job.id, owner: job.owner ?? '', order: this.#order++ });
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

/** Whether rank `a` comes before `b`, element by element. */
function isBefore(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}
