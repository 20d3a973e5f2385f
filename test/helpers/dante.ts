/**
 * A real SOCKS5 server for tests: Dante (`danted`, Debian's dante-server), started as a child process
 * on a loopback address with a configuration written for the test, and stopped by `close()`. Dante
 * binds `internal` and connects out from `external`, so the SMTP server behind it sees `external` as
 * the client: how a test proves the traffic went through the proxy.
 *
 * Needs /usr/sbin/danted (.ci/run installs dante-server); fails with a clear message when it is absent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const DANTED = process.env.RCPT_DANTED ?? '/usr/sbin/danted';

export interface DanteOptions {
  /** The address Dante listens on. */
  readonly internal: string;
  /** The address Dante connects out from. */
  readonly external: string;
  /** Addresses (`a.b.c.d/32`) Dante's ruleset refuses to connect to (SOCKS reply 0x02). */
  readonly block?: readonly string[];
  /** `username` (RFC 1929 against system users: needs root and the user) or `none`. Default `none`. */
  readonly method?: 'none' | 'username';
}

export interface RunningDante {
  readonly host: string;
  readonly port: number;
  /** `socks5://host:port` */
  readonly url: string;
  /** Everything Dante wrote (its log goes to stderr). */
  log(): string;
  close(): Promise<void>;
}

/** A port free on `host` now (Dante takes no port 0). */
async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}

async function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

function config(options: DanteOptions, port: number): string {
  const root = process.getuid?.() === 0;
  return [
    'logoutput: stderr',
    `internal: ${options.internal} port = ${port}`,
    `external: ${options.external}`,
    `socksmethod: ${options.method ?? 'none'}`,
    'clientmethod: none',
    ...(root ? ['user.privileged: root', 'user.unprivileged: nobody'] : []),
    `client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }`,
    ...(options.block ?? []).map((to) => `socks block { from: 0.0.0.0/0 to: ${to} log: error }`),
    `socks pass { from: 127.0.0.0/8 to: 127.0.0.0/8 command: connect }`,
    '',
  ].join('\n');
}

/** Starts danted; resolves once it accepts connections. */
export async function startDante(options: DanteOptions): Promise<RunningDante> {
  if (!existsSync(DANTED)) {
    throw new Error(`${DANTED} is missing: install Debian's dante-server (apt-get install dante-server)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'rcpt-dante-'));
  for (let attempt = 1; ; attempt += 1) {
    const port = await freePort(options.internal);
    writeFileSync(join(dir, 'danted.conf'), config(options, port));
    let output = '';
    // -N 1: one process; no -D: stays in the foreground as our child.
    const child: ChildProcess = spawn(DANTED, ['-f', join(dir, 'danted.conf'), '-N', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited = false;
    const exit = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exited = true;
        resolve();
      });
    });
    for (let i = 0; i < 100 && !exited; i += 1) {
      if (await accepts(options.internal, port)) {
        return {
          host: options.internal,
          port,
          url: `socks5://${options.internal}:${port}`,
          log: () => output,
          async close() {
            if (!exited) child.kill('SIGTERM');
            await exit;
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await sleep(50);
    }
    if (!exited) child.kill('SIGKILL');
    await exit;
    if (attempt >= 3) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`danted did not start on ${options.internal}:${port}:\n${output}`);
    }
  }
}
