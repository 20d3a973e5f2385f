/**
 * `explainReply()`: what an SMTP reply a person received means, by the same classifier `verify()` uses
 * (src/classify), so the two never disagree: the verdict and reason of `verify`, the finer category of
 * the matched rule, whose side it is on, what to do, and the rule's source. A pure module; total:
 * bad input (empty, binary, no reply code) gets an answer that says so, never an exception.
 */
import {
  REPLY_CATEGORIES,
  REPLY_RULES,
  OUTSIDE_RULES,
  classifyReply,
  type ActionKind,
  type ReplyCategory,
  type ReplyRule,
  type ReplySide,
} from '../classify/index.js';
import { matchProvider, providerById, type ProviderRule } from '../providers/index.js';
import type { Reason, SmtpStage, Verdict } from '../types.js';
import {
  EXPLAIN_COMMANDS,
  findReplies,
  findStatusCodes,
  type ExplainCommand,
  type FoundReply,
  type FoundStatus,
} from './find-replies.js';
import { base64Paste, softBreaksJoined } from './pasted-encoding.js';

export interface ExplainReplyOptions {
  /**
   * The command the reply answered, when the input does not say (a bare reply line). Default `null`:
   * read as a reply to `RCPT TO`, the command whose replies speak about an address. A transcript's own
   * commands win over this.
   */
  readonly command?: ExplainCommand | null;
  /**
   * Which provider's server answered: a provider id (`google`, `outlook`, …) or the MX host name
   * (`mx1.hotmail.com`). Some replies mean different things at different providers. Default: read from
   * the input when it names the host (a transcript's greeting, Postfix `host … said:`), else none.
   */
  readonly provider?: string | null;
}

/** What the reply says about the sending attempt: RFC 5321 §4.2.1's classes. */
export type ReplyPermanence = 'success' | 'temporary' | 'permanent';

/** One explained reply. Every field is present; `null` when it does not apply. */
export interface ReplyExplanation {
  readonly reply: {
    /** The reply code, `null` when the input had none. */
    readonly code: number | null;
    /** The RFC 3463 enhanced code the classifier used (written or found in the text), or `null`. */
    readonly enhanced: string | null;
    /** The reply text without codes, lines joined by `\n`. */
    readonly text: string;
    /** The command it answered, when the input says (or `options.command`); `null` when unstated. */
    readonly command: ExplainCommand | null;
  };
  /** The SMTP stage the classifier read the reply at (an unstated command is read as RCPT). */
  readonly readAs: SmtpStage | null;
  /** What `verify()` would conclude from this reply about the address. */
  readonly verdict: Verdict;
  readonly reason: Reason;
  /** The finer meaning. */
  readonly category: ReplyCategory;
  /** `success` (2xx/3xx), `temporary` (4xx: try again), `permanent` (5xx); `null` without a code. */
  readonly permanence: ReplyPermanence | null;
  /** Whose side the problem is on; `null` for a success or a reply nobody can place. */
  readonly side: ReplySide | null;
  /** One sentence on what the reply means. */
  readonly meaning: string;
  readonly action: {
    readonly kind: ActionKind;
    /** What to do, for people. */
    readonly advice: string;
    /** Milliseconds the server asked to wait, when its text names a delay. */
    readonly retryAfterMs: number | null;
    /** A page the reply or the rule points to (a delisting form, the provider's documentation). */
    readonly url: string | null;
  };
  /** The rule that decided, and where its knowledge comes from. */
  readonly rule: { readonly id: string; readonly source: string; readonly url: string | null };
  /** The provider whose rules applied, `null` when none was known. */
  readonly provider: string | null;
  /**
   * What to know about how the input was read, `null` when nothing: an enhanced status code without
   * its reply code (`5.1.1 user unknown`) says so here.
   */
  readonly note: string | null;
}

/** How `findReplies()`' commands map onto the stages the classifier knows. */
const STAGE_OF: Readonly<Record<ExplainCommand, SmtpStage>> = {
  CONNECT: 'greeting',
  EHLO: 'ehlo',
  HELO: 'helo',
  STARTTLS: 'starttls',
  // AUTH is outside a mail transaction and says nothing about a recipient.
  AUTH: 'connect',
  MAIL: 'mail',
  RCPT: 'rcpt',
  DATA: 'data',
  RSET: 'rset',
  QUIT: 'quit',
};

const RULES_BY_ID: ReadonlyMap<string, ReplyRule> = new Map(
  (REPLY_RULES as readonly ReplyRule[]).map((rule) => [rule.id, rule]),
);

/** Bytes no text has: NUL and the C0 controls other than tab, line feed, form feed and carriage return. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f\ufffd]/g;
/** Share of control characters (or U+FFFD from a lossy decode) above which input is binary. */
const BINARY_SHARE = 0.05;
const URL = /\bhttps?:\/\/[^\s<>"')\]]+/i;

function isCommand(value: unknown): value is ExplainCommand {
  return typeof value === 'string' && (EXPLAIN_COMMANDS as readonly string[]).includes(value);
}

function providerOf(value: string | null | undefined): ProviderRule | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  const name = value.trim();
  return providerById(name.toLowerCase()) ?? matchProvider({ mxHost: name, banner: null });
}

function permanenceOf(code: number): ReplyPermanence {
  if (code >= 500) return 'permanent';
  if (code >= 400) return 'temporary';
  return 'success';
}

function isBinary(input: string): boolean {
  const sample = input.slice(0, 4096);
  if (sample.includes('\u0000')) return true;
  const controls = sample.match(CONTROL)?.length ?? 0;
  return controls > sample.length * BINARY_SHARE;
}

const BASE64_NOTE =
  'The input was base64 (a body part copied without its header): read as the text it decodes to.';

/** The answer for input that holds no reply: it says why, in the explanation's own shape. */
function notAReply(text: string, meaning: string): ReplyExplanation {
  const info = REPLY_CATEGORIES.not_a_reply;
  const outside = OUTSIDE_RULES['code-out-of-range'];
  return {
    reply: { code: null, enhanced: null, text, command: null },
    readAs: null,
    verdict: 'unknown',
    reason: 'protocol_error',
    category: 'not_a_reply',
    permanence: null,
    side: info.side,
    meaning,
    action: { kind: info.action, advice: info.advice, retryAfterMs: null, url: null },
    rule: { id: 'code-out-of-range', source: outside.source, url: outside.url },
    provider: null,
    note: null,
  };
}

function explainFound(
  found: FoundReply & { readonly code: number },
  stage: SmtpStage,
  provider: ProviderRule | null,
  otherRecipientAccepted: boolean,
): ReplyExplanation {
  const classification = classifyReply(
    { stage, code: found.code, enhanced: found.enhanced, text: found.text },
    { provider, otherRecipientAccepted },
  );
  const rule = RULES_BY_ID.get(classification.rule);
  const outside =
    classification.rule === 'code-out-of-range'
      ? OUTSIDE_RULES['code-out-of-range']
      : OUTSIDE_RULES.unrecognised;
  const info = REPLY_CATEGORIES[classification.category];
  const kind = info.action;
  const textUrl = URL.exec(found.text)?.[0] ?? null;
  let advice = rule?.advice ?? info.advice;
  if (classification.retryAfterMs !== null) {
    advice = `${advice} The server asks to wait ${formatDelay(classification.retryAfterMs)}.`;
  }
  return {
    reply: {
      code: found.code,
      enhanced: effectiveEnhanced(found),
      text: found.text,
      command: found.command,
    },
    readAs: stage,
    verdict: classification.verdict,
    reason: classification.reason,
    category: classification.category,
    permanence: permanenceOf(found.code),
    side: rule?.side ?? info.side,
    meaning: info.meaning,
    action: {
      kind,
      advice,
      retryAfterMs: classification.retryAfterMs,
      url: textUrl ?? rule?.url ?? null,
    },
    rule: {
      id: classification.rule,
      source: rule?.source ?? outside.source,
      url: rule?.url ?? outside.url,
    },
    provider: provider?.id ?? null,
    note: null,
  };
}

/** What an enhanced code's class says, as a reply code's first digit would (RFC 3463 §3.1). */
const STATUS_CLASSES: Readonly<Record<string, { readonly words: string; readonly code: number }>> = {
  '2': { words: 'success', code: 250 },
  '4': { words: 'a temporary failure', code: 450 },
  '5': { words: 'a permanent failure', code: 550 },
};

/**
 * An enhanced status code quoted without its reply code, read as the reply its class stands for
 * (`5.1.1` as `550 5.1.1`, RFC 3463 §3.1: the class has the reply code's meaning), with a note that
 * the code was missing; the reply keeps `code: null`.
 */
function explainStatus(
  status: FoundStatus,
  command: ExplainCommand | null,
  given: ProviderRule | null,
): ReplyExplanation {
  const statusClass = STATUS_CLASSES[status.enhanced[0] ?? '5'] ?? { words: 'a failure', code: 550 };
  const answered = status.command ?? command;
  const provider =
    given ?? (status.host === null ? null : matchProvider({ mxHost: status.host, banner: null }));
  const explanation = explainFound(
    {
      code: statusClass.code,
      enhanced: status.enhanced,
      text: status.text,
      raw: `${status.enhanced} ${status.text}`,
      command: answered,
      host: status.host,
      banner: null,
      transaction: null,
    },
    answered === null ? 'rcpt' : STAGE_OF[answered],
    provider,
    false,
  );
  return {
    ...explanation,
    reply: { ...explanation.reply, code: null },
    note: `No reply code was given: read from the enhanced status code ${status.enhanced} alone, whose class ${status.enhanced[0] ?? ''} means ${statusClass.words}, as a ${String(statusClass.code)[0] ?? ''}xx reply code would (RFC 3463 §3.1). The whole reply, with its code, may say more.`,
  };
}

/** The enhanced code as written, or the first one in the text (Barracuda, IronPort, qmail put it there). */
function effectiveEnhanced(found: FoundReply & { readonly code: number }): string | null {
  if (found.enhanced !== null) return found.enhanced;
  const inText = /(?<![\d.])#?([245]\.\d{1,3}\.\d{1,3})(?![\d]|\.\d)/.exec(
    found.text.split('\n', 1)[0] ?? '',
  );
  const candidate = inText?.[1] ?? null;
  return candidate !== null && candidate[0] === String(found.code)[0] ? candidate : null;
}

function formatDelay(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.round(minutes / 60)} h`;
}

/**
 * What each SMTP reply in `input` means: a single reply line, a multi-line reply, a reply quoted in a
 * bounce, or a whole session transcript (the command each reply answered is read from it). Uses the
 * classifier and provider rules of `verify()`, so for the same reply to `RCPT TO` the verdict and
 * reason are the ones `verify()` gives. An enhanced status code quoted without its reply code (`5.1.1
 * user unknown`) is read by its class, with `reply.code` `null` and a `note` saying so. Never throws:
 * empty, binary or code-less input gets one answer of category `not_a_reply` that says what is wrong.
 *
 * @example
 * explainReply('550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table')
 * // [{ verdict: 'undeliverable', reason: 'mailbox_not_found', category: 'mailbox_unknown',
 * //    side: 'recipient', action: { kind: 'remove_address', … }, rule: { id: 'mailbox-not-found-text', … }, … }]
 */
export function explainReply(input: string, options: ExplainReplyOptions = {}): ReplyExplanation[] {
  if (typeof (input as unknown) !== 'string') {
    return [notAReply('', 'The input is not text.')];
  }
  if (input.trim() === '') {
    return [notAReply('', 'The input is empty: there is no reply to explain.')];
  }
  if (isBinary(input)) {
    return [notAReply('', 'The input is binary data, not the text of an SMTP reply.')];
  }
  const pasted = base64Paste(input);
  if (pasted?.kind === 'binary') {
    return [
      notAReply(
        '',
        `The input is base64: it decodes to ${pasted.bytes} bytes of ${pasted.what ?? 'binary data'}, not text, so it holds no SMTP reply (it is a file a message carried, not a bounce's text).`,
      ),
    ];
  }
  if (pasted?.kind === 'text') {
    // A bounce's body part pasted without its header: what it says is what it decodes to.
    return explainReply(pasted.text, options).map((explanation) =>
      explanation.category === 'not_a_reply'
        ? {
            ...explanation,
            meaning: `The input is base64; decoded, it is text without an SMTP reply code: a reply starts with three digits from 200 to 599 (RFC 5321 §4.2), such as "550 5.1.1 User unknown".`,
          }
        : { ...explanation, note: [BASE64_NOTE, explanation.note].filter(Boolean).join(' ') },
    );
  }
  const command = isCommand(options.command) ? options.command : null;
  const given = providerOf(options.provider);
  const text = softBreaksJoined(input);
  const found = findReplies(text, command);
  if (found.length === 0) {
    // Many bounces and logs quote the enhanced code without the reply code (`5.1.1 user unknown`).
    const statuses = findStatusCodes(text);
    if (statuses.length > 0) return statuses.map((status) => explainStatus(status, command, given));
    const firstLine = input.trim().split(/\r?\n/, 1)[0] ?? '';
    return [
      notAReply(
        firstLine.slice(0, 200),
        'No SMTP reply code was found: a reply starts with three digits from 200 to 599 (RFC 5321 §4.2), such as "550 5.1.1 User unknown".',
      ),
    ];
  }
  return found.map((reply) => {
    const code = reply.code;
    if (code === null) return notAReply(reply.text, REPLY_CATEGORIES.not_a_reply.meaning);
    const stage = reply.command === null ? 'rcpt' : STAGE_OF[reply.command];
    const provider =
      given ??
      (reply.host === null && reply.banner === null
        ? null
        : matchProvider({ mxHost: reply.host, banner: reply.banner }));
    // As verify() does: another RCPT of the same transaction accepted means the server is not refusing us.
    const otherRecipientAccepted =
      reply.transaction !== null &&
      found.some(
        (other) =>
          other !== reply &&
          other.transaction === reply.transaction &&
          other.command === 'RCPT' &&
          (other.code === 250 || other.code === 251),
      );
    return explainFound({ ...reply, code }, stage, provider, otherRecipientAccepted);
  });
}
