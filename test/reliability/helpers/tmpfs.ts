/**
 * A small tmpfs seen by one process alone, for the cases of a full disk that need no root: a private
 * mount namespace (`unshare`; a user namespace too when not root) in which a tmpfs of a given size is
 * mounted on a directory. Other processes run in that namespace through `nsenter`; a plain file on
 * it can also be reached through `/proc/PID/root` (not a SQLite database: SQLite follows that link to
 * the root of the process that opens it, so it would open the directory under the tmpfs instead).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';

/** The command that runs `command…` with a tmpfs of `size` mounted on `dir`, seen by it alone. */
export function onTmpfs(dir: string, size: string): string[] {
  return [
    'unshare',
    ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']),
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    'mount -t tmpfs -o "size=$0" tmpfs "$1" && shift && exec "$@"',
    size,
    dir,
  ];
}

/** Why a mount namespace cannot be had here, or null when it can. */
export function noNamespace(dir: string): string | null {
  const probe = spawnSync('unshare', [...onTmpfs(dir, '64k').slice(1), 'true'], { encoding: 'utf8' });
  if (probe.error !== undefined) return `unshare: ${probe.error.message}`;
  return probe.status === 0 ? null : `unshare: exit ${probe.status}: ${probe.stderr.trim()}`;
}

export interface HeldTmpfs {
  /** `dir` with the tmpfs on it, as this process can open a plain file there. */
  readonly path: string;
  /** The command that runs `command…` in the namespace, where `dir` is the tmpfs. */
  readonly enter: readonly string[];
  close(): Promise<void>;
}

/**
 * Mounts a tmpfs of `size` on `dir` in a namespace kept alive by a process that waits on its standard
 * input, so that the files on it outlive each process that uses them (a run, then its `--resume`).
 */
export async function holdTmpfs(dir: string, size: string): Promise<HeldTmpfs> {
  const [command = 'unshare', ...args] = onTmpfs(dir, size);
  const holder: ChildProcess = spawn(command, [...args, 'sh', '-c', 'echo mounted && exec cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let said = '';
  holder.stdout?.on('data', (chunk: Buffer) => (said += chunk.toString()));
  holder.stderr?.on('data', (chunk: Buffer) => (said += chunk.toString()));
  const exited = once(holder, 'exit');
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.once('data', () => {
      resolve();
    });
    void exited.then(([code]) => {
      reject(new Error(`the tmpfs holder exited (${String(code)}): ${said}`));
    });
  });
  if (!said.startsWith('mounted')) throw new Error(`the tmpfs holder said: ${said}`);
  return {
    path: `/proc/${holder.pid}/root${dir}`,
    enter: [
      'nsenter',
      '--target',
      String(holder.pid),
      '--mount',
      ...(process.getuid?.() === 0 ? [] : ['--user', '--preserve-credentials']),
    ],
    close: async () => {
      if (holder.exitCode === null && holder.signalCode === null) {
        holder.stdin?.end();
        await exited;
      }
    },
  };
}

/** Writes `path` until its file system is full (ENOSPC); returns the bytes it took. */
export function fillUp(path: string): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    for (const size of [65_536, 512]) {
      const block = Buffer.alloc(size, 0x2e);
      for (;;) {
        try {
          bytes += writeSync(fd, block);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}
