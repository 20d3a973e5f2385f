/**
 * Reads the human-readable text of a bounce: the non-standard formats of MTAs that send no RFC 3464
 * report (qmail, Exim, Gmail, Yahoo, Exchange 2003, …) and the text part beside a report, which often
 * holds what the report leaves out (the command a reply answered, a reply the report truncated).
 *
 * The formats share a shape: a preamble, then per failed recipient a line that starts with the
 * address (`<a@example.com>:`, `  a@example.com`, `a@example.com: 550 …`), then the remote server's
 * reply or a diagnosis in words, then a copy of the original message. Each MTA's markers are data below.
 */

import type { ExplainCommand } from './find-replies.js';

/**
 * Lines that start the copy of the original message; nothing after them is about the delivery.
 * qmail `--- Below this line is a copy of the message.`; Exim `------ This is a copy of the message,
 * including all the headers. ------`; Gmail and Google Groups `----- Original message -----`;
 * Sendmail `----- Unsent message follows -----` and `----- Original message follows -----`; IMail
 * `Original message follows.`; X2 `--- Original message follows.`; m-FILTER `-------original message`;
 * Lotus Notes `------- Returned Message --------`; DragonFly `Message headers follow.`; OpenSMTPD
 * `Below is a copy of the original message:`; Courier `--- original message follows ---`; Mail.ru and
 * Exchange `Original message headers:`; Exim 3 `|------------------------- Message text follows: ---|`.
 */
const ORIGINAL_MESSAGE_MARKERS: readonly RegExp[] = [
  /^-+ ?below this line is a copy of the message/i,
  /^-+ ?this is a copy of the message/i,
  /^-+ ?original message -+/i,
  /^\s*-+ ?(?:unsent|original|returned) message(?: follows)? ?-*/i,
  /^-*\s*original message follows/i,
  /^\s*below is a copy of the original message/i,
  /^message headers follow/i,
  /^original message headers:?$/i,
  /^-+ ?(?:the )?(?:header|headers) of (?:the )?original message/i,
  /^-+ ?original message header/i,
  /^\|?-+ ?message (?:text|header)s? follows?/i,
  // Verizon's MMS gateway `Original Message:` before the original's header lines.
  /^original message:$/i,
  /^\s*-+ ?(?:your|the) message (?:follows|was)/i,
  // fml (mailing-list manager) `Original mail as follows:` before the indented original (fml 4
  // kern/libkernsubr2.pl, __WholeMail).
  /^original mail as follows:?$/i,
];

/** An address in bounce text: the dot-atom form, Unicode letters allowed (RFC 6531). */
const ADDRESS =
  /[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-][\p{L}\p{N}.!#$%&'*+/=?^_`{|}~-]*@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+/gu;

/** Lines quoting message headers, whose addresses are not failed recipients. */
const HEADER_LINE =
  /^\s*(?:message-id|in-reply-to|references|received|return-path|from|sender|reply-to|to|cc|date|subject|x-[\w-]+|dkim-signature|authentication-results|arc-[\w-]+|envelope-from|delivered-to)\s*:/i;

/** A transcript line that sends `MAIL FROM`: `>>> MAIL From:<…>`, ` In:  MAIL FROM:<…>`, `C: MAIL FROM:<…>`. */
const TRANSCRIPT_SENDER = /^\s*(?:>>>|in:|c:|>)?\s*mail from:\s*</i;

/**
 * A reply code where a server's reply begins: at a line's start (after a transcript's `<<<`, or
 * Exchange's `#`), or
 * after `said:`, `: `, `(reason: `, `returned was:`, `ERROR_CODE :`, `error message: [` (X6); the enhanced
 * code may follow.
 */
const REPLY_START =
  /(^\s*#?|<<<\s*|said:\s*|said\s+|reason:\s*|error:\s*|returned was:\s*|returned '|\]:\s*|\):\s*|>:\s*|[\w.-]:\s+|\s-\s|message: \[)([245]\d\d)(?:([ -]|:\s)(?:#?([245]\.\d{1,3}\.\d{1,3})\b)?|$)/;

/** Which command a reply answered, from the words around it, in the order they are tried. */
const COMMANDS: readonly (readonly [RegExp, ExplainCommand])[] = [
  // Postfix `(in reply to end of DATA command)`, Exim `after end of data`, DragonFly `final DATA`,
  // Sendmail transcript `>>> DATA`.
  [/end of data|final data|>>> data|\bafter data\b|data command|in reply to data|\bdata\b response/i, 'DATA'],
  // Postfix `(in reply to RCPT TO command)`, Exim `after RCPT TO:<…>`, qmail `does not like recipient`,
  // Yahoo `[RCPT_TO]`, Sendmail `>>> RCPT To:<…>`.
  [/rcpt[ _]to|does not like recipient|>>> rcpt/i, 'RCPT'],
  [/mail from|does not like sender|>>> mail/i, 'MAIL'],
  // Postfix smtp(8) `host mx.example.com[192.0.2.1] refused to talk to me: 554 …` (the greeting), and
  // a reply that is itself a banner (`554 mx.example.com ESMTP not accepting connections`: RFC 5321
  // §4.2's greeting names the host, §3.1's 554 greeting refuses the client).
  [
    /initial connection|greeting|banner|connect to|\bconnection (?:refused|timed out)|refused to talk\s+to me|\b[45]\d\d[ -](?:[a-z0-9-]+\.)+[a-z]{2,} e?smtp\b/i,
    'CONNECT',
  ],
  // qmail-remote `Connected to 192.0.2.1 but my name was rejected.` (its HELO), Exim `after EHLO
  // mail.example.org:` (RFC 5321 §4.1.1.1 EHLO and HELO; RFC 2033 LHLO).
  [/\b(?:e?helo|[el]hlo)\b|my name was rejected/i, 'HELO'],
];

/** What the text says about one recipient. */
export interface TextRecipient {
  readonly address: string;
  readonly reply: string | null;
  readonly command: ExplainCommand | null;
  readonly remoteMta: string | null;
  /** The recipient's lines (without the reply), for a diagnosis in words. */
  readonly diagnostic: string | null;
  /**
   * What a local delivery program wrote (`mail.local: unknown user: ivan`, `maildrop: maildir over
   * quota.`) in a Sendmail transcript just above Sendmail's summary line for the recipient, whose words
   * are only the program's exit status (see `mailerOutputOf`); `null` when there is none.
   */
  readonly mailerOutput: string | null;
}

/** The text before the copy of the original message. */
export function cutOriginalMessage(text: string): string {
  const lines = text.split(/\r?\n/);
  const end = lines.findIndex((line) => ORIGINAL_MESSAGE_MARKERS.some((marker) => marker.test(line.trim())));
  return (end < 0 ? lines : lines.slice(0, end)).join('\n');
}

/**
 * A top-level domain that starts in ASCII and runs on into another script (`example.jp您好`, an
 * address written straight before a greeting in Chinese): no delegated TLD mixes the two (the root
 * zone's label generation rules, RFC 5890 §2.3.2.1 and ICANN's Root Zone LGR, admit a label in one
 * script only), so the letters after the ASCII ones are the text around the address.
 */
const MIXED_SCRIPT_TLD = /(\.[a-z][a-z0-9-]*?[a-z0-9])[^\p{ASCII}]+$/iu;

/** Every address in a line, lower-cased domain kept as written. */
export function addressesIn(line: string): string[] {
  return [...line.matchAll(ADDRESS)].map((match) =>
    match[0].replace(/^[.]+|[.]+$/g, '').replace(MIXED_SCRIPT_TLD, '$1'),
  );
}

const normalise = (address: string): string => address.toLowerCase();

/**
 * The recipients the text reports, each with its reply or diagnosis. `exclude` holds addresses that
 * are not recipients (the bounce's own sender and recipient).
 */
export function scanBounceText(text: string, exclude: ReadonlySet<string>): TextRecipient[] {
  const lines = cutOriginalMessage(text).split('\n');
  const malformed = malformedAddresses(lines, exclude);
  if (malformed.length > 0) return malformed;
  const anchors: { address: string; index: number }[] = [];
  const mentioned: { address: string; index: number }[] = [];
  lines.forEach((line, index) => {
    // A transcript's `MAIL FROM:<…>` (Sendmail `>>> MAIL From:`, Postfix `In:  MAIL FROM:`) names the
    // envelope sender (RFC 5321 §4.1.1.2), never a recipient.
    if (HEADER_LINE.test(line) || TRANSCRIPT_SENDER.test(line)) return;
    for (const address of addressesIn(line)) {
      if (exclude.has(normalise(address))) continue;
      mentioned.push({ address, index });
      // The address opens the line: `<a@x>:`, `  a@x`, `a@x: 550 …`, `a@x on <date>`.
      // GMX quotes it (`"a@x":`), Mimecast lists it after `-- `.
      if (new RegExp(`^\\s*(?:-- )?["<]?${escapeRegExp(address)}[">]?(?:[\\s:;,.)]|$)`, 'u').test(line)) {
        anchors.push({ address, index });
      }
    }
  });
  const starts = anchors.length > 0 ? anchors : mentioned;
  const firsts = new Map<string, number>();
  for (const { address, index } of starts) {
    if (!firsts.has(normalise(address))) firsts.set(normalise(address), index);
  }
  const order = [...firsts.entries()].sort((a, b) => a[1] - b[1]);
  const single = order.length === 1;
  return order.map(([key, start], position) => {
    const address = starts.find((entry) => normalise(entry.address) === key)?.address ?? key;
    const next = order[position + 1]?.[1] ?? lines.length;
    const block = anchors.length > 0 ? lines.slice(start, Math.max(next, start + 1)) : lines;
    const found =
      transcriptReply(lines, key) ??
      findReply(lines, (line) => line.toLowerCase().includes(key)) ??
      findReply(block) ??
      (single ? findReply(lines) : null);
    const context = found?.context ?? block.join('\n');
    return {
      address,
      reply: found?.reply ?? null,
      command: commandIn(found?.context ?? '') ?? (single ? commandInText(lines) : commandIn(context)),
      remoteMta: remoteMtaIn(context) ?? (single ? remoteMtaIn(lines.join('\n')) : null),
      diagnostic: diagnosticOf(block, address),
      mailerOutput: found?.context.includes('<<<') === true ? null : mailerOutputOf(lines, key),
    };
  });
}

/**
 * Exim's notice of recipient addresses it could not parse in the header of a message submitted with
 * `-t` (src/src/moan.c, ERRMESS_BADADDRESS / ERRMESS_BADNOADDRESS / ERRMESS_BADARGADDRESS): `A
 * message that you sent contained one or more recipient addresses that were incorrectly
 * constructed:`, then per address `  <the address as written>: <what is wrong>`. Written as an
 * RFC 5322 name-addr (`x@example.com <y@example.org>`), the address is the angle-addr; otherwise the
 * text itself.
 */
function malformedAddresses(lines: readonly string[], exclude: ReadonlySet<string>): TextRecipient[] {
  const start = lines.findIndex((line, index) =>
    /recipient address(?:es)? that (?:was|were)\s+incorrectly\s+constructed:/i.test(
      `${line} ${lines[index + 1] ?? ''}`,
    ),
  );
  if (start < 0) return [];
  const found: TextRecipient[] = [];
  // `  x: error` (one or more addresses), `  x  error` (an address on the command line).
  for (const line of lines.slice(start + 2, start + 60)) {
    const match = /^\s+(\S.*?)(?::\s+|\s{2,})(\S.*)$/.exec(line);
    if (match === null) {
      if (found.length > 0 && line.trim() === '') break;
      continue;
    }
    // The address as written (`ivy@example.net.`) is what cannot be delivered: the recipient is that
    // text, not a corrected address that may well be fine. Only a name-addr is read for its
    // angle-addr, and then the fault is the header's (a malformed display name), and the mailbox was
    // never tried.
    const written = (match[1] ?? '').trim().replace(/^<([^<>]*)>$/, '$1');
    const angle = /<([^<>\s]+@[^<>\s]+)>/.exec(written)?.[1];
    const itself = angle === undefined && /^[^\s<>@]+@[^\s<>@]+$/.test(written);
    const address = itself ? written : angle;
    if (address === undefined || exclude.has(normalise(address))) continue;
    found.push({
      address,
      reply: null,
      command: null,
      remoteMta: null,
      mailerOutput: null,
      diagnostic:
        `${itself ? 'malformed recipient address' : 'malformed address in the message header'}: ${(match[2] ?? '').trim()}`.slice(
          0,
          500,
        ),
    });
  }
  return found;
}

/**
 * Sendmail's transcript (`----- Transcript of session follows -----`): what it sent (`>>> MAIL
 * From:<…>`), what the server answered (`<<< 550 …`), then its own summary per recipient (`554
 * <a@example.com>... Remote protocol error`). The server's reply is the one about the recipient, the
 * `>>>` line before it the command it answered; the summary only says the session failed.
 */
function transcriptReply(lines: readonly string[], key: string): FoundReply | null {
  const summary = lines.findIndex((line) =>
    new RegExp(`^\\s*[45]\\d\\d <${escapeRegExp(key)}>\\.\\.\\. `, 'i').test(line),
  );
  if (summary < 0) return null;
  for (let index = summary - 1; index >= Math.max(0, summary - 6); index--) {
    const line = lines[index] ?? '';
    if (line.trim() === '' || /^while talking to /i.test(line) || /^\s*[45]\d\d <[^>]+>\.\.\. /.test(line)) {
      return null;
    }
    if (!/^\s*<<<\s*[45]\d\d[ -]/.test(line)) continue;
    // The reply's first line: a multi-line reply repeats `<<< 550-` above its last line.
    let first = index;
    while (first > 0 && /^\s*<<<\s*[45]\d\d-/.test(lines[first - 1] ?? '')) first--;
    return findReply(lines.slice(first - 1 < 0 ? first : first - 1, index + 1), (candidate) =>
      /^\s*<<</.test(candidate),
    );
  }
  return null;
}

/**
 * Sendmail runs a local delivery program (its `local` or `prog` mailer: mail.local, procmail, maildrop,
 * deliverquota) and puts what the program wrote to its standard error in the transcript; its summary
 * line for the recipient (`554 <a@example.com>... Service unavailable`) is only the text of the
 * program's exit status (Sendmail sysexits.c, SysExMsg: 69 EX_UNAVAILABLE `Service unavailable`, 77
 * EX_NOPERM `Insufficient permission`), and several conditions share one status: the maildrop version
 * of deliverquota exits 77 when the maildir is over quota (deliverquota(8), RETURN CODE). The
 * program's own words, the `program: text` lines right above the summary, name the condition.
 */
function mailerOutputOf(lines: readonly string[], key: string): string | null {
  const summary = lines.findIndex((line) =>
    new RegExp(`^\\s*[45]\\d\\d(?: [45]\\.\\d{1,3}\\.\\d{1,3})? <${escapeRegExp(key)}>\\.\\.\\. `, 'i').test(
      line,
    ),
  );
  if (summary < 0) return null;
  const output: string[] = [];
  for (let index = summary - 1; index >= Math.max(0, summary - 4); index--) {
    const line = (lines[index] ?? '').trim();
    // A program's line: its name (a command or a path), a colon, its message. Sendmail's own lines
    // (`... Deferred: …`, `<a@x>... `, `>>>`/`<<<`) and the transcript's heading end the search.
    const program = /^(?:\/[\w./-]+\/)?([a-z][\w.-]{1,30}): \S/i.exec(line);
    if (program === null || /^(?:deferred|while talking to)\b/i.test(line)) break;
    output.unshift(line);
  }
  return output.length === 0 ? null : output.join(' ').slice(0, 500);
}

interface FoundReply {
  readonly reply: string;
  /** The reply's lines with the line before, where the command is usually named. */
  readonly context: string;
}

/** The first server reply in `lines` (on a line that `accept` takes), with its continuation lines. */
export function findReply(
  lines: readonly string[],
  accept: (line: string) => boolean = () => true,
): FoundReply | null {
  // A bounce is about what failed: a transcript (Postfix's `notify_classes` report with `Out: 220 …`,
  // `Out: 250 …`, then `Out: 451 4.3.0 …`) holds positive replies before the one that failed.
  return (
    firstReply(lines, (line) => accept(line) && /^[45]/.test(REPLY_START.exec(line)?.[2] ?? '')) ??
    firstReply(lines, accept)
  );
}

function firstReply(lines: readonly string[], accept: (line: string) => boolean): FoundReply | null {
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index] ?? '';
    const zoho = /ERROR_CODE\s*:\s*([245]\d\d),\s*ERROR_CODE\s*:\s*(.*)$/.exec(line);
    if (zoho !== null && accept(line)) {
      // Zoho Mail `ERROR_CODE :550, ERROR_CODE :5.1.1 <a@x>... User Unknown`.
      return { reply: `${zoho[1] ?? ''} ${(zoho[2] ?? '').trim()}`, context: line };
    }
    const match = REPLY_START.exec(line);
    if (match === null || !accept(line)) continue;
    const code = match[2] ?? '';
    const start = match.index + (match[1] ?? '').length;
    // A reply in brackets (`error message: [554 …]`) ends at its closing bracket.
    const rest = line.slice(start);
    const parts = [((match[1] ?? '').endsWith('[') ? rest.replace(/\].*$/, '') : rest).trim()];
    const indent = indentOf(line);
    for (let next = index + 1; next < lines.length && parts.length < 12; next++) {
      const following = lines[next] ?? '';
      if (following.trim() === '') break;
      // A multi-line reply (`550-5.7.26 …` then `550 5.7.26 …`, RFC 5321 §4.2.1) or a line the MTA
      // wrapped: Postfix indents the rest of a long reply under a flush first line, Exim keeps the
      // indentation of the reply's first line.
      const wrapped = indentOf(following) > indent || (indent > 0 && indentOf(following) === indent);
      const continues =
        new RegExp(`^\\s*(?:<<<\\s*)?${code}[ -]`).test(following) ||
        (wrapped && !/^\s*[-=*#]{3}/.test(following) && !/^\s*(?:<<<|>>>)/.test(following));
      if (!continues) break;
      parts.push(following.trim());
      if (new RegExp(`^\\s*${code} `).test(following)) break;
    }
    // A reply in quotes (Exchange's `Remote Server returned '550 …'`) ends before its closing quote;
    // Exchange 2007–2013 writes one between `#` and `##` (`#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##`).
    const joined = joinReply(parts, code);
    const opened = match[1] ?? '';
    const reply = opened.endsWith("'")
      ? joined.replace(/'$/, '').trimEnd()
      : opened.endsWith('#')
        ? joined.replace(/\s*##.*$/, '')
        : joined;
    return { reply, context: [lines[index - 1] ?? '', line, ...parts.slice(1)].join('\n') };
  }
  return null;
}

/**
 * A greeting that turned negative (`220-laposte` then `421 4.2.1 Service refused`, quoted by Postfix as
 * one line): RFC 5321 §4.2.1 wants one code on every line of a reply, and the negative one is what
 * ended the session, so the reply starts there.
 */
export function negativeAfterGreeting(reply: string): string {
  return reply.replace(/^2\d\d-\S+\s+(?=[45]\d\d[ -])/, '');
}

/** A multi-line reply as one line: the repeated `550-5.7.26` prefixes dropped after the first. */
function joinReply(parts: readonly string[], code: string): string {
  const [first = '', ...rest] = parts;
  const tail = rest.map((part) =>
    part.replace(new RegExp(`^(?:<<<\\s*)?${code}[ -](?:[245]\\.\\d{1,3}\\.\\d{1,3}\\s*)?`), ''),
  );
  return (
    [negativeAfterGreeting(first).replace(/^([245]\d\d)-/, '$1 '), ...tail]
      .join(' ')
      // No leading `\s*`: tried from every position of a long run of white space, that is quadratic in
      // the run; the white space left before it is trimmed below.
      .replace(/\(in reply to [^)]*command\)\s*$/i, '')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/**
 * The command a whole bounce text names, when the reply's own lines name none: only when one command
 * is named, and not in quoted header fields (a `Received: … (HELO relay.example)` line, Verizon's
 * `MAIL FROM: …` / `RCPT TO: …` summary of the message).
 */
function commandInText(lines: readonly string[]): ExplainCommand | null {
  const body: string[] = [];
  let inHeader = false;
  for (const line of lines) {
    if (HEADER_LINE.test(line)) inHeader = true;
    else if (!(inHeader && /^[ \t]/.test(line))) {
      inHeader = false;
      body.push(line);
    }
  }
  const text = body.join('\n');
  const named = new Set(COMMANDS.filter(([pattern]) => pattern.test(text)).map(([, command]) => command));
  return named.size === 1 ? commandIn(text) : null;
}

/** The command named around a reply (`COMMANDS`), or `null`. */
export function commandIn(context: string): ExplainCommand | null {
  let best: { at: number; command: ExplainCommand } | null = null;
  for (const [pattern, command] of COMMANDS) {
    const match = pattern.exec(context);
    if (match !== null && (best === null || match.index < best.at)) best = { at: match.index, command };
  }
  if (best !== null) return best.command;
  // m-FILTER: `-------SMTP command` and the command on the next line.
  const mfilter = /-+SMTP command\s*\n\s*([A-Z]+)/i.exec(context)?.[1]?.toUpperCase();
  return COMMANDS.find(([, command]) => command === mfilter)?.[1] ?? null;
}

/**
 * The server that replied: Exim `host mx.example.jp [192.0.2.1]:`, Postfix `host mx[192.0.2.1] said:`,
 * Gmail `by mx.example.jp. [192.0.2.1]`, DragonFly `mx.example.jp [192.0.2.1] did not like`.
 */
export function remoteMtaIn(text: string): string | null {
  const match =
    /\b((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})\.?\s*\[(?:[0-9.]+|[0-9a-f:]+|ipv6:[0-9a-f:]+)\]/i.exec(
      text,
    ) ?? /remote host ([0-9.]+) said|\b([0-9]{1,3}(?:\.[0-9]{1,3}){3}) does not like/i.exec(text);
  if (match === null) return null;
  return (match[1] ?? match[2] ?? null)?.toLowerCase() ?? null;
}

/** The recipient's block in words, without the address itself: at most a few lines. */
function diagnosticOf(block: readonly string[], address: string): string | null {
  const text = block
    .slice(0, 8)
    .map((line) => line.split(address).join(' '))
    .join(' ')
    .replace(/[<>]/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/^[\s:;,.-]+/, '')
    .trim();
  return text === '' ? null : text.slice(0, 500);
}

function indentOf(line: string): number {
  return /^\s*/.exec(line)?.[0].length ?? 0;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
