/** Shared set-up of the server tests: the demo world, a verifier on it, and log capture. */
import { spawn, type ChildProcess } from 'node:child_process';
import { Writable } from 'node:stream';

import { createVerifier, type Verifier, type VerifyOptions } from '../../../src/index.js';
import { startDemoWorld, type DemoWorld } from '../../../src/demo/world.js';
import { createLogger, type Logger } from '../../../src/server/logger.js';
import { worldOptions } from '../../helpers/world-options.js';

export const KEY_A = 'key-a-0123456789abcdef';
export const KEY_B = 'key-b-fedcba9876543210';

export interface World {
  readonly world: DemoWorld;
  readonly options: VerifyOptions;
  verifier(): Verifier;
  close(): Promise<void>;
}

/** The demo world and verifiers on it (closed by `close()`). */
export async function startWorld(): Promise<World> {
  const world = await startDemoWorld();
  const options: VerifyOptions = worldOptions(world);
  const verifiers: Verifier[] = [];
  return {
    world,
    options,
    verifier() {
      const verifier = createVerifier(options);
      verifiers.push(verifier);
      return verifier;
    },
    async close() {
      await Promise.all(verifiers.map((verifier) => verifier.close()));
      await world.close();
    },
  };
}

/** A logger whose JSON lines are kept in memory. */
export function capturedLogger(): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, ...extra };
}

export const JSON_TYPE = { 'content-type': 'application/json' } as const;

/** A `rcpt serve` child process that has logged "listening". */
export interface ServeProcess {
  readonly child: ChildProcess;
  /** The URL from its "listening" line. */
  readonly url: string;
  /** Its exit code, once it exits. */
  readonly exited: Promise<number | null>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
}

/**
 * Runs `rcpt serve ARGS` from source in a child process, with the start-up doctor off (it would look
 * beyond loopback: public IP, blocklists) and `env` over this process's environment, and waits for its
 * "listening" line; no such line in 30 s kills it and rejects with its output.
 */
export async function spawnServe(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "const { run } = await import('./src/cli/main.ts'); process.exitCode = await run(process.argv);",
      '--',
      'rcpt',
      'serve',
      ...args,
    ],
    {
      cwd: process.cwd(),
      env: { ...process.env, ...env, RCPT_DOCTOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      resolve(code);
    }),
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`no "listening" line:\n${output}`));
      }, 30_000);
      child.stdout.on('data', () => {
        const match = /"url":"(http:[^"]+)".*"msg":"listening"/.exec(output);
        if (match?.[1] !== undefined) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
    });
    return { child, url, exited, output: () => output };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
