/**
 * `rcpt bulk` as a child process: for the disk-full and read-only runs (test/reliability/disk.test.ts,
 * bench/disk.bench.ts), the runs killed or signalled mid-way (test/integration/cli-bulk.test.ts), and
 * the others that need a process of their own. From any working directory (tsx is loaded by its
 * absolute path), with any standard output (a file descriptor: `/dev/full`, a file), resolving with
 * the exit status or signal and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../fixtures/bulk/rcpt-entry.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface BulkRun {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

export interface BulkChildOptions {
  /** Working directory (where the default `.rcpt/jobs.db` goes). Default: the repository. */
  readonly cwd?: string;
  /** Standard output: a file descriptor, or ignored. Default: ignored. */
  readonly stdout?: number;
  /** A command that runs node (`nsenter …`: in another mount namespace). Default: none. */
  readonly prefix?: readonly string[];
}

/** Starts `rcpt bulk ARGS…`; `done` resolves when it exits. */
export function startBulk(
  args: readonly string[],
  options: BulkChildOptions = {},
): { child: ChildProcess; done: Promise<BulkRun> } {
  const argv = [...(options.prefix ?? []), process.execPath, '--import', TSX, ENTRY, 'bulk', ...args];
  const child = spawn(argv[0] ?? process.execPath, argv.slice(1), {
    cwd: options.cwd ?? REPO,
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<BulkRun>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal, stderr });
    });
  });
  return { child, done };
}

/** Runs `rcpt bulk ARGS…` to its end (asynchronously: the test's servers live in this process). */
export function runBulk(args: readonly string[], options: BulkChildOptions = {}): Promise<BulkRun> {
  return startBulk(args, options).done;
}

/**
 * The one line a failed run must end with (`rcpt: …`), or a description of what is wrong instead:
 * a stack trace, several lines, no `rcpt:` prefix.
 */
export function failureLine(stderr: string): { line: string | null; problem: string | null } {
  const lines = stderr
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^rcpt bulk: (no job for|job .* did not finish)/.test(line));
  if (/^\s+at /m.test(stderr)) return { line: null, problem: `a stack trace:\n${stderr}` };
  if (lines.length !== 1) return { line: null, problem: `${lines.length} lines:\n${stderr}` };
  const line = lines[0] ?? '';
  if (!line.startsWith('rcpt: ')) return { line: null, problem: `not an rcpt: line: ${line}` };
  return { line, problem: null };
}
