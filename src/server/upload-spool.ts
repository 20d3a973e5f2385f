/**
 * Where a job upload waits while its body is still arriving: a file removed from its directory as
 * soon as it is opened, so it holds disk only while its handle is open, and nothing is left behind
 * by a refused upload or a crash. An upload that a limit refuses (413), or that turns out malformed,
 * is therefore never written to the job store, and its memory is a chunk or two whatever its size; one
 * that passes is read back from here into the store. Every kind of upload (a JSON list, a CSV, a text
 * list) waits here as the rows it was read into, one a line as JSON (so that any character, a line
 * break included, survives): `[line, input, fields, error]`, the row's number being its place.
 */
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import type { InputRow } from '../jobs/index.js';

/** Characters gathered before they are written: rows are small, a write per row would be slow. */
const WRITE_CHARS = 64 * 1024;

type SpooledRow = [line: number, input: string, fields: readonly string[] | null, error: string | null];

export class UploadSpool {
  readonly #file: FileHandle;
  #size = 0;
  #rows = 0;
  #pending = '';

  private constructor(file: FileHandle) {
    this.#file = file;
  }

  /** Opens a new spool in `directory` (only this process can read it: mode 0600, and unlinked). */
  static async open(directory: string): Promise<UploadSpool> {
    const path = join(directory, `.rcpt-upload-${randomBytes(12).toString('hex')}`);
    const file = await open(path, 'wx+', 0o600);
    try {
      await unlink(path);
    } catch (error) {
      await file.close();
      throw error;
    }
    return new UploadSpool(file);
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

  /** Writes the rows gathered. */
  async flush(): Promise<void> {
    if (this.#pending === '') return;
    const bytes = Buffer.from(this.#pending);
    this.#pending = '';
    let at = 0;
    while (at < bytes.length) {
      const { bytesWritten } = await this.#file.write(bytes, at, bytes.length - at, this.#size + at);
      at += bytesWritten;
    }
    this.#size += bytes.length;
  }

  /** The rows added, in order (those still gathered are written first). */
  async *read(): AsyncGenerator<InputRow> {
    await this.flush();
    const input = this.#file.createReadStream({ start: 0, autoClose: false });
    let row = 0;
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        const [at, text, fields, error] = JSON.parse(line) as SpooledRow;
        row += 1;
        yield { row, line: at, input: text, fields, error };
      }
    } finally {
      input.destroy();
    }
  }

  /** Frees the file's space. */
  close(): Promise<void> {
    this.#pending = '';
    return this.#file.close();
  }
}
