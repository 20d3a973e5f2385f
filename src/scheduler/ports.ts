/**
 * What the scheduler and the verifier exchange: the plan for an address that needs an SMTP
 * conversation, the per-address logic the verifier supplies, and the run's settings.
 */
import type { Classification } from '../classify/index.js';
import type { ProviderRule } from '../providers/index.js';
import type {
  HostLimitsFacts,
  HostRateLimiter,
  ProbeFailure,
  ProbeTarget,
  SmtpReplyInfo,
  TranscriptEntry,
  VerifyResult,
} from '../types.js';
import type { HarvestAllowance } from './harvest-allowance.js';
import type { SessionFactory } from './session-port.js';

/** What the scheduler needs to know about an address that needs an SMTP conversation. */
export interface PlannedAddress {
  /** The address for `RCPT TO`. */
  readonly recipient: string;
  /** The A-label domain (catch-all probes are per domain). */
  readonly domain: string;
  /** MX hosts to try in order, each with one address. */
  readonly targets: readonly ProbeTarget[];
  /** The address needs SMTPUTF8 (RFC 6531). */
  readonly smtputf8: boolean;
  /** The domain's catch-all status is not known yet: a random address must be asked too. */
  readonly needsCatchAll: boolean;
}

/** A result before its timing fields. */
export type ResultBody = Omit<VerifyResult, 'durationMs' | 'checkedAt'>;

/**
 * What an SMTP conversation said about one address, read once: its RCPT reply (classified where it was
 * read) or why it has none, the domain's catch-all reply when one was asked, and where it was asked.
 */
export interface Conversation {
  /** The MX host name asked; `null` when no session got that far. */
  readonly host: string | null;
  readonly ip: string | null;
  readonly port: number;
  readonly tls: boolean;
  /** The provider rule of that host (its name, else its greeting), matched once. */
  readonly provider: ProviderRule | null;
  /** The address's RCPT reply, `null` when it got none. */
  readonly reply: SmtpReplyInfo | null;
  /** `reply` classified with `provider` (`null`: not classified yet). */
  readonly classification: Classification | null;
  /** Another recipient of the same transaction was accepted (see `ClassifyContext`). */
  readonly otherRecipientAccepted: boolean;
  /** Why the session stopped before the address had its reply (kept beside a reply by `verify()`). */
  readonly failure: ProbeFailure | null;
  /** The reply to the domain's random address, when it was asked. */
  readonly catchAll: SmtpReplyInfo | null;
  /** Sessions the address took part in. */
  readonly attempts: number;
  readonly transcript: readonly TranscriptEntry[] | null;
  /** The deadline (or the caller's signal) cut the conversation. */
  readonly timedOut: boolean;
  /** The proxy the conversation went through, `null` or absent when direct. */
  readonly proxy?: string | null;
}

/** A concluded address: its result body, and whether a greylisting retry may still answer. */
export interface Concluded {
  readonly body: ResultBody;
  /** Set when the address was greylisted and a retry after this many milliseconds may answer. */
  readonly waitMs: number | null;
}

/** The first half of a verification: finished already, or a plan for the SMTP conversation. */
export type Preparation<P extends PlannedAddress> =
  { readonly kind: 'done'; readonly body: ResultBody } | { readonly kind: 'probe'; readonly plan: P };

/** The per-address logic, supplied by the verifier. */
export interface SchedulerPorts<P extends PlannedAddress> {
  /**
   * Syntax, facts, DNS, targets. Never rejects for what DNS said. Answers without a promise when it
   * needs no wait (a remembered route).
   */
  prepare(input: string, signal: AbortSignal): Preparation<P> | Promise<Preparation<P>>;
  /**
   * Reads what the conversation said about one address into a result body; `waitMs` is set when a
   * greylisting retry may give an answer. `verify()` calls it with what its probe got.
   */
  conclude(plan: P, conversation: Conversation): Concluded;
  /** Adds the timing fields (and publishes the result). */
  finish(body: ResultBody, startedAt: number, checkedAt: string): VerifyResult;
  /**
   * The verifier's ledger of refused RCPTs at gateways that count them per hour (IronPort DHAP), the
   * one `verify()` uses: every RCPT of a batch at such a host is reserved in it before it is sent.
   */
  readonly allowance: HarvestAllowance;
  /**
   * Where the per-host ceiling on RCPTs per minute is kept (the verifier's, shared with `verify()`, or
   * a scale-out worker's in PostgreSQL): every RCPT of a batch is granted in it before it is sent.
   */
  readonly rate: HostRateLimiter;
  /**
   * Limits learned at hosts beyond this run (scale-out workers share them): a host starts from what is
   * known there, and what the run learns is told back. `null` or absent: the run learns its own.
   */
  readonly hostLimits?: HostLimitsFacts | null;
  /**
   * The answer for an address not asked because the hour's allowance at host address `ip` is spent:
   * `unknown/rate_limited` with `retryAt`, as `verify()` gives it.
   */
  harvestLimited(plan: P, ip: string): ResultBody;
}

/** How sessions are opened: the prober's settings. */
export interface SessionSettings {
  readonly port: number;
  readonly helo: string;
  readonly mailFrom: string;
  readonly localAddress: string | null;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly startTls: boolean;
  readonly transcript: boolean;
}

/** The scheduler's limits; `verifyMany()` validates them and supplies the defaults. */
export interface SchedulerSettings {
  /** Addresses read from the input and not yet yielded, at most. */
  readonly window: number;
  /** Sessions open at once per MX host address, at most (a provider rule may lower it). */
  readonly hostConcurrency: number;
  /** Commands per second sent to one MX host over all its sessions; `0` for no pace. */
  readonly hostCommandsPerSecond: number;
  /**
   * Replies a second a slow start allows at an MX host whose rate is unknown, growing on proof
   * (`reply-rate.ts`); `0` (or absent) for none.
   */
  readonly slowStart?: number;
  /**
   * RCPTs per minute at one MX host address (`hostRate`): `null` leaves the provider defaults, `0` sets
   * no ceiling anywhere (see `rateCeiling`).
   */
  readonly hostRate: number | null;
  /** Sessions an address may take part in without getting its own reply before it is given up. */
  readonly hostTries: number;
  /** First backoff after a host pushes back, in milliseconds; it doubles on each further failure. */
  readonly backoffMs: number;
  /** Longest backoff, in milliseconds. */
  readonly maxBackoffMs: number;
  /** Greylisting retries per address after the first attempt. */
  readonly greylistRetries: number;
  /** SMTP sessions open at once over all hosts, at most (each is a socket and a file descriptor). */
  readonly maxSessions: number;
  /** Per SMTP transaction, in milliseconds (the verifier's `timeoutMs`); DNS has its own timeouts. */
  readonly timeoutMs: number;
  readonly session: SessionSettings;
  /** Opens a session with one MX host address (`new SmtpSession(options)`; a fake in unit tests). */
  readonly openSession: SessionFactory;
  /** A random local part for catch-all probes. */
  readonly randomLocalPart: () => string;
}
