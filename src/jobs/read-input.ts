/**
 * Reading a list to verify: a CSV (delimiter detected among `,` `;` tab `|`, quoted fields, a header
 * naming the address column) or a plain one-address-per-line list. Streamed: memory holds one record,
 * and a record or line is capped so a hostile or broken file cannot exhaust it.
 *
 * Not csv-parse, for two measured reasons. Its stream with `skip_records_with_error` resynchronises
 * late after a bad closing quote or an over-long record and drops the valid rows that follow (4 of 6
 * rows lost after one `"a"junk` field); and calling its sync parser once per record costs 43 µs a row
 * (200,000 rows in 8.7 s). Here a record is one physical line, or several while a quote is open, so a
 * broken record costs exactly its own line(s), reported with its line number, and the rest of the file
 * is read; fields are split by `parseFields()` (RFC 4180), checked against csv-parse in the unit tests.
 */
import { StringDecoder } from 'node:string_decoder';
import { TextDecoder } from 'node:util';

import type { InputLayout } from './job-store.js';
import { InputError } from './errors.js';

/** The layout of a plain list, one address a line, its column named `email` (as `openInput()` reads it). */
export const LIST_LAYOUT: InputLayout = Object.freeze({
  format: 'list',
  delimiter: null,
  columns: Object.freeze(['email']),
  addressColumn: 0,
  headerless: true,
});

/**
 * Longest physical line read, in characters; a longer line is an unreadable row that keeps only its
 * first `KEPT_LINE_CHARS` (marked with `CUT_MARK`), so memory holds at most this much of one line.
 */
export const MAX_LINE_CHARS = 65_536;
/** How much of an over-long line is kept as the row's text. */
export const KEPT_LINE_CHARS = 4_096;
/** Appended to the kept start of an over-long line, so the text is not mistaken for the whole line. */
export const CUT_MARK = '…[cut]';
/** A quoted field may span lines (RFC 4180 §2.6), but not more than this many. */
const MAX_RECORD_LINES = 100;
/** How much of the input is looked at to choose the format and the delimiter. */
const SNIFF_LINES = 20;
/**
 * Bytes looked at for a NUL, the mark of a file that is not text (a spreadsheet workbook, an image, a
 * UTF-16 export); git and GNU grep decide the same way on the first few kilobytes.
 */
const BINARY_SNIFF_BYTES = 8_192;
/** Longest header text quoted back in an error message. */
const QUOTED_HEADER_CHARS = 200;

/** Column names taken as the address column, compared case-insensitively without spaces, `-` or `_`. */
const ADDRESS_COLUMN_NAMES = [
  'email',
  'emailaddress',
  'mail',
  'mailaddress',
  'address',
  'emails',
  'courriel',
  'correo',
  'recipient',
  'to',
  'e_mail',
];
const DELIMITERS = [',', ';', '\t', '|'] as const;

const squash = (name: string) =>
  name
    .trim()
    .toLowerCase()
    .replace(/[\s_-]/g, '');

export interface ReadInputOptions {
  /** The address column's name (case-insensitive) in a CSV header. Default: found by name. */
  readonly column?: string;
  /**
   * The input's encoding, a WHATWG label such as a Content-Type's `charset` (`windows-1252`,
   * `utf-16le`). Default: UTF-8, or UTF-16 when a byte-order mark says so (a mark always wins).
   */
  readonly encoding?: string;
}

/** One data row. */
export interface InputRow {
  /** 1-based data row number (a header is not a row). */
  readonly row: number;
  /** 1-based physical line where the row starts. */
  readonly line: number;
  /**
   * The address, trimmed (`''` when the row has no such field). For a row that could not be read: its
   * address field as written when its fields could still be told apart, else its whole text.
   */
  readonly input: string;
  /**
   * The CSV fields; `null` for a list. For a row that could not be read: its fields as written
   * (`looseFields()`) when there are as many as the header's, else `null`.
   */
  readonly fields: readonly string[] | null;
  /** Why the row could not be read, naming its line; `null` when it was read. */
  readonly error: string | null;
}

export interface OpenedInput {
  readonly layout: InputLayout;
  readonly rows: AsyncIterable<InputRow>;
  /**
   * The first line, of the rows read so far, where a column other than the address was not UTF-8 in
   * the file (a byte UTF-8 cannot hold reads as U+FFFD, and is written so in the output), with what to
   * tell the user; `null` while none was. An address that was not UTF-8 is an unreadable row instead.
   */
  readonly notUtf8: NotUtf8 | null;
  /**
   * The other columns that hold addresses, by their name (Outlook's `E-mail 2 Address`) or by the first
   * rows' values, when the address column was found rather than named: only the address column is
   * verified, and the user should hear which and that they may choose. Empty otherwise.
   */
  readonly otherAddressColumns: readonly string[];
}

/** A CSV that was not UTF-8 outside its address column: its first such line, and the warning to give. */
export interface NotUtf8 {
  readonly line: number;
  /** `the input is not UTF-8 (line 2: a byte shown as U+FFFD): columns other than the address …` */
  readonly message: string;
}

interface PhysicalLine {
  readonly number: number;
  /** `null` when the line was longer than `MAX_LINE_CHARS` (see `cut`). */
  readonly text: string | null;
  /** For an over-long line: its first `KEPT_LINE_CHARS` characters and its whole length. */
  readonly cut?: { readonly start: string; readonly length: number };
}

/** "line 3: 1,048,576 characters, longer than 65,536; its first 4,096 are kept" */
function overLongError(line: PhysicalLine): string {
  const n = (value: number) => value.toLocaleString('en-US');
  return `line ${line.number}: ${n(line.cut?.length ?? 0)} characters, longer than ${n(MAX_LINE_CHARS)}; its first ${n(KEPT_LINE_CHARS)} are kept`;
}

/** The text kept of an over-long line: its start, marked as cut; `null` for a line read whole. */
function keptText(line: PhysicalLine): string | null {
  return line.cut === undefined ? null : `${line.cut.start}${CUT_MARK}`;
}

/** Bytes looked at for a byte-order mark or the signature of a file that is not a list. */
const SIGNATURE_BYTES = 5;

/**
 * Files people give instead of a list, by their first bytes, and what to do instead: read as text they
 * were refused for a NUL byte, or (a PDF) verified line by line as garbage.
 */
const NOT_A_LIST: readonly (readonly [signature: readonly number[], what: string])[] = [
  [
    [0x50, 0x4b, 0x03, 0x04],
    'an Excel or LibreOffice workbook (.xlsx, .ods: a ZIP archive), not a CSV: open it there and save it as "CSV UTF-8"',
  ],
  [
    [0xd0, 0xcf, 0x11, 0xe0],
    'an Excel 97-2003 workbook (.xls), not a CSV: open it in Excel and save it as "CSV UTF-8"',
  ],
  [[0x1f, 0x8b], 'compressed with gzip: decompress it first (zcat), then give rcpt the list'],
  [
    [0x25, 0x50, 0x44, 0x46, 0x2d],
    'a PDF document, not a CSV: export the list from where it was made as "CSV UTF-8"',
  ],
];

const startsWith = (bytes: Uint8Array, signature: readonly number[]) =>
  signature.every((byte, index) => bytes[index] === byte);

/**
 * How to read text that starts with `head`: a UTF-16 decoder when its byte-order mark says so, else
 * one for `encoding` (a WHATWG label, a Content-Type's charset) when it names another than UTF-8,
 * else `null` (UTF-8, read as it is). `InputError` for an encoding no decoder knows.
 */
export function textDecoderOf(head: Uint8Array, encoding?: string): TextDecoder | null {
  if (startsWith(head, [0xff, 0xfe])) return new TextDecoder('utf-16le');
  if (startsWith(head, [0xfe, 0xff])) return new TextDecoder('utf-16be');
  if (encoding === undefined) return null;
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(encoding);
  } catch (error) {
    throw new InputError(
      `charset ${encoding} is not an encoding rcpt can read: send UTF-8, or name the encoding (windows-1252, iso-8859-15, utf-16le, …)`,
      false,
      { cause: error },
    );
  }
  return decoder.encoding === 'utf-8' ? null : decoder;
}

/** How to read a list that starts with `head`: `textDecoderOf()`, after refusing what is no list. */
function listDecoderOf(head: Uint8Array, encoding: string | undefined): TextDecoder | null {
  for (const [signature, what] of NOT_A_LIST) {
    if (startsWith(head, signature)) throw new InputError(`this is ${what}`);
  }
  return textDecoderOf(head, encoding);
}

/**
 * Passes `source` through as text where it is not UTF-8 (`listDecoderOf()` decides on its first
 * bytes), refusing what is no list.
 */
async function* decoded(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  encoding: string | undefined,
): AsyncGenerator<Uint8Array | string> {
  /** The first bytes, held until there are enough to decide; `null` once decided. */
  let head: Buffer | null = Buffer.alloc(0);
  let decoder: TextDecoder | null = null;
  const pass = (bytes: Uint8Array) => (decoder === null ? bytes : decoder.decode(bytes, { stream: true }));
  for await (const chunk of source) {
    if (head === null || typeof chunk === 'string') {
      yield typeof chunk === 'string' ? chunk : pass(chunk);
      continue;
    }
    head = Buffer.concat([head, chunk]);
    if (head.length < SIGNATURE_BYTES) continue;
    decoder = listDecoderOf(head, encoding);
    yield pass(head);
    head = null;
  }
  if (head !== null && head.length > 0) {
    decoder = listDecoderOf(head, encoding);
    yield pass(head);
  }
  if (decoder !== null) yield decoder.decode();
}

/** Passes `source` through, refusing it (`InputError`) when its first kilobytes hold a NUL. */
async function* refuseBinary(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<Uint8Array | string> {
  let seen = 0;
  for await (const chunk of source) {
    if (seen < BINARY_SNIFF_BYTES) {
      const head = chunk.slice(0, BINARY_SNIFF_BYTES - seen);
      const nul = typeof head === 'string' ? head.indexOf('\u0000') : head.indexOf(0);
      if (nul !== -1) {
        throw new InputError(
          `not a text file (a NUL byte at byte ${seen + nul + 1}): rcpt reads a CSV or one address per line in UTF-8 or UTF-16; save a spreadsheet as CSV (UTF-8)`,
        );
      }
      seen += head.length;
    }
    yield chunk;
  }
}

/**
 * Splits a byte or text stream into lines (LF, CRLF, or a lone CR: classic Mac line ends, which Excel
 * for Mac's "CSV (Macintosh)" still writes; read as LF-only they made the whole file one header line,
 * and a stray CR in a mixed file joined two rows into one), capping each line's length: past
 * `MAX_LINE_CHARS` only the line's first `KEPT_LINE_CHARS` are kept and the rest is counted as it
 * passes, never held (a 1 GB file with no line break is read in bounded memory).
 */
async function* splitLines(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
): AsyncGenerator<PhysicalLine> {
  const decoder = new StringDecoder('utf8');
  let buffer = '';
  /** `cut` is set while a line is over-long: its kept start and the characters seen so far. */
  const state: { cut: { start: string; length: number } | null } = { cut: null };
  let number = 0;
  let first = true;
  /** The last chunk ended with a CR that ended a line: an LF starting the next one is its CRLF's. */
  let afterCr = false;
  const finish = (text: string): PhysicalLine => {
    number += 1;
    const { cut } = state;
    if (cut !== null) {
      state.cut = null;
      return { number, text: null, cut: { start: cut.start, length: cut.length + text.length } };
    }
    if (text.length <= MAX_LINE_CHARS) return { number, text };
    return { number, text: null, cut: { start: text.slice(0, KEPT_LINE_CHARS), length: text.length } };
  };
  const take = function* (chunk: string): Generator<PhysicalLine> {
    let text = chunk;
    if (first && text.length > 0) {
      first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // UTF-8 byte order mark (Excel writes one)
    }
    let start = 0;
    if (afterCr && text.length > 0) {
      afterCr = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    // Each of LF and CR is searched for again only once passed: a file without CR is scanned once.
    const next = (char: string) => {
      const at = text.indexOf(char, start);
      return at === -1 ? Infinity : at;
    };
    let lf = -1;
    let cr = -1;
    for (;;) {
      if (lf < start) lf = next('\n');
      if (cr < start) cr = next('\r');
      const end = Math.min(lf, cr);
      if (end === Infinity) break;
      const piece = state.cut === null ? buffer + text.slice(start, end) : text.slice(start, end);
      buffer = '';
      yield finish(piece);
      start = end + 1;
      if (text.charCodeAt(end) === 13) {
        if (start === text.length) afterCr = true;
        else if (text.charCodeAt(start) === 10) start += 1;
      }
    }
    const rest = text.slice(start);
    if (state.cut !== null) {
      state.cut.length += rest.length;
      return;
    }
    buffer += rest;
    if (buffer.length > MAX_LINE_CHARS) {
      state.cut = { start: buffer.slice(0, KEPT_LINE_CHARS), length: buffer.length };
      buffer = '';
    }
  };
  for await (const chunk of source) {
    yield* take(
      typeof chunk === 'string'
        ? chunk
        : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)),
    );
  }
  yield* take(decoder.end());
  if (buffer.length > 0 || state.cut !== null) yield finish(buffer);
}

/** Counts `delimiter` outside double quotes. */
function countOutsideQuotes(text: string, delimiter: string): number {
  let count = 0;
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (char === delimiter && !quoted) count += 1;
  }
  return count;
}

/**
 * The delimiter the sample uses: the candidate found in the first line that keeps the same count on
 * the most sample lines (a `;` file from a French Excel, a tab export); `null` when none occurs.
 */
export function detectDelimiter(lines: readonly string[]): string | null {
  const [head, ...rest] = lines;
  if (head === undefined) return null;
  let best: { delimiter: string; score: number; count: number } | null = null;
  for (const delimiter of DELIMITERS) {
    const count = countOutsideQuotes(head, delimiter);
    if (count === 0) continue;
    const score = rest.filter((line) => countOutsideQuotes(line, delimiter) === count).length;
    if (best === null || score > best.score || (score === best.score && count > best.count)) {
      best = { delimiter, score, count };
    }
  }
  return best?.delimiter ?? null;
}

/**
 * Splits one CSV record into fields (RFC 4180 §2): a field is quoted or not; in a quoted field `""` is a
 * quote and delimiters and line breaks are data. Throws on what RFC 4180 forbids and a reader cannot
 * guess: a quote that never closes, text after a closing quote, a quote inside an unquoted field.
 *
 * @example
 * parseFields('a;"b;""c"""', ';') // ['a', 'b;"c"']
 */
export function parseFields(text: string, delimiter: string): string[] {
  const fields: string[] = [];
  let index = 0;
  for (;;) {
    if (text.charCodeAt(index) === 0x22) {
      let value = '';
      let from = index + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote === -1) throw new InputError('unterminated quoted field');
        value += text.slice(from, quote);
        if (text.charCodeAt(quote + 1) === 0x22) {
          value += '"';
          from = quote + 2;
          continue;
        }
        index = quote + 1;
        break;
      }
      fields.push(value);
      if (index === text.length) return fields;
      if (!text.startsWith(delimiter, index)) {
        throw new InputError(`text after a closing quote at column ${index + 1}`);
      }
      index += delimiter.length;
    } else {
      const next = text.indexOf(delimiter, index);
      const end = next === -1 ? text.length : next;
      const value = text.slice(index, end);
      if (value.includes('"'))
        throw new InputError(`a quote inside an unquoted field at column ${index + 1}`);
      fields.push(value);
      if (next === -1) return fields;
      index = next + delimiter.length;
    }
  }
}

function quoteCount(text: string): number {
  let count = 0;
  for (let index = text.indexOf('"'); index !== -1; index = text.indexOf('"', index + 1)) count += 1;
  return count;
}

interface RawRecord {
  readonly line: number;
  readonly text: string | null;
  readonly error: string | null;
  /** For a record that could not be read: the text of its first line (cut when over-long). */
  readonly raw?: string | null;
}

/**
 * The fields of a record `parseFields()` refused, as written: split at each delimiter outside
 * double quotes, a field's surrounding quotes removed only when it is quoted cleanly. Keeps a user's
 * columns for a row with a stray quote (`2,"bob@x.test"junk,notes` → `2`, `"bob@x.test"junk`, `notes`).
 */
export function looseFields(text: string, delimiter: string): string[] {
  const fields: string[] = [];
  let quoted = false;
  let start = 0;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (char === '"') quoted = !quoted;
    else if (!quoted && text.startsWith(delimiter, index)) {
      fields.push(text.slice(start, index));
      start = index + delimiter.length;
      index += delimiter.length - 1;
    }
  }
  fields.push(text.slice(start));
  return fields.map((field) =>
    /^"(?:[^"]|"")*"$/.test(field) ? field.slice(1, -1).replace(/""/g, '"') : field,
  );
}

/**
 * Groups physical lines into records: a record continues onto the next line while a quote is open,
 * up to `MAX_RECORD_LINES`; a record whose quote never closes is reported at its first line and the
 * lines after it are read again as records of their own.
 */
function createRecordGrouper(): {
  feed(line: PhysicalLine): void;
  end(): void;
  drain(): RawRecord[];
} {
  let pending: PhysicalLine[] = [];
  const out: RawRecord[] = [];
  const breakFirst = (): PhysicalLine[] => {
    const [first, ...again] = pending;
    pending = [];
    if (first) {
      out.push({
        line: first.number,
        text: null,
        error: `line ${first.number}: unterminated quoted field`,
        raw: first.text,
      });
    }
    return again;
  };
  const feed = (line: PhysicalLine): void => {
    if (line.text === null) {
      if (pending.length > 0) {
        for (const again of breakFirst()) feed(again);
        feed(line);
        return;
      }
      out.push({ line: line.number, text: null, error: overLongError(line), raw: keptText(line) });
      return;
    }
    pending.push(line);
    const text = pending.map((part) => part.text).join('\n');
    if (quoteCount(text) % 2 === 0) {
      out.push({ line: pending[0]?.number ?? line.number, text, error: null });
      pending = [];
    } else if (pending.length >= MAX_RECORD_LINES) {
      for (const again of breakFirst()) feed(again);
    }
  };
  return {
    feed,
    end() {
      while (pending.length > 0) for (const again of breakFirst()) feed(again);
    },
    drain: () => out.splice(0),
  };
}

async function* records(lines: AsyncIterable<PhysicalLine>): AsyncGenerator<RawRecord> {
  const grouper = createRecordGrouper();
  for await (const line of lines) {
    grouper.feed(line);
    yield* grouper.drain();
  }
  grouper.end();
  yield* grouper.drain();
}

/** The header's names for an error message, cut to a readable length. */
function quoteHeader(columns: readonly string[]): string {
  const text = columns.join(', ');
  return text.length <= QUOTED_HEADER_CHARS ? text : `${text.slice(0, QUOTED_HEADER_CHARS)}…`;
}

/** A field that holds one address and nothing else (a header name never does). */
const LOOKS_LIKE_ADDRESS = /^[^@\s]+@[^@\s]+$/;

/**
 * The columns whose values are addresses in `lines` (the rows after the header): those where more than
 * half of the rows that have a value there hold an address.
 */
function addressColumnsByContent(lines: readonly string[], delimiter: string, width: number): number[] {
  const filled = new Array<number>(width).fill(0);
  const addresses = new Array<number>(width).fill(0);
  for (const line of lines) {
    let fields: string[];
    try {
      fields = parseFields(line, delimiter);
    } catch {
      continue; // a record over several lines, or a malformed one: judged by the others
    }
    fields.slice(0, width).forEach((field, index) => {
      const value = field.trim();
      if (value === '') return;
      filled[index] = (filled[index] ?? 0) + 1;
      if (LOOKS_LIKE_ADDRESS.test(value)) addresses[index] = (addresses[index] ?? 0) + 1;
    });
  }
  return addresses.flatMap((count, index) => (count > 0 && count * 2 > (filled[index] ?? 0) ? [index] : []));
}

/**
 * The column whose values are addresses in `lines`: the only one `addressColumnsByContent()` finds;
 * `-1` when none is, or several are (two columns of addresses: which one to verify is the user's
 * choice, `--column`).
 */
function addressColumnByContent(lines: readonly string[], delimiter: string, width: number): number {
  const columns = addressColumnsByContent(lines, delimiter, width);
  return columns.length === 1 ? (columns[0] ?? -1) : -1;
}

/**
 * Whether a column's name numbers a second address column: Outlook's `E-mail 2 Address` and `E-mail 3
 * Address` beside its `E-mail Address`. Only a numbered name: `Address` beside `Email` is most often a
 * postal one, and a column of addresses under any name is found by its values.
 */
const numbersAddresses = (name: string) =>
  /\d/.test(name) && ADDRESS_COLUMN_NAMES.includes(squash(name).replace(/\d/g, ''));

function findAddressColumn(columns: readonly string[], wanted: string | undefined): number {
  if (wanted !== undefined) {
    const index = columns.findIndex((name) => name.trim().toLowerCase() === wanted.trim().toLowerCase());
    if (index === -1) {
      throw new InputError(`no column named "${wanted}" in the header (${quoteHeader(columns)})`);
    }
    return index;
  }
  for (const name of ADDRESS_COLUMN_NAMES) {
    const index = columns.findIndex((column) => squash(column) === name);
    if (index !== -1) return index;
  }
  return -1;
}

/**
 * What to tell the user of an input with several address columns: which one is verified, and which are
 * not (`opened.otherAddressColumns`); the caller says how to choose (`--column`, or a column's name).
 *
 * @example
 * addressColumnNote(layout, ['E-mail 2 Address'])
 * // 'the column "E-mail Address" is verified; "E-mail 2 Address" also holds addresses and is not'
 */
export function addressColumnNote(layout: InputLayout, others: readonly string[]): string {
  const verified = layout.columns[layout.addressColumn] ?? '';
  const names = others.map((name) => `"${name}"`);
  const listed =
    names.length === 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
  return `the column "${verified}" is verified; ${listed} also ${names.length === 1 ? 'holds addresses and is' : 'hold addresses and are'} not`;
}

/**
 * Opens an input: reads its first lines to choose between CSV and a plain list (and the delimiter and
 * address column), then yields its rows as they are read.
 *
 * @example
 * const { layout, rows } = await openInput(createReadStream('list.csv'));
 * for await (const row of rows) console.log(row.line, row.input);
 */
export async function openInput(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: ReadInputOptions = {},
): Promise<OpenedInput> {
  const { layout, rows, headerLine, otherAddressColumns } = await openRows(source, options);
  const seen: { notUtf8: NotUtf8 | null } = { notUtf8: null };
  const found = (line: number): void => {
    seen.notUtf8 = {
      line,
      message: `the input is not UTF-8 (line ${line}: a byte shown as \ufffd): columns other than the address are written with \ufffd in its place; save the file as CSV UTF-8 (Excel: "CSV UTF-8"), or convert it (iconv -f windows-1252 -t utf-8)`,
    };
  };
  if (layout.columns.some((column) => column.includes('\ufffd'))) found(headerLine);
  async function* watched(): AsyncGenerator<InputRow> {
    for await (const row of rows) {
      const fields = row.fields;
      if (
        seen.notUtf8 === null &&
        fields !== null &&
        fields.some((field, index) => index !== layout.addressColumn && field.includes('\ufffd'))
      ) {
        found(row.line);
      }
      yield row;
    }
  }
  return {
    layout,
    rows: watched(),
    otherAddressColumns,
    get notUtf8() {
      return seen.notUtf8;
    },
  };
}

interface OpenedRows {
  readonly layout: InputLayout;
  readonly rows: AsyncIterable<InputRow>;
  readonly headerLine: number;
  readonly otherAddressColumns: readonly string[];
}

/** `openInput()` but for its watch over the rows: the layout, the rows, the header's line. */
async function openRows(
  source: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
  options: ReadInputOptions,
): Promise<OpenedRows> {
  const iterator = splitLines(refuseBinary(decoded(source, options.encoding)))[Symbol.asyncIterator]();
  const head: PhysicalLine[] = [];
  while (head.length < SNIFF_LINES) {
    const step = await iterator.next();
    if (step.done === true) break;
    head.push(step.value);
  }
  // Excel's delimiter hint, `sep=;` on a line of its own before the header: the delimiter it names,
  // and not a row (Excel writes it, and reads it, so a file opens in columns whatever the locale).
  const hint = /^\uFEFF?sep=([^"\r\n])\s*$/i.exec(head[0]?.text ?? '');
  if (hint !== null) head.shift();
  const lines = (async function* () {
    yield* head;
    for (;;) {
      const step = await iterator.next();
      if (step.done === true) return;
      yield step.value;
    }
  })();
  const sample = head.flatMap((line) => (line.text === null || line.text.trim() === '' ? [] : [line.text]));
  const headerLine = head.find((line) => line.text !== null && line.text.trim() !== '')?.number ?? 1;
  const delimiter = hint?.[1] ?? detectDelimiter(sample);
  const firstLine = sample[0] ?? '';

  if (delimiter === null) {
    // One column: a CSV with a header (the first line names the address column) or a plain list.
    const name = firstLine.trim().replace(/^"(.*)"$/, '$1');
    const named =
      options.column !== undefined
        ? name.toLowerCase() === options.column.trim().toLowerCase()
        : ADDRESS_COLUMN_NAMES.includes(squash(name)) && !name.includes('@');
    if (options.column !== undefined && !named && sample.length > 0) {
      throw new InputError(
        `no column named "${options.column}": the input has one column, headed "${quoteHeader([name])}"`,
      );
    }
    if (named) {
      const layout: InputLayout = {
        format: 'csv',
        delimiter: ',',
        columns: [name],
        addressColumn: 0,
        headerless: false,
      };
      return { layout, rows: csvRows(lines, layout, true), headerLine, otherAddressColumns: [] };
    }
    return { layout: LIST_LAYOUT, rows: listRows(lines), headerLine, otherAddressColumns: [] };
  }

  let header: string[];
  try {
    header = parseFields(firstLine, delimiter);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new InputError(`the header line: ${why}`, false, { cause: error });
  }
  let addressColumn = findAddressColumn(header, options.column);
  let headerless = false;
  let columns: readonly string[] = header.map((name) => name.trim());
  if (addressColumn === -1) {
    // No header names an address column; if the first line holds an address, the file has no header.
    addressColumn = header.findIndex((field) => LOOKS_LIKE_ADDRESS.test(field.trim()));
    if (addressColumn !== -1) {
      headerless = true;
      columns = header.map((_, index) => `column${index + 1}`);
    } else {
      // A header in words no list names (Google Contacts' `E-mail 1 - Value`, `Work Email`): the one
      // column whose values are addresses in the first rows.
      addressColumn = addressColumnByContent(sample.slice(1), delimiter, header.length);
      if (addressColumn === -1) {
        throw new InputError(`no address column in the header (${quoteHeader(columns)})`, true);
      }
    }
  }
  const layout: InputLayout = { format: 'csv', delimiter, columns, addressColumn, headerless };
  const byContent = addressColumnsByContent(headerless ? sample : sample.slice(1), delimiter, header.length);
  const otherAddressColumns =
    options.column !== undefined
      ? []
      : columns.filter(
          (name, index) =>
            index !== addressColumn && ((!headerless && numbersAddresses(name)) || byContent.includes(index)),
        );
  return { layout, rows: csvRows(lines, layout, !headerless), headerLine, otherAddressColumns };
}

/**
 * The error of an address that was not UTF-8 in the file: a byte UTF-8 cannot hold decodes as U+FFFD
 * (a Latin-1 or Windows-1252 export: `jérôme` as `j\xe9r\xf4me`). Verified, the mangled address would
 * be refused as unknown and the row called undeliverable; it is an unreadable row (unknown) instead.
 */
function notUtf8Error(address: string, line: number): string | null {
  if (!address.includes('\ufffd')) return null;
  return `line ${line}: the address is not UTF-8 (a byte shown as \ufffd): save the file as CSV UTF-8 (Excel: "CSV UTF-8"), or convert it (iconv -f windows-1252 -t utf-8)`;
}

async function* listRows(lines: AsyncIterable<PhysicalLine>): AsyncGenerator<InputRow> {
  let row = 0;
  for await (const line of lines) {
    if (line.text !== null && line.text.trim() === '') continue;
    row += 1;
    if (line.text === null) {
      yield { row, line: line.number, input: keptText(line) ?? '', fields: null, error: overLongError(line) };
      continue;
    }
    const input = line.text.trim();
    yield { row, line: line.number, input, fields: null, error: notUtf8Error(input, line.number) };
  }
}

/**
 * A row that could not be read keeps what the user wrote: its fields as written when they match the
 * header's count, else its whole text as the address; an over-long line keeps its start, marked cut.
 */
function unreadable(
  row: number,
  line: number,
  raw: string | null,
  layout: InputLayout,
  error: string,
): InputRow {
  if (raw === null) return { row, line, input: '', fields: null, error };
  const fields = looseFields(raw, layout.delimiter ?? ',');
  if (fields.length === layout.columns.length) {
    return { row, line, input: (fields[layout.addressColumn] ?? '').trim(), fields, error };
  }
  return { row, line, input: raw, fields: null, error };
}

async function* csvRows(
  lines: AsyncIterable<PhysicalLine>,
  layout: InputLayout,
  skipHeader: boolean,
): AsyncGenerator<InputRow> {
  const delimiter = layout.delimiter ?? ',';
  let row = 0;
  let headerSeen = !skipHeader;
  for await (const record of records(lines)) {
    if (record.text !== null && record.text.trim() === '') continue;
    if (!headerSeen) {
      headerSeen = true;
      continue;
    }
    row += 1;
    if (record.text === null) {
      yield unreadable(row, record.line, record.raw ?? null, layout, record.error ?? '');
      continue;
    }
    let fields: string[];
    try {
      fields = parseFields(record.text, delimiter);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      yield unreadable(row, record.line, record.text, layout, `line ${record.line}: ${message}`);
      continue;
    }
    const input = (fields[layout.addressColumn] ?? '').trim();
    yield { row, line: record.line, input, fields, error: notUtf8Error(input, record.line) };
  }
}
