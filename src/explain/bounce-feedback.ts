/**
 * Who a feedback report is about: the recipient who complained (RFC 5965 abuse reports, Amazon SES
 * complaints, Microsoft JMRP) or the person asking to leave a list (an unsubscribe request), and
 * whether the reporter hid the address (RFC 6590 redaction). Pure; any text gives an answer.
 */
import { addressesIn } from './bounce-text.js';
import type { FeedbackRecipient, FeedbackSource } from './bounce-types.js';

/**
 * Feedback types of the ARF drafts before RFC 5965 (draft-shafranovich-feedback-report, 2005–2009)
 * that ask for the recipient's removal: `opt-out` (from the sender's mail) and `opt-out-list` (from
 * one list). RFC 5965 registered neither, but reports written to the drafts still carry them; Sympa's
 * bounce handler (`BounceMessage.pm`) unsubscribes the recipient on either.
 */
export const UNSUBSCRIBE_FEEDBACK_TYPES: ReadonlySet<string> = new Set(['opt-out', 'opt-out-list']);

/**
 * Feedback types that mean the recipient wants no more of the sender's mail, so the address goes on
 * the suppression list: RFC 5965 §7.3 `abuse` (unsolicited mail or other abuse) and `fraud` (fraud or
 * phishing), and an unsubscribe request. `virus`, `other`, RFC 6591's `auth-failure` (the message
 * failed authentication) and RFC 6430's `not-spam` (the reporter says it is *not* spam) say nothing
 * of the kind.
 */
export const SUPPRESSING_FEEDBACK_TYPES: ReadonlySet<string> = new Set([
  'abuse',
  'fraud',
  'unsubscribe',
  ...UNSUBSCRIBE_FEEDBACK_TYPES,
]);

/** A local part that stands for one the reporter hid. */
const REDACTED_LOCAL =
  /redact|^(?:x{3,}|\*+|#+|_+|-+|\.+|removed|hidden|elided|anonymi[sz]ed|undisclosed)$|\*{3,}|^[0-9a-f]{32,}$/i;

/** A domain that stands for one the reporter hid. */
const REDACTED_DOMAIN =
  /redact|^(?:[x*]+\.)*[x*]{3,}(?:\.[x*]+)*$|^(?:removed|hidden|elided|anonymi[sz]ed)(?:\.|$)/i;

/**
 * True when a report hid the address rather than naming it. RFC 6590 §4 lets a report generator
 * replace the local part (with a hash of it and a secret, or any fixed string); reports in the wild
 * write `redacted@example.com`, `xxxxx@example.com`, `j***@example.com`, or no address at all.
 */
export function isRedactedAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return true;
  const local = address.slice(0, at).replace(/^"|"$/g, '');
  const domain = address.slice(at + 1);
  return REDACTED_LOCAL.test(local) || REDACTED_DOMAIN.test(domain);
}

/** A value that is no address but reads as a hidden one (`redacted`, `xxxxx`, `[removed]`). */
const REDACTION_WORDING = /redact|x{3,}|\*{3,}|removed|hidden|elided|anonymi[sz]ed/i;

/** One header field's value as feedback recipients: its addresses, or a redaction standing for one. */
function recipientsIn(value: string, source: FeedbackSource, date: string | null): FeedbackRecipient[] {
  const addresses = addressesIn(value);
  if (addresses.length > 0) {
    return addresses.map((address) => ({ address, source, redacted: isRedactedAddress(address), date }));
  }
  const written = value.trim().replace(/^<|>$/g, '').trim();
  return written !== '' && REDACTION_WORDING.test(written)
    ? [{ address: written, source, redacted: true, date }]
    : [];
}

/** Every value of a header field in a header block (folded lines joined, RFC 5322 §2.2.3). */
export function headerValues(block: string, name: string): string[] {
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  const field = new RegExp(`^${name}[ \\t]*:(.*)$`, 'gim');
  return [...unfolded.matchAll(field)].map((match) => match[1] ?? '');
}

/** The header block of a message or of `text/rfc822-headers`: the text before the first blank line. */
export function headerBlock(text: string): string {
  return text.slice(0, 65536).split(/\r?\n\r?\n/, 1)[0] ?? '';
}

/**
 * An RFC 5965 report's recipients: its `Original-Rcpt-To` fields (§3.2, one per recipient of the
 * reported message, in the `message/feedback-report` part); else, or when those are all redacted, the
 * `Removal-Recipient` fields of the ARF drafts before RFC 5965 (draft-shafranovich-feedback-report:
 * the address to remove from further mail, as in the drafts' sample report; RFC 5965 does not define
 * it); else the `To` of the reported message (§2 (e): the third part is the message or its headers)
 * when it names one address: with several, the report does not say which of them complained.
 */
export function arfRecipients(
  report: string,
  original: string | null,
  date: string | null,
): FeedbackRecipient[] {
  const named = unique(
    headerValues(report, 'original-rcpt-to').flatMap((value) =>
      recipientsIn(value, 'original-rcpt-to', date),
    ),
  );
  if (named.some((recipient) => !recipient.redacted)) return named;
  const removal = unique(
    headerValues(report, 'removal-recipient').flatMap((value) =>
      recipientsIn(value, 'removal-recipient', date),
    ),
  );
  if (removal.some((recipient) => !recipient.redacted)) return removal;
  if (named.length > 0) return named;
  if (removal.length > 0) return removal;
  if (original === null) return [];
  const to = headerValues(headerBlock(original), 'to').flatMap((value) =>
    recipientsIn(value, 'original-to', date),
  );
  return to.length === 1 ? to : [];
}

/** Microsoft JMRP: the complainant in the reported message's `X-HmXmrOriginalRecipient`. */
export function jmrpRecipients(original: string, date: string | null): FeedbackRecipient[] {
  return unique(
    headerValues(headerBlock(original), 'x-hmxmroriginalrecipient').flatMap((value) =>
      recipientsIn(value, 'jmrp', date),
    ),
  );
}

/** Addresses as found, one of each (compared without case). */
export function unique(recipients: readonly FeedbackRecipient[]): FeedbackRecipient[] {
  const seen = new Set<string>();
  return recipients.filter((recipient) => {
    const key = recipient.address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Addresses of an SES complaint (`complainedRecipients`) or an unsubscribe request's `From`. */
export function namedRecipients(
  addresses: readonly string[],
  source: FeedbackSource,
  date: string | null,
): FeedbackRecipient[] {
  return unique(
    addresses.map((address) => ({ address, source, redacted: isRedactedAddress(address), date })),
  );
}
