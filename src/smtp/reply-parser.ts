/**
 * An incremental SMTP reply decoder (the node-redis `Decoder` shape): bytes in through `write()`,
 * complete replies out. It knows nothing of sockets, timers or promises, so it is tested byte by byte
 * without I/O. A pure module (docs/architecture.md).
 *
 * Errors are data: `write()` returns the replies it completed and, once the input stops being SMTP,
 * a `ReplyParseError`. The parser then stays failed (a reply stream cannot be resynchronised), and the
 * connection turns the error into an `SmtpProtocolError`.
 */

/** One complete server reply (RFC 5321 §4.2). */
export interface SmtpReply {
  /** The three-digit reply code. */
  readonly code: number;
  /**
   * The RFC 3463 enhanced status code of the first line (`5.1.1`), when its class matches the reply
   * code's first digit; `null` otherwise.
   */
  readonly enhanced: string | null;
  /** The lines as received, without their line ends (`250-PIPELINING`), decoded as UTF-8, lossy. */
  readonly lines: readonly string[];
  /** The lines' texts joined with `\n`, without the reply code and enhanced code. */
  readonly text: string;
}

/**
 * True for a positive completion reply, 2yz (RFC 5321 §4.2.1): the command was accepted. The one
 * reading of "2xx" for every SMTP reply rcpt looks at (the session, the connection's STARTTLS, the
 * catch-all probe, the scheduler's reading of a host, the doctor's port 25 check, the server's
 * Reacher-shaped answer). Exported by `rcpt` for reading a result's `smtp.reply`.
 *
 * @example
 * const accepted = result.smtp?.reply?.stage === 'rcpt' && isPositiveReply(result.smtp.reply);
 */
export function isPositiveReply(reply: { readonly code: number }): boolean {
  return reply.code >= 200 && reply.code < 300;
}

/**
 * True for a permanent negative completion reply, 5yz (RFC 5321 §4.2.1): the command was refused and
 * asking again as it is will not help (the session's EHLO fallback, the decisions on a refusal).
 */
export function isPermanentNegativeReply(reply: { readonly code: number }): boolean {
  return reply.code >= 500 && reply.code < 600;
}

/**
 * True for a negative reply, 4yz or 5yz (RFC 5321 §4.2.1): the command was refused, for now or for good
 * (what a server's error limit counts, and a host's share of refused RCPTs).
 */
export function isNegativeReply(reply: { readonly code: number }): boolean {
  return reply.code >= 400 && reply.code < 600;
}

/** Hard caps that keep a hostile server from exhausting memory. */
export interface ReplyParserLimits {
  /** Longest line in octets, line end included. */
  readonly maxLineBytes: number;
  /** Most lines in one (multi-line) reply. */
  readonly maxLines: number;
  /** Most octets of one reply buffered before it is complete (all its lines together). */
  readonly maxReplyBytes: number;
}

/**
 * RFC 5321 §4.5.3.1.5 says 512 octets per reply line, but real servers exceed it (long Microsoft and
 * Google rejection URLs, Exchange banners): 4 KiB leaves room for them. Gmail's longest multi-line
 * replies run to 6 lines and EHLO replies to about 20; 256 lines and 64 KiB per reply are far above any
 * legitimate server while bounding what a hostile one can make us hold.
 */
export const DEFAULT_REPLY_LIMITS: ReplyParserLimits = {
  maxLineBytes: 4096,
  maxLines: 256,
  maxReplyBytes: 64 * 1024,
};

export const REPLY_PARSE_ERROR_KINDS = [
  'malformed_line',
  'code_mismatch',
  'line_too_long',
  'too_many_lines',
  'reply_too_large',
] as const;
export type ReplyParseErrorKind = (typeof REPLY_PARSE_ERROR_KINDS)[number];

/** Why the byte stream is not (or no longer) a sequence of SMTP replies. */
export interface ReplyParseError {
  readonly kind: ReplyParseErrorKind;
  readonly message: string;
  /** The start of the offending line (at most 80 characters), `null` when not one line's fault. */
  readonly sample: string | null;
}

export interface ReplyParseOutput {
  /** Replies completed by this chunk, in order. */
  readonly replies: readonly SmtpReply[];
  /** Set once the stream stopped being SMTP; every later `write()` returns it again. */
  readonly error: ReplyParseError | null;
}

const LF = 0x0a;
const CR = 0x0d;
const SAMPLE_CHARS = 80;
const DIGIT_0 = 0x30;
const SPACE = 0x20;
const HYPHEN = 0x2d;
const DOT = 0x2e;

/**
 * `Reply-code [ SP / "-" textstring ]` (RFC 5321 §4.2): first digit 2–5, second 0–5, third 0–9. A bare
 * code is a valid last line ("250"); text after the code without a separator is not. The code, or 0
 * when `line` is not a reply line (read by character codes: no match array, no substrings).
 */
function replyCodeOf(line: string): number {
  if (line.length < 3) return 0;
  const first = line.charCodeAt(0) - DIGIT_0;
  const second = line.charCodeAt(1) - DIGIT_0;
  const third = line.charCodeAt(2) - DIGIT_0;
  if (first < 2 || first > 5 || second < 0 || second > 5 || third < 0 || third > 9) return 0;
  if (line.length > 3) {
    const separator = line.charCodeAt(3);
    if (separator !== SPACE && separator !== HYPHEN) return 0;
  }
  return first * 100 + second * 10 + third;
}

/**
 * Server reply text has no defined charset (RFC 5321 §4.2.1); modern MTAs use UTF-8. Decoding is lossy
 * (U+FFFD for bad bytes) so that no byte sequence can make the decoder throw.
 */
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function sampleOf(line: string): string {
  return line.length > SAMPLE_CHARS ? `${line.slice(0, SAMPLE_CHARS)}…` : line;
}

/**
 * The enhanced code `text` starts with (RFC 3463 §2: `class "." subject "." detail`, class 2, 4 or 5,
 * subject and detail 1–3 digits, then a space or the end), or `null`. The class must agree with the
 * reply code (RFC 3463 §3.1: a "5.1.1" on a 250 is not a status). Read by character codes, as the
 * reply code is: one slice for the code found, no match array and captures per reply.
 */
function enhancedOf(code: number, text: string): string | null {
  const statusClass = text.charCodeAt(0) - DIGIT_0;
  if (statusClass !== Math.floor(code / 100) || statusClass < 2 || statusClass === 3 || statusClass > 5)
    return null;
  if (text.charCodeAt(1) !== DOT) return null;
  const subjectEnd = digitsEnd(text, 2);
  if (subjectEnd === 0 || text.charCodeAt(subjectEnd) !== DOT) return null;
  const detailEnd = digitsEnd(text, subjectEnd + 1);
  if (detailEnd === 0 || (detailEnd < text.length && text.charCodeAt(detailEnd) !== SPACE)) return null;
  return text.slice(0, detailEnd);
}

/** Where 1–3 ASCII digits from `start` end, or 0 when none is there. */
function digitsEnd(text: string, start: number): number {
  let end = start;
  while (end - start < 3) {
    const digit = text.charCodeAt(end) - DIGIT_0;
    if (!(digit >= 0 && digit <= 9)) break;
    end += 1;
  }
  return end === start ? 0 : end;
}

/** A line's text without the enhanced code it starts with (`5.1.1 User unknown` → `User unknown`). */
function withoutCode(text: string, enhanced: string): string {
  if (text === enhanced) return '';
  return text.charCodeAt(enhanced.length) === 0x20 && text.startsWith(enhanced)
    ? text.slice(enhanced.length + 1)
    : text;
}

/** The SMTP reply decoder. One instance per byte stream (a new one after STARTTLS, RFC 3207 §4.2). */
export class ReplyParser {
  readonly #limits: ReplyParserLimits;
  /** Pieces of the line being received (no LF seen yet), and their total size. */
  #partial: Uint8Array[] = [];
  #partialBytes = 0;
  /** Lines of the reply being assembled (all continuation lines so far). */
  #lines: string[] = [];
  #texts: string[] = [];
  #code = 0;
  #replyBytes = 0;
  #error: ReplyParseError | null = null;

  constructor(limits: Partial<ReplyParserLimits> = {}) {
    this.#limits = { ...DEFAULT_REPLY_LIMITS, ...limits };
  }

  /** Octets received that belong to a reply not yet complete (partial line included). */
  get bufferedBytes(): number {
    return this.#replyBytes + this.#partialBytes;
  }

  /** The error the parser stopped on, if any. */
  get error(): ReplyParseError | null {
    return this.#error;
  }

  /** Feeds bytes; returns the replies they completed and the error, if the stream went bad. */
  write(chunk: Uint8Array): ReplyParseOutput {
    const replies: SmtpReply[] = [];
    if (this.#error !== null) return { replies, error: this.#error };
    let start = 0;
    // The chunk's complete lines from the first that began in it, decoded in one call (`null` until
    // needed), and where the next of them starts in it. The same lines as decoded one by one: an LF
    // byte is never inside a UTF-8 sequence and ends any bad one, so it is always the `\n` that
    // separates them, and no other byte decodes to `\n`.
    let text: string | null = null;
    let at = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf;
      // Checked before buffering, so an endless line fails at the cap and is never held whole.
      if (this.#partialBytes + (end - start) + 1 > this.#limits.maxLineBytes) {
        return this.#fail(replies, {
          kind: 'line_too_long',
          message: `reply line longer than ${this.#limits.maxLineBytes} octets`,
          sample: sampleOf(decoder.decode(this.#joinPartial(chunk.subarray(start, end)))),
        });
      }
      if (this.#replyBytes + this.#partialBytes + (end - start) > this.#limits.maxReplyBytes) {
        return this.#fail(replies, {
          kind: 'reply_too_large',
          message: `reply larger than ${this.#limits.maxReplyBytes} octets`,
          sample: null,
        });
      }
      if (lf === -1) {
        // Copy: the caller may reuse its buffer (a direct connection reads into one shared buffer), and
        // a Buffer's `slice()` is a view, not a copy.
        this.#partial.push(new Uint8Array(chunk.subarray(start)));
        this.#partialBytes += chunk.length - start;
        break;
      }
      const lineBytes = this.#partialBytes + (lf - start) + 1;
      let line: string;
      if (this.#partialBytes > 0) {
        let bytes = this.#joinPartial(chunk.subarray(start, lf));
        this.#partial = [];
        this.#partialBytes = 0;
        // CRLF is the line end (RFC 5321 §2.3.8); a bare LF is accepted, as every MTA's client does.
        if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, -1);
        line = decoder.decode(bytes);
      } else {
        if (text === null) text = decoder.decode(chunk.subarray(start, chunk.lastIndexOf(LF)));
        const next = text.indexOf('\n', at);
        line = next === -1 ? text.slice(at) : text.slice(at, next);
        at = next + 1;
        // As above: a CR byte is always the character CR.
        if (line.length > 0 && line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
      }
      start = lf + 1;
      const reply = this.#line(line, lineBytes);
      if (reply === null) continue;
      if ('kind' in reply) return this.#fail(replies, reply);
      replies.push(reply);
    }
    return { replies, error: null };
  }

  #joinPartial(tail: Uint8Array): Uint8Array {
    if (this.#partial.length === 0) return tail;
    const out = new Uint8Array(this.#partialBytes + tail.length);
    let offset = 0;
    for (const piece of this.#partial) {
      out.set(piece, offset);
      offset += piece.length;
    }
    out.set(tail, offset);
    return out;
  }

  /** One complete line: `null` while a multi-line reply goes on, the reply when it ends, or an error. */
  #line(line: string, lineBytes: number): SmtpReply | ReplyParseError | null {
    const code = replyCodeOf(line);
    if (code === 0) {
      return {
        kind: 'malformed_line',
        message: 'not an SMTP reply line (RFC 5321 §4.2)',
        sample: sampleOf(line),
      };
    }
    // The text after the separator; a bare code has none.
    const lineText = line.length > 3 ? line.slice(4) : '';
    const continued = line.length > 3 && line.charCodeAt(3) === HYPHEN;
    if (this.#lines.length > 0 && code !== this.#code) {
      // RFC 5321 §4.2.1: every line of a multi-line reply carries the same code.
      return {
        kind: 'code_mismatch',
        message: `continuation line has code ${code}, the reply started with ${this.#code}`,
        sample: sampleOf(line),
      };
    }
    if (this.#lines.length + 1 > this.#limits.maxLines) {
      return {
        kind: 'too_many_lines',
        message: `reply has more than ${this.#limits.maxLines} lines`,
        sample: sampleOf(line),
      };
    }
    if (!continued && this.#lines.length === 0) {
      // A one-line reply (most of them): no continuation lines to gather.
      const enhanced = enhancedOf(code, lineText);
      return {
        code,
        enhanced,
        lines: [line],
        text: enhanced === null ? lineText : withoutCode(lineText, enhanced),
      };
    }
    this.#code = code;
    this.#lines.push(line);
    this.#texts.push(lineText);
    this.#replyBytes += lineBytes;
    if (continued) return null;
    const lines = this.#lines;
    const texts = this.#texts;
    this.#lines = [];
    this.#texts = [];
    this.#replyBytes = 0;
    const enhanced = enhancedOf(code, texts[0] ?? '');
    // Servers repeat the enhanced code on every line (Postfix, Gmail); strip it wherever it repeats.
    const stripped = enhanced === null ? texts : texts.map((text) => withoutCode(text, enhanced));
    return { code, enhanced, lines, text: stripped.join('\n') };
  }

  #fail(replies: SmtpReply[], error: ReplyParseError): ReplyParseOutput {
    this.#error = error;
    this.#partial = [];
    this.#partialBytes = 0;
    this.#lines = [];
    this.#texts = [];
    this.#replyBytes = 0;
    return { replies, error };
  }
}
