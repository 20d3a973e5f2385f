/**
 * How long rcpt's own event loop could not run over an interval: a reply read late because the loop
 * was busy (a loaded machine, garbage collection, a big batch of database writes) or the process was
 * not scheduled must not be taken for the server's delay (docs/bulk.md, "How rcpt learns a host's
 * limits").
 *
 * A heartbeat timer beats every `BEAT_MS` while someone is watching (and not otherwise: it costs
 * nothing between explorations); a beat that comes late by more than `NOISE_MS` records a stall from
 * when it was due until it ran. A stall still going on when asked (the loop ran a socket read before
 * the timer's turn) counts up to now. The timer is unref'd: it never keeps the process alive.
 */
import { performance } from 'node:perf_hooks';

/** Heartbeat period, in milliseconds. */
export const BEAT_MS = 10;
/** Lateness of a beat below this is timer noise, not a stall. */
const NOISE_MS = 2;
/** Stalls kept, newest last: far more than fit in any interval that is still being measured. */
const KEPT = 1024;

interface Stall {
  readonly from: number;
  readonly to: number;
}

export class LoopStallWatch {
  readonly #beatMs: number;
  #timer: NodeJS.Timeout | null = null;
  #watchers = 0;
  #lastBeat = 0;
  readonly #stalls: Stall[] = [];

  constructor(beatMs = BEAT_MS) {
    this.#beatMs = beatMs;
  }

  /** Starts watching (the heartbeat runs while anyone watches); returns `performance.now()`. */
  watch(): number {
    this.#watchers += 1;
    const now = performance.now();
    if (this.#timer === null) {
      this.#lastBeat = now;
      this.#timer = setInterval(this.#beat, this.#beatMs);
      this.#timer.unref();
    }
    return now;
  }

  /** Stops one `watch()`; the heartbeat stops with the last. */
  unwatch(): void {
    this.#watchers = Math.max(0, this.#watchers - 1);
    if (this.#watchers > 0 || this.#timer === null) return;
    clearInterval(this.#timer);
    this.#timer = null;
    this.#stalls.length = 0;
  }

  /** Milliseconds since `since` during which the loop was stalled (one going on now included). */
  stalledSince(since: number, now = performance.now()): number {
    if (this.#timer === null) return 0;
    let total = 0;
    for (const stall of this.#stalls) total += overlap(stall, since, now);
    const due = this.#lastBeat + this.#beatMs;
    if (now - due > NOISE_MS) total += overlap({ from: due, to: now }, since, now);
    return total;
  }

  readonly #beat = (): void => {
    const now = performance.now();
    const due = this.#lastBeat + this.#beatMs;
    this.#lastBeat = now;
    if (now - due <= NOISE_MS) return;
    this.#stalls.push({ from: due, to: now });
    if (this.#stalls.length > KEPT) this.#stalls.shift();
  };
}

function overlap(stall: Stall, from: number, to: number): number {
  return Math.max(0, Math.min(stall.to, to) - Math.max(stall.from, from));
}

/** The process's one watch: every session exploring a host's budget shares its heartbeat. */
export const loopStalls = new LoopStallWatch();
