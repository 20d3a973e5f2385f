/**
 * How many of a host's refused RCPTs the next batch may draw, for sizing batches within the error
 * budget (docs/bulk.md, "How rcpt learns a host's limits"). Refusals are not spread evenly over a
 * list: a domain that is gone (a company renamed, a list of bounced addresses) refuses every address
 * of it, and the addresses of a domain often come together. A host that accepted many valid
 * addresses has a low refusal rate, and a batch sized from that rate alone would carry two dozen of
 * a dead domain's addresses past a budget of 9 (each reply after Postfix's 10th refusal a second
 * late). So the odds are a mixture, per domain of the batch:
 *
 * - a domain the host has accepted an address of is alive: its addresses are refused independently,
 *   at the host's refusal rate (a Laplace estimate with a pessimistic prior, 2 refused of 4);
 * - any other domain may be dead (every address refused) with the chance that a domain at this host
 *   is (the domains seen refusing and never accepting, of all seen, with a prior of 1 of 2), raised
 *   by the refusals it drew already (Bayes: a dead domain refuses each, a live one at the host's
 *   rate), or else alive.
 *
 * The batch is the longest front of the queue whose chance of more refusals than the budget left is
 * at most `OVERSPEND_RISK`, computed exactly over refusal counts up to the budget.
 */
import { isNegativeReply, isPositiveReply } from '../smtp/reply-parser.js';
import { OVERSPEND_RISK } from './politeness.js';

/** Domains whose evidence a host keeps, at most (the oldest forgotten first: they start over). */
const KEPT_DOMAINS = 10_000;

interface DomainTally {
  refusals: number;
  accepted: boolean;
}

export class RefusalOdds {
  #replies = 0;
  #refusals = 0;
  readonly #domains = new Map<string, DomainTally>();
  /** Domains with an accepted address, and domains with refusals only. */
  #alive = 0;
  #refusing = 0;

  /** The host's share of refused RCPTs: Laplace-style, 2 refused of 4 before any reply. */
  get rate(): number {
    return (this.#refusals + 2) / (this.#replies + 4);
  }

  /** True once the host answered an RCPT and has refused none (probes included). */
  get refusedNone(): boolean {
    return this.#replies > 0 && this.#refusals === 0;
  }

  /** Counts one RCPT reply (refused when negative, 4yz or 5yz) of an address at `domain` (`null`: a probe). */
  count(code: number, domain: string | null): void {
    this.#replies += 1;
    const refused = isNegativeReply({ code });
    if (refused) this.#refusals += 1;
    if (domain === null) return;
    let tally = this.#domains.get(domain);
    if (tally === undefined) {
      tally = { refusals: 0, accepted: false };
      this.#domains.set(domain, tally);
      if (this.#domains.size > KEPT_DOMAINS) this.#forgetOldest();
    }
    const before = tally.accepted ? 'alive' : tally.refusals > 0 ? 'refusing' : 'new';
    if (refused) tally.refusals += 1;
    else if (isPositiveReply({ code })) tally.accepted = true;
    const now = tally.accepted ? 'alive' : tally.refusals > 0 ? 'refusing' : 'new';
    if (before === now) return;
    if (before === 'refusing') this.#refusing -= 1;
    if (now === 'alive') this.#alive += 1;
    else if (now === 'refusing') this.#refusing += 1;
  }

  #forgetOldest(): void {
    for (const [domain, tally] of this.#domains) {
      this.#domains.delete(domain);
      if (tally.accepted) this.#alive -= 1;
      else if (tally.refusals > 0) this.#refusing -= 1;
      return;
    }
  }

  /**
   * The chance that a domain's addresses are all refused, with what is known of it: 0 once the host
   * accepted one of them.
   */
  deadChance(domain: string): number {
    const tally = this.#domains.get(domain);
    if (tally?.accepted === true) return 0;
    const prior = (this.#refusing + 1) / (this.#alive + this.#refusing + 2);
    const refusals = tally?.refusals ?? 0;
    if (refusals === 0) return prior;
    const alive = (1 - prior) * this.rate ** refusals;
    return prior / (prior + alive);
  }

  /**
   * The most of `domains` (the domains of the queue's next addresses, in order) one batch may carry,
   * up to `cap`: all of them while even all refused they stay within `budget`, then as many as keep
   * the chance of more than `budget` refusals at most `OVERSPEND_RISK`.
   */
  batchSize(domains: readonly string[], budget: number, cap: number): number {
    const most = Math.min(cap, domains.length);
    if (budget <= 0) return 0;
    let low = Math.min(most, budget);
    let high = most;
    // The chance only grows with the batch: the longest front within the risk, by bisection.
    while (low < high) {
      const size = Math.ceil((low + high) / 2);
      if (this.#overspendChance(domains, size, budget) <= OVERSPEND_RISK) low = size;
      else high = size - 1;
    }
    return low;
  }

  /** The chance that a batch of addresses at `domains` draws more than `budget` refusals. */
  overspendChance(domains: readonly string[], budget: number): number {
    return this.#overspendChance(domains, domains.length, budget);
  }

  /** `overspendChance()` of the first `count` of `domains`. */
  #overspendChance(domains: readonly string[], count: number, budget: number): number {
    if (count <= budget) return 0;
    const p = this.rate;
    // Addresses of live domains are refused independently; the others, grouped by domain.
    let alive = 0;
    const doubtful = new Map<string, number>();
    for (let i = 0; i < count; i += 1) {
      const domain = domains[i] as string;
      if (this.deadChance(domain) === 0) alive += 1;
      else doubtful.set(domain, (doubtful.get(domain) ?? 0) + 1);
    }
    // P(refusals = k) for k ≤ budget; what is above it is the overspend.
    let pmf = binomialHead(alive, p, budget);
    for (const [domain, n] of doubtful) {
      const dead = this.deadChance(domain);
      const group = binomialHead(n, p, budget);
      for (let k = 0; k < group.length; k += 1) group[k] = (group[k] as number) * (1 - dead);
      if (n <= budget) group[n] = (group[n] as number) + dead;
      pmf = convolveHead(pmf, group, budget);
    }
    let within = 0;
    for (let k = 0; k < pmf.length; k += 1) within += pmf[k] as number;
    return Math.max(0, 1 - within);
  }
}

// The distributions are Float64Arrays: one element kind, whether they hold 0s and 1s or fractions
// (plain arrays change kind when a fraction follows small integers, and V8 recompiles what read them).

/** P(X = k) for X ~ Binomial(n, p), k = 0 … min(n, top). */
function binomialHead(n: number, p: number, top: number): Float64Array {
  const head = new Float64Array(Math.min(n, top) + 1);
  if (p >= 1) {
    if (n < head.length) head[n] = 1;
    return head;
  }
  let term = (1 - p) ** n;
  for (let k = 0; k < head.length; k += 1) {
    head[k] = term;
    term *= ((n - k) / (k + 1)) * (p / (1 - p));
  }
  return head;
}

/** The distribution of a sum of two independent counts, for k = 0 … top. */
function convolveHead(a: Float64Array, b: Float64Array, top: number): Float64Array {
  const sum = new Float64Array(Math.min(top, a.length + b.length - 2) + 1);
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as number;
    if (x === 0) continue;
    for (let j = 0; j < b.length && i + j <= top; j += 1)
      sum[i + j] = (sum[i + j] as number) + x * (b[j] as number);
  }
  return sum;
}
