/**
 * A raw TCP server for byte-exact SMTP misbehaviour that `smtp-server` cannot produce: scripted
 * replies, split or delayed writes, trickled bytes, floods, garbage, abrupt closes. Each connection
 * runs the script; every timer and socket it opens is released when the connection or server closes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { recordCommand } from './smtp-verb-log.js';

export interface RawConnection {
  /** 0 for the first connection to this server, 1 for the second, … */
  readonly index: number;
  readonly socket: Socket;
  /** Writes at once (a string is sent as UTF-8). Ignored once the socket is closed. */
  write(data: string | Uint8Array): void;
  /** The next command line the client sent (without CRLF), or `null` when the connection closed. */
  readLine(): Promise<string | null>;
  /** Waits, unless the connection closes first. */
  delay(ms: number): Promise<void>;
  /** Writes one byte every `intervalMs` until all are sent or the connection closes. */
  trickle(data: string, intervalMs: number): Promise<void>;
  /** Writes `chunk` over and over, as fast as the client reads, until the connection closes. */
  flood(chunk: string): Promise<void>;
  /** Closes gracefully (FIN). */
  end(): void;
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
}

export type RawScript = (connection: RawConnection) => Promise<void>;

export interface RawServer {
  readonly host: string;
  readonly port: number;
  /** Every command line received, over all connections. */
  readonly lines: readonly string[];
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Resolves when no accepted connection is open any more (rejects after `timeoutMs`). */
  readonly settled: (timeoutMs?: number) => Promise<void>;
  readonly openSockets: () => number;
  readonly close: () => Promise<void>;
}

/** Starts a raw server on 127.0.0.1, port 0, running `script` for every connection. */
export async function startRawServer(script: RawScript): Promise<RawServer> {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    const index = accepted++;
    sockets.add(socket);
    socket.setNoDelay(true);
    let closed = false;
    const timers = new Set<NodeJS.Timeout>();
    const closeWaiters: (() => void)[] = [];
    let buffer = '';
    const queued: string[] = [];
    let lineWaiter: ((line: string | null) => void) | null = null;
    const closedPromise = new Promise<void>((resolve) => closeWaiters.push(resolve));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let lf: number;
      while ((lf = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, lf).replace(/\r$/, '');
        buffer = buffer.slice(lf + 1);
        lines.push(line);
        recordCommand(line);
        if (lineWaiter !== null) {
          const waiter = lineWaiter;
          lineWaiter = null;
          waiter(line);
        } else {
          queued.push(line);
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      sockets.delete(socket);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      lineWaiter?.(null);
      lineWaiter = null;
      for (const resolve of closeWaiters.splice(0)) resolve();
    });
    const delay = (ms: number): Promise<void> =>
      new Promise<void>((resolve) => {
        if (closed) {
          resolve();
          return;
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          resolve();
        }, ms);
        timers.add(timer);
        closeWaiters.push(resolve);
      });
    const connection: RawConnection = {
      index,
      socket,
      write: (data) => {
        if (!closed && socket.writable) socket.write(data);
      },
      readLine: () =>
        new Promise<string | null>((resolve) => {
          const line = queued.shift();
          if (line !== undefined) resolve(line);
          else if (closed) resolve(null);
          else lineWaiter = resolve;
        }),
      delay,
      trickle: async (data, intervalMs) => {
        for (const byte of Buffer.from(data)) {
          if (closed) return;
          connection.write(Buffer.from([byte]));
          await delay(intervalMs);
        }
      },
      flood: async (chunk) => {
        while (!closed) {
          // Yield between writes: loopback takes megabytes without back-pressure, and a synchronous
          // loop would starve the client in this same process instead of flooding it.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (!connection.isClosed() && !socket.write(chunk)) {
            await new Promise<void>((resolve) => {
              socket.once('drain', resolve);
              closeWaiters.push(resolve);
            });
          }
        }
      },
      end: () => {
        socket.end();
      },
      closed: closedPromise,
      isClosed: () => closed,
    };
    script(connection)
      .catch(() => undefined)
      .finally(() => {
        // A script that returns leaves the socket as it is: scripts end or destroy it themselves.
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    host: '127.0.0.1',
    port: address.port,
    lines,
    connections: () => accepted,
    openSockets: () => sockets.size,
    settled: async (timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (sockets.size > 0) {
        if (Date.now() > until) throw new Error(`${sockets.size} connection(s) still open`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Answers each command by its verb from `replies` (a function may pick per line) until QUIT. */
export async function answer(
  connection: RawConnection,
  replies: Record<string, string | ((line: string) => string)>,
): Promise<void> {
  for (;;) {
    const line = await connection.readLine();
    if (line === null) return;
    const verb = (line.split(' ', 1)[0] ?? '').toUpperCase();
    const reply = replies[verb] ?? '500 5.5.2 command not recognized\r\n';
    connection.write(typeof reply === 'function' ? reply(line) : reply);
    if (verb === 'QUIT') {
      connection.end();
      return;
    }
  }
}
