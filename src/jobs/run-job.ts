/**
 * The job runner: streams a job's pending distinct addresses into `verifyMany()` and writes results as
 * they arrive, in batches. Everything it needs to continue is in the store, so a runner killed at any
 * point (`kill -9`) is resumed by running it again: keys that have a result are not verified again,
 * and at most the last unwritten batch is verified twice (results are upserts, never duplicates).
 */
import { VERDICTS, type Verdict, type VerifyResult } from '../types.js';
import type { Verifier, VerifyManyOptions } from '../verifier.js';
import { addressKey } from './address-key.js';
import type { JobRecord, JobStore, KeyedResult } from './job-store.js';
import { JobError, JobStoreError, noSuchJob } from './errors.js';

/** Results written per transaction at most. */
const DEFAULT_BATCH_SIZE = 500;
/** Longest a result waits in memory before it is written: what a crash can cost in re-verification. */
const DEFAULT_FLUSH_INTERVAL_MS = 250;
/** Pending keys read from the store per query. */
const PENDING_PAGE = 1_000;

export interface RunProgress {
  /** Distinct addresses with a result. */
  readonly done: number;
  readonly total: number;
  /** Results written by this run, by verdict. */
  readonly counts: Readonly<Record<Verdict, number>>;
}

export interface RunJobOptions {
  /** Stops the run: results in hand are written and the job goes back to `queued`, resumable. */
  readonly signal?: AbortSignal;
  /**
   * Ends the run gently: no address is taken after it fires, those in flight are answered (their
   * sessions end with QUIT), and the job goes back to `queued`, resumable, unless that made it done.
   * `signal` still cuts what is in flight. A server uses it to hand a job's place to another's.
   */
  readonly pause?: AbortSignal;
  /** Passed to `verifyMany()` (concurrency, `hostConcurrency`, …); its `signal` is the run's. */
  readonly verifyMany?: Omit<VerifyManyOptions, 'signal'>;
  /** Results per write transaction. Default 500. */
  readonly batchSize?: number;
  /** Longest a result waits before it is written, in milliseconds. Default 250. */
  readonly flushIntervalMs?: number;
  /** Called after each write with the job's progress. */
  readonly onProgress?: (progress: RunProgress) => void;
  /** Called for each result as it arrives, before it is written. */
  readonly onResult?: (result: VerifyResult) => void;
}

/** What a run ended with. */
export interface RunOutcome {
  readonly job: JobRecord;
  /** Verifications this run made. */
  readonly verified: number;
  /** True when the run stopped on its signal or on a cancel before the job was done. */
  readonly interrupted: boolean;
}

/**
 * Runs (or resumes) a job whose input is ingested, until every distinct address has a result, the
 * signal aborts, the pause fires (and what was in flight is answered), or the job is cancelled in the
 * store. Sets the status: `running`, then `done`, `queued` (interrupted or paused: resumable),
 * `cancelled` as found, or `failed` (the store failed).
 *
 * @example
 * const verifier = createVerifier(options);
 * const { job } = await runJob(store, jobId, verifier, { verifyMany: { hostConcurrency: 2 } });
 */
export async function runJob(
  store: JobStore,
  jobId: string,
  verifier: Verifier,
  options: RunJobOptions = {},
): Promise<RunOutcome> {
  const initial = await store.getJob(jobId);
  if (initial === null) throw noSuchJob(jobId);
  if (!initial.ingested) {
    throw new JobError('not_ingested', jobId, `job ${jobId}: its input is not completely stored`);
  }
  if (initial.status === 'done' || initial.status === 'cancelled') {
    return { job: initial, verified: 0, interrupted: false };
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  // Not over a cancel that landed since the read above; `failed` is resumed (`rcpt bulk --resume`).
  const started = await store.setStatus(jobId, 'running', null, ['queued', 'running', 'failed']);
  if (started.status !== 'running') {
    return { job: started, verified: 0, interrupted: started.status === 'cancelled' };
  }
  const stop = new AbortController();
  const onAbort = () => {
    stop.abort();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted === true) stop.abort();

  const counts = Object.fromEntries(VERDICTS.map((verdict) => [verdict, 0])) as Record<Verdict, number>;
  let done = initial.doneAddresses;
  let verified = 0;
  const state: { cancelled: boolean; writeError: unknown } = { cancelled: false, writeError: null };
  const stopped = () => stop.signal.aborted || options.pause?.aborted === true;
  let buffer: KeyedResult[] = [];
  // Writes are serialised on one chain: the timer and the loop may both ask for a flush.
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    const batch = buffer;
    buffer = [];
    // With nothing to write the store is still asked, so a cancel (DELETE /v1/jobs/{id}) is seen while
    // every address in flight waits on a slow server.
    writing = writing.then(async () => {
      try {
        if (batch.length > 0) done += await store.putResults(jobId, batch);
        const job = await store.getJob(jobId);
        if (job?.status === 'cancelled') {
          state.cancelled = true;
          stop.abort();
        }
        if (batch.length > 0) options.onProgress?.({ done, total: initial.totalAddresses, counts });
      } catch (error) {
        state.writeError ??= error;
        stop.abort();
      }
    });
    return writing;
  };
  const timer = setInterval(() => void flush(), flushIntervalMs);

  /**
   * The key of each address handed to `verifyMany()` until its result comes back: the store knows it,
   * so the address is not parsed again to find it (bounded by the run's window).
   */
  const keyOf = new Map<string, string>();
  async function* pending(): AsyncGenerator<string> {
    let after: string | null = null;
    while (!stopped()) {
      const page = await store.pendingAddresses(jobId, after, PENDING_PAGE);
      for (const address of page) {
        if (stopped()) return;
        keyOf.set(address.input, address.key);
        yield address.input;
      }
      const last = page.at(-1);
      if (last === undefined || page.length < PENDING_PAGE) return;
      after = last.key;
    }
  }

  try {
    for await (const result of verifier.verifyMany(pending(), {
      ...options.verifyMany,
      signal: stop.signal,
    })) {
      const key = keyOf.get(result.input) ?? addressKey(result.input);
      keyOf.delete(result.input);
      // A result cut short by the stop is not an answer about the address: leave it pending.
      if (stop.signal.aborted && result.reason === 'timeout') continue;
      verified += 1;
      counts[result.verdict] += 1;
      options.onResult?.(result);
      buffer.push({ key, result });
      if (buffer.length >= batchSize) await flush();
    }
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await flush();
  }
  const { writeError } = state;
  if (writeError !== null) {
    const message = writeError instanceof Error ? writeError.message : JSON.stringify(writeError);
    try {
      await store.setStatus(jobId, 'failed', `writing results: ${message}`, ['running']);
    } catch {
      // The store itself is broken; the error below says why.
    }
    throw writeError instanceof Error ? writeError : new JobStoreError(message, { cause: writeError });
  }
  const job = await store.getJob(jobId);
  if (job === null) throw new JobError('deleted', jobId, `job ${jobId} was deleted while running`);
  if (state.cancelled || job.status === 'cancelled') return { job, verified, interrupted: true };
  // Each status below is set only over `running`: a cancel (DELETE /v1/jobs/{id}) that lands after the
  // read above stays, and the job is not queued to run again.
  if (job.doneAddresses >= job.totalAddresses) {
    const ended = await store.setStatus(jobId, 'done', null, ['running']);
    return { job: ended, verified, interrupted: ended.status !== 'done' };
  }
  if (stop.signal.aborted || options.pause?.aborted === true)
    return { job: await store.setStatus(jobId, 'queued', null, ['running']), verified, interrupted: true };
  // verifyMany ended without an answer for some key: nothing to do but say so.
  const failed = await store.setStatus(
    jobId,
    'failed',
    `${job.totalAddresses - job.doneAddresses} addresses got no result`,
    ['running'],
  );
  return { job: failed, verified, interrupted: failed.status !== 'failed' };
}
