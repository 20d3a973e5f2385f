/**
 * Wires syntax → domain facts → DNS → SMTP → classification (docs/verdicts.md). The only module that joins
 * the I/O layers; it receives them as ports (`resolver`, `prober`) so it can be tested with real servers
 * or with fakes.
 */
import { randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { CatchAllReads, decideReason } from './decide/index.js';
import { publishHostRateWait, verifyDoneChannel, warnOnce } from './diagnostics.js';
import { domainFacts, domainOnlyFacts, type DomainOnlyFacts } from './domain/index.js';
import { createResolver, type Resolver } from './dns/resolver.js';
import { allowedTargets } from './dns/target-filter.js';
import { ProxyPool } from './proxy/proxy-pool.js';
import { createProxyRouter, type ProxyRouter } from './proxy/proxy-router.js';
import { ArgumentError, OptionsError, VerifyError } from './errors.js';
import { rejectUnknownKeys } from './option-keys.js';
import {
  DEFAULT_BACKOFF_MS,
  DEFAULT_GREYLIST_RETRIES,
  DEFAULT_HOST_CONCURRENCY,
  DEFAULT_HOST_TRIES,
  DEFAULT_MAX_BACKOFF_MS,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_VERIFY_MANY_CONCURRENCY,
  integerOption,
  resolveOptions,
  VERIFY_OPTION_KEYS,
  type ResolvedOptions,
  type VerifyOptions,
} from './options.js';
import { matchProvider, type ProviderRule } from './providers/index.js';
import {
  HarvestAllowance,
  HostRateWindow,
  DEFAULT_SLOW_START,
  rateCeiling,
  schedule,
  type Concluded,
  type Conversation,
  type Reservation,
  type PlannedAddress,
  type Preparation,
  type ResultBody,
  type SchedulerPorts,
  type SchedulerSettings,
} from './scheduler/index.js';
import { createProber } from './smtp/probe.js';
import { isPermanentNegativeReply, isPositiveReply } from './smtp/reply-parser.js';
import { SmtpSession } from './smtp/session.js';
import { parseAddress, suggestDomain, suggestionFor } from './syntax/index.js';
import {
  verdictOf,
  type DnsResult,
  type Connector,
  type Flags,
  type HostRateLimiter,
  type RateGrant,
  type MailResolver,
  type MailRoute,
  type ProbeResult,
  type ProbeTarget,
  type Prober,
  type Reason,
  type SessionOverrides,
  type SmtpResult,
  type SyntaxResult,
  type VerifyResult,
} from './types.js';

/** A catch-all verdict is a property of the domain's server, not of one address: cache it for a while. */
const CATCH_ALL_CACHE_TTL_MS = 3_600_000;
/** A greylist retry must leave this much of the deadline for the second conversation. */
const GREYLIST_RETRY_MARGIN_MS = 5_000;
/** How soon `verify()` asks again for room in a host's window of RCPTs per minute, at the least. */
const RATE_RETRY_MS = 100;
/** Bound on hosts × addresses tried for one address, so a domain with 50 MX records cannot stall us. */
const MAX_TARGETS = 6;

export interface VerifyCallOptions {
  /** Aborts this verification; it then resolves with an `unknown/timeout` result. */
  readonly signal?: AbortSignal;
  /** This call's deadline, in milliseconds, instead of the verifier's `timeoutMs`. */
  readonly timeoutMs?: number;
  /** This call's EHLO name, instead of the verifier's `helo` (validated the same way). */
  readonly helo?: string;
  /** This call's `MAIL FROM` reverse-path, instead of the verifier's `mailFrom`. */
  readonly mailFrom?: string;
  /** This call's SMTP port, instead of the verifier's `smtpPort`. */
  readonly smtpPort?: number;
  /**
   * Send this call through one of the verifier's own proxies (`proxy` or `proxyRoutes`), named by its
   * URL (`socks5://[user:pass@]host:port`), instead of the routing rules. A proxy the verifier was not
   * configured with is refused with `OptionsError`: a caller must not make the verifier connect anywhere.
   */
  readonly proxy?: string;
}

export interface VerifyManyOptions {
  /** Stops reading the input; every address in flight ends as `unknown/timeout`. */
  readonly signal?: AbortSignal;
  /**
   * Addresses read from the input and not yet yielded, at most: the memory bound of a run. Default
   * 2000. A greylisted address waiting for its retry holds its place.
   */
  readonly concurrency?: number;
  /** Sessions open at once to one MX host address. Default 2; a provider rule may lower it. */
  readonly hostConcurrency?: number;
  /** Commands per second sent to one MX host address, over all its sessions. Default 0: no pace. */
  readonly hostCommandsPerSecond?: number;
  /**
   * The slow start at an MX host address whose replies a second are not known: replies one second
   * may carry at first, then twice the most it answered on time in a second, until it slows down or
   * proves 1,600 (docs/bulk.md, "Replies per second"). Default 100; 0: no slow start.
   */
  readonly slowStart?: number;
  /**
   * Sessions an address may take part in without getting its own RCPT reply (disconnects, 421,
   * rate limits, hosts that cannot be reached) before it ends as `unknown`. Default 4.
   */
  readonly hostTries?: number;
  /** First wait after a host pushes back, in milliseconds; doubled on each further failure. Default 2000. */
  readonly backoffMs?: number;
  /** Longest wait after a host pushes back, in milliseconds. Default 120000. */
  readonly maxBackoffMs?: number;
  /** Greylisting retries per address (each after the server's window or `greylistWaitMs`). Default 2. */
  readonly greylistRetries?: number;
  /**
   * SMTP sessions open at once over all MX hosts (each holds a socket, a file descriptor). Default 256:
   * under the usual 1,024 descriptors a process may open, with room for DNS, the job store and a server.
   */
  readonly maxSessions?: number;
}

/** The keys of `VerifyCallOptions`, once; others are refused. */
const VERIFY_CALL_OPTION_KEY_SET = {
  signal: true,
  timeoutMs: true,
  helo: true,
  mailFrom: true,
  smtpPort: true,
  proxy: true,
} as const satisfies Record<keyof VerifyCallOptions, true>;
/** The keys of `VerifyManyOptions`, once; others are refused. */
const VERIFY_MANY_OPTION_KEY_SET = {
  signal: true,
  concurrency: true,
  hostConcurrency: true,
  hostCommandsPerSecond: true,
  slowStart: true,
  hostTries: true,
  backoffMs: true,
  maxBackoffMs: true,
  greylistRetries: true,
  maxSessions: true,
} as const satisfies Record<keyof VerifyManyOptions, true>;
export const VERIFY_CALL_OPTION_KEYS = Object.keys(
  VERIFY_CALL_OPTION_KEY_SET,
) as readonly (keyof VerifyCallOptions)[];
export const VERIFY_MANY_OPTION_KEYS = Object.keys(
  VERIFY_MANY_OPTION_KEY_SET,
) as readonly (keyof VerifyManyOptions)[];

/** A verifier: shared caches (MX answers, catch-all verdicts) and configuration for many verifications. */
export interface Verifier {
  /** Verifies one address. Resolves with a result for any input; rejects only on misuse. */
  verify(address: string, options?: VerifyCallOptions): Promise<VerifyResult>;
  /**
   * Verifies many addresses, yielding each result as it completes (not in input order; each result
   * carries its `input`). Reads the input lazily, so memory is bounded by the work in flight.
   */
  verifyMany(
    addresses: Iterable<string> | AsyncIterable<string>,
    options?: VerifyManyOptions,
  ): AsyncIterable<VerifyResult>;
  /** Releases sockets and caches. The verifier cannot be used afterwards. */
  close(): Promise<void>;
}

/** A result before its timing fields. */
type Body = ResultBody;

/** What `prepare()` hands to the SMTP side: the scheduler's fields plus the parts of the result so far. */
interface ProbePlan extends PlannedAddress {
  readonly base: Pick<Body, 'input' | 'address' | 'suggestion' | 'syntax'>;
  readonly flags: Flags;
  readonly dns: DnsResult;
}

type Prepared = Preparation<ProbePlan>;

/** What a domain alone decides with no network: its typo suggestion (`suggestDomain()`) and facts. */
interface DomainNotes {
  readonly suggestion: string | null;
  readonly facts: DomainOnlyFacts;
}

/**
 * Domains whose notes a verifier keeps, the oldest dropped first: a bulk list repeats a few domains
 * thousands of times, and a list of ever new ones only cycles the oldest out.
 */
const MAX_DOMAIN_NOTES = 10_000;

interface CatchAllEntry {
  readonly accepted: boolean;
  readonly expires: number;
}

function isFullyQualified(name: string): boolean {
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(name) && !/\.(local|localdomain|lan|home|internal)$/i.test(name);
}

/**
 * Random bytes for `randomLocalPart()`, drawn from the system's generator 32 local parts at a time: a
 * bulk run makes one per domain, and each draw of 8 bytes was a buffer and a system call.
 */
const localPartBytes = Buffer.alloc(256);
let localPartOffset = localPartBytes.length;

function randomLocalPart(): string {
  if (localPartOffset === localPartBytes.length) {
    randomFillSync(localPartBytes);
    localPartOffset = 0;
  }
  const start = localPartOffset;
  localPartOffset += 8;
  // Letters and digits only: some servers reject unusual characters before looking the mailbox up.
  return `r${localPartBytes.toString('hex', start, start + 8)}`;
}

function dnsBlock(route: MailRoute): DnsResult {
  switch (route.kind) {
    case 'hosts':
      return { mx: route.mx, implicitMx: route.implicitMx, nullMx: false, error: null };
    case 'null_mx':
      return { mx: [{ exchange: '.', priority: 0 }], implicitMx: false, nullMx: true, error: null };
    case 'nxdomain':
      return { mx: null, implicitMx: false, nullMx: false, error: 'NXDOMAIN' };
    case 'no_mail_server':
      return { mx: route.mx, implicitMx: false, nullMx: false, error: null };
    case 'error':
      return { mx: null, implicitMx: false, nullMx: false, error: route.error };
  }
}

/**
 * Creates a verifier. Options are validated here, once: a bad value throws `OptionsError`, an unknown
 * key `UnknownOptionError` (an `OptionsError` naming the key and the nearest known one).
 */
export function createVerifier(options: VerifyOptions = {}): Verifier {
  rejectUnknownKeys(options, VERIFY_OPTION_KEYS);
  const verifier = new RcptVerifier(options);
  // A plain object, as before: its methods may be passed around without their verifier.
  return {
    verify: (address, callOptions) => verifier.verify(address, callOptions),
    verifyMany: (addresses, manyOptions) => verifier.verifyMany(addresses, manyOptions),
    close: () => verifier.close(),
  };
}

/**
 * The verifier: the resolved options, the I/O ports (`resolver`, `prober`), and what verifications
 * share (the catch-all cache, the harvest allowance, the runs of `verifyMany()` still going).
 */
class RcptVerifier implements Verifier {
  readonly #config: ResolvedOptions;
  readonly #helo: string;
  readonly #ownResolver: boolean;
  readonly #resolver: MailResolver & { close?: () => void };
  readonly #prober: Prober;
  readonly #catchAllCache = new Map<string, CatchAllEntry>();
  /** The domain's random-address reply read once, not once per address concluded with it. */
  readonly #catchAllReads = new CatchAllReads();
  /**
   * Refused RCPTs per MX address at gateways that count them per hour (IronPort DHAP), shared by
   * `verify()` and `verifyMany()`: both reserve their RCPTs in it before sending them.
   */
  readonly #allowance = new HarvestAllowance();
  /** RCPTs per minute per MX address (`hostRate`), in memory unless a shared limiter is given. */
  readonly #rate: HostRateLimiter;
  /** `verifyMany()` runs still going: `close()` ends them. */
  readonly #runs = new Set<AbortController>();
  #closed = false;
  /** The operator's SOCKS5 proxies and routes (docs/proxies.md), `null` when there are none. */
  readonly #proxies: ProxyRouter | null;
  /** Per route object (see `#dnsBlockOf()`): its `dns` result part, and its targets when direct. */
  readonly #dnsBlocks = new WeakMap<MailRoute, DnsResult>();
  /** Per domain, its typo suggestion and its free and disposable facts (`#notesOf()`). */
  readonly #notes = new Map<string, DomainNotes>();
  /** A domain's typo suggestion, for `suggestionFor()`: one function for every address, not one each. */
  readonly #suggestionOf = (asciiDomain: string): string | null => this.#notesOf(asciiDomain).suggestion;
  readonly #directTargets = new WeakMap<
    MailRoute,
    { readonly targets: readonly ProbeTarget[]; readonly refused: number }
  >();

  constructor(options: VerifyOptions) {
    const config = resolveOptions(options);
    this.#config = config;
    this.#rate = config.hostRateLimiter ?? new HostRateWindow();
    // A proxy URL that does not parse is refused here, before any address is looked at.
    this.#proxies = createProxyRouter(config.proxy, config.proxyRoutes);
    const helo = config.helo ?? hostname();
    this.#helo = helo;
    if (!isFullyQualified(helo)) {
      warnOnce({
        code: 'HELO_NOT_FQDN',
        message: `HELO name "${helo}" is not a fully qualified domain name; receivers and blocklists penalise that (set --helo)`,
      });
    }
    this.#ownResolver = config.resolver === null;
    this.#resolver = config.resolver ?? createMailResolver(config);
    this.#prober =
      config.prober ??
      createProber({
        port: config.smtpPort,
        helo,
        mailFrom: config.mailFrom,
        connectTimeoutMs: config.connectTimeoutMs,
        greetingTimeoutMs: config.greetingTimeoutMs,
        commandTimeoutMs: config.commandTimeoutMs,
        startTls: config.startTls,
        transcript: config.transcript,
        localAddress: config.localAddress,
      });
  }

  /**
   * The answer for an address at a gateway whose hour of refused RCPTs is used up at `ip`: not asked
   * (past the threshold the answer could not be trusted, and probing on is what gets a sender listed);
   * `retryAt` says when the window frees up. Both paths answer with this.
   */
  #harvestLimited(plan: ProbePlan, ip: string, wanted = 1): Body {
    return {
      ...plan.base,
      ...outcome('rate_limited'),
      flags: plan.flags,
      dns: plan.dns,
      smtp: null,
      retryAt: new Date(this.#allowance.freesAt(ip, wanted)).toISOString(),
    };
  }

  /**
   * Reserves the RCPTs of one probe (`wanted()`: the address, and the catch-all probe while it is
   * needed) at the first MX address, whose rule (by MX name) or an earlier banner may limit refusals per
   * hour. Waits while the rest of the allowance is held by RCPTs in flight elsewhere; ends with the
   * `rate_limited` answer when what is left cannot hold them.
   */
  async #reserveRcpts(
    plan: ProbePlan,
    provider: ProviderRule | null,
    wanted: () => number,
    signal: AbortSignal,
  ): Promise<{ readonly held: Reservation } | { readonly limited: Body }> {
    const ip = plan.targets[0]?.ip ?? '';
    const limit = provider?.maxInvalidRecipientsPerHour ?? null;
    for (;;) {
      const count = wanted();
      const reservation = this.#allowance.reserve(ip, limit, count, count);
      if (reservation.count === count) return { held: reservation };
      if (this.#allowance.inFlight(ip) === 0 || signal.aborted)
        return { limited: this.#harvestLimited(plan, ip, count) };
      await this.#allowance.released(ip, signal);
    }
  }

  /**
   * The politeness ceiling (`hostRate`) for one probe: its `count` RCPTs granted at the first MX
   * address, waiting for room in the window while the deadline allows; past it, the address is not
   * asked and gets `unknown/rate_limited` with `retryAt`. (The bulk scheduler counts at the address it
   * is connected to; a probe that falls through to a later MX counts at the first.)
   */
  async #grantRcpts(
    plan: ProbePlan,
    provider: ProviderRule | null,
    count: number,
    signal: AbortSignal,
    deadlineAt: number,
  ): Promise<{ readonly grant: RateGrant | null } | { readonly limited: Body }> {
    const ceiling = rateCeiling(this.#config.hostRate, provider);
    if (ceiling === null) return { grant: null };
    const ip = plan.targets[0]?.ip ?? '';
    for (;;) {
      const grant = await this.#rate.reserve(ip, ceiling, count);
      if (grant.count >= count) return { grant };
      grant.settle(0);
      if (grant.count === 0) publishHostRateWait({ ip, perMinute: ceiling, waitMs: grant.waitMs });
      // A part granted: the rest frees up soon; ask again shortly rather than send half a probe.
      const wait = grant.count > 0 ? RATE_RETRY_MS : Math.max(grant.waitMs, RATE_RETRY_MS);
      if (Date.now() + wait >= deadlineAt || !(await waitUnlessAborted(wait, signal))) {
        return {
          limited: {
            ...plan.base,
            ...outcome('rate_limited'),
            flags: plan.flags,
            dns: plan.dns,
            smtp: null,
            retryAt: new Date(Date.now() + wait).toISOString(),
          },
        };
      }
    }
  }

  #knownCatchAllOf(domain: string): boolean | null {
    const cached = this.#catchAllCache.get(domain);
    if (cached !== undefined && cached.expires > Date.now()) return cached.accepted;
    return this.#config.catchAllFacts?.known(domain) ?? null;
  }

  /** What `asciiDomain` alone decides without the network, worked out once per domain (`#notes`). */
  #notesOf(asciiDomain: string): DomainNotes {
    let notes = this.#notes.get(asciiDomain);
    if (notes === undefined) {
      const literal = asciiDomain.startsWith('[');
      notes = {
        suggestion: literal ? null : suggestDomain(asciiDomain),
        facts: domainOnlyFacts(asciiDomain),
      };
      if (this.#notes.size >= MAX_DOMAIN_NOTES) {
        const oldest = this.#notes.keys().next();
        if (oldest.done !== true) this.#notes.delete(oldest.value);
      }
      this.#notes.set(asciiDomain, notes);
    }
    return notes;
  }

  /**
   * The first half of a verification, shared by `verify()` and the bulk scheduler: syntax, domain
   * facts, DNS and the probe targets. Ends with a finished body when no SMTP conversation is needed.
   * Answers at once, without a promise, when the resolver remembers the domain's route (most addresses
   * of a bulk list): the bulk scheduler goes on with the address in the same turn.
   */
  #prepare(input: string, signal: AbortSignal): Prepared | Promise<Prepared> {
    // Parsed once per address: the suggestion reads the same parse.
    const syntax: SyntaxResult = parseAddress(input);
    const suggestion = suggestionFor(input, syntax, this.#suggestionOf);
    const base = {
      input,
      address: syntax.valid ? `${syntax.localPart ?? ''}@${syntax.domain ?? ''}` : null,
      suggestion,
      syntax,
    };
    if (!syntax.valid || syntax.localPart === null || syntax.asciiDomain === null) {
      const noFlags: Flags = { role: false, free: false, disposable: false, catchAll: false };
      return {
        kind: 'done',
        body: { ...base, ...outcome('invalid_syntax'), flags: noFlags, dns: null, smtp: null, retryAt: null },
      };
    }
    const localPart = syntax.localPart;
    const domain = syntax.asciiDomain;
    const facts = domainFacts(localPart, domain, this.#notesOf(domain).facts);
    // Written out, not spread: the same fields in the same order, made without copying an object.
    const flags: Flags = {
      role: facts.role,
      free: facts.free,
      disposable: facts.disposable,
      catchAll: false,
    };
    const smtputf8 = syntax.smtputf8;
    const known = domain.startsWith('[')
      ? literalRoute(domain)
      : (this.#resolver.remembered?.(domain) ?? null);
    if (known !== null) return this.#planned(base, flags, localPart, domain, smtputf8, known, signal);
    return this.#resolver
      .resolveMail(domain, signal)
      .then((route) => this.#planned(base, flags, localPart, domain, smtputf8, route, signal));
  }

  /** The rest of `#prepare()` once the domain's route is known. */
  #planned(
    base: ProbePlan['base'],
    flags: Flags,
    localPart: string,
    domain: string,
    smtputf8: boolean,
    route: MailRoute,
    signal: AbortSignal,
  ): Prepared {
    const dns = this.#dnsBlockOf(route);
    switch (route.kind) {
      case 'nxdomain':
        return dnsOnly(base, flags, dns, 'domain_not_found');
      case 'null_mx':
        return dnsOnly(base, flags, dns, 'null_mx');
      case 'no_mail_server':
        return dnsOnly(base, flags, dns, 'no_mail_server');
      case 'error':
        return dnsOnly(base, flags, dns, signal.aborted ? 'timeout' : 'dns_error');
      case 'hosts':
        break;
    }

    const { targets, refused } = this.#targetsOf(route, domain, localPart);
    if (targets.length === 0)
      return dnsOnly(base, flags, dns, refused > 0 ? 'target_not_allowed' : 'no_mail_server');
    const knownCatchAll = this.#knownCatchAllOf(domain);
    return {
      kind: 'probe',
      plan: {
        base,
        flags,
        dns,
        recipient: `${localPart}@${domain}`,
        domain,
        targets,
        smtputf8,
        needsCatchAll: this.#config.catchAll && knownCatchAll === null,
      },
    };
  }

  /**
   * The `dns` part of the result for a route. The resolver hands out the same route object while its
   * records stay cached, so a bulk run builds this once per domain, not once per address.
   */
  #dnsBlockOf(route: MailRoute): DnsResult {
    let block = this.#dnsBlocks.get(route);
    if (block === undefined) {
      block = dnsBlock(route);
      this.#dnsBlocks.set(route, block);
    }
    return block;
  }

  /**
   * The addresses the route allows probing, in MX order, at most `MAX_TARGETS`, and how many the
   * private-target filter refused. Without proxies they depend on the route alone, and are kept per
   * route object as `#dnsBlockOf()` keeps its part.
   */
  #targetsOf(
    route: MailRoute & { kind: 'hosts' },
    domain: string,
    localPart: string,
  ): { readonly targets: readonly ProbeTarget[]; readonly refused: number } {
    // Most addresses of a bulk run take the kept answer: that is all V8 optimizes here, not the work
    // below, which runs once per route (docs/architecture.md, "CPU").
    const known = this.#proxies === null ? this.#directTargets.get(route) : undefined;
    return known ?? this.#findTargets(route, domain, localPart);
  }

  /** `#targetsOf()` worked out: the route filtered, and each target's proxy chosen. */
  #findTargets(
    route: MailRoute & { kind: 'hosts' },
    domain: string,
    localPart: string,
  ): { readonly targets: readonly ProbeTarget[]; readonly refused: number } {
    const direct = this.#proxies === null;
    const allowed = allowedTargets(route.hosts, this.#config.allowPrivateTargets);
    const targets: ProbeTarget[] = [];
    // The route is chosen per MX host, and the proxy is asked for the address checked here: the
    // private-target filter decides whatever the proxy could reach (docs/proxies.md).
    const viaOf = new Map<string, Connector | null>();
    for (const { host, ip } of allowed.targets.slice(0, MAX_TARGETS)) {
      let via = viaOf.get(host);
      if (via === undefined) {
        via =
          this.#proxies?.route({
            domain,
            mxHost: host,
            provider: matchProvider({ mxHost: host, banner: null })?.id ?? null,
          }) ?? null;
        viaOf.set(host, via);
      }
      // Distinct egress addresses: each recipient keeps one member, whose caps count apart.
      const through =
        via instanceof ProxyPool && this.#config.proxyDistinctEgress && via.endpoints.length > 1
          ? via.pinned(`${localPart}@${domain}|${ip}`)
          : via;
      targets.push(through === null ? { host, ip } : { host, ip, via: through });
    }
    const found = { targets, refused: allowed.refused };
    if (direct) this.#directTargets.set(route, found);
    return found;
  }

  /**
   * The second half, shared by `verify()` and the bulk scheduler: what the SMTP conversation said about
   * this address (its RCPT reply, or why there was none; the domain's catch-all reply when one was
   * asked) becomes the result body (decide/decide.ts). `waitMs` is set when a greylisting retry may
   * give an answer.
   */
  #conclude(plan: ProbePlan, conversation: Conversation): Concluded {
    const provider = conversation.provider;
    let catchAll = this.#knownCatchAllOf(plan.domain);
    const probed = this.#catchAllReads.answer(conversation.catchAll, provider);
    if (probed !== null) {
      catchAll = probed;
      this.#catchAllCache.set(plan.domain, {
        accepted: probed,
        expires: Date.now() + CATCH_ALL_CACHE_TTL_MS,
      });
      this.#config.catchAllFacts?.learned(plan.domain, probed);
    }
    const { role, free, disposable } = plan.flags;
    const flags: Flags = { role, free, disposable, catchAll: catchAll === true };
    // Another RCPT accepted from this client (same IP, HELO, MAIL FROM): another recipient of the session,
    // or the domain's random address. Then the server is not refusing us, and an ambiguous refusal of this
    // recipient is about the recipient (docs/verdicts.md, "Ambiguous replies"); explainReply() reads a
    // transcript the same way.
    const otherRecipientAccepted =
      conversation.otherRecipientAccepted ||
      (conversation.catchAll !== null && isPositiveReply(conversation.catchAll));
    const decision = decideReason({
      reply: conversation.reply,
      classification: conversation.classification,
      failure: conversation.failure,
      provider,
      otherRecipientAccepted,
      catchAll,
      flags,
      timedOut: conversation.timedOut,
    });
    let retryAt: string | null = null;
    let waitMs: number | null = null;
    if (decision.reason === 'greylisted' || decision.reason === 'rate_limited') {
      const wait =
        decision.retryAfterMs ?? (decision.reason === 'greylisted' ? this.#config.greylistWaitMs : null);
      if (wait !== null && wait > 0) {
        retryAt = new Date(Date.now() + wait).toISOString();
        if (decision.reason === 'greylisted') waitMs = wait;
      }
    }
    const smtp: SmtpResult = {
      host: conversation.host,
      ip: conversation.ip,
      port: conversation.port,
      tls: conversation.tls,
      provider: provider?.id ?? null,
      reply: conversation.reply ?? conversation.failure?.reply ?? null,
      catchAll,
      attempts: conversation.attempts,
      transcript: conversation.transcript,
      // A connection that failed to open through a proxy leaves no session view: its failure names it.
      proxy: conversation.proxy ?? conversation.failure?.proxy ?? null,
    };
    const { base } = plan;
    const body: Body = {
      input: base.input,
      address: base.address,
      verdict: verdictOf(decision.reason),
      reason: decision.reason,
      flags,
      suggestion: base.suggestion,
      syntax: base.syntax,
      dns: plan.dns,
      smtp,
      retryAt,
    };
    return { body, waitMs };
  }

  async #verifyOne(
    input: string,
    signal: AbortSignal,
    deadlineAt: number,
    session: SessionOverrides | undefined,
    via: Connector | null = null,
  ): Promise<Body> {
    const prepared = await this.#prepare(input, signal);
    if (prepared.kind === 'done') return prepared.body;
    const plan =
      via === null
        ? prepared.plan
        : { ...prepared.plan, targets: prepared.plan.targets.map((target) => ({ ...target, via })) };
    // The rule of the first MX host's name, known before connecting (limits, one RCPT per transaction).
    const firstProvider = matchProvider({ mxHost: plan.targets[0]?.host ?? null, banner: null });
    let catchAllRecipient: string | null = plan.needsCatchAll ? `${randomLocalPart()}@${plan.domain}` : null;
    let attempts = 0;
    for (;;) {
      const reserved = await this.#reserveRcpts(
        plan,
        firstProvider,
        () => {
          // Another call may have learned the domain's catch-all status meanwhile (while this one
          // waited for the harvest allowance or a greylisting window): the random RCPT is not needed.
          if (catchAllRecipient !== null && this.#knownCatchAllOf(plan.domain) !== null)
            catchAllRecipient = null;
          return catchAllRecipient === null ? 1 : 2;
        },
        signal,
      );
      if ('limited' in reserved) return reserved.limited;
      const { held } = reserved;
      const granted = await this.#grantRcpts(plan, firstProvider, held.count, signal, deadlineAt);
      if ('limited' in granted) {
        held.release();
        return granted.limited;
      }
      let probe: ProbeResult;
      let provider: ProviderRule | null;
      try {
        probe = await this.#prober.probe({
          targets: plan.targets,
          recipients: [plan.recipient],
          catchAllRecipient,
          smtputf8: plan.smtputf8,
          oneRecipientPerTransaction: firstProvider?.oneRecipientPerTransaction === true,
          signal,
          ...(session === undefined ? {} : { session }),
        });
        provider = matchProvider({ mxHost: probe.host, banner: probe.banner });
        // Counted at the address that answered (a later MX when the first could not be reached); a
        // limit matched only on the banner is remembered there for the next reservation.
        if (probe.ip !== null)
          this.#allowance.record(
            probe.ip,
            provider?.maxInvalidRecipientsPerHour ?? null,
            refusedRcpts(probe),
          );
      } finally {
        held.release();
        granted.grant?.settle(held.count);
      }
      attempts += probe.attempts;
      // A 4xx to the random address (greylisting, a 452 recipient limit) says nothing: ask again on retry.
      if (this.#catchAllReads.answer(probe.catchAll, provider) !== null) catchAllRecipient = null;
      const concluded = this.#conclude(
        plan,
        conversationOf(probe, plan.recipient, provider, attempts, signal.aborted),
      );
      const waitMs = concluded.waitMs;
      // Greylisting passes on a retry with the same (IP, MAIL FROM, RCPT) triplet (RFC 6647 §2.1).
      if (waitMs !== null && Date.now() + waitMs + GREYLIST_RETRY_MARGIN_MS < deadlineAt) {
        if (await waitUnlessAborted(waitMs, signal)) continue;
      }
      return concluded.body;
    }
  }

  /** Adds the timing fields in the key order of docs/result.md (stable, readable JSON) and publishes. */
  #finish(body: Body, startedAt: number, checkedAt: string): VerifyResult {
    const result: VerifyResult = {
      input: body.input,
      address: body.address,
      verdict: body.verdict,
      reason: body.reason,
      flags: body.flags,
      suggestion: body.suggestion,
      syntax: body.syntax,
      dns: body.dns,
      smtp: body.smtp,
      durationMs: Math.round(performance.now() - startedAt),
      checkedAt,
      retryAt: body.retryAt,
    };
    if (verifyDoneChannel.hasSubscribers) verifyDoneChannel.publish({ result });
    return result;
  }

  /** The configured proxy a call names (`VerifyCallOptions.proxy`); throws `OptionsError` for any other. */
  #configuredProxy(url: string): Connector {
    const pool = this.#proxies?.named(url) ?? null;
    if (pool === null) {
      throw new OptionsError('proxy', 'not one of the proxies this verifier was configured with');
    }
    return pool;
  }

  async verify(input: string, callOptions: VerifyCallOptions = {}): Promise<VerifyResult> {
    if (this.#closed) throw new VerifyError('ERR_RCPT_CLOSED', 'verifier is closed');
    const value: unknown = input;
    if (typeof value !== 'string') {
      const given = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
      throw new ArgumentError('address', `verify(): the address must be a string, got ${given}`);
    }
    rejectUnknownKeys(callOptions, VERIFY_CALL_OPTION_KEYS);
    const started = performance.now();
    const checkedAt = new Date().toISOString();
    const { timeoutMs, session } = callSettings(callOptions, this.#config);
    const via = callOptions.proxy === undefined ? null : this.#configuredProxy(callOptions.proxy);
    // The deadline's timer ends with the call: AbortSignal.timeout() would keep one per call alive
    // until its deadline (50,000 quick DNS-only calls: 50,000 timers for `timeoutMs`).
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort(new DOMException('verification deadline', 'TimeoutError'));
    }, timeoutMs);
    const signal = callOptions.signal
      ? AbortSignal.any([deadline.signal, callOptions.signal])
      : deadline.signal;
    try {
      const body = await this.#verifyOne(input, signal, Date.now() + timeoutMs, session, via);
      return this.#finish(body, started, checkedAt);
    } finally {
      clearTimeout(timer);
    }
  }

  verifyMany(
    addresses: Iterable<string> | AsyncIterable<string>,
    manyOptions: VerifyManyOptions = {},
  ): AsyncIterable<VerifyResult> {
    if (this.#closed) throw new VerifyError('ERR_RCPT_CLOSED', 'verifier is closed');
    const settings = this.#manySettings(manyOptions);
    const signal = manyOptions.signal;
    if (this.#config.prober !== null && this.#config.openSession === null) {
      // An injected prober is a one-address port: no sessions to share, so a bounded pool of verify().
      warnOnce({
        code: 'VERIFY_MANY_PROBER',
        message:
          'verifyMany() with an injected prober and no openSession verifies address by address (no shared sessions, no per-host scheduling)',
      });
      return pool(addresses, Math.min(settings.window, 64), (address) =>
        this.verify(address, signal === undefined ? {} : { signal }),
      );
    }
    // close() ends the runs still going: their sessions close and their addresses end as timeouts.
    const run = new AbortController();
    const runSignal = signal === undefined ? run.signal : AbortSignal.any([run.signal, signal]);
    const runs = this.#runs;
    const ports: SchedulerPorts<ProbePlan> = {
      prepare: (input, prepareSignal) => this.#prepare(input, prepareSignal),
      conclude: (plan, conversation) => this.#conclude(plan, conversation),
      finish: (body, startedAt, checkedAt) => this.#finish(body, startedAt, checkedAt),
      allowance: this.#allowance,
      rate: this.#rate,
      hostLimits: this.#config.hostLimits,
      harvestLimited: (plan, ip) => this.#harvestLimited(plan, ip),
    };
    return schedule(addresses, ports, settings, runSignal, {
      started: () => runs.add(run),
      ended: () => runs.delete(run),
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const run of this.#runs) run.abort();
    this.#catchAllCache.clear();
    if (this.#ownResolver) this.#resolver.close?.();
    await Promise.resolve();
  }

  #manySettings(manyOptions: VerifyManyOptions): SchedulerSettings {
    rejectUnknownKeys(manyOptions, VERIFY_MANY_OPTION_KEYS);
    const count = (name: keyof VerifyManyOptions, fallback: number, min = 1): number =>
      integerOption(name, manyOptions[name], fallback, min);
    return {
      window: count('concurrency', DEFAULT_VERIFY_MANY_CONCURRENCY),
      hostConcurrency: count('hostConcurrency', DEFAULT_HOST_CONCURRENCY),
      hostCommandsPerSecond: count('hostCommandsPerSecond', 0, 0),
      slowStart: count('slowStart', DEFAULT_SLOW_START, 0),
      hostRate: this.#config.hostRate,
      hostTries: count('hostTries', DEFAULT_HOST_TRIES),
      backoffMs: count('backoffMs', DEFAULT_BACKOFF_MS),
      maxBackoffMs: count('maxBackoffMs', DEFAULT_MAX_BACKOFF_MS),
      greylistRetries: count('greylistRetries', DEFAULT_GREYLIST_RETRIES, 0),
      maxSessions: count('maxSessions', DEFAULT_MAX_SESSIONS),
      timeoutMs: this.#config.timeoutMs,
      randomLocalPart,
      openSession: this.#config.openSession ?? ((sessionOptions) => new SmtpSession(sessionOptions)),
      session: {
        port: this.#config.smtpPort,
        helo: this.#helo,
        mailFrom: this.#config.mailFrom,
        localAddress: this.#config.localAddress,
        connectTimeoutMs: this.#config.connectTimeoutMs,
        greetingTimeoutMs: this.#config.greetingTimeoutMs,
        commandTimeoutMs: this.#config.commandTimeoutMs,
        startTls: this.#config.startTls,
        transcript: this.#config.transcript,
      },
    };
  }
}

/**
 * A call's own deadline and session settings, validated by the same rules as the verifier's options
 * (`resolveOptions`, which throws `OptionsError` naming the option); `session` is left out when the
 * call changes nothing about how it presents itself.
 */
function callSettings(
  call: VerifyCallOptions,
  config: ResolvedOptions,
): { timeoutMs: number; session: SessionOverrides | undefined } {
  const { timeoutMs, helo, mailFrom, smtpPort } = call;
  if (timeoutMs === undefined && helo === undefined && mailFrom === undefined && smtpPort === undefined) {
    return { timeoutMs: config.timeoutMs, session: undefined };
  }
  const checked = resolveOptions({
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    ...(helo === undefined ? {} : { helo }),
    ...(mailFrom === undefined ? {} : { mailFrom }),
    ...(smtpPort === undefined ? {} : { smtpPort }),
  });
  const session: SessionOverrides = {
    ...(helo === undefined ? {} : { helo }),
    ...(mailFrom === undefined ? {} : { mailFrom: checked.mailFrom }),
    ...(smtpPort === undefined ? {} : { port: checked.smtpPort }),
  };
  return {
    timeoutMs: timeoutMs === undefined ? config.timeoutMs : checked.timeoutMs,
    session: Object.keys(session).length === 0 ? undefined : session,
  };
}

/**
 * An address literal (`user@[192.0.2.1]`, `user@[IPv6:2001:db8::1]`, RFC 5321 §4.1.3) names its host:
 * no DNS is asked (a bracketed name is no DNS name), and the address goes through the same target
 * filter as a resolved one, so `user@[127.0.0.1]` cannot reach this machine by default.
 */
/** What one probe said about `recipient` (a `ProbeResult` may carry several), for `conclude()`. */
function conversationOf(
  probe: ProbeResult,
  recipient: string,
  provider: ProviderRule | null,
  attempts: number,
  timedOut: boolean,
): Conversation {
  const reply = probe.replies.find((r) => r.recipient === recipient)?.reply ?? null;
  return {
    host: probe.host,
    ip: probe.ip,
    port: probe.port,
    tls: probe.tls,
    provider,
    reply,
    classification: null,
    otherRecipientAccepted:
      reply !== null && probe.replies.some((r) => r.reply !== reply && isPositiveReply(r.reply)),
    failure: probe.failure,
    catchAll: probe.catchAll,
    attempts,
    transcript: probe.transcript,
    timedOut,
    proxy: probe.proxy ?? null,
  };
}

function literalRoute(literal: string): MailRoute {
  const ip = literal.slice(1, -1).replace(/^IPv6:/i, '');
  return {
    kind: 'hosts',
    mx: [],
    implicitMx: false,
    hosts: [{ exchange: literal, priority: 0, addresses: [ip] }],
  };
}

function outcome(reason: Reason): { verdict: VerifyResult['verdict']; reason: Reason } {
  return { verdict: verdictOf(reason), reason };
}

/** A preparation that DNS ended: its result, with no SMTP part. */
function dnsOnly(base: ProbePlan['base'], flags: Flags, dns: DnsResult, reason: Reason): Prepared {
  return { kind: 'done', body: { ...base, ...outcome(reason), flags, dns, smtp: null, retryAt: null } };
}

/**
 * Runs `task` over `items` with at most `concurrency` in flight, yielding results as they complete.
 * Pulls the next item only when a slot frees up, so an endless input is fine.
 */
async function* pool<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  task: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const running = new Map<number, Promise<{ id: number; value: R }>>();
  let nextId = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && running.size < concurrency) {
        const step = await iterator.next();
        if (step.done === true) {
          exhausted = true;
          break;
        }
        const id = nextId++;
        running.set(
          id,
          task(step.value).then((value) => ({ id, value })),
        );
      }
      if (running.size === 0) return;
      const { id, value } = await Promise.race(running.values());
      running.delete(id);
      yield value;
    }
  } finally {
    // The consumer stopped early: let the tasks in flight finish quietly, and close the input.
    await Promise.allSettled(running.values());
    if (!exhausted) await iterator.return?.();
  }
}

/** RCPTs of a probe refused with a 5xx, the catch-all probe's included: what DHAP counts. */
function refusedRcpts(probe: ProbeResult): number {
  const replies = probe.replies.map((r) => r.reply);
  if (probe.catchAll !== null) replies.push(probe.catchAll);
  return replies.filter(isPermanentNegativeReply).length;
}

async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

export type { Resolver };

/**
 * rcpt's own resolver (its DNS client, with a TTL cache) for validated options: the one each verifier
 * makes unless given a `resolver`, and the one `rcpt worker` plans with (jobs/postgres/worker.ts), so
 * that both resolve alike. `close()` it when done.
 */
export function createMailResolver(config: ResolvedOptions): Resolver {
  return createResolver({
    servers: config.dnsServers,
    timeoutMs: config.dnsTimeoutMs,
    tries: config.dnsTries,
    maxCacheTtlMs: config.dnsCacheMaxTtlMs,
  });
}

/**
 * Verifies one address with a verifier of its own (no shared caches).
 *
 * @example
 * const result = await verify('alice@example.com', { mailFrom: 'verify@mydomain.example', helo: 'probe.mydomain.example' });
 * if (result.verdict === 'undeliverable') console.log(result.reason); // e.g. "mailbox_not_found"
 */
export async function verify(
  address: string,
  // `proxy` is the verifier's own option here (a URL or a pool), not a choice among configured ones.
  options: VerifyOptions & Omit<VerifyCallOptions, 'proxy'> = {},
): Promise<VerifyResult> {
  // Everything but the signal configures the one-call verifier (its per-call overrides would be the same).
  const { verifyOptions, callOptions } = splitOptions<Omit<VerifyCallOptions, 'proxy'>>(options, ['signal']);
  const verifier = createVerifier(verifyOptions);
  try {
    return await verifier.verify(address, callOptions);
  } finally {
    await verifier.close();
  }
}

/**
 * Verifies many addresses with one verifier made for the run: `createVerifier(options).verifyMany(
 * addresses, options)` with both kinds of options in one object, closed when the iteration ends
 * (all results read, `break`, or an error). Options are checked at the call, before anything is read.
 *
 * @example
 * for await (const result of verifyMany(['alice@example.com', 'bob@example.org'], { helo: 'probe.example.net' })) {
 *   console.log(result.input, result.verdict, result.reason);
 * }
 */
export function verifyMany(
  addresses: Iterable<string> | AsyncIterable<string>,
  options: VerifyOptions & VerifyManyOptions = {},
): AsyncIterable<VerifyResult> {
  const { verifyOptions, callOptions } = splitOptions(options, VERIFY_MANY_OPTION_KEYS);
  const verifier = createVerifier(verifyOptions);
  let results: AsyncIterable<VerifyResult>;
  try {
    results = verifier.verifyMany(addresses, callOptions);
  } catch (error) {
    void verifier.close();
    throw error;
  }
  return (async function* () {
    try {
      yield* results;
    } finally {
      await verifier.close();
    }
  })();
}

/**
 * Splits one options object into the verifier's options and the call's (`signal`, `verifyMany()`'s
 * settings); a key neither knows is refused, named, with the nearest key of either.
 */
function splitOptions<Call extends object>(
  options: object,
  callKeys: readonly (keyof Call)[],
): { verifyOptions: VerifyOptions; callOptions: Call } {
  if (typeof (options as unknown) !== 'object' || (options as unknown) === null) {
    return { verifyOptions: options, callOptions: {} as Call };
  }
  const call = callKeys as readonly string[];
  rejectUnknownKeys(options, [...VERIFY_OPTION_KEYS, ...call]);
  const entries = Object.entries(options);
  return {
    verifyOptions: Object.fromEntries(entries.filter(([key]) => !call.includes(key))),
    callOptions: Object.fromEntries(entries.filter(([key]) => call.includes(key))) as Call,
  };
}
