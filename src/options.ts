/**
 * One options type for the library, every default a named constant with its reason, and
 * `resolveOptions()` that applies and validates them once (the tldts / ky model). A leaf module.
 */
import { OptionsError } from './errors.js';
import type {
  CatchAllFacts,
  HostLimitsFacts,
  HostRateLimiter,
  MailResolver,
  Prober,
  SessionFactory,
} from './types.js';

/** RFC 5321 §4.5.3.2 allows minutes; a probe that waits that long is useless to a sign-up form. */
export const DEFAULT_TIMEOUT_MS = 60_000;
/** A TCP connect to a live MX completes in well under a second; 10 s covers slow links. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Tarpits (SpamExperts) answer after ~30 s; shorter greeting timeouts turn them into false "unknown". */
export const DEFAULT_GREETING_TIMEOUT_MS = 30_000;
/** Per command reply; same reasoning as the greeting (RFC 5321 §4.5.3.2: be patient with slow servers). */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;
/** Per DNS query attempt. */
export const DEFAULT_DNS_TIMEOUT_MS = 5_000;
/** DNS attempts per query (UDP loses packets; a second try is cheap). */
export const DEFAULT_DNS_TRIES = 2;
/** Upper bound on how long an MX answer is cached, whatever its TTL says. */
export const DEFAULT_DNS_CACHE_MAX_TTL_MS = 3_600_000;
/** The SMTP port MX hosts listen on (RFC 5321 §4.5.4 / IANA). */
export const DEFAULT_SMTP_PORT = 25;
/**
 * The null reverse-path, as Exim's callout verification and Postfix's address probes use: it
 * impersonates nobody. Operators should set a real mailbox on a domain they control (docs/doctor.md).
 */
export const DEFAULT_MAIL_FROM = '';
/**
 * How long to wait before retrying a greylisted address when the server does not say: postgrey's
 * default delay is 300 s (Mimecast's greylisting lasts 1 min–12 h). A single `verify()` retries only when
 * the wait fits within its deadline.
 */
export const DEFAULT_GREYLIST_WAIT_MS = 300_000;
/** The most `hostRate` accepts: 100,000 RCPTs a minute is beyond any host's patience anyway. */
export const MAX_HOST_RATE = 100_000;

/** Addresses in flight at once in `verifyMany()` unless told otherwise: the memory bound of a run. */
export const DEFAULT_VERIFY_MANY_CONCURRENCY = 2000;
/** Sessions per MX host address: what Postfix's own `smtp_destination_concurrency_limit` starts at. */
export const DEFAULT_HOST_CONCURRENCY = 2;
/** Sessions an address may take part in without its own reply before it ends as `unknown`. */
export const DEFAULT_HOST_TRIES = 4;
/** First backoff after a host pushes back (421, 4.7.x, disconnects without progress). */
export const DEFAULT_BACKOFF_MS = 2_000;
/** Cap on the backoff: a host that keeps refusing is asked every two minutes at most. */
export const DEFAULT_MAX_BACKOFF_MS = 120_000;
/** Greylisting retries: postgrey passes the first retry after its window; a second covers clock skew. */
export const DEFAULT_GREYLIST_RETRIES = 2;
/** Sessions open at once over all hosts: well under the default 1,024 file descriptors per process. */
export const DEFAULT_MAX_SESSIONS = 256;

export interface VerifyOptions {
  /**
   * DNS servers to ask, as `HOST` or `HOST:PORT` (`[v6]:PORT` for IPv6). Default: the system's.
   * @example ['127.0.0.1:5353']
   */
  readonly dnsServers?: readonly string[];
  /** Per DNS query attempt, in milliseconds. Default 5000. */
  readonly dnsTimeoutMs?: number;
  /** Attempts per DNS query. Default 2. */
  readonly dnsTries?: number;
  /** Longest time an MX answer is cached, in milliseconds, whatever its TTL. Default 3600000. */
  readonly dnsCacheMaxTtlMs?: number;
  /** The port MX hosts are probed on. Default 25; tests and the demo world use high ports. */
  readonly smtpPort?: number;
  /**
   * The name sent in EHLO/HELO: the probing host's own fully qualified name, with matching reverse DNS.
   * Default: the machine's host name (a warning is published when it is not fully qualified).
   */
  readonly helo?: string;
  /**
   * The reverse-path for `MAIL FROM`: a mailbox on a domain you control. Default `''`, the null
   * reverse-path `<>`. Kept identical across retries so greylisting triplets pass.
   */
  readonly mailFrom?: string;
  /** Overall deadline for one address, in milliseconds. Default 60000. */
  readonly timeoutMs?: number;
  /**
   * Wait before retrying a greylisted address (with the same `MAIL FROM`), in milliseconds, when the
   * server's reply names no window. `0` never retries. Default 300000; the retry happens only when it
   * fits within `timeoutMs`, else the result is `unknown/greylisted` with `retryAt`.
   */
  readonly greylistWaitMs?: number;
  /** TCP connect timeout per host, in milliseconds. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Wait for the 220 greeting, in milliseconds. Default 30000. */
  readonly greetingTimeoutMs?: number;
  /** Wait for each command's reply, in milliseconds. Default 30000. */
  readonly commandTimeoutMs?: number;
  /**
   * Allow probing MX hosts whose addresses are loopback, private, link-local, CGNAT, documentation or
   * reserved. Default false: a verifier behind an API must not scan its own network. Multicast and
   * unspecified addresses (0.0.0.0, ::) are refused even then: neither can be the far end of a TCP
   * connection, and connecting to 0.0.0.0 reaches the local host.
   */
  readonly allowPrivateTargets?: boolean;
  /** Probe a random address at the domain to detect catch-all. Default true. */
  readonly catchAll?: boolean;
  /** Use STARTTLS when the server offers it. Default true. */
  readonly startTls?: boolean;
  /** Keep the SMTP transcript in results. Default false. */
  readonly transcript?: boolean;
  /** Local address to bind outgoing SMTP connections to. Default: the system's choice. */
  readonly localAddress?: string;
  /**
   * SOCKS5 proxies that connect to MX hosts for rcpt, where port 25 is blocked (docs/proxies.md):
   * `socks5://[user:pass@]host:port`, one or a pool. rcpt still resolves the MX and checks its address
   * (`allowPrivateTargets`) and asks the proxy for that address. Default: none, connect directly.
   * @example ['socks5://probe:secret@192.0.2.7:1080']
   */
  readonly proxy?: string | readonly string[];
  /**
   * Which addresses go which way, first match wins: `match` is a provider id (`microsoft365`), a domain
   * (the recipient's domain or an MX host under it) or an MX suffix (`.outlook.com`); `via` a proxy URL
   * or `'direct'`. Addresses no rule matches use `proxy` (or go direct). Default: none.
   * @example [{ match: 'microsoft365', via: 'socks5://192.0.2.7:1080' }, { match: 'google', via: 'direct' }]
   */
  readonly proxyRoutes?: readonly ProxyRouteOption[];
  /**
   * The proxies of a pool leave from distinct addresses: in bulk runs each counts its own per-host
   * connection caps and backoff, and addresses at one MX are spread over them (each recipient keeps
   * its proxy, so greylisting passes). Default false: a pool shares an MX host's cap, and each MX
   * address goes through one member at a time.
   */
  readonly proxyDistinctEgress?: boolean;
  /**
   * Most RCPTs per minute sent to one MX host address, over every session, run and (with a shared
   * `hostRateLimiter`) scale-out worker: a sliding window of 60 s that a host never sees exceeded.
   * `0` sets no ceiling anywhere. Default: none, except the provider defaults of docs/bulk.md
   * ("RCPTs per minute"); a value set here replaces them at every host.
   */
  readonly hostRate?: number;
  /**
   * Where the `hostRate` windows are kept. Default: in this verifier's memory. Scale-out workers supply
   * one kept in PostgreSQL, so the ceiling holds for the whole cluster.
   */
  readonly hostRateLimiter?: HostRateLimiter;
  /** Replace the DNS layer (tests, custom resolution). */
  readonly resolver?: MailResolver;
  /**
   * Replace the SMTP layer of `verify()` (tests, custom transports). Without `openSession` as well,
   * `verifyMany()` then verifies address by address with this prober (no shared sessions, no per-host
   * scheduling) and says so once on the warning channel.
   */
  readonly prober?: Prober;
  /**
   * Replace how `verifyMany()` opens an SMTP session with one MX host address (tests drive the whole
   * scheduler with a scripted session). Default: real sessions (`smtp/session.ts`).
   */
  readonly openSession?: SessionFactory;
  /** Catch-all verdicts shared beyond this verifier (scale-out workers). Default: none. */
  readonly catchAllFacts?: CatchAllFacts;
  /**
   * Limits learned at MX hosts (error budget, recipients per transaction, sessions at once), shared
   * beyond one `verifyMany()` run (scale-out workers). Default: each run learns its own.
   */
  readonly hostLimits?: HostLimitsFacts;
}

/**
 * Every key of `VerifyOptions`, once (the compiler checks the list is complete and has nothing else).
 * Keys outside it are refused, so a misspelt `dnsServer` cannot silently fall back to the system's
 * resolver.
 */
const VERIFY_OPTION_KEY_SET = {
  dnsServers: true,
  dnsTimeoutMs: true,
  dnsTries: true,
  dnsCacheMaxTtlMs: true,
  smtpPort: true,
  helo: true,
  mailFrom: true,
  timeoutMs: true,
  greylistWaitMs: true,
  connectTimeoutMs: true,
  greetingTimeoutMs: true,
  commandTimeoutMs: true,
  allowPrivateTargets: true,
  catchAll: true,
  startTls: true,
  transcript: true,
  localAddress: true,
  proxy: true,
  proxyRoutes: true,
  proxyDistinctEgress: true,
  hostRate: true,
  hostRateLimiter: true,
  resolver: true,
  prober: true,
  openSession: true,
  catchAllFacts: true,
  hostLimits: true,
} as const satisfies Record<keyof VerifyOptions, true>;
export const VERIFY_OPTION_KEYS = Object.keys(VERIFY_OPTION_KEY_SET) as readonly (keyof VerifyOptions)[];

/** One routing rule for `proxyRoutes`. */
export interface ProxyRouteOption {
  readonly match: string;
  /** A `socks5://` URL, or `'direct'`. */
  readonly via: string;
}

export interface ResolvedOptions {
  readonly dnsServers: readonly string[] | null;
  readonly dnsTimeoutMs: number;
  readonly dnsTries: number;
  readonly dnsCacheMaxTtlMs: number;
  readonly smtpPort: number;
  readonly helo: string | null;
  readonly mailFrom: string;
  readonly timeoutMs: number;
  readonly greylistWaitMs: number;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly allowPrivateTargets: boolean;
  readonly catchAll: boolean;
  readonly startTls: boolean;
  readonly transcript: boolean;
  readonly localAddress: string | null;
  /** The pool's URLs as given (parsed by the verifier, src/proxy/); empty for none. */
  readonly proxy: readonly string[];
  readonly proxyRoutes: readonly ProxyRouteOption[];
  readonly proxyDistinctEgress: boolean;
  /** `null`: not set (the provider defaults apply); `0`: no ceiling anywhere. */
  readonly hostRate: number | null;
  readonly hostRateLimiter: HostRateLimiter | null;
  readonly resolver: MailResolver | null;
  readonly prober: Prober | null;
  readonly openSession: SessionFactory | null;
  readonly catchAllFacts: CatchAllFacts | null;
  readonly hostLimits: HostLimitsFacts | null;
}

/** The longest delay a Node.js timer takes (a longer one fires at once): the bound of every integer option. */
export const MAX_INTEGER_OPTION = 2 ** 31 - 1;

/**
 * The one check of an integer option, wherever it is read (options here, `hostRate`, `verifyMany()`'s,
 * the SMTP prober's and the DNS client's): `value` if it is an integer from `min` to `max`, else `OptionsError`
 * naming the option.
 */
export function checkInteger(name: string, value: unknown, min = 1, max = MAX_INTEGER_OPTION): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionsError(
      name,
      `expected an integer from ${min} to ${max}, got ${typeof value === 'number' ? value : typeof value}`,
    );
  }
  return value;
}

/** An optional integer option: `fallback` when absent, else `checkInteger()`. */
export function integerOption(
  name: string,
  value: unknown,
  fallback: number,
  min = 1,
  max = MAX_INTEGER_OPTION,
): number {
  return value === undefined ? fallback : checkInteger(name, value, min, max);
}

function positiveInt(name: string, value: unknown, fallback: number, max = MAX_INTEGER_OPTION): number {
  return integerOption(name, value, fallback, 1, max);
}

/** RCPTs per minute: an integer from 0 (no ceiling) to `MAX_HOST_RATE`, or `null` when not set. */
function hostRate(value: unknown): number | null {
  return value === undefined ? null : checkInteger('hostRate', value, 0, MAX_HOST_RATE);
}

function bool(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new OptionsError(name, `expected a boolean, got ${typeof value}`);
  return value;
}

/**
 * A DNS server is an IP address, optionally with a port (`[v6]:PORT` for IPv6): a server given by name
 * would itself need a resolver. The DNS client parses the value exactly; this only keeps CLI typos
 * from surfacing later than option validation.
 */
const DNS_SERVER =
  /^(?:\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?|\[[0-9A-Fa-f:.]+\](?::\d{1,5})?|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/;

/** Applies defaults and validates every option once; throws `OptionsError` naming the bad option. */
export function resolveOptions(options: VerifyOptions = {}): ResolvedOptions {
  if (typeof (options as unknown) !== 'object' || (options as unknown) === null) {
    throw new OptionsError('options', 'expected an object');
  }
  let dnsServers: readonly string[] | null = null;
  const servers: unknown = options.dnsServers;
  if (servers !== undefined) {
    if (!Array.isArray(servers) || servers.length === 0) {
      throw new OptionsError('dnsServers', 'expected a non-empty array of "HOST" or "HOST:PORT"');
    }
    dnsServers = servers.map((server: unknown) => {
      if (typeof server !== 'string' || !DNS_SERVER.test(server)) {
        throw new OptionsError(
          'dnsServers',
          `expected an IP address with an optional port, got ${JSON.stringify(server)}`,
        );
      }
      return server;
    });
  }
  const helo: unknown = options.helo;
  if (
    helo !== undefined &&
    (typeof helo !== 'string' || !/^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.Iv6]+\]$/.test(helo))
  ) {
    throw new OptionsError('helo', `expected a host name or address literal, got ${JSON.stringify(helo)}`);
  }
  const mailFrom: unknown = options.mailFrom ?? DEFAULT_MAIL_FROM;
  if (
    typeof mailFrom !== 'string' ||
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    /[\x00-\x20<>\x7f]/.test(mailFrom) ||
    (mailFrom !== '' && !mailFrom.includes('@'))
  ) {
    throw new OptionsError(
      'mailFrom',
      `expected an address or '' (null reverse-path), got ${JSON.stringify(mailFrom)}`,
    );
  }
  const localAddress: unknown = options.localAddress;
  if (localAddress !== undefined && typeof localAddress !== 'string') {
    throw new OptionsError('localAddress', 'expected an IP address string');
  }
  const proxyOption: unknown = options.proxy;
  const proxy = proxyOption === undefined ? [] : Array.isArray(proxyOption) ? proxyOption : [proxyOption];
  if (proxy.some((url: unknown) => typeof url !== 'string')) {
    throw new OptionsError('proxy', 'expected a socks5:// URL or an array of them');
  }
  const routesOption: unknown = options.proxyRoutes ?? [];
  if (
    !Array.isArray(routesOption) ||
    routesOption.some(
      (route: unknown) =>
        typeof route !== 'object' ||
        route === null ||
        typeof (route as ProxyRouteOption).match !== 'string' ||
        typeof (route as ProxyRouteOption).via !== 'string',
    )
  ) {
    throw new OptionsError(
      'proxyRoutes',
      "expected an array of { match, via } (via: a socks5:// URL or 'direct')",
    );
  }
  return {
    dnsServers,
    dnsTimeoutMs: positiveInt('dnsTimeoutMs', options.dnsTimeoutMs, DEFAULT_DNS_TIMEOUT_MS),
    dnsTries: positiveInt('dnsTries', options.dnsTries, DEFAULT_DNS_TRIES, 10),
    dnsCacheMaxTtlMs: positiveInt('dnsCacheMaxTtlMs', options.dnsCacheMaxTtlMs, DEFAULT_DNS_CACHE_MAX_TTL_MS),
    smtpPort: positiveInt('smtpPort', options.smtpPort, DEFAULT_SMTP_PORT, 65_535),
    helo: typeof helo === 'string' ? helo : null,
    mailFrom,
    timeoutMs: positiveInt('timeoutMs', options.timeoutMs, DEFAULT_TIMEOUT_MS),
    greylistWaitMs:
      options.greylistWaitMs === 0
        ? 0
        : positiveInt('greylistWaitMs', options.greylistWaitMs, DEFAULT_GREYLIST_WAIT_MS),
    connectTimeoutMs: positiveInt('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS),
    greetingTimeoutMs: positiveInt(
      'greetingTimeoutMs',
      options.greetingTimeoutMs,
      DEFAULT_GREETING_TIMEOUT_MS,
    ),
    commandTimeoutMs: positiveInt('commandTimeoutMs', options.commandTimeoutMs, DEFAULT_COMMAND_TIMEOUT_MS),
    allowPrivateTargets: bool('allowPrivateTargets', options.allowPrivateTargets, false),
    catchAll: bool('catchAll', options.catchAll, true),
    startTls: bool('startTls', options.startTls, true),
    transcript: bool('transcript', options.transcript, false),
    localAddress: typeof localAddress === 'string' ? localAddress : null,
    proxy: proxy as string[],
    proxyRoutes: routesOption as ProxyRouteOption[],
    proxyDistinctEgress: bool('proxyDistinctEgress', options.proxyDistinctEgress, false),
    hostRate: hostRate(options.hostRate),
    hostRateLimiter: options.hostRateLimiter ?? null,
    resolver: options.resolver ?? null,
    prober: options.prober ?? null,
    openSession: options.openSession ?? null,
    catchAllFacts: options.catchAllFacts ?? null,
    hostLimits: options.hostLimits ?? null,
  };
}
