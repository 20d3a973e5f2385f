/**
 * The shapes of the reply classifier: what it returns, the evidence it accepts, and one rule of its
 * ordered table. A pure module.
 */
import type { ProviderId, ProviderRule } from '../providers/index.js';
import type { Reason, SmtpStage, Verdict } from '../types.js';

/**
 * What one SMTP reply means for the address it answered.
 *
 * `deliverable/accepted` means exactly "the server said 250/251 to `RCPT TO`": the verifier downgrades it
 * for accept-all providers, catch-all domains and disposable services, which the reply alone cannot know.
 */
export interface Classification {
  readonly verdict: Verdict;
  readonly reason: Reason;
  /** Id of the rule that matched (`REPLY_RULES`), kept as evidence and asserted by tests. */
  readonly rule: string;
  /** The finer meaning the matched rule gives the reply (`REPLY_CATEGORIES`), shown by `explainReply()`. */
  readonly category: ReplyCategory;
  /**
   * Milliseconds to wait before asking again, when the reply is a greylisting or rate-limit deferral
   * and its text names a delay ("Greylisted for 5 minutes", "come back in 00:05:00"); `null` otherwise
   * (the scheduler then uses its own default).
   */
  readonly retryAfterMs: number | null;
  /**
   * True when the reply tells the client to slow down towards this host: a 421 (the server closes the
   * channel, RFC 5321 §3.8), a 4.7.x deferral, a rate limit or a sender block. The scheduler backs off
   * the host instead of sending more RCPTs; it never turns these into verdicts.
   */
  readonly backOff: boolean;
}

/** Evidence from outside the reply that some rules need. Every field is optional. */
export interface ClassifyContext {
  /** The provider rule matched for the host that replied (`matchProvider()`), if any. */
  readonly provider?: ProviderRule | null;
  /**
   * True when another RCPT in the same session (same client IP, HELO and MAIL FROM) was accepted: the
   * server is not refusing *us*, so an ambiguous refusal of this recipient is about the recipient.
   */
  readonly otherRecipientAccepted?: boolean;
}

/**
 * What a reply says, finer than a reason: which of the recipient, the sender, the message or the
 * network it is about, and why. Each category has its side and what to do in `REPLY_CATEGORIES`
 * (reply-rules.ts); each rule names one.
 */
export const CATEGORY_IDS = [
  'accepted',
  'accepted_unverified',
  'mailbox_unknown',
  'mailbox_unknown_temporary',
  'mailbox_disabled',
  'mailbox_full',
  'mailbox_moved',
  'mailbox_unavailable',
  'recipient_refused',
  'recipient_syntax',
  'domain_unknown',
  'domain_no_mail',
  'relay_denied',
  'sender_blocklisted',
  'sender_spf',
  'sender_dkim',
  'sender_dmarc',
  'sender_authentication',
  'sender_rdns',
  'sender_helo',
  'sender_reputation',
  'sender_address',
  'sender_policy',
  'content_spam',
  'content_virus',
  'content_size',
  'content_rejected',
  'rate_limited',
  'greylisted',
  'tls_required',
  'tls_failed',
  'server_error',
  'network_error',
  'expired',
  'protocol_error',
  'unrecognised',
  'not_a_reply',
] as const;
export type ReplyCategory = (typeof CATEGORY_IDS)[number];

/** Whose side a reply's problem is on; `null` for a success or a reply nobody can place. */
export type ReplySide = 'recipient' | 'sender' | 'message' | 'network';

/** What to do about a reply, as a machine-readable kind (the sentence is in `ReplyCategoryInfo`). */
export const ACTION_KINDS = [
  /** Nothing: the server accepted. */
  'none',
  /** The address cannot receive mail: remove it from the list. */
  'remove_address',
  /** Temporary: send again later (after `retryAfterMs` when the reply names a delay). */
  'retry_later',
  /** Fix something on the sending side: SPF, DKIM, DMARC, reverse DNS, HELO, MAIL FROM, TLS. */
  'fix_sender',
  /** The sending IP or domain is on a blocklist: ask for delisting (`url` when known). */
  'request_delisting',
  /** The message itself was refused (spam, virus, size): change it. */
  'fix_message',
  /** A policy of the receiving site: ask its postmaster, or the recipient by another channel. */
  'contact_postmaster',
  /** No public source says what this means: read the text, do not act on a guess. */
  'investigate',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** The side and action of a category, and one sentence on what the reply means. */
export interface ReplyCategoryInfo {
  readonly side: ReplySide | null;
  readonly action: ActionKind;
  /** What a reply of this category says, for people. */
  readonly meaning: string;
  /** What to do, for people. */
  readonly advice: string;
}

/** Reply code classes (RFC 5321 §4.2.1: the first digit). */
export type ReplyClass = 2 | 3 | 4 | 5;

/**
 * One row of the classifier's ordered table. A rule matches when every condition it sets holds; the
 * first matching rule decides. Conditions left unset match anything.
 */
export interface ReplyRule {
  /** Stable kebab-case id, reported in `Classification.rule`. */
  readonly id: string;
  /** Reply code classes the rule applies to. */
  readonly classes?: readonly ReplyClass[];
  /** Exact reply codes the rule applies to. */
  readonly codes?: readonly number[];
  /**
   * Matched against the enhanced code without its class, `subject.detail` (RFC 3463 §2): `1.1` for
   * `5.1.1`. A rule with this condition never matches a reply without an enhanced code.
   */
  readonly enhanced?: RegExp;
  /** The rule does not apply when the enhanced code (`subject.detail`) matches this. */
  readonly unlessEnhanced?: RegExp;
  /** SMTP stages the rule applies to. */
  readonly stages?: readonly SmtpStage[];
  /** Provider ids the rule applies to; a rule with this condition needs `context.provider`. */
  readonly providers?: readonly ProviderId[];
  /** Matched against the reply text with every run of white space folded to one space. */
  readonly text?: RegExp;
  /** The rule does not apply when the text matches this (wording a later rule owns). */
  readonly unlessText?: RegExp;
  /** Evidence from the context the rule needs. */
  readonly requires?: 'otherRecipientAccepted';
  /** The reason the rule decides; the verdict follows from it (`REASONS` in types.ts). */
  readonly reason: Reason;
  /** The finer meaning (`REPLY_CATEGORIES` gives its side and action). */
  readonly category: ReplyCategory;
  /**
   * Where the knowledge comes from: an RFC section, a provider's documentation, an MTA's source or
   * manual. Shown by `explainReply()` as the rule's evidence.
   */
  readonly source: string;
  /** A public page for `source` (provider documentation, RFC), when there is one. */
  readonly url?: string;
  /** The rule's own advice, when it knows better than its category (a provider's delisting form). */
  readonly advice?: string;
  /** The rule's own side, when it differs from its category's (a recipient's inbound rate limit). */
  readonly side?: ReplySide;
}
