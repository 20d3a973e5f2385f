/**
 * The pure arithmetic of politeness towards one MX host: backoff delays and batch sizes.
 */
// What a reply asks of the session lives with the other reply decisions (decide/decide.ts).
export { isClosingReply, isTooManyRecipients } from '../decide/index.js';

/**
 * RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per transaction. Servers that
 * accept fewer say so with `452 4.5.3` (RFC 5321 §4.5.3.1.10) and the scheduler learns their limit.
 */
export const DEFAULT_RECIPIENT_LIMIT = 100;

/**
 * Acceptable chance that one batch draws more refusals than the session can still afford. Postfix's
 * penalty for going over is a 1 s sleep before every later reply of the session, pipelined ones
 * included: one overspent batch costs seconds, against the one round trip a bigger batch saves. At
 * 1 % a run of 1,339 addresses at one Postfix-limited host (20 % unknown, 25 ms round trips) overspent
 * in two runs of three and took 7.5 s instead of 4.1 s; at 0.1 % it never did in our runs (4.3–4.6 s,
 * about 20 % more round trips).
 */
export const OVERSPEND_RISK = 0.001;

/** How a session's next batch is sized. */
export interface BatchLimits {
  /** The host's recipients-per-transaction limit (learned from 452 4.5.3, else the default). */
  readonly recipientLimit: number;
  /** A provider rule forces one RCPT per transaction (Outlook.com answers a second RCPT with 452). */
  readonly oneRecipient: boolean;
  /** Refused commands this session may still draw before the server slows down or disconnects. */
  readonly errorBudgetLeft: number;
  /**
   * The host's estimated share of refused RCPTs (0–1). Unknown hosts start at a pessimistic 0.5; a
   * value of 1 sizes batches so that even all-refused batches stay within the budget.
   */
  readonly refusalRate: number;
}

/**
 * P(X > k) for X ~ Binomial(n, p), by summing the lower tail (n ≤ a few hundred here).
 */
export function binomialTailAbove(n: number, p: number, k: number): number {
  if (k >= n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  let term = (1 - p) ** n; // P(X = 0)
  let cumulative = term;
  for (let i = 1; i <= k; i += 1) {
    term *= ((n - i + 1) / i) * (p / (1 - p));
    cumulative += term;
  }
  return Math.max(0, 1 - cumulative);
}

/**
 * How many RCPTs the next transaction may carry: within the server's recipient limit, and as many as
 * keep the chance of drawing more refusals than the session can still afford below `OVERSPEND_RISK`,
 * given the host's refusal rate so far. Never fewer than the budget left (even all refused, those fit),
 * at least 1 while the budget is not spent; 0 means "start a new session".
 */
export function batchSize(limits: BatchLimits): number {
  const budget = limits.errorBudgetLeft;
  if (budget <= 0) return 0;
  if (limits.oneRecipient) return 1;
  const cap = Math.max(1, limits.recipientLimit);
  // The chance of more than `budget` refusals only grows with the batch: the largest size within the
  // risk, found in steps doubling up from the budget (a host that refuses much stops just past it),
  // then by bisection. A batch is sized for every transaction, and a scan one size at a time computed
  // the binomial tail up to 91 times at a host that refuses little (about 20 µs a batch).
  let low = Math.min(cap, budget);
  let high = cap;
  let step = 1;
  while (low < high) {
    const size = step > 0 ? Math.min(high, low + step) : Math.ceil((low + high) / 2);
    if (binomialTailAbove(size, limits.refusalRate, budget) <= OVERSPEND_RISK) {
      low = size;
      if (step > 0) step *= 2;
    } else {
      high = size - 1;
      step = 0;
    }
  }
  return low;
}

/**
 * Exponential backoff: `baseMs × 2^(failures − 1)`, capped at `maxMs`. `failures` counts the host's
 * consecutive failures, the first one included.
 *
 * @example backoffDelayMs(3, 1000, 60_000) // 4000
 */
export function backoffDelayMs(failures: number, baseMs: number, maxMs: number): number {
  if (failures <= 0) return 0;
  // 2^30 is far beyond any cap; bounding the exponent keeps the arithmetic finite.
  return Math.min(maxMs, baseMs * 2 ** Math.min(failures - 1, 30));
}
