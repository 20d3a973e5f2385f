/** Runs the `rcpt` CLI in-process through `run()`, with captured output and a chosen environment. */
import { PassThrough } from 'node:stream';

import { run } from '../../src/cli/main.js';
import { cliBaseEnvironment } from './rcpt-process.js';

export interface Captured {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunCliOptions {
  /**
   * The environment the CLI sees instead of `process.env`. Default: empty but `RCPT_DNS_SERVER`, a
   * loopback address where nothing answers (`cliBaseEnvironment()`), which this replaces when it has
   * the key (`RCPT_DNS_SERVER: undefined` for the system resolver).
   */
  readonly env?: NodeJS.ProcessEnv;
  /** What `-` reads as standard input. Default: nothing. */
  readonly stdin?: string;
}

/** `rcpt ARGS…`, resolving with the exit status and everything written to stdout and stderr. */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<Captured> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? '');
  const code = await run(['node', 'rcpt', ...args], {
    stdout,
    stderr,
    env: { ...cliBaseEnvironment(args), ...options.env },
    stdin,
  });
  return { code, stdout: out, stderr: err };
}
