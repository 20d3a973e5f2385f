/**
 * Where a job upload waits while its body is still arriving: files removed from their directory as
 * soon as they are opened, so they hold disk only while their handles are open, and nothing is left
 * behind by a refused upload or a crash. An upload that a limit refuses (413), or that turns out
 * malformed, is therefore never written to the job store, and its memory is a chunk or two whatever its
 * size; one that passes is read back from here into the store. Every kind of upload (a JSON list, a
 * CSV, a text list) waits here as the rows it was read into, one a line as JSON (so that any character,
 * a line break included, survives): `[line, input, fields, error]`, the row's number being its place.
 *
 * The rows are written in segments of at most `SEGMENT_BYTES`, each its own unlinked file, and a
 * segment is closed (its space freed) as soon as it has been read back: while an accepted upload is
 * stored, its rows are on disk about once (in the store, and the segments not yet read), not twice.
 * A write that finds no space (ENOSPC, EDQUOT, EFBIG) is a `SpoolFullError`, which the routes answer 507.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import type { InputRow } from '../jobs/index.js';

/** Characters gathered before they are written: rows are small, a write per row would be slow. */
const WRITE_CHARS = 64 * 1024;

/** The most one segment holds: what is on disk twice, at most, while an upload is stored. */
const SEGMENT_BYTES = 4 * 1024 * 1024;

/** The error codes of a write that found no room: the device full, the quota spent, the file size limit. */
const NO_SPACE = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

type SpooledRow = [line: number, input: string, fields: readonly string[] | null, error: string | null];

/** No space for the upload where it waits (`code`: ENOSPC, EDQUOT or EFBIG); the system's error is its `cause`. */
export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
  readonly code: string;

  constructor(code: string, cause: unknown) {
    super(
      `No space left on the server for the upload while it arrives (${code}): the job was not stored. Try again once space is freed.`,
      { cause },
    );
    this.code = code;
  }
}

/** `error` as a `SpoolFullError` when it says there is no space, else as it is. */
function noSpace(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NO_SPACE.has(code) ? new SpoolFullError(code, error) : error;
}

/** One file of the spool: created and unlinked at once. */
async function openSegment(directory: string): Promise<FileHandle> {
  const path = join(directory, `.rcpt-upload-${randomBytes(12).toString('hex')}`);
  let file: FileHandle;
  try {
    file = await open(path, 'wx+', 0o600);
  } catch (error) {
    throw noSpace(error);
  }
  try {
    await unlink(path);
  } catch (error) {
    await file.close();
    throw error;
  }
  return file;
}

export class UploadSpool {
  readonly #directory: string;
  readonly #segmentBytes: number;
  /** The segments not yet read back, the last one written to. */
  readonly #segments: FileHandle[];
  /** Bytes in the last segment. */
  #segmentSize = 0;
  #size = 0;
  #rows = 0;
  #pending = '';

  private constructor(directory: string, segmentBytes: number, first: FileHandle) {
    this.#directory = directory;
    this.#segmentBytes = segmentBytes;
    this.#segments = [first];
  }

  /**
   * Opens a new spool in `directory` (only this process can read it: mode 0600, and unlinked), of
   * segments of at most `segmentBytes` (a write larger than that is a segment of its own).
   */
  static async open(directory: string, segmentBytes = SEGMENT_BYTES): Promise<UploadSpool> {
    return new UploadSpool(directory, segmentBytes, await openSegment(directory));
  }

  /** Bytes written so far (rows still gathered in memory not counted). */
  get size(): number {
    return this.#size;
  }

  /** Rows added so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Gathers the next row (its `row` must be the number of rows added before it, plus one). Returns
   * true once a chunk's worth is gathered: the caller then awaits `flush()` (a promise per row would
   * cost a third of the time it takes to read a list of short lines).
   */
  push(row: InputRow): boolean {
    this.#rows += 1;
    if (row.row !== this.#rows) throw new Error(`row ${row.row} added as row ${this.#rows}`);
    const spooled: SpooledRow = [row.line, row.input, row.fields, row.error];
    this.#pending += `${JSON.stringify(spooled)}\n`;
    return this.#pending.length >= WRITE_CHARS;
  }

  /** Writes the rows gathered (whole lines to a segment: a new one once the last is full). */
  async flush(): Promise<void> {
    if (this.#pending === '') return;
    const bytes = Buffer.from(this.#pending);
    this.#pending = '';
    if (this.#segmentSize > 0 && this.#segmentSize + bytes.length > this.#segmentBytes) {
      this.#segments.push(await openSegment(this.#directory));
      this.#segmentSize = 0;
    }
    const file = this.#segments.at(-1);
    if (file === undefined) throw new Error('the spool was read or closed already');
    try {
      let at = 0;
      while (at < bytes.length) {
        const { bytesWritten } = await file.write(bytes, at, bytes.length - at, this.#segmentSize + at);
        at += bytesWritten;
      }
    } catch (error) {
      throw noSpace(error);
    }
    this.#segmentSize += bytes.length;
    this.#size += bytes.length;
  }

  /** The rows added, in order (those still gathered are written first); each segment freed once read. */
  async *read(): AsyncGenerator<InputRow> {
    await this.flush();
    let row = 0;
    // A segment stays listed until it is closed, so that close() frees it too if the reading stops.
    for (let file = this.#segments[0]; file !== undefined; file = this.#segments[0]) {
      const input = file.createReadStream({ start: 0, autoClose: false });
      try {
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          const [at, text, fields, error] = JSON.parse(line) as SpooledRow;
          row += 1;
          yield { row, line: at, input: text, fields, error };
        }
      } finally {
        // The stream holds the handle until it has closed: the handle closed before that would stay
        // open (its space held) a moment longer.
        if (!input.closed) {
          const closed = new Promise<void>((resolve) =>
            input.once('close', () => {
              resolve();
            }),
          );
          input.destroy();
          await closed;
        }
        await file.close();
        this.#segments.shift();
      }
    }
  }

  /** Frees the space of every segment not read back yet. */
  async close(): Promise<void> {
    this.#pending = '';
    const segments = this.#segments.splice(0);
    await Promise.all(segments.map((file) => file.close()));
  }
}
