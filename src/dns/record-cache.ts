/**
 * The resolver's cache of record sets: each kept for its TTL, capped by a maximum, and the oldest
 * dropped first when the cache is full.
 */
export class RecordCache<T> {
  readonly #entries = new Map<string, { readonly value: T; readonly expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;
  readonly #now: () => number;
  /** Lookups answered from the cache. */
  hits = 0;
  /** Bumped whenever an entry leaves or is replaced (see `unchangedSince()`). */
  #generation = 0;

  /**
   * @param maxEntries Record sets kept, at least 1.
   * @param maxTtlMs Upper bound on any entry's life, in milliseconds; 0 caches nothing.
   * @param now The clock, in milliseconds (`Date.now`).
   */
  constructor(maxEntries: number, maxTtlMs: number, now: () => number = Date.now) {
    this.#maxEntries = Math.max(1, maxEntries);
    this.#maxTtlMs = Math.max(0, maxTtlMs);
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value cached under `key` and not yet expired (counted in `hits`), else `undefined`. */
  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.#now()) {
      this.hits++;
      return entry.value;
    }
    this.#entries.delete(key);
    this.#generation++;
    return undefined;
  }

  /** The value cached under `key` and not yet expired, without counting a hit or dropping anything. */
  peek(key: string): T | undefined {
    return this.peekEntry(key)?.value;
  }

  /** `peek()` with the entry's expiry, in milliseconds on the cache's clock. */
  peekEntry(key: string): { readonly value: T; readonly expiresAt: number } | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAt > this.#now() ? entry : undefined;
  }

  /** Where the cache stands now, for `unchangedSince()`. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * True when no entry has left the cache or been replaced since it stood at `generation`, and `until`
   * (an expiry, on the cache's clock) has not come: every entry read then and expiring at `until` or
   * later is still there, unchanged. One check instead of one lookup per entry.
   */
  unchangedSince(generation: number, until: number): boolean {
    return this.#generation === generation && until > this.#now();
  }

  /** Counts `count` lookups answered from the cache without reading it (see `unchangedSince()`). */
  countHits(count: number): void {
    this.hits += count;
  }

  /** Keeps `value` for `ttlSeconds` (capped); a TTL of `null` or 0 keeps nothing. */
  remember(key: string, value: T, ttlSeconds: number | null): void {
    // TTL 0 means "use for this transaction only" (RFC 1035 §3.2.1); no TTL means no caching
    // (RFC 2308 §5: a negative answer without SOA "SHOULD NOT be cached").
    if (ttlSeconds === null || ttlSeconds <= 0 || this.#maxTtlMs === 0) return;
    const ttlMs = Math.min(ttlSeconds * 1000, this.#maxTtlMs);
    if (this.#entries.delete(key)) this.#generation++;
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) {
        this.#entries.delete(oldest.value);
        this.#generation++;
      }
    }
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
  }

  clear(): void {
    this.#entries.clear();
    this.#generation++;
  }
}
