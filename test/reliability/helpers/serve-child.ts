/**
 * `rcpt serve` as a child process (from source through tsx) for the HTTP attacks of the reliability
 * suite: its own process, so its memory can be read from /proc without the test's own in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../fixtures/bulk/rcpt-entry.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = import.meta.resolve('tsx');

export interface ServeChild {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Resident set size now, and its peak since start (VmRSS, VmHWM of /proc/PID/status), in bytes. */
  memory(): { rss: number; peak: number };
  /** What it wrote to standard output so far (its log, a JSON line an event). */
  log(): string;
  close(): Promise<void>;
}

/**
 * Starts `rcpt serve --port 0 ARGS…` with `env` and resolves once it listens; `wrap` is a command
 * that runs it (its last arguments the server's command line: it must `exec` them, so that the
 * child's process id stays the server's).
 */
export async function startServe(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  wrap: readonly string[] = [],
): Promise<ServeChild> {
  const [command = process.execPath, ...commandArgs] = [
    ...wrap,
    process.execPath,
    '--import',
    TSX,
    ENTRY,
    'serve',
    '--port',
    '0',
    ...args,
  ];
  const child = spawn(command, commandArgs, {
    cwd: REPO,
    // The jobs these servers accept are not what they test: their DNS goes to a loopback address where
    // nothing answers (refused at once), never to the system resolver off this machine.
    env: {
      PATH: process.env.PATH,
      RCPT_DOCTOR: '0',
      RCPT_LOG_LEVEL: 'info',
      RCPT_DNS_SERVER: '127.9.99.53',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      // Not left running: a server that never said where it listens would outlive the test.
      child.kill('SIGKILL');
      reject(new Error(`rcpt serve did not listen within 30 s: ${stderr}`));
    }, 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(buffer);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rcpt serve exited (${code}): ${stderr}`));
    });
  });
  const kb = (name: string): number => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  };
  return {
    child,
    url,
    port: Number(new URL(url).port),
    memory: () => ({ rss: kb('VmRSS'), peak: kb('VmHWM') }),
    log: () => stdout,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
