/**
 * `rcpt bulk`'s progress bar on a terminal (cli-progress), with an ETA of its own. cli-progress
 * estimates from the last results and keeps that figure while none arrive, so during a greylisting
 * wait (the address is asked again after `--greylist-wait`) or a slow server it read "ETA 1s" for as
 * long as the wait lasted. Here the ETA is worked out on every redraw from the whole run's rate, and
 * once no result has come for longer than it promised, the bar says it is waiting and for how long.
 * A host whose window of RCPTs per minute is full (`--host-rate`, `rcpt:host-rate`) still has
 * addresses to verify: the ETA is never shorter than its wait, and a pause says so.
 */
import { SingleBar } from 'cli-progress';

import type { Verdict } from '../index.js';

/** Redraws per second: enough to look alive, cheap on a slow terminal. */
const PROGRESS_FPS = 5;
/** Below this the estimate is not contradicted by a pause: results come in bursts. */
const MIN_PATIENCE_MS = 1_000;

function seconds(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  if (total < 60) return `${total}s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) return `${minutes}m${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/**
 * The ETA text: `remaining` addresses at the rate of this run (`doneThisRun` in `elapsedMs`), or, when
 * no result has come for longer than that (`sinceLastMs`), how long the run has been waiting.
 *
 * @example
 * etaText({ remaining: 1, doneThisRun: 99, elapsedMs: 2_000, sinceLastMs: 12_000 }) // '? (no result for 12s: waiting on a server)'
 */
export function etaText(progress: {
  readonly remaining: number;
  readonly doneThisRun: number;
  readonly elapsedMs: number;
  readonly sinceLastMs: number;
  /** How long a host with addresses left still waits for room under its RCPTs-per-minute ceiling. */
  readonly rateWaitMs?: number;
}): string {
  const { remaining, doneThisRun, elapsedMs, sinceLastMs } = progress;
  const rateWaitMs = progress.rateWaitMs ?? 0;
  if (remaining <= 0) return '0s';
  const waiting =
    rateWaitMs > 0
      ? `? (no result for ${seconds(sinceLastMs)}: a host is at its RCPTs-per-minute ceiling, room in ${seconds(rateWaitMs)})`
      : `? (no result for ${seconds(sinceLastMs)}: waiting on a server)`;
  if (doneThisRun <= 0) return sinceLastMs >= MIN_PATIENCE_MS ? waiting : '?';
  const estimate = (remaining * elapsedMs) / doneThisRun;
  if (sinceLastMs > Math.max(estimate, MIN_PATIENCE_MS)) return waiting;
  return seconds(Math.max(estimate - sinceLastMs, rateWaitMs, 0));
}

/**
 * A cli-progress bar on `stream` as rcpt draws its bars (`rcpt bulk`'s, `rcpt explain --bounces`'):
 * its redraw rate, block characters and width, left on screen when done; `format` is what it shows.
 */
export function progressBar(stream: NodeJS.WritableStream, format: string): SingleBar {
  return new SingleBar({
    stream,
    fps: PROGRESS_FPS,
    hideCursor: true,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    barsize: 30,
    clearOnComplete: false,
    format,
  });
}

export interface ProgressBar {
  update(done: number, counts: Readonly<Record<Verdict, number>>): void;
  /** A host with addresses left waits `waitMs` for room under its ceiling on RCPTs per minute. */
  rateWait(waitMs: number): void;
  stop(): void;
}

/** Starts a bar on `stream` at `done` of `total`. */
export function startProgressBar(
  stream: NodeJS.WritableStream,
  total: number,
  done: number,
  counts: Readonly<Record<Verdict, number>>,
  now: () => number = () => performance.now(),
): ProgressBar {
  const bar = progressBar(
    stream,
    '{bar} {value}/{total} addresses | {rate}/s | ETA {wait_eta} | {deliverable} deliverable, {undeliverable} undeliverable, {risky} risky, {unknown} unknown',
  );
  const started = now();
  const startDone = done;
  let current = done;
  let lastResultAt = started;
  /** Until when a host with addresses left waits for room under its ceiling (the longest such wait). */
  let rateUntil = 0;
  const payload = () => {
    const elapsedMs = now() - started;
    return {
      rate: elapsedMs > 0 ? ((current - startDone) / (elapsedMs / 1000)).toFixed(1) : '0',
      wait_eta: etaText({
        remaining: total - current,
        doneThisRun: current - startDone,
        elapsedMs: lastResultAt - started,
        sinceLastMs: now() - lastResultAt,
        rateWaitMs: Math.max(0, rateUntil - now()),
      }),
    };
  };
  bar.start(total, done, { ...counts, ...payload() });
  // A redraw without a result still moves the ETA on.
  const tick = setInterval(() => {
    bar.update(payload());
  }, 1000 / PROGRESS_FPS);
  tick.unref();
  return {
    update(next, nextCounts) {
      if (next !== current) lastResultAt = now();
      current = next;
      bar.update(next, { ...nextCounts, ...payload() });
    },
    rateWait(waitMs) {
      rateUntil = Math.max(rateUntil, now() + waitMs);
    },
    stop() {
      clearInterval(tick);
      bar.stop();
    },
  };
}
