/**
 * Following a job that scale-out workers verify: `rcpt bulk --db postgres://…` submits its job and
 * watches it here instead of running it in-process. The job keeps going on the workers if the follower
 * stops; following it again (`--resume`) picks up where it is.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { RunOutcome, RunProgress } from '../run-job.js';
import type { ScaleOut } from './scale-out.js';
import { JobError, noSuchJob } from '../errors.js';

/** How often the follower reads the job's progress. */
export const DEFAULT_FOLLOW_POLL_MS = 500;

export interface FollowJobOptions {
  /** Stops following (the workers carry on); the outcome is then `interrupted`. */
  readonly signal?: AbortSignal;
  /** Between progress reads, in milliseconds. Default 500. */
  readonly pollMs?: number;
  /** Called after each read with the job's progress (counts over all its results). */
  readonly onProgress?: (progress: RunProgress) => void;
}

/**
 * Submits the job to the workers again while nobody has started it (status `queued`), then waits
 * until it is `done`, `cancelled` or `failed`, or the signal aborts. Ingesting through the cluster's
 * store already submitted it; the second entry is planned at most once, and it covers a job whose
 * entry is gone (stored by an earlier rcpt that was killed before submitting, or left untaken past
 * pg-boss's retention of 14 days).
 *
 * @example
 * const cluster = await openScaleOut(url);
 * const { job } = await followJob(cluster, jobId, { onProgress: ({ done, total }) => console.log(done, total) });
 */
export async function followJob(
  cluster: ScaleOut,
  jobId: string,
  options: FollowJobOptions = {},
): Promise<RunOutcome> {
  const initial = await cluster.store.getJob(jobId);
  if (initial === null) throw noSuchJob(jobId);
  if (!initial.ingested) {
    throw new JobError('not_ingested', jobId, `job ${jobId}: its input is not completely stored`);
  }
  if (initial.status === 'queued') await cluster.submit(jobId);
  const pollMs = options.pollMs ?? DEFAULT_FOLLOW_POLL_MS;
  for (;;) {
    const job = await cluster.store.getJob(jobId);
    if (job === null) throw new JobError('deleted', jobId, `job ${jobId} was deleted while it ran`);
    const progress = await cluster.store.getProgress(jobId);
    options.onProgress?.({
      done: progress.doneAddresses,
      total: progress.totalAddresses,
      counts: progress.counts,
    });
    const verified = job.doneAddresses - initial.doneAddresses;
    if (job.status === 'done' || job.status === 'failed') return { job, verified, interrupted: false };
    if (job.status === 'cancelled') return { job, verified, interrupted: true };
    if (options.signal?.aborted === true) return { job, verified, interrupted: true };
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {}).catch(() => undefined);
  }
}
