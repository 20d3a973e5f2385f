/**
 * Where mail for a domain goes (docs/verdicts.md, "DNS"), as the `MailResolver` port of `src/types.ts`: MX
 * records in preference order, RFC 7505 null MX, the RFC 5321 §5.1 implicit MX, each exchange's
 * addresses, and DNS failures kept apart from answers ("SERVFAIL" is never "no such domain").
 *
 * DNS is spoken directly (`dns-packet` over UDP, TCP on truncation) rather than through `node:dns`,
 * which hides TTLs, RCODEs and CNAMEs. Answers are cached per record set for their TTL, negative
 * answers per RFC 2308, and concurrent lookups of one record set share one query.
 */
import type { Answer, RecordType } from 'dns-packet';
import { DnsError, VerifyError, isVerifyError } from '../errors.js';
import type { DnsErrorKind, MailHost, MailResolver, MailRoute, MxRecord } from '../types.js';
import { addressOf, MAX_CNAME_CHAIN, mxOf, normaliseName, readAnswer } from './answer.js';
import { createDnsClient, type DnsClientStats } from './client.js';
import { RecordCache } from './record-cache.js';
import { InFlightQueries } from './in-flight-queries.js';
import { abortReason, type AbortWatch } from './transport.js';

/** How the resolver is built; `createResolver()` validates it once. */
export interface ResolverOptions {
  /** Recursive servers as `HOST`, `HOST:PORT` or `[V6]:PORT`; `null` for the system's (`dns.getServers()`). */
  readonly servers: readonly string[] | null;
  /** Per query attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Rounds over the server list per query. */
  readonly tries: number;
  /** Upper bound on how long any answer is cached, in milliseconds, whatever its TTL. */
  readonly maxCacheTtlMs: number;
  /** Source of randomness in [0, 1) for shuffling equal MX preferences. Default `Math.random`. */
  readonly random?: () => number;
  /** Record sets kept in the cache; the oldest go first. Default 10 000. */
  readonly maxCacheEntries?: number;
  /** DNS queries outstanding at once, at most; the others wait. Default 64. */
  readonly maxInFlight?: number;
}

/** What the resolver has done since it was built. */
export interface ResolverStats extends DnsClientStats {
  /** Record-set lookups answered from the cache. */
  readonly cacheHits: number;
  /** Record-set lookups that joined a query already in flight. */
  readonly sharedLookups: number;
  /** Record sets currently cached. */
  readonly cacheEntries: number;
}

/** A `MailResolver` that owns a cache, with a way to drop it. */
export interface Resolver extends MailResolver {
  remembered(asciiDomain: string): MailRoute | null;
  /** Forgets the cache and aborts lookups in flight (they reject); later calls reject. */
  close(): void;
  readonly stats: ResolverStats;
}

/**
 * Exchanges resolved per domain. RFC 5321 §5.1 sets no limit, but a hostile zone could list hundreds;
 * Postfix tries 5 addresses (`smtp_mx_address_limit`) and the prober never gets past the first few.
 */
const MAX_MX_HOSTS = 10;
const DEFAULT_MAX_CACHE_ENTRIES = 10_000;
/** RFC 1035 §2.3.4 (255 octets on the wire, so 253 as text) and 63 per label. */
const HOST_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;
const IPV4_LIKE = /^\d+\.\d+\.\d+\.\d+$/;

/** The outcome of one record-set lookup, after CNAMEs, as cached. */
type Lookup =
  | { readonly kind: 'records'; readonly records: readonly Answer[] }
  | { readonly kind: 'nodata' | 'nxdomain' }
  | { readonly kind: 'error'; readonly error: DnsErrorKind; readonly message: string };

/** Fisher–Yates over each run of equal preference (RFC 5321 §5.1: "randomize … to spread the load"). */
function orderMx(records: MxRecord[], random: () => number): MxRecord[] {
  const sorted = [...records].sort((a, b) => a.priority - b.priority);
  for (let start = 0; start < sorted.length;) {
    let end = start + 1;
    while (end < sorted.length && sorted[end]?.priority === sorted[start]?.priority) end++;
    for (let i = end - 1; i > start; i--) {
      const j = start + Math.floor(random() * (i - start + 1));
      const a = sorted[i] as MxRecord;
      sorted[i] = sorted[j] as MxRecord;
      sorted[j] = a;
    }
    start = end;
  }
  return sorted;
}

/**
 * Builds a resolver. Throws `OptionsError` for a bad server, timeout or tries value.
 * @example
 * const resolver = createResolver({ servers: ['127.0.0.1:5353'], timeoutMs: 2000, tries: 2, maxCacheTtlMs: 3_600_000 });
 * const route = await resolver.resolveMail('example.com');
 * resolver.close();
 */
export function createResolver(options: ResolverOptions): Resolver {
  return new DnsResolver(options);
}

type LookupError = Lookup & { kind: 'error' };

function errorRoute(failure: { error: DnsErrorKind; message: string }): MailRoute {
  return { kind: 'error', error: failure.error, message: failure.message };
}

/** The MX records as published: parsed, in preference order with equal preferences shuffled. */
function publishedMx(records: readonly Answer[], random: () => number): MxRecord[] {
  const published: MxRecord[] = [];
  for (let index = 0; index < records.length; index++) {
    const parsed = mxOf(records[index] as Answer);
    if (parsed !== null) published.push(parsed);
  }
  return orderMx(published, random);
}

/** The exchanges worth looking up, each once, in order, at most `MAX_MX_HOSTS`. */
function candidateExchanges(mx: readonly MxRecord[]): MxRecord[] {
  const seen = new Set<string>();
  const candidates: MxRecord[] = [];
  for (let index = 0; index < mx.length; index++) {
    const record = mx[index] as MxRecord;
    if (seen.has(record.exchange)) continue;
    seen.add(record.exchange);
    candidates.push(record);
  }
  return candidates.slice(0, MAX_MX_HOSTS);
}

/**
 * Not looked up: the root (`.`), names that are not host names, and IP literals. RFC 5321 §5.1 wants a
 * domain name here, and Exim refuses MX-to-IP by default (`allow_mx_to_ip`); such a host is kept with
 * no addresses and the verifier moves on to the next.
 */
function isLookupable(exchange: string): boolean {
  return exchange !== '.' && HOST_NAME.test(exchange) && !IPV4_LIKE.test(exchange);
}

/**
 * The record sets a route was built from, or `null` when it may not be answered again from them: an
 * error (never cached), or MX records sharing a preference (shuffled on every call, RFC 5321 §5.1).
 */
function recordSetsOf(domain: string, route: MailRoute): string[] | null {
  const hostSets = (host: string) => [`A ${host}`, `AAAA ${host}`];
  switch (route.kind) {
    case 'error':
      return null;
    case 'nxdomain':
    case 'null_mx':
      return [`MX ${domain}`];
    case 'no_mail_server':
    case 'hosts': {
      if (route.kind === 'hosts' && route.implicitMx) return [`MX ${domain}`, ...hostSets(domain)];
      if (route.mx.length === 0) return [`MX ${domain}`, ...hostSets(domain)];
      const priorities = new Set(route.mx.map((record) => record.priority));
      if (priorities.size !== route.mx.length) return null;
      const keys = [`MX ${domain}`];
      for (const record of candidateExchanges(route.mx)) {
        if (isLookupable(record.exchange)) keys.push(...hostSets(record.exchange));
      }
      return keys;
    }
  }
}

/** A route kept by `#remember()`, with the record sets it was built from. */
interface RememberedRoute {
  readonly route: MailRoute;
  readonly sets: readonly (readonly [string, Lookup])[];
  /** The cache's generation when the sets were last seen in it unchanged, and their earliest expiry. */
  generation: number;
  validUntil: number;
}

/** The resolver behind `createResolver()`: the DNS client, the cache and the queries in flight. */
class DnsResolver implements Resolver {
  readonly #client: ReturnType<typeof createDnsClient>;
  readonly #random: () => number;
  readonly #cache: RecordCache<Lookup>;
  readonly #queries = new InFlightQueries<Lookup>();
  /**
   * The last route built per domain, with the record sets it was built from. It is answered again
   * while every one of them is still cached, as building it again from those cached sets would: a bulk
   * run asks once per address, and rebuilding costs a dozen promises each time. Only routes whose
   * order is fixed are kept (no two MX records of one preference, which RFC 5321 §5.1 shuffles).
   */
  readonly #routes = new Map<string, RememberedRoute>();
  readonly #maxRoutes: number;
  #closed = false;

  constructor(options: ResolverOptions) {
    this.#client = createDnsClient(options);
    this.#random = options.random ?? Math.random;
    this.#cache = new RecordCache(
      options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES,
      options.maxCacheTtlMs,
    );
    this.#maxRoutes = Math.max(1, options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES);
  }

  get stats(): ResolverStats {
    return {
      ...this.#client.stats,
      cacheHits: this.#cache.hits,
      sharedLookups: this.#queries.shared,
      cacheEntries: this.#cache.size,
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    this.#routes.clear();
    this.#queries.abortAll(new VerifyError('ERR_RCPT_CLOSED', 'resolver closed'));
  }

  /**
   * The port's `resolveMail`. An abort through `signal` (the verifier's deadline) is an answer, not
   * an exception: `{ kind: 'error', error: 'TIMEOUT' }`, like a server that never answered. It
   * rejects only on misuse: a name that is not an ASCII host name, or a closed resolver.
   */
  async resolveMail(asciiDomain: string, signal?: AbortSignal): Promise<MailRoute> {
    if (this.#closed) throw new VerifyError('ERR_RCPT_CLOSED', 'resolveMail() called after close()');
    // A name remembered was checked when its route was built (most calls of a bulk run): no check again.
    const known = this.#remembered(asciiDomain);
    if (known !== null) return known;
    const domain = typeof asciiDomain === 'string' ? normaliseName(asciiDomain) : '';
    if (!HOST_NAME.test(domain)) {
      throw new DnsError('INVALID_NAME', `not an ASCII domain name: ${JSON.stringify(asciiDomain)}`);
    }
    const remembered = this.#remembered(domain);
    if (remembered !== null) return remembered;
    try {
      const route = await this.#route(domain, signal);
      this.#remember(domain, route);
      return route;
    } catch (error) {
      // close() while waiting is misuse and stays a rejection; an abort is the caller's deadline.
      if (signal?.aborted !== true || (isVerifyError(error) && error.code === 'ERR_RCPT_CLOSED')) throw error;
      const reason = abortReason(signal);
      return {
        kind: 'error',
        error: 'TIMEOUT',
        message: `DNS lookup for ${domain} aborted (${reason.name}: ${reason.message})`,
      };
    }
  }

  /** The port's `remembered`: what `resolveMail()` answers first, without a promise. */
  remembered(asciiDomain: string): MailRoute | null {
    return this.#closed ? null : this.#remembered(asciiDomain);
  }

  /** The route built last for `domain` while the record sets it came from are cached unchanged. */
  #remembered(domain: string): MailRoute | null {
    const memo = this.#routes.get(domain);
    if (memo === undefined) return null;
    // Nothing left the cache since the sets were seen in it, and none has expired: they are there.
    if (!this.#cache.unchangedSince(memo.generation, memo.validUntil)) {
      const generation = this.#cache.generation;
      let validUntil = Infinity;
      for (const [key, value] of memo.sets) {
        const entry = this.#cache.peekEntry(key);
        if (entry?.value !== value) {
          this.#routes.delete(domain);
          return null;
        }
        validUntil = Math.min(validUntil, entry.expiresAt);
      }
      memo.generation = generation;
      memo.validUntil = validUntil;
    }
    // Each record set counts as the cache hit it would have been.
    this.#cache.countHits(memo.sets.length);
    return memo.route;
  }

  /** Keeps `route` for `#remembered()` when its order is fixed and every set it came from is cached. */
  #remember(domain: string, route: MailRoute): void {
    const keys = recordSetsOf(domain, route);
    if (keys === null) return;
    const generation = this.#cache.generation;
    let validUntil = Infinity;
    const sets: (readonly [string, Lookup])[] = [];
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as string;
      const entry = this.#cache.peekEntry(key);
      if (entry === undefined) return;
      sets.push([key, entry.value]);
      validUntil = Math.min(validUntil, entry.expiresAt);
    }
    this.#routes.delete(domain);
    if (this.#routes.size >= this.#maxRoutes) {
      const oldest = this.#routes.keys().next();
      if (oldest.done !== true) this.#routes.delete(oldest.value);
    }
    this.#routes.set(domain, { route, sets, generation, validUntil });
  }

  async #route(domain: string, signal: AbortSignal | undefined): Promise<MailRoute> {
    const answer = await this.#lookup(domain, 'MX', signal);
    switch (answer.kind) {
      case 'error':
        return errorRoute(answer);
      case 'nxdomain':
        return { kind: 'nxdomain' };
      case 'nodata':
        return this.#implicitMx(domain, signal);
      case 'records':
        break;
    }
    const mx = publishedMx(answer.records, this.#random);
    // RFC 7505 §3: a null MX is a *single* MX RR with preference 0 and the root as exchange. A domain
    // that mixes it with real MX records breaks the same section ("MUST NOT advertise any other MX
    // RR"); we then treat `.` as what it is, a host that cannot be reached, and try the others:
    // calling such a domain undeliverable would turn a zone-file slip into lost customers.
    const [only] = mx;
    if (mx.length === 1 && only?.exchange === '.' && only.priority === 0) return { kind: 'null_mx' };
    const resolved = await Promise.all(
      candidateExchanges(mx).map(async (record) => {
        if (!isLookupable(record.exchange)) {
          return { host: { ...record, addresses: [] as string[] }, failure: null };
        }
        const { addresses, failure } = await this.#addressesOf(record.exchange, signal);
        return { host: { ...record, addresses }, failure };
      }),
    );
    const hosts: MailHost[] = resolved.map((entry) => entry.host);
    if (hosts.some((host) => host.addresses.length > 0))
      return { kind: 'hosts', mx, implicitMx: false, hosts };
    // No exchange resolved. If any lookup failed temporarily the answer may differ in a minute, so it
    // is an error (an unknown verdict), never "no mail server" (undeliverable).
    const failed = resolved.find((entry) => entry.failure !== null)?.failure ?? null;
    return failed === null ? { kind: 'no_mail_server', mx } : errorRoute(failed);
  }

  async #implicitMx(domain: string, signal: AbortSignal | undefined): Promise<MailRoute> {
    const { addresses, failure } = await this.#addressesOf(domain, signal);
    if (addresses.length > 0) {
      const mx = [{ exchange: domain, priority: 0 }];
      return { kind: 'hosts', mx, implicitMx: true, hosts: [{ exchange: domain, priority: 0, addresses }] };
    }
    return failure === null ? { kind: 'no_mail_server', mx: [] } : errorRoute(failure);
  }

  /** A and AAAA of one host, IPv4 first; `failure` set when either lookup failed temporarily. */
  async #addressesOf(
    host: string,
    signal: AbortSignal | undefined,
  ): Promise<{ addresses: string[]; failure: LookupError | null }> {
    const [a, aaaa] = await Promise.all([
      this.#lookup(host, 'A', signal),
      this.#lookup(host, 'AAAA', signal),
    ]);
    const addresses: string[] = [];
    let failure: LookupError | null = null;
    // IPv4 first: a prober without IPv6 connectivity or an IPv6 PTR fails there (Gmail answers
    // `550 5.7.25` / `421 4.7.23` to IPv6 clients without a matching PTR, Gmail's bulk-sender guidelines), and
    // receivers are stricter with IPv6 senders in general.
    for (const result of [a, aaaa]) {
      if (result.kind === 'records') {
        const records = result.records;
        for (let index = 0; index < records.length; index++) {
          const address = addressOf(records[index] as Answer);
          if (address !== null && !addresses.includes(address)) addresses.push(address);
        }
      } else if (result.kind === 'error') {
        failure ??= result;
      }
    }
    return { addresses, failure };
  }

  /** One record set, from the cache, from a query in flight, or from a new query. */
  #lookup(name: string, type: RecordType, signal: AbortSignal | undefined): Promise<Lookup> {
    if (this.#closed) return Promise.reject(new VerifyError('ERR_RCPT_CLOSED', 'resolver closed'));
    const key = `${type} ${name}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return Promise.resolve(cached);
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    return this.#queries.run(key, (own) => this.#fetchRRset(name, type, own), signal);
  }

  /** Asks for `name`/`type`, following CNAME chains across queries when a server stops mid-chain. */
  async #fetchRRset(name: string, type: RecordType, signal: AbortWatch): Promise<Lookup> {
    const key = `${type} ${name}`;
    let target = name;
    let ttl = Number.POSITIVE_INFINITY;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const result = await this.#client.query({ name: target, type }, signal);
      if (result.kind === 'failure') return { kind: 'error', error: result.error, message: result.message };
      const answer = readAnswer(result.packet, target, type, result.rcode === 3);
      switch (answer.kind) {
        case 'invalid':
          return { kind: 'error', error: 'BAD_RESPONSE', message: `${name} ${type}: ${answer.message}` };
        case 'records': {
          const value: Lookup = { kind: 'records', records: answer.records };
          this.#cache.remember(key, value, Math.min(ttl, answer.ttl));
          return value;
        }
        case 'nodata':
        case 'nxdomain': {
          const value: Lookup = { kind: answer.kind };
          this.#cache.remember(
            key,
            value,
            answer.negativeTtl === null ? null : Math.min(ttl, answer.negativeTtl),
          );
          return value;
        }
        case 'incomplete':
          ttl = Math.min(ttl, answer.ttl);
          target = answer.target;
          break;
      }
    }
    return {
      kind: 'error',
      error: 'BAD_RESPONSE',
      message: `${name} ${type}: CNAME chain longer than ${MAX_CNAME_CHAIN}`,
    };
  }
}
