/**
 * Where `rcpt bulk` writes, and how it says what went wrong there: the output checked before anything
 * is verified, written to a file, a device or standard output, and file-system and job-store errors
 * turned into one line for people (with the code kept for searching) and the way to go on.
 */
import { constants, type Stats } from 'node:fs';
import { access, open, readdir, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname, resolve } from 'node:path';

/**
 * Bytes written (then removed) beside the output before anything is verified: a place that takes no
 * file (missing directory, read-only file system, no permission) or a disk with no room left fails in
 * a second instead of after an hour of verification. One block: a larger probe would refuse a nearly
 * full disk that the output might still fit on.
 */
const PROBE_BYTES = 4_096;
/** Output text gathered per write: one system call per 64 KiB, not per row. */
const WRITE_BYTES = 65_536;

/** An operational failure of `rcpt bulk` (exit 1), with a message for people. */
export class BulkError extends Error {
  override readonly name = 'BulkError';

  /** The exit status: 1, or 128 + the signal's number for a run stopped by SIGINT (130) or SIGTERM (143). */
  readonly exitCode: number;

  constructor(message: string, exitCode = 1) {
    super(message);
    this.exitCode = exitCode;
  }
}

/**
 * Where the output goes. A regular file (new or existing) is written to `OUTPUT.tmp-PID` and renamed
 * when complete. An existing device, FIFO or socket (`/dev/null`, `/dev/stdout`, a shell's
 * `>(gzip > out.gz)`) is written in place: it cannot be renamed over, and a temporary file beside it
 * would be made among the devices.
 */
export type OutputTarget =
  | { readonly kind: 'stdout' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'stream'; readonly path: string };

/** File-system errors as people say them; the code stays in the message for searching. */
const FS_REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'it is a directory',
  EIO: 'input/output error',
  EPIPE: 'the reading end was closed',
};

/** SQLite's result codes (better-sqlite3 puts the extended one in `code`), by prefix. */
const SQLITE_REASONS: readonly (readonly [prefix: string, reason: string])[] = [
  ['SQLITE_FULL', 'the disk is full'],
  ['SQLITE_IOERR', 'a disk error'],
  ['SQLITE_READONLY', 'it is read-only'],
  ['SQLITE_CANTOPEN', 'it cannot be opened or created'],
  ['SQLITE_CORRUPT', 'it is damaged'],
  ['SQLITE_NOTADB', 'it is not a database'],
  ['SQLITE_BUSY', 'another process holds its lock'],
];

export function errorCode(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : null;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function fsReason(error: unknown): string {
  const code = errorCode(error);
  const reason = code === null ? undefined : FS_REASONS[code];
  return reason === undefined ? messageOf(error) : `${reason} (${code ?? ''})`;
}

/**
 * Why an input file cannot be read, in plain words: "no such file: nope.csv", "cannot read list.csv:
 * permission denied (EACCES)".
 */
export function cannotRead(path: string, error: unknown): string {
  const code = errorCode(error);
  if (code === 'ENOENT') return `no such file: ${path}`;
  if (code === 'EISDIR') return `${path} is a directory, not a list`;
  return `cannot read ${path}: ${fsReason(error)}`;
}

/**
 * What a job store error means, or `null` when `error` (or its cause) is not one: better-sqlite3's
 * `SqliteError` (`code` SQLITE_…) or a PostgreSQL error (a five-character SQLSTATE and a `severity`).
 */
export function storeReason(error: unknown): string | null {
  for (let cause = error, depth = 0; cause !== null && cause !== undefined && depth < 5; depth++) {
    const code = errorCode(cause);
    if (code?.startsWith('SQLITE_') === true) {
      const known = SQLITE_REASONS.find(([prefix]) => code.startsWith(prefix));
      return `${known?.[1] ?? messageOf(cause)} (${code})`;
    }
    if (code !== null && /^[0-9A-Z]{5}$/.test(code) && typeof cause === 'object' && 'severity' in cause) {
      // SQLSTATE class 53: insufficient resources (53100 disk_full).
      return code === '53100'
        ? `the database server's disk is full (${code})`
        : `${messageOf(cause)} (${code})`;
    }
    cause = (cause as { cause?: unknown }).cause;
  }
  return null;
}

/** When to run again, from the reason's code: free space, a writable place, or a fix. */
export function onceFixed(reason: string): string {
  if (/\((ENOSPC|EDQUOT|EFBIG|SQLITE_FULL\w*|53100)\)/.test(reason)) return 'once there is free space';
  if (/\((EROFS|EACCES|EPERM|SQLITE_READONLY\w*)\)/.test(reason)) return 'once it is writable';
  return 'once that is fixed';
}

/** Why `path` cannot be created: a missing directory is named, other errors are said as they are. */
async function createFailure(error: unknown, path: string): Promise<string> {
  if (errorCode(error) === 'ENOENT') {
    const directory = dirname(path);
    const exists = await stat(directory).then(
      () => true,
      () => false,
    );
    if (!exists) return `the directory ${directory} does not exist`;
  }
  return fsReason(error);
}

/**
 * Checks, before anything is verified, that the output can be written: not a directory; a device or
 * FIFO must be writable; for a file, a temporary file beside it is created, written with one block and
 * removed (nothing is left if the process dies after this). Throws `BulkError` naming the path.
 */
export async function checkOutput(
  output: string | undefined,
  dbBeside: boolean,
  nothingYet: string,
): Promise<OutputTarget> {
  if (output === undefined) return { kind: 'stdout' };
  const path = resolve(output);
  const refuse = (reason: string) => {
    // Choosing another place for the output moves its default job database too: say so when the
    // place itself refused (not for a typo in the path).
    const where =
      dbBeside && /\((EROFS|EACCES|EPERM|ENOSPC|EDQUOT)\)/.test(reason)
        ? ' (the job database goes beside it unless --db says otherwise)'
        : '';
    const what = /\((ENOSPC|EDQUOT)\)/.test(reason)
      ? `free some space or choose another -o${where}`
      : `choose a writable -o${where}`;
    return new BulkError(`cannot write ${output}: ${reason}; ${nothingYet}: ${what}`);
  };
  let info: Stats | null = null;
  try {
    info = await stat(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw refuse(fsReason(error));
  }
  if (info?.isDirectory() === true) throw refuse('it is a directory');
  if (info !== null && !info.isFile()) {
    await access(path, constants.W_OK).catch((error: unknown) => {
      throw new BulkError(`cannot write ${output}: ${fsReason(error)}; ${nothingYet}: choose another -o`);
    });
    return { kind: 'stream', path };
  }
  const probe = `${path}.tmp-${process.pid}`;
  try {
    const handle = await open(probe, 'w');
    try {
      await handle.write(Buffer.alloc(PROBE_BYTES));
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw refuse(await createFailure(error, path));
  } finally {
    // `force` ignores only ENOENT; a path under a regular file fails again here (ENOTDIR).
    await rm(probe, { force: true }).catch(() => undefined);
  }
  await removeAbandoned(path);
  return { kind: 'file', path };
}

/** True when a process with this ID runs (or runs under another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) === 'EPERM';
  }
}

/**
 * Removes `OUTPUT.tmp-PID` files left by runs that were killed while writing the output (`kill -9`
 * cannot clean up): only those whose process is gone, so a run writing the same output now keeps its
 * file. Best effort: a file that cannot be removed is left.
 */
async function removeAbandoned(path: string): Promise<void> {
  const prefix = `${basename(path)}.tmp-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isRunning(pid)) continue;
    await rm(resolve(dirname(path), name), { force: true }).catch(() => undefined);
  }
}

/** Why `place` cannot be written, or `null` when it can. */
async function notWritable(place: string): Promise<string | null> {
  return access(place, constants.W_OK).then(
    () => null,
    (error: unknown) => fsReason(error),
  );
}

/**
 * Why the SQLite job database cannot be opened. SQLite says only "unable to open database file", and
 * a recursive mkdir answers ENOENT or EEXIST for a read-only or blocked path: so the file system is
 * asked about the file and the nearest directory that exists, where the file (and its -wal and -shm
 * files, or the missing directories) must be created.
 */
export async function dbOpenFailure(error: unknown, path: string): Promise<string> {
  const stored = storeReason(error);
  if (stored !== null && !/^SQLITE_(CANTOPEN|READONLY|IOERR)/.test(errorCode(error) ?? '')) return stored;
  const statOf = (place: string) => stat(place).catch(() => null);
  if ((await statOf(path)) !== null) {
    const denied = await notWritable(path);
    if (denied !== null) return denied;
  }
  let place = dirname(path);
  let info = await statOf(place);
  while (info === null && dirname(place) !== place) {
    place = dirname(place);
    info = await statOf(place);
  }
  if (info?.isDirectory() === false) return `${place} is not a directory`;
  if (info !== null) {
    const denied = await notWritable(place);
    if (denied !== null) return denied;
  }
  return stored ?? fsReason(error);
}

/** Writes text chunks to a stream (standard output), waiting when it asks us to; rejects on its error. */
export async function pipeText(chunks: AsyncIterable<string>, out: NodeJS.WritableStream): Promise<void> {
  // An error between two writes (a write that returned true, then failed) must not go unheard.
  const failures: unknown[] = [];
  const onError = (error: unknown) => failures.push(error);
  out.on('error', onError);
  try {
    for await (const chunk of chunks) {
      if (failures.length > 0) break;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    // Its callback comes after every earlier write is done: a failure of the last ones is heard here.
    if (failures.length === 0) {
      await new Promise<void>((resolve) =>
        out.write('', (error) => {
          if (error !== null && error !== undefined) failures.push(error);
          resolve();
        }),
      );
    }
  } finally {
    out.removeListener('error', onError);
  }
  if (failures.length > 0) throw failures[0];
}

/**
 * Writes text chunks to a file in 64 KiB writes. With `sync`, the data is flushed to the disk before
 * the handle is closed, so a file system that reserves space lazily (delayed allocation, NFS) reports
 * a full disk here, before the rename makes the file look complete.
 */
export async function writeFileText(
  path: string,
  chunks: AsyncIterable<string>,
  options: { readonly sync: boolean },
): Promise<void> {
  const handle = await open(path, 'w');
  try {
    let pending: string[] = [];
    let size = 0;
    const writePending = async () => {
      const bytes = Buffer.from(pending.join(''));
      pending = [];
      size = 0;
      for (let offset = 0; offset < bytes.length;) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
        offset += bytesWritten;
      }
    };
    for await (const chunk of chunks) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= WRITE_BYTES) await writePending();
    }
    await writePending();
    if (options.sync) await handle.sync();
  } finally {
    await handle.close();
  }
}
