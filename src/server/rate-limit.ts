/**
 * Per-key rate limits as token buckets: each key may spend `burst` tokens at once, refilled at
 * `perMinute` a minute. A synchronous verification costs one token per address; other API calls one.
 * In process memory: one `rcpt serve` process is one limit (scale-out workers have their own).
 */

export interface RateLimitOptions {
  /** Tokens added per minute per key. */
  readonly perMinute: number;
  /** Bucket size: the most a key can spend at once. Default: `perMinute`, at most 60. */
  readonly burst?: number;
}

export type RateDecision =
  | { readonly allowed: true; readonly remaining: number }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes `cost` tokens from `key`'s bucket if it holds them. */
  take(key: string, cost?: number): RateDecision;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** Buckets idle this long are full again anyway: drop them so memory follows active keys only. */
const IDLE_BUCKET_SWEEP = 1_000;

/** Creates a limiter; `now` is injectable for tests of the arithmetic. */
export function createRateLimiter(options: RateLimitOptions, now: () => number = Date.now): RateLimiter {
  const perMs = options.perMinute / 60_000;
  const burst = options.burst ?? Math.max(1, Math.min(options.perMinute, 60));
  const buckets = new Map<string, Bucket>();
  let calls = 0;
  return {
    take(key, cost = 1) {
      const time = now();
      if (++calls % IDLE_BUCKET_SWEEP === 0) {
        for (const [name, bucket] of buckets) {
          if (bucket.tokens + (time - bucket.updated) * perMs >= burst) buckets.delete(name);
        }
      }
      const bucket = buckets.get(key) ?? { tokens: burst, updated: time };
      bucket.tokens = Math.min(burst, bucket.tokens + (time - bucket.updated) * perMs);
      bucket.updated = time;
      buckets.set(key, bucket);
      // A request costing more than the bucket holds could never pass: let it through when the bucket
      // is full, so a large allowed batch is limited by the batch cap rather than refused forever.
      const effective = Math.min(cost, burst);
      if (bucket.tokens >= effective) {
        bucket.tokens -= effective;
        return { allowed: true, remaining: Math.floor(bucket.tokens) };
      }
      const retryAfterSeconds = Math.max(1, Math.ceil((effective - bucket.tokens) / perMs / 1000));
      return { allowed: false, retryAfterSeconds };
    },
  };
}
