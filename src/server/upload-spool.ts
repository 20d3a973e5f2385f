/**
 * Where a JSON job list waits while its body is still arriving: a file removed from its directory as
 * soon as it is opened, so it holds disk only while its handle is open, and nothing is left behind
 * by a refused list or a crash. A list that a limit refuses (413) is therefore never written to the
 * job store, and its memory is one chunk whatever its size; a list that passes is read back from here
 * into the store. Addresses are kept one a line, each as a JSON string (so that any character,
 * a line break included, survives).
 */
import { randomBytes } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export class UploadSpool {
  readonly #file: FileHandle;
  #size = 0;

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

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /** Appends `addresses`. */
  async write(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    let text = '';
    for (const address of addresses) text += `${JSON.stringify(address)}\n`;
    const bytes = Buffer.from(text);
    let at = 0;
    while (at < bytes.length) {
      const { bytesWritten } = await this.#file.write(bytes, at, bytes.length - at, this.#size + at);
      at += bytesWritten;
    }
    this.#size += bytes.length;
  }

  /** The addresses written, in order. */
  async *read(): AsyncGenerator<string> {
    const input = this.#file.createReadStream({ start: 0, autoClose: false });
    try {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        yield JSON.parse(line) as string;
      }
    } finally {
      input.destroy();
    }
  }

  /** Frees the file's space. */
  close(): Promise<void> {
    return this.#file.close();
  }
}
