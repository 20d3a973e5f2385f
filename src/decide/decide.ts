/**
 * The decisions about one address, in one place for `verify()` and `verifyMany()` (docs/verdicts.md):
 *
 * - `readRcptReply()`: what one RCPT reply means for the address *and* for the host it came from (is it
 *   the address's answer, or a push-back to honour by backing off and asking again). The scheduler calls
 *   it once per reply; the classification it carries goes on to `decideReason()`, not classified again
 *   unless another recipient was accepted meanwhile (the domain's random address), evidence it lacked,
 *   and the reply is one that evidence can change (`readsOtherRecipients()`).
 * - `decideReason()`: the address's reason from its reply (or why it has none), the provider, the
 *   domain's catch-all status and its flags.
 * - `catchAllAnswer()`: what the random-address probe proves about the domain.
 *
 * Pure: built on `classifyReply()` and its rule table (classify/reply-rules.ts), nothing else.
 */
import { classifyReply, readsOtherRecipients, type Classification } from '../classify/index.js';
import type { ProviderRule } from '../providers/index.js';
import { isPermanentNegativeReply, isPositiveReply } from '../smtp/reply-parser.js';
import type { Flags, ProbeFailure, Reason, SmtpReplyInfo } from '../types.js';

/** What an RCPT reply asks of the scheduler. */
export type RcptAction =
  /** The reply is the address's answer (possibly a greylisting to retry after the window). */
  | 'answer'
  /** The reply speaks about us (421, rate limit, 4.7.x block): ask the address again later. */
  | 'ask_again'
  /** `452 4.5.3`: the server's recipient limit; this and the later RCPTs go in the next transaction. */
  | 'next_transaction';

export interface RcptReading {
  readonly action: RcptAction;
  /** The reply's classification with the host's provider rule (`null` for `next_transaction`). */
  readonly classification: Classification | null;
  /** The host should be left alone for a while (exponential backoff) after this session. */
  readonly backOff: boolean;
  /** The session should end after this reply (its later replies are read, no more RCPTs sent). */
  readonly endSession: boolean;
  /**
   * The server named its hard error limit (Postfix `421 4.7.0 Error: too many errors`): the host's
   * error budget should stay below half of the refusals this session drew.
   */
  readonly errorLimit: boolean;
}

/**
 * True for `452 4.5.3 Too many recipients` (RFC 5321 §4.5.3.1.10, RFC 3463 X.5.3): the server's
 * recipient limit for this transaction, not a verdict. The recipient goes in the next transaction.
 */
export function isTooManyRecipients(reply: SmtpReplyInfo): boolean {
  if (reply.stage !== 'rcpt' || reply.code !== 452) return false;
  return reply.enhanced === '4.5.3' || /too many recipients/i.test(reply.text);
}

/**
 * True for a reply that ends the session whatever command it answers: `421` (RFC 5321 §3.8: the
 * server is closing the channel). It says nothing about the recipient whose RCPT drew it.
 */
export function isClosingReply(reply: SmtpReplyInfo): boolean {
  return reply.code === 421;
}

/** A 5xx that refuses our sender (blocklist, reputation, policy): final within one run. */
export function isPermanentSenderBlock(classification: Classification, reply: SmtpReplyInfo): boolean {
  return isPermanentNegativeReply(reply) && classification.reason === 'sender_blocked';
}

/**
 * Reads one RCPT reply for the scheduler: the address's answer, or a push-back about us. A permanent
 * block of our sender is the address's answer (`unknown/sender_blocked`, as `verify()` says at once);
 * asking again would only repeat it, but the host still slows down.
 */
export function readRcptReply(reply: SmtpReplyInfo, provider: ProviderRule | null): RcptReading {
  if (isTooManyRecipients(reply)) {
    return {
      action: 'next_transaction',
      classification: null,
      backOff: false,
      endSession: false,
      errorLimit: false,
    };
  }
  const classification = classifyReply(reply, { provider });
  const closing = isClosingReply(reply);
  const permanentBlock = isPermanentSenderBlock(classification, reply);
  if (closing || (classification.backOff && classification.reason !== 'greylisted' && !permanentBlock)) {
    // Postfix `421 4.7.0 Error: too many errors`, rate limits, blocks: about us, not the address.
    return {
      action: 'ask_again',
      classification,
      backOff: true,
      endSession: true,
      errorLimit: closing && /too many errors/i.test(reply.text),
    };
  }
  return { action: 'answer', classification, backOff: permanentBlock, endSession: false, errorLimit: false };
}

/** What a refusal of the session (greeting, EHLO, MAIL FROM, RSET) asks of the scheduler. */
export type SessionRefusal =
  /** A 5xx block of our sender: every address of the batch gets it; the host backs off. */
  | 'blocked'
  /** A push-back (421, 4.7.x, rate limit): the addresses are asked again after a backoff. */
  | 'deferred'
  /** Refused for good (sender policy, a 554 greeting): every address gets it, as `verify()` gives it. */
  | 'refused';

/** Reads a session-level refusal (the reply to the greeting, EHLO/HELO, MAIL FROM or RSET). */
export function readSessionRefusal(reply: SmtpReplyInfo, provider: ProviderRule | null): SessionRefusal {
  const classification = classifyReply(reply, { provider });
  if (isPermanentSenderBlock(classification, reply)) return 'blocked';
  if (isClosingReply(reply) || classification.backOff) return 'deferred';
  return 'refused';
}

/**
 * What the random-address probe proves: a 2xx, catch-all; a 5xx that says the mailbox is missing, not
 * catch-all. A 4xx, a block of our sender or any other reply proves nothing either way.
 */
export function catchAllAnswer(reply: SmtpReplyInfo | null, provider: ProviderRule | null): boolean | null {
  if (reply === null) return null;
  if (isPositiveReply(reply)) return true;
  if (isPermanentNegativeReply(reply)) {
    return classifyReply(reply, { provider }).verdict === 'undeliverable' ? false : null;
  }
  return null;
}

/**
 * `catchAllAnswer()` read once per reply object. In a bulk run every address of a domain is concluded
 * with the same random-address reply, which was classified again for each of them. The entries live
 * in a `WeakMap` and go with their replies: nothing grows with the run.
 */
export class CatchAllReads {
  readonly #reads = new WeakMap<
    SmtpReplyInfo,
    { readonly provider: ProviderRule | null; readonly answer: boolean | null }
  >();

  /** The same answer as `catchAllAnswer(reply, provider)`. */
  answer(reply: SmtpReplyInfo | null, provider: ProviderRule | null): boolean | null {
    if (reply === null) return null;
    const read = this.#reads.get(reply);
    if (read !== undefined && read.provider === provider) return read.answer;
    const answer = catchAllAnswer(reply, provider);
    this.#reads.set(reply, { provider, answer });
    return answer;
  }
}

/** The evidence about one address that its reason is decided from. */
export interface AddressEvidence {
  /** Its RCPT reply, `null` when it got none. */
  readonly reply: SmtpReplyInfo | null;
  /**
   * `reply` classified with `provider` and without `otherRecipientAccepted`, when the caller has done
   * it already (the scheduler has).
   */
  readonly classification?: Classification | null;
  /** Why there is no reply (`null` with a reply). */
  readonly failure: ProbeFailure | null;
  /** The provider rule of the host that answered. */
  readonly provider: ProviderRule | null;
  /** Another recipient of the same session was accepted (see `ClassifyContext`). */
  readonly otherRecipientAccepted: boolean;
  /** The domain's catch-all status (`null`: unknown). */
  readonly catchAll: boolean | null;
  readonly flags: Flags;
  /** The deadline cut the conversation. */
  readonly timedOut: boolean;
}

export interface ReasonDecision {
  readonly reason: Reason;
  /** The server's own retry delay (greylisting, rate limits), in milliseconds, when it named one. */
  readonly retryAfterMs: number | null;
}

const FAILURE_REASONS = {
  connection_failed: 'connection_failed',
  timeout: 'timeout',
  tls_error: 'tls_error',
  protocol_error: 'protocol_error',
  smtputf8_unsupported: 'smtputf8_unsupported',
  proxy_unreachable: 'proxy_unreachable',
  proxy_auth_failed: 'proxy_auth_failed',
  proxy_refused: 'proxy_refused',
  proxy_target_unreachable: 'proxy_target_unreachable',
  proxy_timeout: 'proxy_timeout',
} as const satisfies Record<Exclude<ProbeFailure['kind'], 'reply'>, Reason>;

/** Turns what the server said into a reason; the evidence of a missing mailbox dominates flags. */
export function decideReason(evidence: AddressEvidence): ReasonDecision {
  const { reply, provider } = evidence;
  if (reply === null) {
    const failure = evidence.failure;
    if (failure === null) return { reason: 'protocol_error', retryAfterMs: null };
    if (failure.kind === 'reply' && failure.reply !== null) {
      const classification = classifyReply(failure.reply, { provider });
      return { reason: classification.reason, retryAfterMs: classification.retryAfterMs };
    }
    if (failure.kind === 'reply') return { reason: 'unexpected_reply', retryAfterMs: null };
    // The deadline firing mid-session is a timeout whatever phase the connection was in.
    if (evidence.timedOut) return { reason: 'timeout', retryAfterMs: null };
    return { reason: FAILURE_REASONS[failure.kind], retryAfterMs: null };
  }
  // The caller's classification was made without the evidence of another accepted recipient: it
  // stands unless that evidence can change how this reply reads.
  const classification =
    evidence.classification != null && !(evidence.otherRecipientAccepted && readsOtherRecipients(reply))
      ? evidence.classification
      : classifyReply(reply, { provider, otherRecipientAccepted: evidence.otherRecipientAccepted });
  if (classification.reason !== 'accepted') {
    return { reason: classification.reason, retryAfterMs: classification.retryAfterMs };
  }
  // A disposable service is risky whatever its server says; then a 250 that proves nothing.
  if (evidence.flags.disposable) return { reason: 'disposable', retryAfterMs: null };
  if (provider?.acceptAll === true) return { reason: 'accept_all_provider', retryAfterMs: null };
  if (evidence.catchAll === true) return { reason: 'catch_all', retryAfterMs: null };
  return { reason: 'accepted', retryAfterMs: null };
}
