/**
 * Finds the SMTP replies in what a person pastes: one reply line, a multi-line reply (`550-…` then
 * `550 …`), a session transcript (a telnet session, Sendmail's `>>>`/`<<<` transcript, rcpt's own
 * `>`/`<` transcript, `C:`/`S:` as in the RFCs), or a reply quoted in a bounce (Postfix `host … said:
 * 550 … (in reply to RCPT TO command)`, Exim `SMTP error from remote mail server after RCPT TO:<…>:`,
 * `Diagnostic-Code: smtp; 550 …`). In a transcript, the command each reply answers is read from the
 * transcript: replies answer commands in order (RFC 5321 §4.1, pipelined or not, RFC 2920 §3).
 * A pure module: text in, replies out; nothing throws.
 */

/** The SMTP commands a reply can answer, as `explainReply()` names them; `CONNECT` is the greeting. */
export const EXPLAIN_COMMANDS = [
  'CONNECT',
  'EHLO',
  'HELO',
  'STARTTLS',
  'AUTH',
  'MAIL',
  'RCPT',
  'DATA',
  'RSET',
  'QUIT',
] as const;
export type ExplainCommand = (typeof EXPLAIN_COMMANDS)[number];

/** One reply found in the input. */
export interface FoundReply {
  /** The reply code; `null` when the text has none (the caller says it is not a reply). */
  readonly code: number | null;
  /** The RFC 3463 enhanced code of the first line, as written, or `null`. */
  readonly enhanced: string | null;
  /** The text of all lines without codes, lines joined by `\n`. */
  readonly text: string;
  /** The reply as found (its lines, trimmed of transcript markers). */
  readonly raw: string;
  /** The command it answered, when the input says so; `null` otherwise. */
  readonly command: ExplainCommand | null;
  /** The host that sent it, when the input names it (Postfix `host mx.example.com[192.0.2.1] said:`). */
  readonly host: string | null;
  /** The greeting of the session, when the input is a transcript that has one. */
  readonly banner: string | null;
  /** Index of the mail transaction (MAIL FROM … end) in a transcript, `null` outside one. */
  readonly transaction: number | null;
}

/**
 * At most this many replies are read from one input: a transcript of a long session has a few hundred;
 * more is not a paste but a log, and would only make the answer unreadable.
 */
export const MAX_REPLIES = 1000;
/** Longest input read, in characters (the rest is ignored): 1 MiB covers any transcript worth explaining. */
export const MAX_INPUT_CHARS = 1024 * 1024;
/** Longest reply text kept: servers send up to 64 KiB; the classifier reads 4 KiB. */
const MAX_REPLY_TEXT = 8192;

/**
 * A reply line: the code, then a space or `-` (RFC 5321 §4.2) or, as some bounces quote it, a colon
 * (`550: 5.1.1 <x>... User Unknown`).
 */
const REPLY_LINE = /^([2-5]\d\d)(?:([ -]|:\s*)(.*))?$/;
const ENHANCED_FIRST = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)/;

/**
 * Transcript markers: `>`/`<` (rcpt, many tools), `>>>`/`<<<` (Sendmail's transcript), `C:`/`S:`
 * (RFC 5321's examples), `->`/`<-`. The first group is the client side. A lone `<` or `>` needs a space
 * after it: `<x@example.com>` at the start of a wrapped line is an address, not a marker.
 */
const MARKER = /^\s*(?:(>>>|->|>(?=\s)|C:|client:)|(<<<|<-|<(?=\s)|S:|server:))\s?/i;

const COMMANDS: readonly (readonly [RegExp, ExplainCommand])[] = [
  [/^(?:EHLO|LHLO)\b/i, 'EHLO'],
  [/^HELO\b/i, 'HELO'],
  [/^STARTTLS\b/i, 'STARTTLS'],
  [/^AUTH\b/i, 'AUTH'],
  [/^MAIL\s+FROM\s*:/i, 'MAIL'],
  [/^RCPT\s+TO\s*:/i, 'RCPT'],
  [/^(?:DATA|BDAT\b.*)$/i, 'DATA'],
  [/^RSET\b/i, 'RSET'],
  [/^QUIT\b/i, 'QUIT'],
];

/** Commands that have no place in `EXPLAIN_COMMANDS` but still take a reply (NOOP, VRFY, EXPN, HELP). */
const OTHER_COMMAND = /^(?:NOOP|VRFY|EXPN|HELP|ETRN|TURN|XCLIENT|XFORWARD)\b/i;

/** How bounces name the command a quoted reply answered. */
const COMMAND_HINTS: readonly (readonly [RegExp, ExplainCommand])[] = [
  [/\b(?:end of )?data\b/i, 'DATA'],
  [/\brcpt\b/i, 'RCPT'],
  [/\bmail\b/i, 'MAIL'],
  [/\b(?:ehlo|lhlo)\b/i, 'EHLO'],
  [/\bhelo\b/i, 'HELO'],
  [/\bstarttls\b/i, 'STARTTLS'],
  [/\b(?:connect|greeting|initial|banner)\b/i, 'CONNECT'],
];

/** Postfix `(in reply to RCPT TO command)`, `(in reply to end of DATA command)`. */
const IN_REPLY_TO = /\(in reply to ([a-z ]{2,30}?) command\)\s*$/i;
/** Exim `SMTP error from remote mail server after RCPT TO:<x@example.com>:` (the reply follows). */
const EXIM_AFTER =
  /SMTP error from remote (?:mail server|mailer|server) after ([a-z ]{2,30}?)(?::<[^>]*>)?(?:\s*:|$)/i;
/** Postfix `host mx.example.com[192.0.2.1] said: 550 …`, Exim `host mx.example.com [192.0.2.1]: 550 …`. */
const HOST_SAID = /\bhost\s+([a-z0-9][a-z0-9.-]*[a-z0-9])\s*\[[0-9a-f.:]+\](?:\s+said)?\s*:\s*/i;
/** Exim's `host mx.example.com [192.0.2.1]` on a line of its own; RFC 3464 §2.3.5 `Remote-MTA: dns; mx…`. */
const HOST_LINE =
  /^(?:host\s+([a-z0-9][a-z0-9.-]*[a-z0-9])\s*\[[0-9a-f.:]+\]\s*$|remote-mta\s*:\s*dns\s*;\s*([a-z0-9][a-z0-9.-]*[a-z0-9])\.?\s*$)/i;
/**
 * The words before a reply in the text of a bounce as mail clients show it: Exchange and Office 365's
 * non-delivery report `Remote Server returned '550 5.1.10 …'` (the reply in quotes) and Exchange
 * 2007–2013's `#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##` (between `#` and `##`), Gmail's
 * `The error that the other server returned was: 550 …` and `The response from the remote server was:`.
 */
const CLIENT_SHOWN =
  /^(?:(#)|.*?\b(?:remote server returned\s+(')?|the error that the other server returned was:|the response from the remote server was:)\s*)(?=[2-5]\d\d\b)/i;
/**
 * A short label before a reply, as people paste one from a log, a ticket or a mail client (`Reason:
 * 550 5.1.1 …`, `Error: 552 5.2.2 …`, `Remote-MTA said: 550 …`): only before a reply with an RFC 3463
 * enhanced code, so that `Total: 250 messages` stays no reply.
 */
const LABEL = /^[a-z][a-z _-]{0,39}:\s*(?=[2-5]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(?:\s|$))/i;
/** RFC 3464 §2.3.6 `Diagnostic-Code: smtp; 550 …`. */
const DIAGNOSTIC = /^\s*diagnostic-code\s*:\s*smtp\s*;\s*/i;

/**
 * An RFC 3463 enhanced status code that starts a line in place of a reply (`5.1.1 user unknown`, as many
 * bounces and logs quote one without its reply code): the class (2, 4, 5), a subject of 0 to 7 (RFC 3463
 * §3 defines no other), a detail, then white space, a colon or the end.
 */
const STATUS_LINE = /^([245]\.[0-7]\.\d{1,3})(?::\s*|\s+|$)(.*)$/;
/**
 * A label before such a code (`Status: 5.1.1`, `Reason: 5.1.1 …`, RFC 3464 `Diagnostic-Code: X-Postfix;
 * 5.1.1 …`): up to 40 letters, spaces, `-` or `_`, a colon, and the diagnostic type with its `;`.
 */
const STATUS_LABEL = /^[a-z][a-z _-]{0,39}:\s*(?:[a-z][a-z0-9-]{0,39}\s*;\s*)?(?=[245]\.\d)/i;

function commandOf(line: string): ExplainCommand | 'OTHER' | null {
  for (const [pattern, command] of COMMANDS) if (pattern.test(line)) return command;
  return OTHER_COMMAND.test(line) ? 'OTHER' : null;
}

function hintedCommand(phrase: string): ExplainCommand | null {
  for (const [pattern, command] of COMMAND_HINTS) if (pattern.test(phrase)) return command;
  return null;
}

/** A reply being read: its lines so far, and whether the last one said more lines follow. */
interface Pending {
  code: number;
  enhanced: string | null;
  texts: string[];
  /** Whether the last of `texts` has had a wrapped line added (it is trimmed then). */
  wrapped: boolean;
  raws: string[];
  open: boolean;
  command: ExplainCommand | null;
  fromBounce: boolean;
  host: string | null;
}

function splitEnhanced(rest: string): { enhanced: string | null; text: string } {
  const match = ENHANCED_FIRST.exec(rest);
  if (match === null) return { enhanced: null, text: rest };
  return { enhanced: match[1] ?? null, text: rest.slice(match[0].length) };
}

/**
 * Whether the lines are a transcript: they hold client commands (then a reply before the first command
 * is the greeting, and each reply answers the oldest command not yet answered).
 */
export function looksLikeTranscript(lines: readonly string[]): boolean {
  return lines.some((line) => {
    const marker = MARKER.exec(line);
    if (marker !== null && marker[2] !== undefined) return false;
    const rest = (marker === null ? line : line.slice(marker[0].length)).trim();
    return commandOf(rest) !== null && !REPLY_LINE.test(rest);
  });
}

/** What a bounce's preamble says before the reply it quotes. */
export interface BouncePreamble {
  /** The text after the preamble: the reply line, if any. */
  readonly rest: string;
  /** Whether a preamble was there (the reply is quoted in a bounce, so wrapped lines continue it). */
  readonly fromBounce: boolean;
  /** Exim's `after RCPT TO:`: `undefined` when not said, `null` when said but not a known command. */
  readonly command: ExplainCommand | null | undefined;
  /** Postfix's `host mx.example.com[192.0.2.1] said:`, or `null`. */
  readonly host: string | null;
}

/**
 * Strips Exim's `SMTP error from remote mail server after RCPT TO:<…>:`, Postfix's `host … said:` and
 * RFC 3464's `Diagnostic-Code: smtp;` from the start of a line that is not itself a reply line.
 */
export function readBouncePreamble(line: string): BouncePreamble {
  let rest = line;
  let fromBounce = false;
  let command: ExplainCommand | null | undefined;
  let host: string | null = null;
  const exim = EXIM_AFTER.exec(rest);
  if (exim !== null) {
    command = hintedCommand(exim[1] ?? '');
    rest = rest.slice(exim.index + exim[0].length).trim();
    fromBounce = true;
  }
  const said = HOST_SAID.exec(rest);
  if (said !== null) {
    host = said[1] ?? null;
    rest = rest.slice(said.index + said[0].length).trim();
    fromBounce = true;
  }
  const shown = CLIENT_SHOWN.exec(rest);
  if (shown !== null) {
    rest = rest.slice(shown[0].length).trim();
    // Exchange closes the `#` it opened with `##` (and sometimes the recipient after it), and the quote.
    if (shown[1] !== undefined) rest = rest.replace(/\s*##.*$/, '');
    if (shown[2] !== undefined) rest = rest.replace(/'$/, '').trimEnd();
    fromBounce = true;
  }
  const diagnostic = DIAGNOSTIC.exec(rest);
  if (diagnostic !== null) {
    rest = rest.slice(diagnostic[0].length).trim();
    fromBounce = true;
  }
  const label = fromBounce ? null : LABEL.exec(rest);
  if (label !== null) {
    rest = rest.slice(label[0].length);
    fromBounce = true;
  }
  return { rest, fromBounce, command, host };
}

/**
 * Reads the lines of one input in order: the commands sent and not yet answered, the reply being read,
 * the session's greeting and transaction, and what a bounce said about the next reply.
 */
class ReplyReader {
  readonly replies: FoundReply[] = [];
  readonly #isTranscript: boolean;
  /** The command a reply answers when the input does not say. */
  readonly #command: ExplainCommand | null;
  /** Commands sent and not yet answered, oldest first (RFC 2920 §3: replies come in order). */
  readonly #queue: (ExplainCommand | 'OTHER')[] = [];
  #lastCommand: ExplainCommand | 'OTHER' | null = null;
  /** Inside a message after `354`, until the line with a single dot. */
  #inMessage = false;
  #banner: string | null = null;
  #transaction: number | null = null;
  #transactions = 0;
  #pending: Pending | null = null;
  /** What a bounce said about the next reply: the command (Exim) and the host (Postfix, Exim, RFC 3464). */
  #hintCommand: ExplainCommand | null = null;
  #hintHost: string | null = null;

  constructor(isTranscript: boolean, command: ExplainCommand | null) {
    this.#isTranscript = isTranscript;
    this.#command = command;
  }

  get full(): boolean {
    return this.replies.length >= MAX_REPLIES;
  }

  line(original: string): void {
    const marker = MARKER.exec(original);
    const side = marker === null ? null : marker[1] !== undefined ? 'client' : 'server';
    const line = (marker === null ? original : original.slice(marker[0].length)).trimEnd();
    if (this.#inMessage) {
      this.#messageLine(line, side);
      return;
    }
    const trimmed = line.trim();
    if (trimmed === '') {
      if (this.#pending !== null && !this.#pending.open) this.finish();
      return;
    }
    // A client command (a server line never starts with one).
    if (side !== 'server' && this.#commandLine(trimmed)) return;
    // A reply line, at the start of the line or after a bounce's preamble. Outside a transcript a
    // client marker is a mail client's quote (`> 550 …`): a client never sends a reply code.
    if ((side !== 'client' || !this.#isTranscript) && this.#replyLine(trimmed)) return;
    this.#otherLine(original, trimmed);
  }

  /** Ends the reply being read, if any, and adds it to `replies` with the command it answered. */
  finish(): void {
    const current = this.#pending;
    this.#pending = null;
    if (current === null || this.full) return;
    let text = current.texts.join('\n').slice(0, MAX_REPLY_TEXT);
    let answered: ExplainCommand | 'OTHER' | null = current.command;
    const hint = IN_REPLY_TO.exec(text);
    if (hint !== null) {
      answered = hintedCommand(hint[1] ?? '') ?? answered;
      // The white space before it goes too (not matched by a leading `\s*`: tried from every position of
      // a long run of white space, that is quadratic in the run).
      text = text.slice(0, hint.index).trimEnd();
    }
    if (answered === null && this.#isTranscript) {
      answered =
        this.#queue.shift() ??
        (this.replies.length === 0 && this.#lastCommand === null ? 'CONNECT' : this.#lastCommand);
    }
    if (answered === null) answered = this.#command;
    if (answered === 'CONNECT' && this.#banner === null) this.#banner = text;
    if (answered === 'MAIL') this.#transaction = this.#transactions++;
    this.replies.push({
      code: current.code,
      enhanced: current.enhanced,
      text,
      raw: current.raws.join('\n'),
      command: answered === 'OTHER' ? null : answered,
      host: current.host,
      banner: this.#isTranscript ? this.#banner : null,
      transaction:
        answered === 'RCPT' || answered === 'DATA' || answered === 'MAIL' ? this.#transaction : null,
    });
    // RFC 5321 §4.1.1.4: after 354 the client sends the message, ended by a line with a single dot.
    if (answered === 'DATA' && current.code === 354) this.#inMessage = true;
    if (answered === 'DATA' && current.code !== 354) this.#transaction = null;
  }

  #messageLine(line: string, side: 'client' | 'server' | null): void {
    if (side !== 'server' && line.trim() === '.') {
      this.#inMessage = false;
      this.#queue.push('DATA');
    }
  }

  #commandLine(trimmed: string): boolean {
    const sent = commandOf(trimmed);
    if (sent === null || REPLY_LINE.test(trimmed)) return false;
    this.finish();
    this.#lastCommand = sent;
    this.#queue.push(sent);
    return true;
  }

  #replyLine(trimmed: string): boolean {
    const named = HOST_LINE.exec(trimmed);
    if (named !== null) {
      this.finish();
      this.#hintHost = named[1] ?? named[2] ?? null;
      return true;
    }
    let candidate = trimmed;
    let fromBounce = false;
    let host: string | null = null;
    if (!REPLY_LINE.test(candidate)) {
      const preamble = readBouncePreamble(candidate);
      if (preamble.command !== undefined) {
        this.finish();
        this.#hintCommand = preamble.command;
      }
      if (preamble.host !== null) {
        host = preamble.host;
        this.#hintHost = host;
      }
      candidate = preamble.rest;
      fromBounce = preamble.fromBounce;
    }
    const match = REPLY_LINE.exec(candidate);
    if (match === null) return false;
    const code = Number(match[1]);
    const open = match[2] === '-';
    const { enhanced, text } = splitEnhanced(match[3] ?? '');
    const pending = this.#pending;
    if (pending?.open === true && pending.code === code) {
      pending.texts.push(text);
      pending.wrapped = false;
      pending.raws.push(candidate);
      pending.open = open;
      return true;
    }
    this.finish();
    this.#pending = {
      code,
      enhanced,
      texts: [text],
      wrapped: false,
      raws: [candidate],
      open,
      command: this.#hintCommand,
      fromBounce,
      host: host ?? this.#hintHost,
    };
    this.#hintCommand = null;
    return true;
  }

  /** Anything else: the wrapped rest of a reply quoted in a bounce, or of a pasted reply. */
  #otherLine(original: string, trimmed: string): void {
    const pending = this.#pending;
    if (
      pending !== null &&
      !this.#isTranscript &&
      (pending.fromBounce || /^\s/.test(original) || !pending.open)
    ) {
      // A wrapped line continues the text of the reply line it was cut from.
      const last = pending.texts.length - 1;
      const before = pending.texts[last] ?? '';
      // Trimmed once, when first continued; then only appended to (`trimmed` ends without white space):
      // trimming the growing text at every line copied it whole each time, quadratic in the lines.
      pending.texts[last] = pending.wrapped ? `${before} ${trimmed}` : `${before} ${trimmed}`.trim();
      pending.wrapped = true;
      pending.raws.push(trimmed);
      return;
    }
    this.finish();
  }
}

/**
 * The replies in `input`, in order. `command` is the command a reply answers when the input does not
 * say (a bare reply line); in a transcript the transcript decides.
 */
export function findReplies(input: string, command: ExplainCommand | null = null): FoundReply[] {
  const lines = input.slice(0, MAX_INPUT_CHARS).split(/\r?\n|\r/);
  const reader = new ReplyReader(looksLikeTranscript(lines), command);
  for (const line of lines) {
    if (reader.full) break;
    reader.line(line);
  }
  reader.finish();
  return reader.replies;
}

/** An enhanced status code found where a reply was expected, without the reply's code. */
export interface FoundStatus {
  /** The RFC 3463 code, `5.1.1`. */
  readonly enhanced: string;
  /** The text after it. */
  readonly text: string;
  /** The command it answered, when the line says (Exim's `after RCPT TO:`, Postfix's `(in reply to …)`). */
  readonly command: ExplainCommand | null;
  /** The host that sent it, when the line names it (Postfix `host mx.example.com[192.0.2.1] said:`). */
  readonly host: string | null;
}

/**
 * The lines of `input` that start, after a bounce's preamble or a label, with an enhanced status code
 * and no reply code (`5.1.1 user unknown`, `Diagnostic-Code: smtp; 5.1.1 …`, `Status: 5.2.2`): what is
 * left to read when `findReplies()` found no reply.
 */
export function findStatusCodes(input: string): FoundStatus[] {
  const found: FoundStatus[] = [];
  for (const line of input.slice(0, MAX_INPUT_CHARS).split(/\r?\n|\r/)) {
    if (found.length >= MAX_REPLIES) break;
    const preamble = readBouncePreamble(line.trim());
    const rest = preamble.rest.slice(STATUS_LABEL.exec(preamble.rest)?.[0].length ?? 0);
    const match = STATUS_LINE.exec(rest);
    if (match === null) continue;
    let text = (match[2] ?? '').slice(0, MAX_REPLY_TEXT);
    const hint = IN_REPLY_TO.exec(text);
    if (hint !== null) text = text.slice(0, hint.index).trimEnd();
    found.push({
      enhanced: match[1] ?? '',
      text,
      command: (hint === null ? null : hintedCommand(hint[1] ?? '')) ?? preamble.command ?? null,
      host: preamble.host,
    });
  }
  return found;
}
