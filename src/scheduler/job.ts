/**
 * One piece of work for the scheduler: an address to verify, or a domain's catch-all probe (a random
 * address at the same hosts). A record with the counters that decide when the address is asked again,
 * moved to the next MX host, or given up.
 */
import type { Classification } from '../classify/index.js';
import { matchProvider, type ProviderRule } from '../providers/index.js';
import type { ProbeFailure, ProbeTarget, SmtpReplyInfo, TranscriptEntry } from '../types.js';
import type { DomainState } from './domain-state.js';
import type { PlannedAddress } from './ports.js';

/** What the session an address was last in looked like (evidence for its result). */
export interface SessionView {
  readonly host: string;
  readonly ip: string;
  /** The proxy the session went through, `null` when direct. */
  readonly proxy?: string | null;
  readonly tls: boolean;
  readonly tlsCertificateError: string | null;
  readonly banner: string | null;
  readonly extensions: readonly string[];
  /** Provider rules matched in this session (its banner), by MX host name: once each. */
  readonly providers: Map<string, ProviderRule | null>;
}

/** The provider rule for `mxHost` as greeted in the session of `view` (matched once per name). */
export function providerAt(view: SessionView, mxHost: string): ProviderRule | null {
  let provider = view.providers.get(mxHost);
  if (provider === undefined) {
    provider = matchProvider({ mxHost, banner: view.banner });
    view.providers.set(mxHost, provider);
  }
  return provider;
}

/** What a job ends with: its RCPT reply (classified where it was read), or why it has none. */
export interface Answer {
  readonly reply: SmtpReplyInfo | null;
  readonly classification: Classification | null;
  readonly failure: ProbeFailure | null;
  /** The session it was last in; `null` when none got that far. */
  readonly view: SessionView | null;
  readonly transcript: TranscriptEntry[] | null;
  /** The deadline cut it. */
  readonly timedOut: boolean;
}

/** An address with its RCPT reply, waiting for its domain's catch-all reply (`DomainState`). */
export interface ParkedAnswer {
  readonly job: Job;
  readonly answer: Answer;
}

/**
 * An answer with its reply: the RCPT reply's `classification` when the session read it
 * (`readRcptReply()`), `null` for `conclude()` to classify.
 */
export function replied(
  reply: SmtpReplyInfo,
  classification: Classification | null,
  view: SessionView | null,
  transcript: TranscriptEntry[] | null = null,
): Answer {
  return { reply, classification, failure: null, view, transcript, timedOut: false };
}

/** An answer without a reply. */
export function failed(
  failure: ProbeFailure | null,
  view: SessionView | null,
  transcript: TranscriptEntry[] | null = null,
  timedOut = false,
): Answer {
  return { reply: null, classification: null, failure, view, transcript, timedOut };
}

/**
 * `address`: a verification; `catchAll`: the domain's random-address probe; `climb`: a random address
 * the explorer of an error budget past the guess ends its batch with, to draw a refusal a round trip
 * (`SessionRun.#climber`): its reply is the host's, not a verdict of anything.
 */
export type JobKind = 'address' | 'catchAll' | 'climb';

export class Job<P extends PlannedAddress = PlannedAddress> {
  targetIndex = 0;
  /** Sessions that ended without a reply for this address. */
  tries = 0;
  /**
   * Times it was asked again for coming after a refusal at a host that may refuse everything after
   * one (not counted in `tries`: poisoning.ts).
   */
  poisoned = 0;
  greylists = 0;
  /** Sessions this address took part in. */
  sessions = 0;
  /**
   * Milliseconds of server time charged to this address against `timeoutMs`: failed session opens
   * while it waited for them, and the transactions it was in (see `SessionRun`). `-0`, equal to 0, so
   * that the field holds a double from the start, as it does once a fraction is added (a field that
   * changes from a small integer to a double changes every Job's shape and throws away the code V8
   * compiled for it: docs/architecture.md, "CPU").
   */
  spentMs = -0;
  lastSession = -1;
  lastFailure: ProbeFailure | null = null;
  /** A deferral (421, 4.7.x, rate limit) that was not a verdict, kept in case the address is given up. */
  lastReply: SmtpReplyInfo | null = null;
  lastView: SessionView | null = null;
  done = false;

  constructor(
    readonly id: number,
    readonly kind: JobKind,
    readonly recipient: string,
    readonly smtputf8: boolean,
    readonly targets: readonly ProbeTarget[],
    readonly domain: DomainState<ParkedAnswer>,
    /** The verifier's plan (`null` for a catch-all probe or a climber). */
    readonly plan: P | null,
    readonly startedAt: number,
    /** When the address was started, ISO 8601 (the result's `checkedAt`). */
    readonly checkedAt: string,
  ) {
    // Every field that changes later, written once more: V8 then knows from the first job that they
    // change. Code compiled while a field had only its initial value (no timeout charged yet, no retry)
    // was thrown away at its first change in mid-run (docs/architecture.md, "CPU").
    this.targetIndex = 0;
    this.tries = 0;
    this.poisoned = 0;
    this.greylists = 0;
    this.sessions = 0;
    this.spentMs = -0;
    this.lastSession = -1;
    this.lastFailure = null;
    this.lastReply = null;
    this.lastView = null;
    this.done = false;
  }

  /** The MX host address the job is queued for now. */
  get target(): ProbeTarget | undefined {
    return this.targets[this.targetIndex];
  }

  /** True when another MX host is left after the current one (RFC 5321 §5.1). */
  get hasNextTarget(): boolean {
    return this.targetIndex + 1 < this.targets.length;
  }

  /** Counts session `sessionId` once, however many transactions of it the address is in. */
  joinSession(sessionId: number): void {
    if (this.lastSession !== sessionId) this.sessions += 1;
    this.lastSession = sessionId;
  }
}
