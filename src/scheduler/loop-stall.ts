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
 *
 * What a transaction's timing is told is how much our stalls can have delayed its reply, not how long
 * the loop stalled in all: a reply waits on our process only where it passes through it, and a stall
 * elsewhere in the interval delays it by nothing (a server's one-second penalty sleep ends on time
 * however often the loop stalled meanwhile). On a loaded machine (2 cores, load 12–20) an idle second
 * holds 100–800 ms of short stalls in all, the longest 30–370 ms each; counting them all judged a
 * one-second penalty "inconclusive", and a later session crossed the host's limit again.
 */
import { performance } from 'node:perf_hooks';

/** Heartbeat period, in milliseconds. */
export const BEAT_MS = 10;
/** Lateness of a beat below this is timer noise, not a stall. */
const NOISE_MS = 2;
/** Stalls kept, newest last: far more than fit in any interval that is still being measured. */
const KEPT = 1024;
/**
 * The stalls that can delay one reply: the one when the command is sent, the one when the reply is
 * read, and one in between for a server inside this process (tests, demos), which reads the command
 * and runs its timers on this same loop. Each holds the reply for as long as it lasts, at most.
 */
export const STALLS_PER_REPLY = 3;

export interface Stall {
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

  /**
   * Milliseconds by which the loop's stalls since `since` (one going on now included) can have
   * delayed a reply read `now`: `delayBound()` of them.
   */
  stalledSince(since: number, now = performance.now()): number {
    if (this.#timer === null) return 0;
    const due = this.#lastBeat + this.#beatMs;
    if (now - due > NOISE_MS) keepLongest(overlapOf(due, now, since, now));
    // Stalls are kept in time order, none overlapping the next: those that ended by `since` cannot
    // count, and the rest are the newest (up to `KEPT` are kept; a transaction spans a few).
    const stalls = this.#stalls;
    for (let i = stalls.length - 1; i >= 0; i -= 1) {
      const stall = stalls[i] as Stall;
      if (stall.to <= since) break;
      keepLongest(overlapOf(stall.from, stall.to, since, now));
    }
    return takeLongest();
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

/**
 * How much `stalls` can have delayed one reply sent at `from` and read at `to`: the
 * `STALLS_PER_REPLY` longest of them within the interval, added up (the parts inside it only).
 */
export function delayBound(stalls: readonly Stall[], from: number, to: number): number {
  for (let index = 0; index < stalls.length; index++) {
    const stall = stalls[index] as Stall;
    keepLongest(overlapOf(stall.from, stall.to, from, to));
  }
  return takeLongest();
}

/**
 * The longest overlaps kept so far, longest first, for the one bound being worked out (the work is
 * synchronous): one array for the process instead of one sorted again per stall (a transaction's
 * timing reads every stall since it was sent, each 10 ms beat on a loaded machine).
 */
const longest = new Float64Array(STALLS_PER_REPLY);

function keepLongest(ms: number): void {
  if (ms <= 0) return;
  let i = longest.length - 1;
  if (ms <= (longest[i] as number)) return;
  for (; i > 0 && ms > (longest[i - 1] as number); i -= 1) longest[i] = longest[i - 1] as number;
  longest[i] = ms;
}

/** The sum of the kept overlaps, longest first, and a fresh start for the next bound. */
function takeLongest(): number {
  let sum = 0;
  for (let index = 0; index < longest.length; index++) sum += longest[index] as number;
  longest.fill(0);
  return sum;
}

function overlapOf(stallFrom: number, stallTo: number, from: number, to: number): number {
  return Math.max(0, Math.min(stallTo, to) - Math.max(stallFrom, from));
}

/** The process's one watch: every session exploring a host's budget shares its heartbeat. */
export const loopStalls = new LoopStallWatch();
