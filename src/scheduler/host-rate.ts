/**
 * The politeness ceiling on RCPTs per minute at one MX host address (`hostRate`, docs/bulk.md,
 * "RCPTs per minute"): a sliding window over the last 60 seconds, in which a host never receives more
 * RCPTs than its ceiling, whichever session, run or worker sends them.
 *
 * Exact by construction: RCPTs are granted before they are sent, and a grant counts against the window
 * from the moment it is made until a full window after it is settled, which happens once the replies
 * are read (so after the server received every RCPT of it). For any 60 s in which the server counted
 * RCPTs, the last grant among them was made while all the others still counted: the window never holds
 * more than the ceiling.
 *
 * `HostRateWindow` keeps the window in memory (one process: `rcpt bulk`, `rcpt serve`); scale-out
 * workers supply a `HostRateLimiter` that keeps it in PostgreSQL (src/jobs/postgres/host-rate.ts).
 */
import type { ProviderRule } from '../providers/index.js';
import type { HostRateLimiter, RateGrant } from '../types.js';

export type { HostRateLimiter, RateGrant } from '../types.js';

/** The window the ceiling counts over: RCPTs per minute. */
export const HOST_RATE_WINDOW_MS = 60_000;
/** Hosts kept before the first sweep of those with nothing left in the window. */
const MIN_SWEEP = 64;

/**
 * The ceiling at a host: the run's `hostRate` when set (0: none at any host), else the provider rule's
 * default (`maxRcptsPerMinute`), else none (`null`).
 *
 * @example rateCeiling(null, { maxRcptsPerMinute: 60 }) // 60
 */
export function rateCeiling(
  hostRate: number | null,
  provider: Pick<ProviderRule, 'maxRcptsPerMinute'> | null,
): number | null {
  if (hostRate !== null) return hostRate > 0 ? hostRate : null;
  return provider?.maxRcptsPerMinute ?? null;
}

/**
 * Milliseconds until one more RCPT fits under `perMinute`, given the settled RCPTs of the window
 * (oldest first, as `[settledAt, count]`) and `held` in flight, at `now`. A pure function, shared with
 * the PostgreSQL limiter.
 */
export function rateWaitMs(
  settled: readonly (readonly [number, number])[],
  held: number,
  perMinute: number,
  now: number,
  windowMs: number,
): number {
  let used = held;
  for (const [, count] of settled) used += count;
  let over = used - (perMinute - 1);
  if (over <= 0) return 0;
  for (const [at, count] of settled) {
    over -= count;
    if (over <= 0) return Math.max(1, at + windowMs - now);
  }
  // Held RCPTs alone fill the window: they count a full window from when they are settled.
  return windowMs;
}

interface HostWindow {
  /** Settled grants in the window, oldest first, as `[settledAt, count]`. */
  readonly settled: [number, number][];
  /** RCPTs granted and not settled yet. */
  held: number;
}

export interface HostRateWindowOptions {
  /** Default `HOST_RATE_WINDOW_MS`; tests shorten it. */
  readonly windowMs?: number;
  /** A monotonic clock, in milliseconds; default `performance.now`. */
  readonly now?: () => number;
}

/**
 * The window of each host address in one process: the verifier's default `hostRateLimiter`.
 *
 * @example
 * const rate = new HostRateWindow();
 * const grant = rate.reserve('192.0.2.25', 60, 10); // grant.count ≤ 10
 * grant.settle(grant.count); // once the RCPTs are answered
 */
export class HostRateWindow implements HostRateLimiter {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #hosts = new Map<string, HostWindow>();
  #sweepAt = MIN_SWEEP;

  constructor(options: HostRateWindowOptions = {}) {
    this.#windowMs = options.windowMs ?? HOST_RATE_WINDOW_MS;
    this.#now = options.now ?? (() => performance.now());
  }

  reserve(host: string, perMinute: number, wanted: number): RateGrant {
    const window = this.#window(host);
    const now = this.#now();
    this.#expire(window, now);
    let used = window.held;
    for (const [, count] of window.settled) used += count;
    const count = Math.max(0, Math.min(wanted, perMinute - used));
    if (count === 0) {
      return {
        count,
        waitMs: rateWaitMs(window.settled, window.held, perMinute, now, this.#windowMs),
        settle: () => undefined,
      };
    }
    window.held += count;
    let open = true;
    return {
      count,
      waitMs: 0,
      settle: (sent) => {
        if (!open) return;
        open = false;
        window.held -= count;
        const kept = Math.max(0, Math.min(count, sent));
        if (kept > 0) this.#record(window, kept);
        else this.#forgetIfIdle(host, window);
      },
    };
  }

  /** RCPTs counted at `host` now: settled within the window, and in flight. */
  used(host: string): number {
    const window = this.#hosts.get(host);
    if (window === undefined) return 0;
    this.#expire(window, this.#now());
    return window.settled.reduce((sum, [, count]) => sum + count, window.held);
  }

  #record(window: HostWindow, count: number): void {
    const now = this.#now();
    const last = window.settled.at(-1);
    // A clock that did not move (or moved back) merges into the last entry: the list stays ordered.
    if (last !== undefined && last[0] >= now) last[1] += count;
    else window.settled.push([now, count]);
  }

  #window(host: string): HostWindow {
    let window = this.#hosts.get(host);
    if (window === undefined) {
      if (this.#hosts.size >= this.#sweepAt) this.#sweep();
      window = { settled: [], held: 0 };
      this.#hosts.set(host, window);
    }
    return window;
  }

  #expire(window: HostWindow, now: number): void {
    const oldest = now - this.#windowMs;
    let expired = 0;
    while (expired < window.settled.length && (window.settled[expired]?.[0] ?? 0) <= oldest) expired += 1;
    if (expired > 0) window.settled.splice(0, expired);
  }

  /** Drops the hosts with nothing in the window and nothing in flight (a long-lived server). */
  #sweep(): void {
    const now = this.#now();
    for (const [host, window] of this.#hosts) {
      this.#expire(window, now);
      this.#forgetIfIdle(host, window);
    }
    this.#sweepAt = Math.max(MIN_SWEEP, this.#hosts.size * 2);
  }

  #forgetIfIdle(host: string, window: HostWindow): void {
    if (window.settled.length === 0 && window.held === 0) this.#hosts.delete(host);
  }
}
