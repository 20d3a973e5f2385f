/**
 * The shapes `explainBounce()` returns: what kind of message it was and, per recipient it reports,
 * the address, the server's reply, the command it answered and what that reply means.
 */
import type { ReplyExplanation } from './explain-reply.js';
import type { ExplainCommand } from './find-replies.js';

/**
 * What a message turned out to be.
 *
 * - `bounce`: it reports at least one recipient that failed (RFC 3464 `Action: failed`, or an MTA's
 *   own wording for a permanent failure).
 * - `delay`: it only reports recipients still being retried (`Action: delayed`, "will retry").
 * - `delivery_report`: an RFC 3464 report whose recipients were delivered, relayed or expanded.
 * - `auto_reply`: an automatic reply (RFC 3834 `Auto-Submitted: auto-replied`, vacation, out of office).
 * - `feedback_report`: an abuse feedback report (RFC 5965 `report-type=feedback-report`): a
 *   complaint about a message, not a failed delivery; also an unsubscribe request a mail client sent
 *   for its user (Apple Mail's, `feedbackType` `unsubscribe`).
 * - `not_a_bounce`: a readable message that reports no failed delivery.
 * - `not_a_message`: text that is not an Internet message (no header block), such as a bare reply.
 * - `empty`, `binary`: nothing to read, or bytes that are not a message (NUL bytes).
 * - `unreadable`: the MIME parser gave up on it; `problem` says why.
 */
export const BOUNCE_KINDS = [
  'bounce',
  'delay',
  'delivery_report',
  'auto_reply',
  'feedback_report',
  'not_a_bounce',
  'not_a_message',
  'empty',
  'binary',
  'unreadable',
] as const;
export type BounceKind = (typeof BOUNCE_KINDS)[number];

/** RFC 3464 §2.3.3 actions, plus `null` when a non-standard bounce does not say. */
export type BounceAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded';

/** Where the recipient's explanation came from. */
export type ExplainedFrom = 'reply' | 'status' | 'diagnostic';

/** One recipient a bounce reports. Every field is present; `null` when the bounce does not say. */
export interface BounceRecipient {
  /** The failed address (RFC 3464 `Final-Recipient`, or the address the MTA's text names). */
  readonly address: string;
  /** RFC 3464 `Original-Recipient` (RFC 3461 ORCPT), when present. */
  readonly originalRecipient: string | null;
  readonly action: BounceAction | null;
  /** RFC 3463 status code (`5.1.1`) from the DSN `Status` field, or the reply's enhanced code. */
  readonly status: string | null;
  /** The remote server's reply as the bounce quotes it (`550 5.1.1 <x@example.com>: User unknown`). */
  readonly reply: string | null;
  /** The SMTP command that reply answered (`RCPT`, `MAIL`, `DATA`, `CONNECT`, `HELO`), when stated. */
  readonly command: ExplainCommand | null;
  /** The server that gave the reply (RFC 3464 `Remote-MTA`, or the host the text names). */
  readonly remoteMta: string | null;
  /**
   * The diagnosis in words when there is no reply with a code (`The recipient name is not recognized`,
   * `retry timeout exceeded`); `null` when `reply` holds it.
   */
  readonly diagnostic: string | null;
  /**
   * RFC 3464 `Last-Attempt-Date` (or the report's `Arrival-Date`), as ISO 8601 in UTC when it names an
   * instant (a numeric zone or a zone name of one offset), else as written.
   */
  readonly date: string | null;
  /** What the reply (or status, or diagnostic) means; `null` when the bounce gives nothing to explain. */
  readonly explanation: ReplyExplanation | null;
  readonly explainedFrom: ExplainedFrom | null;
  /**
   * The rule of src/explain/bounce-rules.ts that read the bounce's own words (`mailbox-unknown`,
   * `expired`, …) when they decided the explanation; `null` when the reply or status did.
   */
  readonly bounceRule: string | null;
}

/**
 * Where a feedback report names the person it is about: RFC 5965 §3.2 `Original-Rcpt-To`
 * (`original-rcpt-to`), else the pre-RFC 5965 ARF drafts' `Removal-Recipient` (`removal-recipient`),
 * else the reported message's `To` (`original-to`); an Amazon SES complaint's
 * `complainedRecipients` (`ses`); Microsoft JMRP's `X-HmXmrOriginalRecipient` (`jmrp`); the sender of
 * an unsubscribe request (`from`).
 */
export type FeedbackSource =
  'original-rcpt-to' | 'removal-recipient' | 'original-to' | 'ses' | 'jmrp' | 'from';

/** One person a feedback report is about: who complained, or who asked to be unsubscribed. */
export interface FeedbackRecipient {
  /** The address as the report gives it (a redacted one as written: `redacted@example.com`, `xxxxx`). */
  readonly address: string;
  readonly source: FeedbackSource;
  /**
   * True when the reporter hid the address (RFC 6590 redaction: `redacted@…`, `xxxxx@…`, `***`, a
   * local part replaced by a hash, or no address at all): it names nobody and gives no suppression row.
   */
  readonly redacted: boolean;
  /**
   * When the person complained or asked to leave, ISO 8601: an Amazon SES complaint's `timestamp`,
   * else the report's `Date` (an RFC 5965 `Arrival-Date` is when the reported message arrived).
   */
  readonly date: string | null;
}

/** The answer of `explainBounce()`. Every field is present; `null` when not known. */
export interface BounceExplanation {
  readonly kind: BounceKind;
  /**
   * How the recipients were read: `dsn` (RFC 3464 / RFC 6533 report), `ses` (an Amazon SES JSON
   * notification), or the text parser that found them (`text`); `null` when there were none.
   */
  readonly format: 'dsn' | 'ses' | 'text' | null;
  /** The reporting MTA (RFC 3464 `Reporting-MTA`), when stated. */
  readonly reportingMta: string | null;
  readonly from: string | null;
  readonly subject: string | null;
  /** The message's `Date`, as ISO 8601 in UTC when it names an instant, else as written. */
  readonly date: string | null;
  readonly recipients: readonly BounceRecipient[];
  /**
   * For `feedback_report`: RFC 5965 `Feedback-Type` (`abuse`, `fraud`, …), or `unsubscribe` for an
   * unsubscribe request sent to a list's RFC 2369 `List-Unsubscribe` address.
   */
  readonly feedbackType: string | null;
  /**
   * For `feedback_report`: who complained (an abuse report) or asked to leave (an unsubscribe request);
   * empty for other kinds, and when the report does not say.
   */
  readonly feedbackRecipients: readonly FeedbackRecipient[];
  /** True when only the first `MAX_BOUNCE_BYTES` of a larger message were read. */
  readonly truncated: boolean;
  /** Why the message could not be read, for `empty`, `binary`, `unreadable` and `not_a_message`. */
  readonly problem: string | null;
}
