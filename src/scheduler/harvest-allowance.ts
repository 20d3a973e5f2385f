/**
 * The hour's allowance of refused RCPTs at gateways that count them per client: Cisco IronPort's
 * Directory Harvest Attack Prevention allows 25 invalid recipients an hour per remote host by default,
 * then drops the connection or, worse, silently accepts every recipient (Cisco AsyncOS, Directory Harvest Attack Prevention), so that from
 * then on a 250 proves nothing and the sender is taken for a harvester.
 *
 * One ledger per verifier, shared by `verify()` and the bulk scheduler. Both reserve the RCPTs they are
 * about to send (each may be refused, once) before sending them, and give the reservation back with the
 * refusals they actually drew, so that neither path, nor both together, can send more RCPTs that might
 * be refused than the hour has left: the same idea as a session's error budget (`CAUTIOUS_ERROR_BUDGET`),
 * across sessions and an hour. Hosts are keyed by address, as the gateway counts per host.
 */

/** The window over which gateways such as IronPort count refused recipients (per hour). */
export const HARVEST_WINDOW_MS = 3_600_000;
/** Gates kept before the first sweep of those whose refusals have all left the window. */
const MIN_SWEEP = 64;

interface Gate {
  /** Refused RCPTs allowed per window (the provider rule's `maxInvalidRecipientsPerHour`). */
  limit: number;
  /** Times of the last `limit` refusals, oldest first (older ones cannot change any answer). */
  readonly times: number[];
  /** RCPTs reserved and not yet given back. */
  reserved: number;
  /** Callbacks waiting for a reservation to come back. */
  readonly waiters: Set<() => void>;
}

/** RCPTs taken from a host's allowance, until their replies are counted. */
export interface Reservation {
  /** RCPTs granted (all those asked for at a host without a limit). */
  readonly count: number;
  /** Gives them back and wakes whoever waits for them; later calls do nothing. */
  release(): void;
}

const UNLIMITED_RELEASE = (): void => undefined;

export interface HarvestAllowanceOptions {
  /** Default `HARVEST_WINDOW_MS`. */
  readonly windowMs?: number;
  /** The clock, in epoch milliseconds; default `Date.now`. */
  readonly now?: () => number;
}

/** The ledger of refused RCPTs per host address, for hosts whose provider rule limits them. */
export class HarvestAllowance {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #gates = new Map<string, Gate>();
  /** Gates held when idle ones were last swept out; the next sweep waits for twice as many. */
  #sweepAt = MIN_SWEEP;

  constructor(options: HarvestAllowanceOptions = {}) {
    this.#windowMs = options.windowMs ?? HARVEST_WINDOW_MS;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Takes up to `wanted` RCPTs at `ip` from what is left of the hour's allowance (refusals of the last
   * hour and reservations in flight both count against it), and none if fewer than `atLeast` are left;
   * the reservation must be released once the replies are counted with `record()`. With no `limit` (no
   * rule matched) and none learned for `ip` earlier (from a banner), everything is granted, nothing held.
   */
  reserve(ip: string, limit: number | null, wanted: number, atLeast = 1): Reservation {
    const gate = this.#gate(ip, limit);
    if (gate === null) return { count: wanted, release: UNLIMITED_RELEASE };
    const left = gate.limit - gate.times.length - gate.reserved;
    // Nothing is taken and given back for nothing: a release wakes the waiters, and waiters waking
    // each other with empty releases would spin.
    const count = left >= atLeast ? Math.min(wanted, left) : 0;
    gate.reserved += count;
    let held = count > 0;
    return {
      count,
      release: () => {
        if (!held) return;
        held = false;
        this.#release(ip, gate, count);
      },
    };
  }

  #release(ip: string, gate: Gate, count: number): void {
    gate.reserved -= count;
    const waiters = [...gate.waiters];
    gate.waiters.clear();
    for (const wake of waiters) wake();
    this.#forgetIfIdle(ip, gate);
  }

  /**
   * Counts `refused` RCPTs refused at `ip` now. `limit` is the rule matched on the host's name or
   * banner; a limit learned from a banner is remembered for the next reservation at that address.
   */
  record(ip: string, limit: number | null, refused: number): void {
    if (refused <= 0) return;
    const gate = this.#gate(ip, limit);
    if (gate === null) return;
    const now = this.#now();
    for (let i = 0; i < refused; i += 1) gate.times.push(now);
    if (gate.times.length > gate.limit) gate.times.splice(0, gate.times.length - gate.limit);
  }

  /**
   * The hour's allowance at `ip` is spent: refusals of the last hour reach the limit. (Reservations in
   * flight do not make it spent: they may come back unrefused.)
   */
  isSpent(ip: string, limit: number | null = null): boolean {
    const gate = this.#gate(ip, limit);
    return gate !== null && gate.times.length >= gate.limit;
  }

  /** RCPTs reserved at `ip` and not yet given back, by every caller. */
  inFlight(ip: string): number {
    return this.#gates.get(ip)?.reserved ?? 0;
  }

  /**
   * When `wanted` RCPTs at `ip` fit in the allowance again (epoch milliseconds), counting refusals
   * only; now if they fit already.
   */
  freesAt(ip: string, wanted = 1): number {
    const now = this.#now();
    const gate = this.#gate(ip, null);
    if (gate === null) return now;
    const drop = gate.times.length - (gate.limit - wanted);
    if (drop <= 0) return now;
    const time = gate.times[Math.min(drop, gate.times.length) - 1];
    return time === undefined ? now : time + this.#windowMs;
  }

  /** Resolves when a reservation at `ip` comes back, or at once when `signal` has fired or fires. */
  released(ip: string, signal: AbortSignal): Promise<void> {
    const gate = this.#gates.get(ip);
    if (gate === undefined || gate.reserved === 0 || signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        gate.waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      gate.waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  /** The gate at `ip` with refusals older than the window dropped, or null when `ip` has no limit. */
  #gate(ip: string, limit: number | null): Gate | null {
    let gate = this.#gates.get(ip);
    if (gate === undefined) {
      if (limit === null) return null;
      if (this.#gates.size >= this.#sweepAt) this.#sweep();
      gate = { limit, times: [], reserved: 0, waiters: new Set() };
      this.#gates.set(ip, gate);
      return gate;
    }
    if (limit !== null) gate.limit = limit;
    const oldest = this.#now() - this.#windowMs;
    let expired = 0;
    while (expired < gate.times.length && (gate.times[expired] ?? 0) <= oldest) expired += 1;
    if (expired > 0) gate.times.splice(0, expired);
    return gate;
  }

  /** Drops the gates with nothing in the window and nothing in flight (a long-lived server). */
  #sweep(): void {
    for (const [ip, gate] of this.#gates) {
      this.#gate(ip, null); // drops refusals that left the window
      this.#forgetIfIdle(ip, gate);
    }
    this.#sweepAt = Math.max(MIN_SWEEP, this.#gates.size * 2);
  }

  /** Nothing to remember about `ip` any more: memory follows the gateways of the last hour. */
  #forgetIfIdle(ip: string, gate: Gate): void {
    if (gate.times.length === 0 && gate.reserved === 0 && gate.waiters.size === 0) this.#gates.delete(ip);
  }
}
