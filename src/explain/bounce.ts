/**
 * `explainBounce()`: what a bounce message says about each recipient it reports, explained with the
 * same reply knowledge as `verify` (`explainReply`). MIME is parsed by postal-mime; the delivery status
 * fields (RFC 3464, RFC 6533) by bounce-dsn.ts; the words of non-standard bounces by bounce-text.ts.
 * Total: any input gets an answer (`kind` says what it was); nothing here throws for what a message
 * contains.
 */
import type { Attachment, Email } from 'postal-mime';

import { arfRecipients, jmrpRecipients, namedRecipients } from './bounce-feedback.js';
import { addressOf, parseDeliveryStatus, statusOf, typeOf, untyped, type DsnFields } from './bounce-dsn.js';
import { readSesNotification, type SesNotification } from './bounce-ses.js';
import {
  AUTO_REPLY_SUBJECT,
  BOUNCE_SENDER,
  BOUNCE_SUBJECT,
  LIST_MANAGER_NOTICES,
  matchBounceText,
  replyForRule,
} from './bounce-rules.js';
import {
  addressesIn,
  cutOriginalMessage,
  findReply,
  negativeAfterGreeting,
  scanBounceText,
  type TextRecipient,
} from './bounce-text.js';
import type {
  BounceAction,
  BounceExplanation,
  BounceKind,
  BounceRecipient,
  ExplainedFrom,
  FeedbackRecipient,
} from './bounce-types.js';
import { explainReply, type ReplyExplanation } from './explain-reply.js';
import { mailDate } from './mail-date.js';
import { base64Paste, softBreaksJoined } from './pasted-encoding.js';
import type { ExplainCommand } from './find-replies.js';

/**
 * Bytes of a message that are read. A bounce's report and text come first (RFC 3462 §1: the
 * human-readable part, the report, then the returned message) and fit in a few KiB: the largest of 629
 * real bounces from 70 MTAs and providers is 72 KiB. What makes a bounce large is the copy of the
 * original message, so a larger message is read up to here and marked `truncated`, in bounded time
 * and memory.
 */
export const MAX_BOUNCE_BYTES = 512 * 1024;

/** Longest line the text scanner looks at: a base64 blob without line ends must not cost O(n²). */
const MAX_LINE_CHARS = 2000;

/** Bytes inspected for NUL bytes to tell a binary file from a message. */
const BINARY_SNIFF_BYTES = 64 * 1024;

/** The MIME types of delivery status reports: RFC 3464 §2 and RFC 6533 §6. */
const DSN_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);

/** The MIME types that hold the original message or its headers (RFC 3462, RFC 6533 §6.3–6.4). */
const ORIGINAL_TYPES = new Set([
  'message/rfc822',
  'text/rfc822-headers',
  'message/global',
  'message/global-headers',
]);

/**
 * Categories the reply rules give a reply they cannot place more precisely: a bounce's own wording
 * (bounce-rules.ts) may then say more.
 */
const GENERIC_CATEGORIES = new Set(['unrecognised', 'protocol_error', 'server_error', 'not_a_reply']);

/** Replies and diagnoses that mean "still trying": a delay notice, not a failure. */
const DELAY_TEXT =
  /will (?:continue to )?(?:retry|try again|keep trying)|delivery (?:is |has been )?delayed|has not (?:yet )?been delivered|this is (?:only )?a warning|warning: could not send|still (?:undelivered|trying)|delivery attempts will continue/i;
const PERMANENT_TEXT = /permanent(?:ly)?|given up|giving up|fatal|failed permanently/i;

const decoder = new TextDecoder('utf-8');

/**
 * What a bounce message says, per recipient: the address, the server's reply, the command it
 * answered, the remote MTA, and what the reply means (the verdict and reason vocabulary of `verify`).
 * Auto-replies and abuse feedback reports come back as such (`kind`), not as bounces.
 *
 * @example
 * const explained = await explainBounce(readFileSync('bounce.eml'));
 * for (const r of explained.recipients) console.log(r.address, r.explanation?.reason, r.explanation?.action);
 */
export async function explainBounce(message: string | Uint8Array): Promise<BounceExplanation> {
  return explainMessage(message, true);
}

/**
 * The bounce that `text` reports when it is a bounce's text without its message headers (copied from
 * a mail client, say, in which no reply starts a line), read as the body of a plain-text message with
 * a bounce's subject: whoever gives it to be explained says it is one. `null` unless it names a
 * recipient with a reply, status or diagnosis to explain, so a caller can fall back to what it had.
 *
 * @example
 * const bounce = await explainBounceText('<erin@example.com>:\nRemote host said: 550 5.1.1 User unknown');
 * console.log(bounce?.recipients[0]?.explanation?.reason); // 'mailbox_not_found'
 */
export async function explainBounceText(text: string): Promise<BounceExplanation | null> {
  if (text.trim() === '') return null;
  // Pasted as its source shows it: a base64 body part without its header, or text still
  // quoted-printable.
  const pasted = base64Paste(text);
  if (pasted?.kind === 'binary') return null;
  const bounce = await explainBounce(
    `Subject: Undelivered Mail\nContent-Type: text/plain; charset=utf-8\n\n${softBreaksJoined(pasted?.text ?? text)}`,
  );
  // The subject was ours, not the text's.
  return bounce.recipients.some((recipient) => recipient.explanation !== null)
    ? { ...bounce, subject: null }
    : null;
}

/**
 * postal-mime, imported with the first message parsed: `import('rcpt')` does not load it (it cost the
 * main entry ~15 ms) for callers that never explain a bounce.
 */
let postalMime: ReturnType<typeof importPostalMime> | null = null;
function importPostalMime() {
  return import('postal-mime');
}

async function explainMessage(message: string | Uint8Array, outer: boolean): Promise<BounceExplanation> {
  const { bytes, truncated } = withMultipartHeader(bounded(message));
  const problem = unreadableBytes(bytes);
  if (problem !== null) return emptyAnswer(problem.kind, problem.problem, truncated);
  const { default: PostalMime } = await (postalMime ??= importPostalMime());
  let email: Email;
  try {
    email = await PostalMime.parse(bytes, {
      forceRfc822Attachments: true,
      attachmentEncoding: 'arraybuffer',
      maxNestingDepth: 64,
      maxHeadersSize: 512 * 1024,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return emptyAnswer('unreadable', `the MIME structure could not be parsed: ${reason}`, truncated);
  }
  const answer = new BounceReader(email, truncated, rawBody(bytes)).read();
  const forwarded = outer && answer.format !== 'dsn' ? forwardedReport(email, answer) : null;
  if (forwarded !== null) {
    const inner = await explainMessage(forwarded, false);
    const explains = inner.recipients.some((recipient) => recipient.explanation !== null);
    if ((inner.format === 'dsn' && inner.recipients.length > 0) || (inner.kind === 'bounce' && explains)) {
      return { ...inner, truncated: inner.truncated || answer.truncated };
    }
  }
  return answer;
}

/**
 * A bounce forwarded whole as an attached message (RFC 2046 §5.2.1 `message/rfc822`): a gateway's
 * notice that wraps the bounce it received and says nothing the bounce does not (Trend Micro
 * InterScan sends the MTA's report, or its plain-text notice, on this way). Read when the outer
 * message yields no report and explains none of its recipients; one level deep. The attachment is
 * taken when it is a delivery report, and otherwise kept only if it reads as a bounce that explains
 * a recipient (the caller checks): a returned copy of the original message reads as neither.
 */
function forwardedReport(email: Email, answer: BounceExplanation): Uint8Array | null {
  if (answer.recipients.some((recipient) => recipient.explanation !== null)) return null;
  const attached = email.attachments.filter((part) => part.mimeType === 'message/rfc822');
  const texts = attached.map((part) => contentText(part));
  const report = texts.find((text) => {
    const header = text.slice(0, 16384).split(/\r?\n\r?\n/, 1)[0] ?? '';
    return /^content-type:\s*multipart\/report;[^]*?report-type\s*=\s*"?delivery-status/im.test(header);
  });
  const chosen = report ?? (texts.length === 1 ? texts[0] : undefined);
  return chosen === undefined ? null : Buffer.from(chosen, 'utf8');
}

/**
 * A multipart body given without the message's header (copied from a mail client's "show original"
 * below the headers): a boundary line (RFC 2046 §5.1.1: `--`, then up to 70 characters) and a part's
 * header right after it. Its boundary is the first group.
 */
const BODY_BOUNDARY =
  /^--([0-9A-Za-z'()+_,./:=?-]{1,70})[ \t]*\r?\n(?:content-(?:type|transfer-encoding|disposition)[ \t]*:)/i;

/** A multipart body without its header gets one that names its boundary, so its parts are decoded. */
function withMultipartHeader(message: { bytes: Uint8Array; truncated: boolean }): {
  bytes: Uint8Array;
  truncated: boolean;
} {
  const head = decoder.decode(message.bytes.subarray(0, 1024)).replace(/^[\s\uFEFF]+/, '');
  const boundary = BODY_BOUNDARY.exec(head)?.[1];
  if (boundary === undefined) return message;
  const header = Buffer.from(`Content-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n`);
  return { ...message, bytes: Buffer.concat([header, message.bytes]) };
}

/** Header fields nearly every message has (RFC 5322 §3.6); a reply or a transcript has none. */
const COMMON_HEADER =
  /^(?:from|to|subject|date|received|return-path|message-id|mime-version|content-type|delivered-to|x-failed-recipients)[ \t]*:/im;

/**
 * True when `input` reads as an Internet message (a header block with at least one common field, or
 * an mbox `From ` line) or a multipart body without it (a boundary line, then a part's header), so a
 * caller can tell a pasted bounce from a pasted reply or transcript.
 */
export function looksLikeMessage(input: string | Uint8Array): boolean {
  const head = (
    typeof input === 'string' ? input.slice(0, 65536) : decoder.decode(input.subarray(0, 65536))
  ).replace(/^[\s\uFEFF]+/, '');
  if (BODY_BOUNDARY.test(head)) return true;
  if (!/^(?:From |[A-Za-z][A-Za-z0-9-]+[ \t]*:)/.test(head)) return false;
  const headerBlock = head.split(/\r?\n\r?\n/, 1)[0] ?? '';
  return COMMON_HEADER.test(headerBlock);
}

/** The bytes after the header block, as text: what a broken multipart still holds. */
function rawBody(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024 * 1024));
  const crlf = head.indexOf('\r\n\r\n');
  const lf = head.indexOf('\n\n');
  const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : head.length;
  return decoder.decode(head.subarray(end));
}

function bounded(message: string | Uint8Array): { bytes: Uint8Array; truncated: boolean } {
  if (typeof message === 'string') {
    const truncated = message.length > MAX_BOUNCE_BYTES;
    return {
      bytes: Buffer.from(truncated ? message.slice(0, MAX_BOUNCE_BYTES) : message, 'utf8'),
      truncated,
    };
  }
  const truncated = message.byteLength > MAX_BOUNCE_BYTES;
  return { bytes: truncated ? message.subarray(0, MAX_BOUNCE_BYTES) : message, truncated };
}

function unreadableBytes(bytes: Uint8Array): { kind: BounceKind; problem: string } | null {
  const sniff = bytes.subarray(0, BINARY_SNIFF_BYTES);
  if (sniff.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d)) {
    return { kind: 'empty', problem: 'the input is empty' };
  }
  const head = decoder.decode(sniff.subarray(0, 1024)).replace(/^[\s\uFEFF]+/, '');
  // RFC 5322 §2.2: a message starts with header fields (an mbox `From ` line may precede them). A
  // message may still carry a stray NUL in its body; a file with NULs and no header is binary.
  const hasHeader = /^(?:From |>?[!-9;-~]+:)/.test(head) && looksLikeMessage(sniff);
  if (sniff.includes(0) && !hasHeader) {
    return { kind: 'binary', problem: 'the input is binary (it holds NUL bytes), not an email message' };
  }
  if (!/^(?:From |>?[!-9;-~]+:)/.test(head)) {
    return { kind: 'not_a_message', problem: 'the input has no message header; it is not an email message' };
  }
  return null;
}

function emptyAnswer(kind: BounceKind, problem: string | null, truncated: boolean): BounceExplanation {
  return {
    kind,
    format: null,
    reportingMta: null,
    from: null,
    subject: null,
    date: null,
    recipients: [],
    feedbackType: null,
    feedbackRecipients: [],
    truncated,
    problem,
  };
}

/** One parsed message being read: its headers, parts and text, and what they add up to. */
class BounceReader {
  readonly #email: Email;
  readonly #truncated: boolean;
  readonly #text: string;
  readonly #contentType: string;

  constructor(email: Email, truncated: boolean, raw: string) {
    this.#email = email;
    this.#truncated = truncated;
    // A multipart whose boundary matches none of its parts (a broken bounce) leaves no text: the raw
    // body is read instead, so its report and its words are still found.
    const parsed = email.text ?? '';
    const hasReport = email.attachments.some((part) => DSN_TYPES.has(part.mimeType));
    const text = parsed.trim() === '' && !hasReport ? raw : parsed;
    this.#text = capLines([...brokenTextParts(email), text].join('\n\n'));
    this.#contentType = this.#header('content-type') ?? '';
  }

  read(): BounceExplanation {
    const base = {
      from: this.#from(),
      subject: this.#email.subject ?? null,
      date: mailDate(this.#header('date')),
      truncated: this.#truncated,
      problem: null,
    };
    const feedback = this.#feedbackReport(base.date);
    if (feedback !== null) {
      return {
        ...base,
        kind: 'feedback_report',
        format: null,
        reportingMta: null,
        recipients: [],
        feedbackType: feedback.type,
        feedbackRecipients: feedback.recipients,
      };
    }
    const ses = readSesNotification(this.#text);
    if (ses !== null) return this.#fromSes(ses, base);
    const listNotice = this.#listManagerNotice(base);
    if (listNotice !== null) return listNotice;
    const dsn = this.#deliveryStatus();
    const looksLikeBounce = dsn !== null || this.#hasBounceEvidence();
    if (!looksLikeBounce) {
      const kind = this.#isAutoReply() ? 'auto_reply' : 'not_a_bounce';
      return {
        ...base,
        kind,
        format: null,
        reportingMta: null,
        recipients: [],
        feedbackType: null,
        feedbackRecipients: [],
      };
    }
    // The bounce's own recipient is its sender's address; a test bounce sent to itself says no more.
    const scanned = scanBounceText(this.#text, this.#excluded(true));
    let recipients: BounceRecipient[] = [];
    let format: BounceExplanation['format'] = null;
    if (dsn !== null && dsn.recipients.length > 0) {
      recipients = dsn.recipients.map((fields) => this.#fromDsn(fields, dsn.message, scanned));
      format = 'dsn';
    }
    if (recipients.length === 0) {
      const found = scanned.length > 0 ? scanned : this.#fallbackRecipients();
      recipients = found.map((found) => this.#fromText(found));
      format = recipients.length > 0 ? 'text' : null;
    }
    const reportingMta = untyped(dsn?.message.get('reporting-mta')) ?? null;
    const kind = kindOf(recipients, this.#isAutoReply());
    return {
      ...base,
      kind,
      format,
      reportingMta,
      recipients: recipients.filter((r) => kind !== 'auto_reply' || r.action !== null),
      feedbackType: null,
      feedbackRecipients: [],
    };
  }

  #header(name: string): string | null {
    return this.#email.headers.find((header) => header.key === name)?.value ?? null;
  }

  #from(): string | null {
    const from = this.#email.from;
    if (from === undefined) return null;
    return from.address ?? from.name;
  }

  #attachments(types: ReadonlySet<string>): Attachment[] {
    return this.#email.attachments.filter((attachment) => types.has(attachment.mimeType));
  }

  /**
   * RFC 5965 §3: `multipart/report; report-type=feedback-report` with a `message/feedback-report` part;
   * or Microsoft's older JMRP complaint (Junk Mail Reporting Program, "RFC822 Attachment" format): sent
   * from `staff@hotmail.com`, the reported message attached with the complainant in
   * `X-HmXmrOriginalRecipient`; or an unsubscribe request (`unsubscribe`), whose sender asks to leave.
   * With the type, who the report is about.
   */
  #feedbackReport(date: string | null): { type: string; recipients: FeedbackRecipient[] } | null {
    const jmrp = this.#jmrpComplaint();
    if (jmrp !== null) return { type: 'abuse', recipients: jmrpRecipients(jmrp, date) };
    if (this.#isUnsubscribeRequest()) {
      const from = this.#email.from?.address;
      return {
        type: 'unsubscribe',
        recipients: namedRecipients(from === undefined ? [] : [from], 'from', date),
      };
    }
    const part = this.#attachments(new Set(['message/feedback-report']))[0];
    if (part === undefined && !/report-type\s*=\s*"?feedback-report/i.test(this.#contentType)) return null;
    const report = part === undefined ? '' : contentText(part);
    const type = parseDeliveryStatus(report).message.get('feedback-type')?.trim().toLowerCase() ?? 'abuse';
    const original = this.#attachments(ORIGINAL_TYPES)[0];
    return {
      type,
      recipients: arfRecipients(report, original === undefined ? null : contentText(original), date),
    };
  }

  /**
   * A mailing-list manager's notice that it refused a post (LIST_MANAGER_NOTICES): the list address
   * the notice names in angle brackets failed, for the reason its words give.
   */
  #listManagerNotice(
    base: Pick<BounceExplanation, 'from' | 'subject' | 'date' | 'truncated' | 'problem'>,
  ): BounceExplanation | null {
    const subject = this.#email.subject ?? '';
    const notice = LIST_MANAGER_NOTICES.find(
      (candidate) =>
        candidate.software.test(this.#header(candidate.header) ?? '') && candidate.subject.test(subject),
    );
    if (notice === undefined) return null;
    const excluded = this.#excluded(true);
    const lines = cutOriginalMessage(this.#text).split('\n');
    const named = new Map<string, string>();
    for (const line of lines) {
      for (const match of line.matchAll(/<([^<>\s@]+@[^<>\s@]+)>/g)) {
        const address = match[1] ?? '';
        if (!excluded.has(address.toLowerCase()) && !named.has(address.toLowerCase())) {
          named.set(address.toLowerCase(), `${subject}: ${line.trim()}`);
        }
      }
    }
    if (named.size === 0) return null;
    const recipients = [...named].slice(0, 50).map(([address, diagnostic]) =>
      this.#recipient({
        address,
        originalRecipient: null,
        action: 'failed',
        status: null,
        reply: null,
        command: null,
        remoteMta: null,
        diagnostic,
        date: mailDate(this.#header('date')),
      }),
    );
    return {
      ...base,
      kind: 'bounce',
      format: 'text',
      reportingMta: null,
      recipients,
      feedbackType: null,
      feedbackRecipients: [],
    };
  }

  /**
   * An unsubscribe request a mail client sends for its user to a list's RFC 2369 `List-Unsubscribe`
   * mailto address: Apple Mail's carries `X-Apple-Unsubscribe: true` and the words `Apple Mail sent
   * this email to unsubscribe from the message "…"` (iOS Mail's, `iOS Mail sent …`). Its sender asks
   * to be mailed no more: feedback about the list, not a failed delivery.
   */
  #isUnsubscribeRequest(): boolean {
    if (/^\s*true\s*$/i.test(this.#header('x-apple-unsubscribe') ?? '')) return true;
    return /^\s*(?:apple|ios) mail sent this email to unsubscribe from the message\b/i.test(this.#text);
  }

  /** A JMRP complaint's reported message (the part naming `X-HmXmrOriginalRecipient`), else null. */
  #jmrpComplaint(): string | null {
    if (!/^staff@hotmail\.com$/i.test(this.#email.from?.address ?? '')) return null;
    const texts = this.#attachments(ORIGINAL_TYPES).map((part) => contentText(part));
    return texts.find((text) => /^X-HmXmrOriginalRecipient:/im.test(text.slice(0, 16384))) ?? null;
  }

  /** The report part, or DSN fields written into the text by MTAs that send no report part. */
  #deliveryStatus(): ReturnType<typeof parseDeliveryStatus> | null {
    const parts = this.#attachments(DSN_TYPES);
    if (parts.length > 0) {
      const parsed = parts.map((part) => parseDeliveryStatus(contentText(part)));
      return {
        message: parsed[0]?.message ?? new Map(),
        recipients: parsed.flatMap((status) => status.recipients),
      };
    }
    const at = this.#text.search(/^(?:Final-Recipient|Original-Recipient):/im);
    if (at < 0) return null;
    const status = parseDeliveryStatus(
      this.#text.slice(Math.max(0, this.#text.lastIndexOf('\n\n', at)), at + 64 * 1024),
    );
    return status.recipients.length > 0 ? status : null;
  }

  #hasBounceEvidence(): boolean {
    if (this.#header('x-failed-recipients') !== null) return true;
    if (/report-type\s*=\s*"?delivery-status/i.test(this.#contentType)) return true;
    const from = this.#header('from') ?? '';
    if (BOUNCE_SENDER.test(from)) return true;
    const subject = this.#email.subject ?? '';
    if (BOUNCE_SUBJECT.test(subject) && !AUTO_REPLY_SUBJECT.test(subject)) return true;
    return /could not be delivered|wasn't able to deliver|unable to deliver|delivery (?:has )?failed|failed permanently|did not reach|permanent (?:fatal )?errors?|undeliverable/i.test(
      cutOriginalMessage(this.#text).slice(0, 8192),
    );
  }

  /** RFC 3834 §5: `Auto-Submitted` other than `no`, and the headers vacation programs use instead. */
  #isAutoReply(): boolean {
    const submitted = this.#header('auto-submitted')?.toLowerCase() ?? 'no';
    if (/auto-replied/.test(submitted)) return !BOUNCE_SENDER.test(this.#header('from') ?? '');
    if (this.#header('x-autoreply') !== null || this.#header('x-autorespond') !== null) return true;
    if (/auto[_-]?reply/i.test(this.#header('precedence') ?? '')) return true;
    return AUTO_REPLY_SUBJECT.test(this.#email.subject ?? '');
  }

  /** The bounce's own addresses, which the text mentions but which did not fail. */
  #excluded(withTo: boolean): Set<string> {
    const out = new Set<string>();
    const names = ['from', 'return-path', 'reply-to', 'sender', 'errors-to', ...(withTo ? ['to'] : [])];
    for (const name of names) {
      for (const header of this.#email.headers.filter((h) => h.key === name)) {
        for (const address of addressesIn(header.value)) out.add(address.toLowerCase());
      }
    }
    return out;
  }

  /** An Amazon SES notification: bounces per recipient, a complaint, or a delivery. */
  #fromSes(
    ses: SesNotification,
    base: Pick<BounceExplanation, 'from' | 'subject' | 'date' | 'truncated' | 'problem'>,
  ): BounceExplanation {
    if (ses.type === 'Complaint') {
      return {
        ...base,
        kind: 'feedback_report',
        format: null,
        reportingMta: null,
        recipients: [],
        // SES passes on the ISP's RFC 5965 Feedback-Type when there was one; a complaint without it
        // is still a complaint.
        feedbackType: ses.feedbackType?.trim().toLowerCase() || 'abuse',
        feedbackRecipients: namedRecipients(
          ses.recipients.map((recipient) => recipient.address),
          'ses',
          mailDate(ses.timestamp) ?? base.date,
        ),
      };
    }
    const recipients = ses.recipients.map((found) => {
      const diagnostic = untyped(found.diagnosticCode ?? undefined);
      const reply = diagnostic !== null && /^[245]\d\d(?:[ -]|$)/.test(diagnostic) ? diagnostic : null;
      return this.#recipient({
        address: found.address,
        originalRecipient: null,
        action: actionOf(found.action ?? (ses.type === 'Delivery' ? 'delivered' : 'failed')),
        status: statusOf(found.status ?? undefined),
        reply,
        command: null,
        remoteMta: null,
        diagnostic: reply === null ? diagnostic : null,
        date: mailDate(ses.timestamp ?? this.#header('date')),
      });
    });
    return {
      ...base,
      kind: kindOf(recipients, false),
      format: 'ses',
      reportingMta: ses.reportingMta,
      recipients,
      feedbackType: null,
      feedbackRecipients: [],
    };
  }

  /**
   * Exim's `X-Failed-Recipients`, else the envelope recipient the returned message's delivery headers
   * name, else the recipients its `To`/`Cc` name.
   */
  #fallbackRecipients(): TextRecipient[] {
    const failed = this.#header('x-failed-recipients');
    // Exim names the failed recipients in `X-Failed-Recipients` itself: they stand even when the
    // bounce's own headers repeat one (a `Reply-To` of the same address).
    const named = failed === null ? [] : addressesIn(failed);
    if (named.length === 0) {
      // The text naming the bounce's own recipient as the one that failed (someone who sent to
      // themselves, or copied themselves) says more than the returned message's headers, which name
      // every recipient the message had, delivered or not.
      const own = scanBounceText(this.#text, this.#excluded(false));
      if (own.length > 0) return own;
    }
    const excluded = named.length > 0 ? new Set<string>() : this.#excluded(false);
    const headers = this.#originalHeaders();
    const delivered = envelopeRecipientOf(headers, excluded);
    const addresses = named.length > 0 ? named : delivered !== null ? [delivered] : recipientsOf(headers);
    const unique = [...new Set(addresses.filter((a) => !excluded.has(a.toLowerCase())))].slice(0, 50);
    const found = findReply(cutOriginalMessage(this.#text).split('\n'));
    const diagnostic = cutOriginalMessage(this.#text).replace(/\s+/g, ' ').trim().slice(0, 500) || null;
    return unique.map((address) => ({
      address,
      reply: unique.length === 1 ? (found?.reply ?? null) : null,
      command: null,
      remoteMta: null,
      diagnostic,
      mailerOutput: null,
    }));
  }

  /**
   * The header block of the returned message, unfolded: an attached message or headers, else the text
   * after the marker (its first block naming a recipient).
   */
  #originalHeaders(): string {
    const part = this.#attachments(ORIGINAL_TYPES)[0];
    const headerText =
      part === undefined ? this.#text.slice(cutOriginalMessage(this.#text).length) : contentText(part);
    const headers =
      headerText
        .split(/\r?\n\r?\n/)
        .find((block) => /^(?:to|cc|x-original-to|delivered-to)\s*:/im.test(block)) ?? '';
    return headers.replace(/\r?\n[ \t]+/g, ' ');
  }

  #fromDsn(fields: DsnFields, message: DsnFields, scanned: readonly TextRecipient[]): BounceRecipient {
    const final = addressOf(fields.get('final-recipient'));
    const original = addressOf(fields.get('original-recipient'));
    // A final recipient that is no address (Sendmail `@mx.example.org`, a source route
    // `@relay:user@host` from Sun Messaging Server) yields to the original one, or to the one address
    // the text names.
    const address =
      [final, original].find((candidate) => candidate !== null && isPlainAddress(candidate)) ??
      (scanned.length === 1 ? scanned[0]?.address : undefined) ??
      this.#generatedBy() ??
      final ??
      original ??
      '';
    const text =
      scanned.find((found) => found.address.toLowerCase() === address.toLowerCase()) ??
      (scanned.length === 1 ? scanned[0] : undefined);
    const diagnosticField = fields.get('diagnostic-code');
    const diagnosticValue = untyped(diagnosticField);
    let reply: string | null = null;
    let diagnostic: string | null = null;
    if (diagnosticValue !== null) {
      const found = /^[245]\d\d(?:[ -]|$)/.test(diagnosticValue)
        ? negativeAfterGreeting(diagnosticValue)
        : (sesQuotedReply(diagnosticValue) ?? findReply([diagnosticValue])?.reply ?? null);
      if (found !== null) reply = found.replace(/\s+/g, ' ').trim();
      else diagnostic = diagnosticValue;
    }
    if (reply === null && text?.reply != null) reply = text.reply;
    const action = actionOf(fields.get('action'));
    const status = statusOf(fields.get('status'));
    // RFC 3464 §2.3.5: a report of a relay attempt over SMTP MUST carry the Remote-MTA. Without one,
    // the reply is the reporting MTA's own (a local delivery), so its host is the provider whose
    // rules apply.
    const remoteMta =
      untyped(fields.get('remote-mta')) ??
      text?.remoteMta ??
      (reply !== null ? untyped(message.get('reporting-mta')) : null) ??
      null;
    const command = text?.command ?? (typeOf(diagnosticField) === 'smtp' ? null : null);
    return this.#recipient({
      address,
      originalRecipient: addressOf(fields.get('original-recipient')),
      action,
      status,
      reply,
      command,
      remoteMta,
      diagnostic: reply === null ? (diagnostic ?? text?.diagnostic ?? null) : null,
      date: mailDate(fields.get('last-attempt-date') ?? message.get('arrival-date') ?? this.#header('date')),
      mailerOutput: text?.mailerOutput ?? null,
    });
  }

  /**
   * Exim reports a delivery to a pipe or a file (`pipe to |/usr/bin/x`, `save to /var/mail/x`) with
   * the address it was generated from on the next line, `generated by a@example.com` (Exim
   * specification, "Bounce messages"): that address is the recipient, when the text names one.
   */
  #generatedBy(): string | undefined {
    const named = new Set(
      [
        ...cutOriginalMessage(this.#text).matchAll(/^\s*generated by <?([^\s<>]+@[^\s<>]+?)>?\s*(?:-+)?$/gim),
      ].map((match) => match[1] ?? ''),
    );
    return named.size === 1 ? [...named][0] : undefined;
  }

  #fromText(found: TextRecipient): BounceRecipient {
    const context = `${found.reply ?? ''} ${found.diagnostic ?? ''}`;
    const code = /^([245])\d\d/.exec(found.reply ?? '')?.[1];
    const delayed =
      code === '4' || (code === undefined && DELAY_TEXT.test(this.#text) && !PERMANENT_TEXT.test(this.#text));
    return this.#recipient({
      address: found.address,
      originalRecipient: null,
      action: delayed && !/expired|too long|giving up|given up/i.test(context) ? 'delayed' : 'failed',
      status: statusOf(found.reply?.slice(3, 16)) ?? null,
      reply: found.reply,
      command: found.command,
      remoteMta: found.remoteMta,
      diagnostic: found.reply === null ? found.diagnostic : null,
      date: mailDate(this.#header('date')),
      mailerOutput: found.mailerOutput,
    });
  }

  /**
   * Adds the explanation: from a local delivery program's own words when a rule reads them, else the
   * reply, else the DSN status, else the diagnosis in words.
   */
  #recipient(
    fields: Omit<BounceRecipient, 'explanation' | 'explainedFrom' | 'bounceRule'> & {
      readonly mailerOutput?: string | null;
    },
  ): BounceRecipient {
    const { mailerOutput, ...recipient } = fields;
    // Sendmail's summary line only gives the program's exit status (bounce-text.ts, mailerOutputOf):
    // the program's words, when a rule reads them, decide, and are the recipient's diagnosis.
    const rule = mailerOutput == null || recipient.reply === null ? null : matchBounceText(mailerOutput);
    if (rule !== null && recipient.reply !== null) {
      const explanation =
        explainReply(replyForRule(rule, recipient.status ?? `${recipient.reply[0] ?? '5'}.0.0`), {
          command: recipient.command,
          provider: recipient.remoteMta,
        })[0] ?? null;
      return {
        ...recipient,
        diagnostic: mailerOutput ?? null,
        explanation,
        explainedFrom: 'diagnostic',
        bounceRule: rule.id,
      };
    }
    return { ...recipient, ...this.#explain(recipient) };
  }

  #explain(fields: Omit<BounceRecipient, 'explanation' | 'explainedFrom' | 'bounceRule'>): {
    explanation: ReplyExplanation | null;
    explainedFrom: ExplainedFrom | null;
    bounceRule: string | null;
  } {
    // The server that answered may change a reply's meaning (provider rules): its host goes along.
    const command = { command: fields.command, provider: fields.remoteMta };
    const explain = (reply: string) => explainReply(reply, command)[0] ?? null;
    if (fields.reply !== null) {
      const explanation = explain(withStatus(fields.reply, fields.status));
      // A reply the rules cannot place may still use a bounce's own words (Sendmail `554 <a@x>... 550
      // Host unknown`, `Mailbox is frozen`): those decide, in the reply's class.
      const generic = explanation === null || GENERIC_CATEGORIES.has(explanation.category);
      const rule = generic ? matchBounceText(fields.reply) : null;
      if (rule !== null) {
        const replyClass = `${fields.reply[0] ?? '5'}.0.0`;
        return {
          explanation: explain(replyForRule(rule, replyClass)),
          explainedFrom: 'reply',
          bounceRule: rule.id,
        };
      }
      return { explanation, explainedFrom: 'reply', bounceRule: null };
    }
    // A diagnosis in words names the condition more precisely than the generic statuses reports
    // carry with it (`4.0.0`, `5.4.4`); the report's status still says whether it was temporary.
    const words = fields.diagnostic ?? '';
    const rule =
      matchBounceText(words) ??
      (fields.status === null ? matchBounceText(cutOriginalMessage(this.#text).slice(0, 8192)) : null);
    if (rule !== null) {
      return {
        explanation: explain(replyForRule(rule, fields.status)),
        explainedFrom: 'diagnostic',
        bounceRule: rule.id,
      };
    }
    if (fields.status !== null) {
      return { explanation: fromStatus(fields.status, command), explainedFrom: 'status', bounceRule: null };
    }
    return { explanation: null, explainedFrom: null, bounceRule: null };
  }
}

/**
 * Amazon SES's own Diagnostic-Code quotes the remote server's reply after its summary: `5.1.0 - Unknown
 * address error 550-'5.1.1 <a@example.com>... User unknown' (delivery attempts: 0)`; the quoted reply
 * (code, then text) is what the remote server said.
 */
function sesQuotedReply(diagnostic: string): string | null {
  const match = /^[245]\.\d{1,3}\.\d{1,3} - [^']*?\b([245]\d\d)[- ]'([^']+)'/.exec(diagnostic);
  return match === null ? null : `${match[1] ?? ''} ${(match[2] ?? '').trim()}`;
}

/** A status code explained as the reply a server would have sent with it (`550 5.1.1 …`). */
function fromStatus(status: string, command: { command: ExplainCommand | null }): ReplyExplanation | null {
  const code = status.startsWith('2') ? '250' : status.startsWith('4') ? '450' : '550';
  return explainReply(`${code} ${status}`, command)[0] ?? null;
}

/**
 * A reply without an enhanced code, explained with the DSN's status code when the classes agree: the
 * report's `Status` is the reporting MTA's reading of the same reply (RFC 3464 §2.3.4).
 */
function withStatus(reply: string, status: string | null): string {
  if (status === null || /^[245]\.0\.0$/.test(status)) return reply;
  const match = /^([245])(\d\d)([ -])(?![245]\.\d{1,3}\.\d{1,3})/.exec(reply);
  if (match === null || match[1] !== status[0]) return reply;
  return `${match[1]}${match[2]} ${status} ${reply.slice(match[0].length)}`;
}

function isPlainAddress(address: string): boolean {
  return /^[^@\s:]+@[^@\s:]+$/.test(address);
}

/** The addresses of every `name` field of an unfolded header block. */
function fieldAddresses(headers: string, name: string): string[] {
  return [...headers.matchAll(new RegExp(`^${name}\\s*:(.*)$`, 'gim'))].flatMap((match) =>
    addressesIn(match[1] ?? ''),
  );
}

/** `To`/`Cc` of the returned message. */
function recipientsOf(headers: string): string[] {
  return [...fieldAddresses(headers, 'to'), ...fieldAddresses(headers, 'cc')];
}

/**
 * The envelope recipient a returned message's delivery headers name, when they name exactly one:
 * `X-Original-To`, the recipient address as Postfix received it before any aliasing (local(8),
 * virtual(8), pipe(8) flag `O`), else `Delivered-To`, the envelope recipient of a delivery (qmail-local(8)
 * records `local@domain` in it; Postfix local(8) and pipe(8) flag `D` the final recipient; RFC 9228).
 * Unlike `To` and `Cc`, these name the address the message was delivered to, also for a `Bcc` or a list.
 * Several different addresses in a field (the message was delivered, then forwarded) do not say which
 * delivery failed: null then, as when the addresses are the bounce's own.
 */
function envelopeRecipientOf(headers: string, excluded: ReadonlySet<string>): string | null {
  for (const name of ['x-original-to', 'delivered-to']) {
    const found = new Map<string, string>();
    for (const address of fieldAddresses(headers, name)) {
      if (!found.has(address.toLowerCase())) found.set(address.toLowerCase(), address);
    }
    for (const key of excluded) found.delete(key);
    if (found.size === 1) return [...found.values()][0] ?? null;
    if (found.size > 1) return null;
  }
  return null;
}

function kindOf(recipients: readonly BounceRecipient[], autoReply: boolean): BounceKind {
  if (recipients.some((r) => r.action === 'failed')) return 'bounce';
  if (recipients.some((r) => r.action === 'delayed')) return 'delay';
  if (recipients.some((r) => r.action !== null)) return 'delivery_report';
  return autoReply ? 'auto_reply' : 'not_a_bounce';
}

function actionOf(value: string | undefined): BounceAction | null {
  const action = value
    ?.trim()
    .toLowerCase()
    .split(/[\s;(]/)[0];
  switch (action) {
    case 'failed':
    case 'delayed':
    case 'delivered':
    case 'relayed':
    case 'expanded':
      return action;
    // Postfix's address verification reports (`sendmail -bv`, verify(8)) write `deliverable` and
    // `undeliverable` (Postfix bounce(8), DSN_NOTIFY for verify requests).
    case 'deliverable':
      return 'delivered';
    default:
      // RFC 3464 §2.3.3 names five actions; a report that names another still reports a failure.
      return action === undefined || action === '' ? 'failed' : 'failed';
  }
}

/**
 * Text parts whose `Content-Type` lost its `;` (`text/plain` then `charset=…` on a continuation
 * line): RFC 2045 §5.1 allows no space inside the type, so the parser keeps the whole value as the
 * type and files the part as an attachment. The type is the token before the space: a plain text
 * part that is not a file (no name, not `Content-Disposition: attachment`), which in a bounce is the
 * notice that comes first (RFC 3462 §1), so it is read before the rest of the text.
 */
function brokenTextParts(email: Email): string[] {
  return email.attachments
    .filter(
      (part) =>
        /^text\/plain\s/i.test(part.mimeType) && part.filename === null && part.disposition !== 'attachment',
    )
    .map((part) => contentText(part));
}

function contentText(part: Attachment): string {
  const content = part.content;
  if (typeof content === 'string') return content;
  return decoder.decode(content instanceof ArrayBuffer ? new Uint8Array(content) : content);
}

function capLines(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => (line.length > MAX_LINE_CHARS ? line.slice(0, MAX_LINE_CHARS) : line))
    .join('\n');
}
