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
import { abortReason } from './transport.js';

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

interface CacheEntry {
  readonly value: Lookup;
  readonly expiresAt: number;
}

interface Flight {
  readonly promise: Promise<Lookup>;
  readonly controller: AbortController;
  waiters: number;
}

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
  const client = createDnsClient(options);
  const random = options.random ?? Math.random;
  const maxCacheTtlMs = Math.max(0, options.maxCacheTtlMs);
  const maxEntries = Math.max(1, options.maxCacheEntries ?? DEFAULT_MAX_CACHE_ENTRIES);
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Flight>();
  let cacheHits = 0;
  let sharedLookups = 0;
  let closed = false;

  function remember(key: string, value: Lookup, ttlSeconds: number | null): void {
    // TTL 0 means "use for this transaction only" (RFC 1035 §3.2.1); no TTL means no caching
    // (RFC 2308 §5: a negative answer without SOA "SHOULD NOT be cached").
    if (ttlSeconds === null || ttlSeconds <= 0 || maxCacheTtlMs === 0) return;
    const ttlMs = Math.min(ttlSeconds * 1000, maxCacheTtlMs);
    cache.delete(key);
    if (cache.size >= maxEntries) {
      const oldest = cache.keys().next();
      if (oldest.done !== true) cache.delete(oldest.value);
    }
    cache.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  /** Asks for `name`/`type`, following CNAME chains across queries when a server stops mid-chain. */
  async function fetchRRset(name: string, type: RecordType, signal: AbortSignal): Promise<Lookup> {
    const key = `${type} ${name}`;
    let target = name;
    let ttl = Number.POSITIVE_INFINITY;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const result = await client.query({ name: target, type }, signal);
      if (result.kind === 'failure') return { kind: 'error', error: result.error, message: result.message };
      const answer = readAnswer(result.packet, target, type, result.rcode === 3);
      switch (answer.kind) {
        case 'invalid':
          return { kind: 'error', error: 'BAD_RESPONSE', message: `${name} ${type}: ${answer.message}` };
        case 'records': {
          const value: Lookup = { kind: 'records', records: answer.records };
          remember(key, value, Math.min(ttl, answer.ttl));
          return value;
        }
        case 'nodata':
        case 'nxdomain': {
          const value: Lookup = { kind: answer.kind };
          remember(key, value, answer.negativeTtl === null ? null : Math.min(ttl, answer.negativeTtl));
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

  /**
   * One record set, from the cache, from a query in flight, or from a new query. The shared query
   * runs on its own signal, aborted only when every caller waiting for it has given up.
   */
  function lookup(name: string, type: RecordType, signal: AbortSignal | undefined): Promise<Lookup> {
    if (closed) return Promise.reject(new VerifyError('ERR_RCPT_CLOSED', 'resolver closed'));
    const key = `${type} ${name}`;
    const cached = cache.get(key);
    if (cached !== undefined) {
      if (cached.expiresAt > Date.now()) {
        cacheHits++;
        return Promise.resolve(cached.value);
      }
      cache.delete(key);
    }
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    let flight = inflight.get(key);
    if (flight === undefined) {
      const controller = new AbortController();
      const promise = fetchRRset(name, type, controller.signal).finally(() => {
        if (inflight.get(key) === created) inflight.delete(key);
      });
      // Nobody may be listening when the last waiter leaves and the query is aborted.
      promise.catch(() => undefined);
      const created: Flight = { promise, controller, waiters: 0 };
      flight = created;
      inflight.set(key, created);
    } else {
      sharedLookups++;
    }
    const joined = flight;
    joined.waiters++;
    return new Promise<Lookup>((resolve, reject) => {
      const leave = (): void => {
        signal?.removeEventListener('abort', onAbort);
        joined.waiters--;
      };
      const onAbort = (): void => {
        leave();
        if (joined.waiters === 0) {
          if (inflight.get(key) === joined) inflight.delete(key);
          joined.controller.abort();
        }
        if (signal) reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (value) => {
          leave();
          resolve(value);
        },
        (error: unknown) => {
          leave();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** A and AAAA of one host, IPv4 first; `failure` set when either lookup failed temporarily. */
  async function addressesOf(
    host: string,
    signal: AbortSignal | undefined,
  ): Promise<{ addresses: string[]; failure: (Lookup & { kind: 'error' }) | null }> {
    const [a, aaaa] = await Promise.all([lookup(host, 'A', signal), lookup(host, 'AAAA', signal)]);
    const addresses: string[] = [];
    let failure: (Lookup & { kind: 'error' }) | null = null;
    // IPv4 first: a prober without IPv6 connectivity or an IPv6 PTR fails there (Gmail answers
    // `550 5.7.25` / `421 4.7.23` to IPv6 clients without a matching PTR, Gmail's bulk-sender guidelines), and
    // receivers are stricter with IPv6 senders in general.
    for (const result of [a, aaaa]) {
      if (result.kind === 'records') {
        for (const record of result.records) {
          const address = addressOf(record);
          if (address !== null && !addresses.includes(address)) addresses.push(address);
        }
      } else if (result.kind === 'error') {
        failure ??= result;
      }
    }
    return { addresses, failure };
  }

  function errorRoute(failure: { error: DnsErrorKind; message: string }): MailRoute {
    return { kind: 'error', error: failure.error, message: failure.message };
  }

  async function implicitMx(domain: string, signal: AbortSignal | undefined): Promise<MailRoute> {
    const { addresses, failure } = await addressesOf(domain, signal);
    if (addresses.length > 0) {
      const mx = [{ exchange: domain, priority: 0 }];
      return { kind: 'hosts', mx, implicitMx: true, hosts: [{ exchange: domain, priority: 0, addresses }] };
    }
    return failure === null ? { kind: 'no_mail_server', mx: [] } : errorRoute(failure);
  }

  /**
   * The port's `resolveMail`. An abort through `signal` (the verifier's deadline) is an answer, not
   * an exception: `{ kind: 'error', error: 'TIMEOUT' }`, like a server that never answered. It
   * rejects only on misuse: a name that is not an ASCII host name, or a closed resolver.
   */
  async function resolveMail(asciiDomain: string, signal?: AbortSignal): Promise<MailRoute> {
    if (closed) throw new VerifyError('ERR_RCPT_CLOSED', 'resolveMail() called after close()');
    const domain = typeof asciiDomain === 'string' ? normaliseName(asciiDomain) : '';
    if (!HOST_NAME.test(domain)) {
      throw new DnsError('INVALID_NAME', `not an ASCII domain name: ${JSON.stringify(asciiDomain)}`);
    }
    try {
      return await route(domain, signal);
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

  async function route(domain: string, signal: AbortSignal | undefined): Promise<MailRoute> {
    const answer = await lookup(domain, 'MX', signal);
    switch (answer.kind) {
      case 'error':
        return errorRoute(answer);
      case 'nxdomain':
        return { kind: 'nxdomain' };
      case 'nodata':
        return implicitMx(domain, signal);
      case 'records':
        break;
    }
    const published: MxRecord[] = [];
    for (const record of answer.records) {
      const parsed = mxOf(record);
      if (parsed !== null) published.push(parsed);
    }
    // RFC 7505 §3: a null MX is a *single* MX RR with preference 0 and the root as exchange. A domain
    // that mixes it with real MX records breaks the same section ("MUST NOT advertise any other MX
    // RR"); we then treat `.` as what it is, a host that cannot be reached, and try the others:
    // calling such a domain undeliverable would turn a zone-file slip into lost customers.
    const [only] = published;
    if (published.length === 1 && only?.exchange === '.' && only.priority === 0) return { kind: 'null_mx' };
    const mx = orderMx(published, random);

    const seen = new Set<string>();
    const candidates: MxRecord[] = [];
    for (const record of mx) {
      if (seen.has(record.exchange)) continue;
      seen.add(record.exchange);
      candidates.push(record);
    }
    const resolved = await Promise.all(
      candidates.slice(0, MAX_MX_HOSTS).map(async (record) => {
        // Not looked up: the root (`.`), names that are not host names, and IP literals. RFC 5321
        // §5.1 wants a domain name here, and Exim refuses MX-to-IP by default (`allow_mx_to_ip`);
        // such a host is kept with no addresses and the verifier moves on to the next.
        if (record.exchange === '.' || !HOST_NAME.test(record.exchange) || IPV4_LIKE.test(record.exchange)) {
          return { host: { ...record, addresses: [] as string[] }, failure: null };
        }
        const { addresses, failure } = await addressesOf(record.exchange, signal);
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

  return {
    resolveMail,
    close() {
      if (closed) return;
      closed = true;
      cache.clear();
      const reason = new VerifyError('ERR_RCPT_CLOSED', 'resolver closed');
      for (const flight of inflight.values()) flight.controller.abort(reason);
      inflight.clear();
    },
    get stats() {
      return { ...client.stats, cacheHits, sharedLookups, cacheEntries: cache.size };
    },
  };
}
