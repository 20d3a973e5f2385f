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
    return undefined;
  }

  /** The value cached under `key` and not yet expired, without counting a hit or dropping anything. */
  peek(key: string): T | undefined {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.expiresAt > this.#now() ? entry.value : undefined;
  }

  /** Keeps `value` for `ttlSeconds` (capped); a TTL of `null` or 0 keeps nothing. */
  remember(key: string, value: T, ttlSeconds: number | null): void {
    // TTL 0 means "use for this transaction only" (RFC 1035 §3.2.1); no TTL means no caching
    // (RFC 2308 §5: a negative answer without SOA "SHOULD NOT be cached").
    if (ttlSeconds === null || ttlSeconds <= 0 || this.#maxTtlMs === 0) return;
    const ttlMs = Math.min(ttlSeconds * 1000, this.#maxTtlMs);
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
  }

  clear(): void {
    this.#entries.clear();
  }
}
