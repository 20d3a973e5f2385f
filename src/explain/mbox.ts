/**
 * An mbox reader (RFC 4155, the mboxrd variant): bytes in, one message at a time out, without holding
 * the file. A message starts at a line beginning `From ` that opens the file or follows an empty line;
 * body lines quoted as `>From `, `>>From ` … lose one `>` (mboxrd). A pure decoder in the shape of
 * smtp/reply-parser.ts: `write()` returns the messages it completed, `end()` the last one.
 */

/** One message of an mbox. */
export interface MboxMessage {
  /** 1-based position in the mbox. */
  readonly index: number;
  /** The `From ` separator line, without its line end (envelope sender and date, RFC 4155 §2). */
  readonly separator: string;
  /** The message's bytes, up to the splitter's `maxMessageBytes`. */
  readonly bytes: Buffer;
  /** True when the message was longer than `maxMessageBytes` and the rest was dropped. */
  readonly truncated: boolean;
}

/**
 * Bytes of one line held while deciding whether it is a separator: `From ` or a quoted `>…>From `
 * is decided within its first bytes, so a longer line is passed on in pieces.
 */
const MAX_PENDING_LINE_BYTES = 1024;

const FROM = Buffer.from('From ');

export class MboxSplitter {
  readonly #maxMessageBytes: number;
  #pending: Buffer = Buffer.alloc(0);
  /** True while `#pending` is the start of a line (not the continuation of a long one). */
  #atLineStart = true;
  #previousLineEmpty = true;
  #chunks: Buffer[] = [];
  #size = 0;
  #truncated = false;
  #separator: string | null = null;
  #index = 0;
  /** Bytes before the first separator (a file that is not an mbox has only these). */
  #preamble = 0;

  constructor(maxMessageBytes: number) {
    this.#maxMessageBytes = maxMessageBytes;
  }

  /** Bytes seen before the first `From ` line: not part of any message. */
  get preambleBytes(): number {
    return this.#preamble;
  }

  write(chunk: Uint8Array): MboxMessage[] {
    const out: MboxMessage[] = [];
    let data = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : Buffer.from(chunk);
    this.#pending = Buffer.alloc(0);
    for (;;) {
      const newline = data.indexOf(0x0a);
      if (newline < 0) break;
      this.#line(data.subarray(0, newline + 1), out);
      data = data.subarray(newline + 1);
    }
    if (data.length >= MAX_PENDING_LINE_BYTES) {
      // A long line: decided on its first bytes, passed on, and continued without a decision.
      this.#line(data, out);
      this.#atLineStart = false;
    } else {
      this.#pending = Buffer.from(data);
    }
    return out;
  }

  end(): MboxMessage[] {
    const out: MboxMessage[] = [];
    if (this.#pending.length > 0) this.#line(this.#pending, out);
    this.#pending = Buffer.alloc(0);
    this.#emit(out);
    return out;
  }

  #line(line: Buffer, out: MboxMessage[]): void {
    const complete = line[line.length - 1] === 0x0a;
    if (this.#atLineStart) {
      if (this.#previousLineEmpty && startsWith(line, FROM)) {
        this.#emit(out);
        this.#separator = line.toString('latin1').replace(/\r?\n$/, '');
        this.#atLineStart = complete;
        this.#previousLineEmpty = false;
        return;
      }
      const quotes = countQuotes(line);
      if (quotes > 0 && startsWith(line.subarray(quotes), FROM)) line = line.subarray(1);
      this.#previousLineEmpty = complete && (line.length === 1 || (line.length === 2 && line[0] === 0x0d));
    } else {
      this.#previousLineEmpty = false;
    }
    this.#atLineStart = complete;
    this.#append(line);
  }

  #append(bytes: Buffer): void {
    if (this.#separator === null) {
      this.#preamble += bytes.length;
      return;
    }
    const room = this.#maxMessageBytes - this.#size;
    if (bytes.length > room) this.#truncated = true;
    const kept = bytes.length > room ? bytes.subarray(0, Math.max(0, room)) : bytes;
    if (kept.length > 0) {
      this.#chunks.push(Buffer.from(kept));
      this.#size += kept.length;
    }
  }

  #emit(out: MboxMessage[]): void {
    if (this.#separator === null) return;
    this.#index += 1;
    let bytes = Buffer.concat(this.#chunks, this.#size);
    // The empty line before the next separator belongs to the mbox, not the message (RFC 4155 §2).
    if (bytes.subarray(-2).toString('latin1') === '\n\n') bytes = bytes.subarray(0, -1);
    else if (bytes.subarray(-4).toString('latin1') === '\r\n\r\n') bytes = bytes.subarray(0, -2);
    out.push({ index: this.#index, separator: this.#separator, bytes, truncated: this.#truncated });
    this.#chunks = [];
    this.#size = 0;
    this.#truncated = false;
    this.#separator = null;
  }
}

function startsWith(line: Buffer, prefix: Buffer): boolean {
  return line.length >= prefix.length && line.subarray(0, prefix.length).equals(prefix);
}

function countQuotes(line: Buffer): number {
  let count = 0;
  while (count < line.length && line[count] === 0x3e) count++;
  return count;
}

/** The messages of an mbox read from a stream, one at a time (`for await`), in bounded memory. */
export async function* readMbox(
  source: AsyncIterable<Uint8Array | string>,
  maxMessageBytes: number,
): AsyncGenerator<MboxMessage> {
  const splitter = new MboxSplitter(maxMessageBytes);
  for await (const chunk of source) {
    yield* splitter.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }
  yield* splitter.end();
}
