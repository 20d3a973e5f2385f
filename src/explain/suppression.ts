/**
 * A bounce as rows of a suppression list: one row per recipient that failed or is delayed, with what
 * to do about it. `suppress` is true only where the reply says the address itself is gone (the
 * `undeliverable` verdict of `verify`: mailbox unknown or disabled, domain unknown or accepting no
 * mail) and the failure is final; a sender, policy, content or temporary problem never suppresses an
 * address.
 */
import type { BounceExplanation } from './bounce-types.js';

export interface SuppressionRow {
  readonly address: string;
  /** The reason in `verify`'s vocabulary (`mailbox_not_found`, `sender_blocked`, …); `null` when unexplained. */
  readonly reason: string | null;
  /** The finer category of the explanation (`mailbox_unknown`, `sender_blocklist`, …). */
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
