/**
 * The bounce side of `rcpt explain`: a message file (`bounce.eml`), a message on stdin, a directory of
 * `.eml` files or an mbox. One message is printed as a readable report (or `--json`); a directory or an
 * mbox becomes a suppression list (CSV or NDJSON) written as it is read, with progress on stderr, in
 * bounded memory: one message at a time, each read up to `MAX_BOUNCE_BYTES`.
 */
import { createReadStream } from 'node:fs';
import { open, opendir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { stringify } from 'csv-stringify/sync';

import {
  MAX_BOUNCE_BYTES,
  SUPPRESSION_COLUMNS,
  explainBounce,
  feedbackReason,
  looksLikeMessage,
  readMbox,
  type MboxMessage,
  toSuppressionRows,
  type BounceExplanation,
  type BounceKind,
  type FeedbackSource,
} from '../index.js';
import { textDecoderOf } from '../jobs/index.js';
import type { CliIo } from './run-verify.js';
import { UsageError } from './common-options.js';
import { plural } from './format.js';
import { progressBar } from './progress.js';
import { cannotRead, checkOutput, errorCode, fsReason, pipeText, writeFileText } from './bulk-output.js';

export type SuppressionFormat = 'csv' | 'ndjson';

export interface BounceFlags {
  readonly json?: boolean;
  /** Suppression list format for a directory or an mbox; default `csv`. */
  readonly format?: string;
  /** Where the suppression list goes; default stdout. */
  readonly output?: string;
}

/**
 * What a path is: a directory of messages, an mbox (starts with `From `), one message, or a stream (a
 * pipe such as the shell's `<(zcat bounce.eml.gz)`, or a character device such as `/dev/stdin`), which
 * can be read once only, from its start, as standard input is. Anything else (a socket) is a usage
 * error, and so is a path that cannot be read, in plain words.
 */
export async function pathKind(path: string): Promise<'directory' | 'mbox' | 'message' | 'stream'> {
  const info = await stat(path).catch((error: unknown) => {
    throw new UsageError(cannotRead(path, error));
  });
  if (info.isDirectory()) return 'directory';
  if (info.isFIFO() || info.isCharacterDevice()) return 'stream';
  if (!info.isFile()) throw new UsageError(`${path}: not a file (give a reply, a file holding one, or -)`);
  const handle = await open(path, 'r').catch((error: unknown) => {
    throw new UsageError(cannotRead(path, error));
  });
  try {
    const head = Buffer.alloc(5);
    const { bytesRead } = await handle.read(head, 0, 5, 0);
    return bytesRead === 5 && head.toString('latin1') === 'From ' ? 'mbox' : 'message';
  } finally {
    await handle.close();
  }
}

/** The first `MAX_BOUNCE_BYTES + 1` bytes of a file: enough to know it was longer. */
export async function readBounded(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(MAX_BOUNCE_BYTES + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return fromUtf16(buffer.subarray(0, filled));
  } finally {
    await handle.close();
  }
}

/**
 * Text saved as UTF-16 with its byte-order mark (Windows PowerShell's `>`, Notepad's "Unicode") as
 * UTF-8, which the rest reads; other bytes as they are. Read as UTF-8, every other byte of UTF-16 is a
 * NUL, and a saved reply or bounce was called binary data.
 */
export function fromUtf16(bytes: Buffer): Buffer {
  const decoder = textDecoderOf(bytes);
  return decoder === null ? bytes : Buffer.from(decoder.decode(bytes), 'utf8');
}

/** `rcpt explain bounce.eml`: one message, printed. */
export async function explainMessageFile(
  path: string,
  flags: BounceFlags,
  io: CliIo,
): Promise<BounceExplanation> {
  const explained = await explainBounce(await readBounded(path));
  printBounce(explained, path, flags, io);
  return explained;
}

/** `rcpt explain -` with a message on stdin (already read, up to `MAX_BOUNCE_BYTES + 1`). */
export async function explainMessageBytes(
  bytes: Uint8Array,
  source: string,
  flags: BounceFlags,
  io: CliIo,
): Promise<BounceExplanation> {
  refuseOutputForOne(flags);
  const explained = await explainBounce(bytes);
  printBounce(explained, source, flags, io);
  return explained;
}

/**
 * `-o` names where a suppression list goes, and only a directory or an mbox makes one: for one message
 * or reply it would be left unwritten while the answer went to standard output, so it is refused.
 */
export function refuseOutputForOne(flags: BounceFlags): void {
  if (flags.output === undefined) return;
  throw new UsageError(
    '-o writes the suppression list of a directory or an mbox; one message or reply is printed to standard output (redirect it with > FILE; --json for JSON)',
  );
}

export function printBounce(
  explained: BounceExplanation,
  source: string,
  flags: BounceFlags,
  io: CliIo,
): void {
  if (flags.json === true) {
    io.stdout.write(`${JSON.stringify({ source, ...explained })}\n`);
    return;
  }
  io.stdout.write(formatBounce(explained, source));
}

const KIND_TEXT: Record<BounceKind, string> = {
  bounce: 'a bounce',
  delay: 'a delay notice (delivery is still being tried)',
  delivery_report: 'a delivery report (nothing failed)',
  auto_reply: 'an automatic reply (RFC 3834), not a bounce',
  feedback_report: 'an abuse feedback report (RFC 5965), not a bounce',
  not_a_bounce: 'a message that reports no failed delivery',
  not_a_message: 'not an email message',
  empty: 'empty',
  binary: 'a binary file, not an email message',
  unreadable: 'a message that could not be read',
};

/** What the message is; a feedback report may be a recipient's unsubscribe rather than a complaint. */
function kindText(explained: BounceExplanation): string {
  if (explained.kind === 'feedback_report' && explained.feedbackType === 'unsubscribe')
    return "an unsubscribe request from the recipient's mail client, not a bounce";
  // The ARF drafts before RFC 5965 sent removal requests as reports of type opt-out / opt-out-list.
  if (explained.kind === 'feedback_report' && feedbackReason(explained) === 'unsubscribed')
    return `an opt-out request (a feedback report of type ${explained.feedbackType ?? ''}, from the ARF drafts before RFC 5965), not a bounce`;
  // Amazon SES sends its complaints as JSON notifications, not as RFC 5965 reports.
  if (explained.kind === 'feedback_report' && explained.feedbackRecipients.some((r) => r.source === 'ses'))
    return 'an Amazon SES complaint notification, not a bounce';
  return KIND_TEXT[explained.kind];
}

/** The readable layout: the message's kind, then per recipient its reply, meaning and what to do. */
export function formatBounce(explained: BounceExplanation, source: string): string {
  const lines: string[] = [];
  const via =
    explained.format === 'dsn'
      ? ' (RFC 3464 delivery status report)'
      : explained.format === 'text'
        ? " (read from the MTA's text)"
        : '';
  lines.push(`${source}: ${kindText(explained)}${via}`);
  if (explained.problem !== null) lines.push(`  ${explained.problem}`);
  if (explained.feedbackType !== null) lines.push(`  feedback type: ${explained.feedbackType}`);
  if (explained.kind === 'feedback_report') lines.push(...feedbackLines(explained));
  if (explained.truncated)
    lines.push(`  only the first ${MAX_BOUNCE_BYTES.toLocaleString('en-US')} bytes were read`);
  for (const recipient of explained.recipients) {
    lines.push('', `  ${recipient.address}  ${recipient.action ?? ''}`.trimEnd());
    const where = [
      recipient.command === null ? null : `to ${recipient.command}`,
      recipient.remoteMta === null ? null : `from ${recipient.remoteMta}`,
    ].filter((part) => part !== null);
    if (recipient.reply !== null)
      lines.push(`    reply     ${recipient.reply}${where.length > 0 ? ` (${where.join(', ')})` : ''}`);
    else if (where.length > 0) lines.push(`    server    ${where.join(', ')}`);
    if (recipient.status !== null) lines.push(`    status    ${recipient.status}`);
    if (recipient.diagnostic !== null) lines.push(`    says      ${recipient.diagnostic}`);
    const explanation = recipient.explanation;
    if (explanation === null) {
      lines.push('    means     nothing to explain: the bounce quotes no reply, status or diagnosis');
      continue;
    }
    const placed = [
      explanation.side === null ? null : `${explanation.side} side`,
      explanation.permanence,
    ].filter((part) => part !== null);
    lines.push(
      `    means     ${explanation.verdict} / ${explanation.reason}: ${explanation.category.replace(/_/g, ' ')}${placed.length > 0 ? ` (${placed.join(', ')})` : ''}`,
    );
    if (explanation.meaning !== '') lines.push(`              ${explanation.meaning}`);
    lines.push(
      `    do        ${explanation.action.advice}`,
      `    rule      ${explanation.rule.id}${explanation.rule.source === '' ? '' : ` · ${explanation.rule.source}`}${recipient.explainedFrom === 'reply' || recipient.explainedFrom === null ? '' : ` (from the ${recipient.explainedFrom})`}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Where a feedback report named the person, in words. */
const FEEDBACK_SOURCE_TEXT: Record<FeedbackSource, string> = {
  'original-rcpt-to': "the report's Original-Rcpt-To",
  'removal-recipient': "the report's Removal-Recipient",
  'original-to': "the reported message's To",
  ses: "Amazon SES's complainedRecipients",
  jmrp: 'X-HmXmrOriginalRecipient',
  from: "the request's From",
};

/** Who a feedback report is about, and whether each goes on the suppression list. */
function feedbackLines(explained: BounceExplanation): string[] {
  const reason = feedbackReason(explained);
  if (explained.feedbackRecipients.length === 0) {
    return [
      explained.feedbackType === 'unsubscribe'
        ? '  the request does not say who asked to leave'
        : '  the report does not say who complained (no Original-Rcpt-To, and the reported message names no single recipient)',
    ];
  }
  const label = reason ?? 'about';
  const width = Math.max(label.length, 'redacted'.length);
  return explained.feedbackRecipients.map((recipient) => {
    if (recipient.redacted) {
      return `  ${'redacted'.padEnd(width)}  ${recipient.address}  (the reporter hid the address: no row)`;
    }
    const row =
      reason === null ? `; a ${explained.feedbackType ?? ''} report asks for no suppression: no row` : '';
    return `  ${label.padEnd(width)}  ${recipient.address}  (${FEEDBACK_SOURCE_TEXT[recipient.source]}${row})`;
  });
}

/** Counts for the closing line. */
interface FolderSummary {
  messages: number;
  rows: number;
  suppress: number;
  kinds: Partial<Record<BounceKind, number>>;
}

/**
 * `rcpt explain DIR` or `rcpt explain FILE.mbox`: the suppression list, written row by row to
 * `--output` (through a temporary file renamed at the end) or stdout.
 */
export async function explainBounceFolder(
  path: string,
  kind: 'directory' | 'mbox',
  flags: BounceFlags,
  io: CliIo,
): Promise<void> {
  if (kind === 'directory') {
    const names = await emlFiles(path);
    if (names.length === 0) throw new UsageError(`${path}: a directory with no .eml files`);
    async function* messages(): AsyncGenerator<SourcedMessage> {
      for (const [index, name] of names.entries()) {
        yield { bytes: await readBounded(join(path, name)), source: name, progress: index + 1 };
      }
    }
    await writeSuppressionList(messages(), 'directory', names.length, flags, io);
    return;
  }
  let read = 0;
  // Counted as the splitter pulls: a 'data' listener would switch the stream to flowing mode and
  // read the whole file ahead of the messages.
  async function* chunks(): AsyncGenerator<Buffer> {
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 })) {
      const bytes = chunk as Buffer;
      read += bytes.length;
      yield bytes;
    }
  }
  const name = basename(path);
  async function* messages(): AsyncGenerator<SourcedMessage> {
    for await (const message of readMbox(chunks(), MAX_BOUNCE_BYTES + 1)) {
      yield { bytes: message.bytes, source: `${name}#${message.index}`, progress: Math.ceil(read / 1024) };
    }
  }
  await writeSuppressionList(messages(), 'mbox', Math.ceil((await stat(path)).size / 1024), flags, io);
}

/** One message to explain, where it came from, and how far the input has been read. */
interface SourcedMessage {
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly progress: number;
}

/**
 * Explains each message as it comes and writes its rows at once, to `--output` (through a temporary
 * file renamed at the end) or stdout; progress on a TTY's stderr, a closing count always.
 */
async function writeSuppressionList(
  input: AsyncIterable<SourcedMessage | MboxMessage>,
  what: 'directory' | 'mbox' | 'stdin',
  total: number | null,
  flags: BounceFlags,
  io: CliIo,
): Promise<void> {
  const format = suppressionFormat(flags.format);
  // As rcpt bulk's -o: a place that cannot be written is refused before a message is read; a regular
  // file is written to OUTPUT.tmp-PID and renamed when complete; a device or a pipe (/dev/null, the
  // shell's >(gzip > list.csv.gz)) is written in place, never renamed over.
  const target = await checkOutput(flags.output, false, 'nothing was read');
  const started = performance.now();
  const summary: FolderSummary = { messages: 0, rows: 0, suppress: 0, kinds: {} };
  const stderr = io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
  const bar =
    stderr.isTTY === true && io.env.CI === undefined && total !== null
      ? progressBar(
          stderr,
          `{bar} {value}/{total} ${what === 'mbox' ? 'KiB' : 'messages'} | {messages} messages, {rows} rows, {suppress} to suppress`,
        )
      : null;
  async function* lines(): AsyncGenerator<string> {
    if (format === 'csv') yield stringify([[...SUPPRESSION_COLUMNS]]);
    for await (const message of input) {
      const source = 'source' in message ? message.source : `stdin#${message.index}`;
      const explained = await explainBounce(message.bytes);
      summary.messages += 1;
      summary.kinds[explained.kind] = (summary.kinds[explained.kind] ?? 0) + 1;
      for (const row of toSuppressionRows(explained, source)) {
        summary.rows += 1;
        if (row.suppress) summary.suppress += 1;
        yield format === 'csv'
          ? stringify([SUPPRESSION_COLUMNS.map((column) => String(row[column] ?? ''))])
          : `${JSON.stringify(row)}\n`;
      }
      const progress = 'progress' in message ? message.progress : summary.messages;
      bar?.update(progress, { messages: summary.messages, rows: summary.rows, suppress: summary.suppress });
    }
  }
  const temporary = target.kind === 'file' ? `${target.path}.tmp-${process.pid}` : null;
  try {
    bar?.start(total ?? 0, 0, { messages: 0, rows: 0, suppress: 0 });
    if (target.kind === 'stdout') await pipeText(lines(), io.stdout);
    else if (temporary === null) await writeFileText(target.path, lines(), { sync: false });
    else {
      await writeFileText(temporary, lines(), { sync: true });
      await rename(temporary, target.path);
    }
    bar?.stop();
  } catch (error) {
    bar?.stop();
    if (temporary !== null) await unlink(temporary).catch(() => undefined);
    if (error instanceof UsageError || flags.output === undefined || errorCode(error) === null) throw error;
    throw new Error(`cannot write ${flags.output}: ${fsReason(error)}`, { cause: error });
  }
  const seconds = (performance.now() - started) / 1000;
  const kinds = Object.entries(summary.kinds)
    .map(([name, count]) => `${count.toLocaleString('en-US')} ${name}`)
    .join(', ');
  io.stderr.write(
    `rcpt explain: ${plural(summary.messages, 'message')} (${kinds || 'none'}), ${plural(summary.rows, 'row')}, ${summary.suppress.toLocaleString('en-US')} to suppress, in ${seconds.toFixed(1)} s\n`,
  );
}

function suppressionFormat(value: string | undefined): SuppressionFormat {
  const format = value?.toLowerCase();
  if (format === undefined || format === 'csv') return 'csv';
  if (format === 'ndjson') return 'ndjson';
  throw new UsageError(`--format must be csv or ndjson, not ${value}`);
}

/** The `.eml` files of a directory, sorted, so the list comes out in the same order every run. */
async function emlFiles(path: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of await opendir(path)) {
    if (entry.isFile() && /\.eml$/i.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/**
 * What `explainInput` did: read a message, a directory or an mbox (`readable` is false for a message
 * whose MIME could not be read), or found text that is not a message (a reply, a transcript, binary
 * data), handed back for the reply side.
 */
export type InputOutcome =
  { readonly handled: true; readonly readable: boolean } | { readonly handled: false; readonly text: string };

/**
 * The bounce side's share of `rcpt explain INPUT`: a directory, an mbox, a message file, or a message
 * or mbox on stdin (`-`). Anything that does not read as a message comes back for the reply side.
 */
export async function explainInput(input: string, flags: BounceFlags, io: CliIo): Promise<InputOutcome> {
  if (input === '-') return explainStream(io.stdin ?? process.stdin, 'stdin', flags, io);
  const kind = await pathKind(input);
  if (kind === 'stream') return explainStream(createReadStream(input), input, flags, io);
  if (kind === 'message') {
    const bytes = await readBounded(input);
    if (!looksLikeMessage(bytes)) return { handled: false, text: bytes.toString('utf8') };
    const explained = await explainMessageBytes(bytes, input, flags, io);
    return { handled: true, readable: explained.kind !== 'unreadable' };
  }
  await explainBounceFolder(input, kind, flags, io);
  return { handled: true, readable: true };
}

/** A message or an mbox read once from its start: standard input, or a pipe named by its path. */
async function explainStream(
  stream: NodeJS.ReadableStream,
  source: string,
  flags: BounceFlags,
  io: CliIo,
): Promise<InputOutcome> {
  const iterator = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  let decided = false;
  // Enough to see whether it is an mbox (`From `) and, if not, the whole message up to the limit.
  while (size <= MAX_BOUNCE_BYTES) {
    const next = await iterator.next();
    if (next.done === true) {
      done = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(chunk);
    size += chunk.length;
    if (!decided && size >= 5) {
      decided = true;
      if (Buffer.concat(head).subarray(0, 5).toString('latin1') === 'From ') break;
    }
  }
  const first = Buffer.concat(head);
  if (first.subarray(0, 5).toString('latin1') === 'From ') {
    async function* rest(): AsyncGenerator<Buffer> {
      yield first;
      if (done) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return;
        yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      }
    }
    await writeSuppressionList(readMbox(rest(), MAX_BOUNCE_BYTES + 1), 'stdin', null, flags, io);
    return { handled: true, readable: true };
  }
  // Whatever is past the limit is read and dropped, so the writer is not left blocked.
  if (!done) for (let next = await iterator.next(); next.done !== true; next = await iterator.next());
  const bytes = fromUtf16(first);
  if (!looksLikeMessage(bytes)) return { handled: false, text: bytes.toString('utf8') };
  const explained = await explainMessageBytes(bytes, source, flags, io);
  return { handled: true, readable: explained.kind !== 'unreadable' };
}
