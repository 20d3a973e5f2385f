/**
 * The `rcpt` command as its own process (from source through tsx, as test/fixtures/bulk/rcpt-entry.ts
 * runs it): real argv parsing, real standard streams, the real exit status.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ENTRY = join(import.meta.dirname, '../fixtures/bulk/rcpt-entry.ts');

export interface ProcessOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RcptProcessOptions {
  /** Written to the child's standard input, then closed; `null` leaves it open (never closed). */
  readonly stdin?: string | Buffer | null;
  /** The child's environment beside PATH and NODE_OPTIONS (the loopback guard). Default: nothing more. */
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
