/**
 * Wires syntax → domain facts → DNS → SMTP → classification (DESIGN.md §1). The only module that joins
 * the I/O layers; it receives them as ports (`resolver`, `prober`) so it can be tested with real servers
 * or with fakes.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

import { classifyReply, type Classification } from './classify/index.js';
import { verifyDoneChannel, warnOnce } from './diagnostics.js';
import { domainFacts } from './domain/index.js';
import { createResolver } from './dns/resolver.js';
import { isAllowedTarget } from './dns/target-filter.js';
import { OptionsError } from './errors.js';
import { resolveOptions, type ResolvedOptions, type VerifyOptions } from './options.js';
import { matchProvider, type ProviderRule } from './providers/index.js';
import { createProber } from './smtp/probe.js';
import { parseAddress, suggestAddress } from './syntax/index.js';
import {
  verdictOf,
  type DnsResult,
  type Flags,
  type MailResolver,
  type MailRoute,
  type ProbeResult,
  type ProbeTarget,
  type Prober,
  type Reason,
  type SmtpReplyInfo,
  type SmtpResult,
  type SyntaxResult,
  type VerifyResult,
} from './types.js';

/** A catch-all verdict is a property of the domain's server, not of one address: cache it for a while. */
const CATCH_ALL_CACHE_TTL_MS = 3_600_000;
/** A greylist retry must leave this much of the deadline for the second conversation. */
const GREYLIST_RETRY_MARGIN_MS = 5_000;
/** Bound on hosts × addresses tried for one address, so a domain with 50 MX records cannot stall us. */
const MAX_TARGETS = 6;

export interface VerifyCallOptions {
  /** Aborts this verification; it then resolves with an `unknown/timeout` result. */
  readonly signal?: AbortSignal;
}

export interface VerifyManyOptions {
  /** Stops starting new verifications; those in flight end as `unknown/timeout`. */
  readonly signal?: AbortSignal;
  /** Addresses verified at once. Default 8. */
  readonly concurrency?: number;
}

/** Addresses in flight at once in `verifyMany()` unless told otherwise. */
export const DEFAULT_VERIFY_MANY_CONCURRENCY = 8;

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

interface Decision {
  readonly reason: Reason;
  readonly retryAfterMs: number | null;
}

interface CatchAllEntry {
  readonly accepted: boolean;
  readonly expires: number;
}

function isFullyQualified(name: string): boolean {
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(name) && !/\.(local|localdomain|lan|home|internal)$/i.test(name);
}

function randomLocalPart(): string {
  // Letters and digits only: some servers reject unusual characters before looking the mailbox up.
  return `r${randomBytes(8).toString('hex')}`;
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

const FAILURE_REASONS = {
  connection_failed: 'connection_failed',
  timeout: 'timeout',
  tls_error: 'tls_error',
  protocol_error: 'protocol_error',
  smtputf8_unsupported: 'smtputf8_unsupported',
} as const satisfies Record<string, Reason>;

/** Creates a verifier. Options are validated here, once; a bad option throws `OptionsError`. */
export function createVerifier(options: VerifyOptions = {}): Verifier {
  const config: ResolvedOptions = resolveOptions(options);
  const helo = config.helo ?? hostname();
  if (!isFullyQualified(helo)) {
    warnOnce({
      code: 'HELO_NOT_FQDN',
      message: `HELO name "${helo}" is not a fully qualified domain name; receivers and blocklists penalise that (set --helo)`,
    });
  }
  const ownResolver = config.resolver === null;
  const resolver: MailResolver & { close?: () => void } =
    config.resolver ??
    createResolver({
      servers: config.dnsServers,
      timeoutMs: config.dnsTimeoutMs,
      tries: config.dnsTries,
      maxCacheTtlMs: config.dnsCacheMaxTtlMs,
    });
  const prober: Prober =
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
  const catchAllCache = new Map<string, CatchAllEntry>();
  let closed = false;

  async function verifyOne(
    input: string,
    signal: AbortSignal,
    deadlineAt: number,
  ): Promise<Omit<VerifyResult, 'durationMs' | 'checkedAt'>> {
    const syntax: SyntaxResult = parseAddress(input);
    const suggestion = suggestAddress(input);
    const base = {
      input,
      address: syntax.valid ? `${syntax.localPart ?? ''}@${syntax.domain ?? ''}` : null,
      suggestion,
      syntax,
    };
    const noFlags: Flags = { role: false, free: false, disposable: false, catchAll: false };
    if (!syntax.valid || syntax.localPart === null || syntax.asciiDomain === null) {
      return { ...base, ...outcome('invalid_syntax'), flags: noFlags, dns: null, smtp: null, retryAt: null };
    }
    const localPart = syntax.localPart;
    const domain = syntax.asciiDomain;
    const facts = domainFacts(localPart, domain);
    let flags: Flags = { ...facts, catchAll: false };

    const route = await resolver.resolveMail(domain, signal);
    const dns = dnsBlock(route);
    const dnsOnly = (reason: Reason) => ({
      ...base,
      ...outcome(reason),
      flags,
      dns,
      smtp: null,
      retryAt: null,
    });
    switch (route.kind) {
      case 'nxdomain':
        return dnsOnly('domain_not_found');
      case 'null_mx':
        return dnsOnly('null_mx');
      case 'no_mail_server':
        return dnsOnly('no_mail_server');
      case 'error':
        return dnsOnly(signal.aborted ? 'timeout' : 'dns_error');
      case 'hosts':
        break;
    }

    const targets: ProbeTarget[] = [];
    let refused = 0;
    for (const host of route.hosts) {
      for (const ip of host.addresses) {
        if (!isAllowedTarget(ip, config.allowPrivateTargets)) refused += 1;
        else if (targets.length < MAX_TARGETS) targets.push({ host: host.exchange, ip });
      }
    }
    if (targets.length === 0) return dnsOnly(refused > 0 ? 'target_not_allowed' : 'no_mail_server');

    const cached = catchAllCache.get(domain);
    const knownCatchAll = cached !== undefined && cached.expires > Date.now() ? cached.accepted : null;
    const recipient = `${localPart}@${domain}`;
    let catchAll: boolean | null = knownCatchAll;
    let catchAllRecipient: string | null =
      config.catchAll && knownCatchAll === null ? `${randomLocalPart()}@${domain}` : null;
    let attempts = 0;
    for (;;) {
      const probe: ProbeResult = await prober.probe({
        targets,
        recipients: [recipient],
        catchAllRecipient,
        smtputf8: syntax.smtputf8,
        signal,
      });
      attempts += probe.attempts;
      const provider: ProviderRule | null = matchProvider({ mxHost: probe.host, banner: probe.banner });
      if (probe.catchAll !== null) {
        catchAll = probe.catchAll.code >= 200 && probe.catchAll.code < 300;
        catchAllCache.set(domain, { accepted: catchAll, expires: Date.now() + CATCH_ALL_CACHE_TTL_MS });
        catchAllRecipient = null;
      }
      flags = { ...flags, catchAll: catchAll === true };
      const rcptReply = probe.replies.find((r) => r.recipient === recipient)?.reply ?? null;
      const decision = decide(rcptReply, probe, provider, catchAll, flags, signal);
      let retryAt: string | null = null;
      if (decision.reason === 'greylisted' || decision.reason === 'rate_limited') {
        const waitMs =
          decision.retryAfterMs ?? (decision.reason === 'greylisted' ? config.greylistWaitMs : null);
        if (waitMs !== null && waitMs > 0) {
          retryAt = new Date(Date.now() + waitMs).toISOString();
          // Greylisting passes on a retry with the same (IP, MAIL FROM, RCPT) triplet (RFC 6647 §2.1).
          if (
            decision.reason === 'greylisted' &&
            Date.now() + waitMs + GREYLIST_RETRY_MARGIN_MS < deadlineAt
          ) {
            if (await waitUnlessAborted(waitMs, signal)) continue;
          }
        }
      }
      const smtp: SmtpResult = {
        host: probe.host,
        ip: probe.ip,
        port: probe.port,
        tls: probe.tls,
        provider: provider?.id ?? null,
        reply: rcptReply ?? probe.failure?.reply ?? null,
        catchAll,
        attempts,
        transcript: probe.transcript,
      };
      return { ...base, ...outcome(decision.reason), flags, dns, smtp, retryAt };
    }
  }

  /** Turns what the server said into a reason; the evidence of a missing mailbox dominates flags. */
  function decide(
    rcptReply: SmtpReplyInfo | null,
    probe: ProbeResult,
    provider: ProviderRule | null,
    catchAll: boolean | null,
    flags: Flags,
    signal: AbortSignal,
  ): Decision {
    if (rcptReply === null) {
      const failure = probe.failure;
      if (failure === null) return { reason: 'protocol_error', retryAfterMs: null };
      if (failure.kind === 'reply' && failure.reply !== null) {
        const classification = classifyReply(failure.reply, { provider });
        return { reason: classification.reason, retryAfterMs: classification.retryAfterMs };
      }
      if (failure.kind === 'reply') return { reason: 'unexpected_reply', retryAfterMs: null };
      // The deadline firing mid-session is a timeout whatever phase the connection was in.
      if (signal.aborted) return { reason: 'timeout', retryAfterMs: null };
      return { reason: FAILURE_REASONS[failure.kind], retryAfterMs: null };
    }
    const otherRecipientAccepted = probe.replies.some((r) => r.reply !== rcptReply && isPositive(r.reply));
    const classification: Classification = classifyReply(rcptReply, { provider, otherRecipientAccepted });
    if (classification.reason !== 'accepted') {
      return { reason: classification.reason, retryAfterMs: classification.retryAfterMs };
    }
    // A disposable service is risky whatever its server says; then a 250 that proves nothing.
    if (flags.disposable) return { reason: 'disposable', retryAfterMs: null };
    if (provider?.acceptAll === true) return { reason: 'accept_all_provider', retryAfterMs: null };
    if (catchAll === true) return { reason: 'catch_all', retryAfterMs: null };
    return { reason: 'accepted', retryAfterMs: null };
  }

  return {
    async verify(input: string, callOptions: VerifyCallOptions = {}): Promise<VerifyResult> {
      if (closed) throw new TypeError('verifier is closed');
      if (typeof (input as unknown) !== 'string') throw new TypeError('address must be a string');
      const started = performance.now();
      const checkedAt = new Date().toISOString();
      const deadline = AbortSignal.timeout(config.timeoutMs);
      const signal = callOptions.signal ? AbortSignal.any([deadline, callOptions.signal]) : deadline;
      const body = await verifyOne(input, signal, Date.now() + config.timeoutMs);
      // Keys in the order of DESIGN.md §2, so JSON output is stable and readable.
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
        durationMs: Math.round(performance.now() - started),
        checkedAt,
        retryAt: body.retryAt,
      };
      if (verifyDoneChannel.hasSubscribers) verifyDoneChannel.publish({ result });
      return result;
    },
    verifyMany(addresses, manyOptions = {}) {
      const concurrency = manyOptions.concurrency ?? DEFAULT_VERIFY_MANY_CONCURRENCY;
      if (!Number.isInteger(concurrency) || concurrency < 1) {
        throw new OptionsError('concurrency', `expected a positive integer, got ${String(concurrency)}`);
      }
      const signal = manyOptions.signal;
      return pool(addresses, concurrency, (address) =>
        this.verify(address, signal === undefined ? {} : { signal }),
      );
    },
    async close(): Promise<void> {
      closed = true;
      catchAllCache.clear();
      if (ownResolver) resolver.close?.();
      await Promise.resolve();
    },
  };
}

function outcome(reason: Reason): { verdict: VerifyResult['verdict']; reason: Reason } {
  return { verdict: verdictOf(reason), reason };
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

function isPositive(reply: SmtpReplyInfo): boolean {
  return reply.code >= 200 && reply.code < 300;
}

async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * Verifies one address with a verifier of its own (no shared caches).
 *
 * @example
 * const result = await verify('alice@example.com', { mailFrom: 'verify@mydomain.example', helo: 'probe.mydomain.example' });
 * if (result.verdict === 'undeliverable') console.log(result.reason); // e.g. "mailbox_not_found"
 */
export async function verify(address: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const verifier = createVerifier(options);
  try {
    return await verifier.verify(address);
  } finally {
    await verifier.close();
  }
}
