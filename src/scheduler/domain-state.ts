/**
 * Per-domain state of a run: whether the domain's catch-all probe (one random address, once per domain
 * per run, docs/verdicts.md "Catch-all domains") is queued or answered, and the addresses that have
 * their own RCPT reply and wait for it. Dropped when no job of the domain is alive (bounded memory).
 */
import type { SmtpReplyInfo } from '../types.js';

/** `idle`: no probe queued; `queued`: a probe is queued or in a session; `done`/`failed`: settled. */
export type CatchAllStatus = 'idle' | 'queued' | 'done' | 'failed';

/**
 * `Parked`: what waits for the catch-all reply (the scheduler's `ParkedAnswer`, an address with its
 * RCPT reply); a parameter, so that this module needs nothing of `job.ts`, which needs it.
 */
export class DomainState<Parked> {
  readonly name: string;
  #status: CatchAllStatus = 'idle';
  #reply: SmtpReplyInfo | null = null;
  readonly #parked: Parked[] = [];
  /** Jobs alive for this domain. */
  refs = 0;

  constructor(name: string) {
    this.name = name;
  }

  get status(): CatchAllStatus {
    return this.#status;
  }

  /** The random address's reply once the probe is done, else `null`. */
  get catchAllReply(): SmtpReplyInfo | null {
    return this.#status === 'done' ? this.#reply : null;
  }

  /** True while the catch-all answer may still come (queued, or not even asked yet). */
  get isPending(): boolean {
    return this.#status === 'queued' || this.#status === 'idle';
  }

  /** Marks the probe queued; returns false when it already was (or is settled): once per run. */
  claimProbe(): boolean {
    if (this.#status !== 'idle') return false;
    this.#status = 'queued';
    return true;
  }

  park(answer: Parked): void {
    this.#parked.push(answer);
  }

  /** Records the probe's reply (`null`: it got none) and hands back the addresses waiting for it. */
  settle(reply: SmtpReplyInfo | null): Parked[] {
    this.#status = reply === null ? 'failed' : 'done';
    this.#reply = reply;
    return this.#parked.splice(0);
  }
}

/** The domains with live jobs, each dropped when its last job ends. */
export class DomainTable<Parked> {
  readonly #domains = new Map<string, DomainState<Parked>>();

  /** The domain's state, created on first use; the caller holds a reference until `release()`. */
  acquire(name: string): DomainState<Parked> {
    let state = this.#domains.get(name);
    if (state === undefined) {
      state = new DomainState(name);
      this.#domains.set(name, state);
    }
    state.refs += 1;
    return state;
  }

  release(state: DomainState<Parked>): void {
    state.refs -= 1;
    if (state.refs === 0) this.#domains.delete(state.name);
  }

  get size(): number {
    return this.#domains.size;
  }
}
