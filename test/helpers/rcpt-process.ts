/**
 * The `rcpt` command as its own process (from source through tsx, as test/fixtures/bulk/rcpt-entry.ts
 * runs it): real argv parsing, real standard streams, the real exit status.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ENTRY = join(import.meta.dirname, '../fixtures/bulk/rcpt-entry.ts');

/**
 * The DNS server the CLI helpers (this one and run-cli.ts) give `rcpt` as `RCPT_DNS_SERVER` unless the
 * test's environment names one: a loopback address where nothing listens, so that a lookup a test did
 * not point anywhere is refused at once (`unknown`), instead of going to the system resolver, which the
 * loopback guard (scripts/loopback-guard.cjs) refuses and fails the run for. A `--dns-server` flag wins
 * over it, as over any RCPT_* variable; a test of the default (the system resolver) sets
 * `RCPT_DNS_SERVER: undefined`.
 */
export const UNANSWERED_DNS_SERVER = '127.9.99.53';

/**
 * The environment the helpers start from for `args`: `UNANSWERED_DNS_SERVER`, but not for `--resume`,
 * which goes on with the DNS server the job recorded, and would read a variable set as a setting given
 * again that contradicts it (exit 64), as a user's would.
 */
export function cliBaseEnvironment(args: readonly string[]): NodeJS.ProcessEnv {
  return args.some((arg) => arg === '--resume' || arg.startsWith('--resume='))
    ? {}
    : { RCPT_DNS_SERVER: UNANSWERED_DNS_SERVER };
}

export interface ProcessOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RcptProcessOptions {
  /** Written to the child's standard input, then closed; `null` leaves it open (never closed). */
  readonly stdin?: string | Buffer | null;
  /**
   * The child's environment beside PATH and NODE_OPTIONS (the loopback guard). Default: nothing more
   * but `RCPT_DNS_SERVER` (`cliBaseEnvironment()`), which this replaces when it has the key.
   */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Killed with SIGKILL past this many milliseconds (a hang is then seen as signal `SIGKILL`). */
  readonly timeoutMs?: number;
}

/** Runs `rcpt ARGS…` as a process and resolves when it exits. */
export function rcptProcess(
  args: readonly string[],
  options: RcptProcessOptions = {},
): Promise<ProcessOutcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: {
      PATH: process.env.PATH,
      NODE_OPTIONS: process.env.NODE_OPTIONS,
      RCPT_DOCTOR: '0',
      ...cliBaseEnvironment(args),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A child that exits before reading all of its input (a refusal) closes the pipe: not the test's error.
  child.stdin.on('error', () => {});
  if (options.stdin !== null) child.stdin.end(options.stdin ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
