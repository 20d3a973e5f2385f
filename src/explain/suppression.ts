/**
 * A bounce as rows of a suppression list: one row per recipient that failed or is delayed, with what
 * to do about it. `suppress` is true only where the reply says the address itself is gone (the
 * `undeliverable` verdict of `verify`: mailbox unknown or disabled, domain unknown or accepting no
 * mail) and the failure is final; a sender, policy, content or temporary problem never suppresses an
 * address. A feedback report gives one row per person who complained (an RFC 5965 `abuse` or `fraud`
 * report, an Amazon SES complaint) or asked to be unsubscribed: they asked for no more mail, so they
 * are suppressed, as every sending service does; a redacted address gives no row.
 */
import { SUPPRESSING_FEEDBACK_TYPES, UNSUBSCRIBE_FEEDBACK_TYPES } from './bounce-feedback.js';
import type { BounceExplanation } from './bounce-types.js';

/**
 * The reasons of feedback rows. They are the suppression list's own, not `verify`'s (no probe can
 * learn that someone complained): `complained` for an abuse or fraud report, `unsubscribed` for an
 * unsubscribe request or a pre-RFC 5965 `opt-out` / `opt-out-list` report.
 */
export const FEEDBACK_REASONS = ['complained', 'unsubscribed'] as const;
export type FeedbackReason = (typeof FEEDBACK_REASONS)[number];

/**
 * The row reason a feedback report gives, or null when its type asks for no suppression
 * (`not-spam`, `auth-failure`, `virus`, `other`, or an unknown type).
 */
export function feedbackReason(explained: BounceExplanation): FeedbackReason | null {
  const type = explained.feedbackType;
  if (explained.kind !== 'feedback_report' || type === null || !SUPPRESSING_FEEDBACK_TYPES.has(type)) {
    return null;
  }
  return type === 'unsubscribe' || UNSUBSCRIBE_FEEDBACK_TYPES.has(type) ? 'unsubscribed' : 'complained';
}

export interface SuppressionRow {
  readonly address: string;
  /**
   * The reason in `verify`'s vocabulary (`mailbox_not_found`, `sender_blocked`, …), or a feedback
   * report's (`complained`, `unsubscribed`); `null` when unexplained.
   */
  readonly reason: string | null;
  /**
   * The finer category of the explanation (`mailbox_unknown`, `sender_blocklist`, …), or a feedback
   * report's feedback type (`abuse`, `fraud`, `unsubscribe`).
   */
  readonly category: string | null;
  /** What to do (explainReply's `action.kind`): `remove_address`, `retry_later`, `fix_sender`, … */
  readonly action: string | null;
  readonly suppress: boolean;
  /** When it bounced (the report's last attempt, or the bounce's date), ISO 8601 when known. */
  readonly date: string | null;
  /** The file (and mbox message number) the bounce came from. */
  readonly source: string;
  readonly status: string | null;
  readonly reply: string | null;
}

/** The columns of the CSV form, in order. */
export const SUPPRESSION_COLUMNS = [
  'address',
  'reason',
  'category',
  'action',
  'suppress',
  'date',
  'source',
  'status',
  'reply',
] as const satisfies readonly (keyof SuppressionRow)[];

export function toSuppressionRows(explained: BounceExplanation, source: string): SuppressionRow[] {
  const reason = feedbackReason(explained);
  if (reason !== null) {
    return explained.feedbackRecipients
      .filter((recipient) => !recipient.redacted)
      .map((recipient) => ({
        address: recipient.address,
        reason,
        category: explained.feedbackType,
        action: 'remove_address',
        suppress: true,
        date: recipient.date ?? explained.date,
        source,
        status: null,
        reply: null,
      }));
  }
  return explained.recipients
    .filter((recipient) => recipient.action === 'failed' || recipient.action === 'delayed')
    .map((recipient) => ({
      address: recipient.address,
      reason: recipient.explanation?.reason ?? null,
      category: recipient.explanation?.category ?? null,
      action: recipient.explanation?.action.kind ?? null,
      suppress: recipient.action === 'failed' && recipient.explanation?.verdict === 'undeliverable',
      date: recipient.date ?? explained.date,
      source,
      status: recipient.status,
      reply: recipient.reply ?? recipient.diagnostic,
    }));
}
