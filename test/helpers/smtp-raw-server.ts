/**
 * Raw SMTP test servers: the connection both kinds of test server drive (this file's `startRawServer()`
 * for byte-exact misbehaviour, and test/personas/scripted-smtp-server.ts, whose hostile personas run a
 * script over it), and the raw server itself. `smtp-server` cannot produce what they do: scripted
 * replies, split or delayed writes, trickled bytes, floods, garbage, abrupt closes. Each connection
 * runs its script; every timer and socket it opens is released when the connection or server closes
 * (`RawWire` for a connection's timers and waiters, `AcceptedSockets` for a server's sockets).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { AcceptedSockets } from './accepted-sockets.js';
import { recordCommand } from './smtp-verb-log.js';

/** The raw connection a script drives. */
export interface RawConnection {
  /** 0 for the first connection to this server, 1 for the second, … */
  readonly index: number;
  /** The connection's socket (the TLS socket once a persona's STARTTLS succeeded). */
  readonly socket: Socket;
  /** Writes at once (a string is sent as UTF-8). Ignored once the socket is closed. */
  write(data: string | Uint8Array): void;
  /** The next line the client sent (without its line end), or `null` once the connection closed. */
  readLine(): Promise<string | null>;
  /** Waits, unless the connection closes first. */
  delay(ms: number): Promise<void>;
  /** Writes one byte every `intervalMs` until all are sent or the connection closes. */
  trickle(data: string, intervalMs: number): Promise<void>;
  /** Writes `chunk` over and over, as fast as the client reads, until the connection closes. */
  flood(chunk: string): Promise<void>;
  /** Closes gracefully (FIN). */
  end(): void;
  /** Closes with a TCP RST (`ECONNRESET` on the client). */
  reset(): void;
  /** Resolves when the connection is closed. */
  readonly closed: Promise<void>;
  readonly isClosed: () => boolean;
}

/**
 * Per-connection plumbing of every raw test server: one line reader (lines split on LF, a trailing CR
 * dropped, read as latin1), one close path that ends every timer and waiter.
 */
export class RawWire {
  socket: Socket;
  closed = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #closeWaiters: (() => void)[] = [];
  #buffer = '';
  readonly #queued: string[] = [];
  #lineWaiter: ((line: string | null) => void) | null = null;
  readonly #onLine: (line: string) => void;
  readonly #maxLine: number;
  /** Resolves when the connection is closed. */
  readonly closedPromise: Promise<void>;

  /**
   * `onLine` sees every line as it arrives; a line longer than `maxLine` characters (default: no
   * limit) is delivered as `''` and the rest of it discarded.
   */
  constructor(socket: Socket, onLine: (line: string) => void, maxLine = Infinity) {
    this.socket = socket;
    this.#onLine = onLine;
    this.#maxLine = maxLine;
    this.closedPromise = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    this.#attach(socket);
    socket.on('close', () => {
      this.#shutdown();
    });
  }

  /** Moves line reading to `socket` (the TLS socket after STARTTLS). */
  switchTo(socket: Socket): void {
    this.socket = socket;
    this.#buffer = '';
    this.#attach(socket);
    socket.on('close', () => {
      this.#shutdown();
    });
  }

  #attach(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (socket !== this.socket) return;
      this.#buffer += chunk.toString('latin1');
      let lf: number;
      while ((lf = this.#buffer.indexOf('\n')) !== -1) {
        const line = this.#buffer.slice(0, lf).replace(/\r$/, '');
        this.#buffer = this.#buffer.slice(lf + 1);
        this.#deliver(line);
      }
      if (this.#buffer.length > this.#maxLine) {
        this.#buffer = '';
        this.#deliver('');
      }
    });
  }

  #deliver(line: string): void {
    this.#onLine(line);
    const waiter = this.#lineWaiter;
    if (waiter !== null) {
      this.#lineWaiter = null;
      waiter(line);
    } else {
      this.#queued.push(line);
    }
  }

  #shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#lineWaiter?.(null);
    this.#lineWaiter = null;
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
  }

  write(data: string | Uint8Array): void {
    if (!this.closed && this.socket.writable) this.socket.write(data);
  }

  readLine(): Promise<string | null> {
    return new Promise((resolve) => {
      const line = this.#queued.shift();
      if (line !== undefined) resolve(line);
      else if (this.closed) resolve(null);
      else this.#lineWaiter = resolve;
    });
  }

  delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve();
        return;
      }
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, ms);
      this.#timers.add(timer);
      this.#closeWaiters.push(resolve);
    });
  }

  onceDrainedOrClosed(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('drain', resolve);
      this.#closeWaiters.push(resolve);
    });
  }
}

/** The `RawConnection` a script drives over `wire`. */
export function rawConnection(wire: RawWire, index: number): RawConnection {
  const connection: RawConnection = {
    index,
    get socket() {
      return wire.socket;
    },
    write: (data) => {
      wire.write(data);
    },
    readLine: () => wire.readLine(),
    delay: (ms) => wire.delay(ms),
    trickle: async (data, intervalMs) => {
      for (const byte of Buffer.from(data)) {
        if (wire.closed) return;
        wire.write(Buffer.from([byte]));
        await wire.delay(intervalMs);
      }
    },
    flood: async (chunk) => {
      while (!wire.closed) {
        // Yield between writes: the client runs in this same process, and a synchronous loop would
        // starve it instead of flooding it.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!wire.closed && !wire.socket.write(chunk)) await wire.onceDrainedOrClosed();
      }
    },
    end: () => {
      wire.socket.end();
    },
    reset: () => {
      wire.socket.resetAndDestroy();
    },
    closed: wire.closedPromise,
    isClosed: () => wire.closed,
  };
  return connection;
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
  const sockets = new AcceptedSockets();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    const index = accepted++;
    sockets.add(socket);
    const wire = new RawWire(socket, (line) => {
      lines.push(line);
      recordCommand(line);
    });
    // A script that returns leaves the socket as it is: scripts end or destroy it themselves.
    script(rawConnection(wire, index)).catch(() => undefined);
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
    settled: (timeoutMs) => sockets.settled(timeoutMs),
    close: () => sockets.close(server),
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
