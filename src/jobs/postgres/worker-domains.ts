/**
 * The shared domain cache (`domain_cache`) as a worker uses it: MX answers looked up once for the
 * cluster (a worker's memory, then PostgreSQL, then DNS), and the catch-all verdicts and providers
 * that conversations teach, so the next holder of a host neither looks a domain up nor probes it again.
 */
import { allowedTargets } from '../../dns/target-filter.js';
import type { Resolver } from '../../verifier.js';
import type { CatchAllFacts, MailResolver, MailRoute, VerifyResult } from '../../types.js';
import type { PgJobStore } from './pg-job-store.js';
import { mapLimit } from './worker-shared.js';
import { selectCatchAll, selectRoutes, updateCatchAll, upsertRoutes } from './domain-cache-table.js';

/** The host group of addresses that need no SMTP conversation (bad syntax, no usable MX). */
export const NO_SMTP_HOST = '-';
/** Domains kept in a worker's memory in front of the shared cache. */
const LOCAL_DOMAIN_CACHE = 20_000;
/** Domains resolved at once while planning: a burst of hundreds of UDP queries loses some to drops. */
const PLAN_DNS_CONCURRENCY = 16;
/** Longest a planning lookup may take (the resolver's tries and timeouts end it sooner). */
const PLAN_DNS_TIMEOUT_MS = 30_000;

/** The host group of a domain's route: the first MX address the verifier would connect to. */
export function hostOfRoute(route: MailRoute, allowPrivateTargets: boolean): string {
  if (route.kind !== 'hosts') return NO_SMTP_HOST;
  return allowedTargets(route.hosts, allowPrivateTargets).targets[0]?.ip ?? NO_SMTP_HOST;
}

/**
 * The shared cache of one job profile (worker-profiles.ts): its rows are keyed by the domain, followed
 * by the profile's namespace when it has one (jobs asking other DNS servers, or another SMTP port, must
 * not share answers); the namespace `''` is the cache all workers shared before settings were recorded.
 */
export class DomainCache {
  readonly #store: PgJobStore;
  readonly #ttlMs: number;
  readonly #namespace: string;
  /** Catch-all verdicts from the shared cache, filled a page ahead of the addresses that need them. */
  readonly #catchAll = new Map<string, { value: boolean; expiresAt: number }>();

  constructor(store: PgJobStore, ttlMs: number, namespace = '') {
    this.#store = store;
    this.#ttlMs = ttlMs;
    this.#namespace = namespace;
  }

  /** The cache row of `domain` (no domain holds a space). */
  #key(domain: string): string {
    return this.#namespace === '' ? domain : `${domain} ${this.#namespace}`;
  }

  /** The domain of a cache row of this profile. */
  #domainOf(key: string): string {
    return this.#namespace === '' ? key : key.slice(0, key.indexOf(' '));
  }

  /** What the verifier asks and tells about catch-all domains, in front of the shared cache. */
  readonly catchAllFacts: CatchAllFacts = {
    known: (domain) => {
      const hit = this.#catchAll.get(domain);
      return hit !== undefined && hit.expiresAt > Date.now() ? hit.value : null;
    },
    learned: (domain, value) => {
      if (this.#catchAll.size >= LOCAL_DOMAIN_CACHE) this.#catchAll.clear();
      this.#catchAll.set(domain, { value, expiresAt: Date.now() + this.#ttlMs });
    },
  };

  /**
   * A resolver in front of the shared cache: a worker's memory, then PostgreSQL, then `dns` (whose
   * answer is shared with every worker). DNS failures are not shared: the next asker tries again.
   */
  resolver(dns: Resolver): MailResolver {
    const local = new Map<string, { route: MailRoute; expiresAt: number }>();
    const inflight = new Map<string, Promise<MailRoute>>();
    const lookup = async (domain: string, signal?: AbortSignal): Promise<MailRoute> => {
      const cached = await this.#cachedRoute(domain);
      if (cached !== null) {
        local.set(domain, cached);
        return cached.route;
      }
      const route = await dns.resolveMail(domain, signal);
      if (route.kind !== 'error') {
        const expiresAt = await this.#shareRoute(domain, route);
        if (local.size >= LOCAL_DOMAIN_CACHE) local.clear();
        local.set(domain, { route, expiresAt });
      }
      return route;
    };
    return {
      resolveMail(domain, signal) {
        const hit = local.get(domain);
        if (hit !== undefined && hit.expiresAt > Date.now()) return Promise.resolve(hit.route);
        let flight = inflight.get(domain);
        if (flight === undefined) {
          flight = lookup(domain, signal).finally(() => inflight.delete(domain));
          inflight.set(domain, flight);
        }
        return flight;
      },
    };
  }

  async #cachedRoute(domain: string): Promise<{ route: MailRoute; expiresAt: number } | null> {
    const [row] = await selectRoutes(this.#store, [this.#key(domain)], Date.now());
    return row === undefined ? null : { route: JSON.parse(row.mx) as MailRoute, expiresAt: row.expiresAt };
  }

  /** Stores a route for every worker; resolves with when it expires. */
  async #shareRoute(domain: string, route: MailRoute): Promise<number> {
    const expiresAt = Date.now() + this.#ttlMs;
    await upsertRoutes(
      this.#store,
      [{ key: this.#key(domain), mx: JSON.stringify(route) }],
      expiresAt,
      Date.now(),
    );
    return expiresAt;
  }

  /**
   * The host group of each domain (`hostOfRoute`): the shared cache in one query, `dns` for the rest
   * (whose answers are stored for every worker; failures are not, and are asked again when verified).
   */
  async route(
    domains: readonly string[],
    dns: Resolver,
    allowPrivateTargets: boolean,
  ): Promise<Map<string, string>> {
    const hostOf = new Map<string, string>();
    const stored = await selectRoutes(
      this.#store,
      domains.map((domain) => this.#key(domain)),
      Date.now(),
    );
    for (const row of stored) {
      hostOf.set(this.#domainOf(row.key), hostOfRoute(JSON.parse(row.mx) as MailRoute, allowPrivateTargets));
    }
    const missing = domains.filter((domain) => !hostOf.has(domain));
    const answers = await mapLimit(missing, PLAN_DNS_CONCURRENCY, async (domain) => {
      const route = await dns.resolveMail(domain, AbortSignal.timeout(PLAN_DNS_TIMEOUT_MS));
      hostOf.set(domain, hostOfRoute(route, allowPrivateTargets));
      return [domain, route] as const;
    });
    const shared = answers.filter(([, route]) => route.kind !== 'error');
    await upsertRoutes(
      this.#store,
      shared.map(([domain, route]) => ({ key: this.#key(domain), mx: JSON.stringify(route) })),
      Date.now() + this.#ttlMs,
      Date.now(),
    );
    return hostOf;
  }

  /** Reads the shared catch-all verdicts of these domains that this worker does not know yet. */
  async loadCatchAll(domains: readonly (string | null)[]): Promise<void> {
    const unknown = [...new Set(domains)].filter(
      (domain): domain is string => domain !== null && this.catchAllFacts.known(domain) === null,
    );
    if (unknown.length === 0) return;
    const rows = await selectCatchAll(
      this.#store,
      unknown.map((domain) => this.#key(domain)),
      Date.now(),
    );
    for (const row of rows) {
      this.#catchAll.set(this.#domainOf(row.key), { value: row.catchAll, expiresAt: row.expiresAt });
    }
  }

  /** Shares what the conversations taught about each domain: catch-all and provider. */
  async recordFacts(results: readonly VerifyResult[]): Promise<void> {
    const facts = new Map<string, { catchAll: boolean; provider: string | null }>();
    for (const result of results) {
      const domain = result.syntax.asciiDomain;
      const catchAll = result.smtp?.catchAll ?? null;
      if (domain !== null && catchAll !== null) {
        facts.set(domain, { catchAll, provider: result.smtp?.provider ?? null });
      }
    }
    await updateCatchAll(
      this.#store,
      [...facts].map(([domain, f]) => ({ key: this.#key(domain), ...f })),
      Date.now(),
    );
  }
}
