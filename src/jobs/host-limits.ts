/**
 * Learned host limits kept in the job store (docs/bulk.md, "What is kept between runs"), so that what
 * a run paid to learn at an MX host (an error budget found by one delayed reply, a `452 4.5.3`
 * recipient limit, a `421` on too many sessions) is not paid for again: by `rcpt bulk --resume` after
 * a crash, by the next job on the same store, or by a second scale-out worker taking a host another
 * one learned.
 *
 * - **What**: the scheduler's `HostLimitsRecord` per host key (the MX address, or `proxy|address`).
 * - **For how long**: `HOST_LIMITS_TTL_MS` (24 hours) after it was last learned; then it is re-learned,
 *   so a host whose configuration changed is not held to what it used to be.
 * - **Merging**: two runs that learned different values keep the more cautious one
 *   (`mergeHostLimits`).
 */
import { DEFAULT_SMTP_PORT, type VerifyOptions } from '../options.js';
import { LearnedLimits } from '../scheduler/learned-limits.js';
import type { HostLimitsFacts, HostLimitsRecord } from '../types.js';
import type { JobStore, StoredHostLimits } from './job-store.js';

/**
 * How long learned limits are used after they were last learned: a day, so a list verified over a
 * day or resumed the morning after starts from what it learned, while a host whose administrator
 * changed its limits is learned again the next day (at the price of one delayed reply at most).
 */
export const HOST_LIMITS_TTL_MS = 24 * 60 * 60 * 1_000;

/** Host keys remembered in a process's memory in front of the store, at most (then it starts over). */
const REMEMBERED_HOSTS = 50_000;

/**
 * The more cautious of two records (`LearnedLimits.merge`): a budget fixed by a penalty wins over one
 * still probed or found absent, and the smaller of two such budgets is kept; the smaller recipients
 * per transaction and the fewer sessions at once; a budget proven safe by two runs that both are
 * still probing is the larger proof (each refusal count it names was drawn without a slowdown).
 */
export function mergeHostLimits(stored: HostLimitsRecord, learned: HostLimitsRecord): HostLimitsRecord {
  const limits = LearnedLimits.from(stored);
  limits.merge(learned);
  return limits.record();
}

/** The MX address of a stored key: after the proxy name's `|`, before the namespace's space. */
export function hostOfLimitsKey(key: string): string {
  const space = key.indexOf(' ');
  const base = space === -1 ? key : key.slice(0, space);
  return base.slice(base.lastIndexOf('|') + 1);
}

/** A stored record read back: `null` when it is not one (a row written by hand, a newer rcpt). */
export function parseHostLimitsRecord(text: string): HostLimitsRecord | null {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null) return null;
    // LearnedLimits.merge ignores every field that makes no sense; this keeps only the known ones.
    return LearnedLimits.from(value as HostLimitsRecord).record();
  } catch {
    return null;
  }
}

/** What `StoredHostLimitsFacts` needs of a job store. */
export type HostLimitsStore = Pick<JobStore, 'getHostLimits' | 'putHostLimits' | 'purgeHostLimits'>;

export interface StoredHostLimitsOptions {
  /**
   * Appended to every key after a space: runs that reach other servers at the same addresses (another
   * SMTP port, other DNS servers) keep their limits apart. Default `''`: none.
   */
  readonly namespace?: string;
  /** A write that failed (the run goes on with what it knows in memory). */
  readonly onError?: (error: unknown) => void;
}

/**
 * `HostLimitsFacts` over a job store: `known()` answers from memory (the scheduler asks synchronously),
 * filled ahead by `load()`; `learned()` updates memory at once and writes to the store behind it, in
 * order. `flush()` waits for the writes.
 *
 * @example
 * const hostLimits = new StoredHostLimitsFacts(store);
 * await hostLimits.loadAll();
 * const verifier = createVerifier({ ...options, hostLimits });
 * // … runJob(store, job.id, verifier) …
 * await hostLimits.flush();
 */
export class StoredHostLimitsFacts implements HostLimitsFacts {
  readonly #store: HostLimitsStore;
  readonly #namespace: string;
  readonly #onError: (error: unknown) => void;
  readonly #known = new Map<string, StoredHostLimits>();
  /** Settles (true: stored) once the last write asked for, and every one before it, is done. */
  #writing: Promise<boolean> = Promise.resolve(true);

  constructor(store: HostLimitsStore, options: StoredHostLimitsOptions = {}) {
    this.#store = store;
    this.#namespace = options.namespace ?? '';
    this.#onError = options.onError ?? (() => undefined);
  }

  #key(key: string): string {
    return this.#namespace === '' ? key : `${key} ${this.#namespace}`;
  }

  /** Reads what the store knows of these MX addresses (`null`: of every host) into memory. */
  async load(hosts: readonly string[] | null): Promise<void> {
    const rows = await this.#store.getHostLimits(hosts);
    for (const row of rows) {
      const space = row.key.indexOf(' ');
      const namespace = space === -1 ? '' : row.key.slice(space + 1);
      if (namespace !== this.#namespace) continue;
      this.#remember(space === -1 ? row.key : row.key.slice(0, space), row);
    }
  }

  /**
   * Where a run over the whole store starts (`rcpt bulk`, `rcpt serve`): deletes the expired limits
   * of every namespace, then reads the rest of this one's into memory. A scale-out worker instead
   * `load()`s a host's as it takes it, and its sweep deletes the expired ones.
   */
  async loadAll(): Promise<void> {
    await this.#store.purgeHostLimits();
    await this.load(null);
  }

  known(key: string): HostLimitsRecord | null {
    const hit = this.#known.get(key);
    return hit !== undefined && hit.expiresAt > Date.now() ? hit.record : null;
  }

  learned(key: string, record: HostLimitsRecord): void {
    const now = Date.now();
    const before = this.known(key);
    this.#remember(key, {
      key: this.#key(key),
      record: before === null ? record : mergeHostLimits(before, record),
      learnedAt: now,
      expiresAt: now + HOST_LIMITS_TTL_MS,
    });
    this.#writing = this.#writing.then(async () => {
      try {
        // What the store holds now: this run's record merged with other runs' since.
        this.#remember(key, await this.#store.putHostLimits(this.#key(key), record));
        return true;
      } catch (error) {
        this.#onError(error);
        return false;
      }
    });
  }

  /**
   * Settles when every write asked for so far is done (or failed, and was reported): true when the
   * last of them stored its record, false when it failed (the scheduler then does not send the batch
   * that record was to tell of: `HostLimitsFacts.flush`).
   */
  flush(): Promise<boolean> {
    return this.#writing;
  }

  #remember(key: string, stored: StoredHostLimits): void {
    if (this.#known.size >= REMEMBERED_HOSTS && !this.#known.has(key)) this.#known.clear();
    this.#known.set(key, stored);
  }
}

/**
 * The learned host limits of a run verifying with these options: runs against another SMTP port (a
 * test world on loopback) keep theirs apart from port 25's. `onError` hears of the first write that
 * failed only (the later ones are the same store failing again). Used by `rcpt bulk` and `rcpt serve`,
 * which then `loadAll()`.
 */
export function storedHostLimitsFor(
  store: HostLimitsStore,
  options: Pick<VerifyOptions, 'smtpPort'>,
  onError: (error: unknown) => void,
): StoredHostLimitsFacts {
  const port = options.smtpPort ?? DEFAULT_SMTP_PORT;
  let reported = false;
  return new StoredHostLimitsFacts(store, {
    namespace: port === DEFAULT_SMTP_PORT ? '' : `port ${port}`,
    onError: (error) => {
      if (reported) return;
      reported = true;
      onError(error);
    },
  });
}
