/**
 * Bounds on the connections `rcpt serve` holds (docs/api.md, "Connections"): how many at once, how
 * many from one client address, how long a request's headers may take, how long an idle keep-alive
 * connection stays, how long an answer may wait for a client that stopped reading it. Without them a
 * client opening thousands of sockets, trickling its headers a byte every few seconds (slowloris), or
 * never reading the answer it asked for, held file descriptors until the process could accept nothing
 * more, nor open the SMTP sockets its verifier needs.
 *
 * A connection past a cap is not served: Node's HTTP parser reads its request's head (within
 * `REFUSED_WAIT_MS`) and the answer is a `503` with `Retry-After` and `Connection: close`, never
 * passed to the app. It is never closed unanswered at once: Node 20's fetch() left the request of a
 * connection closed so pending for ever (a burst of 200 from one process never ended).
 */
import { createServer, type RequestListener, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';

import {
  DEFAULT_HEADERS_TIMEOUT_SECONDS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
  DEFAULT_WRITE_STALL_TIMEOUT_SECONDS,
} from './defaults.js';
import { apiErrorCodeOf, type ApiErrorBody } from './http-error.js';
import type { Logger } from './logger.js';

export interface ConnectionLimits {
  /** Connections served at once; 0 for no cap. Default `DEFAULT_MAX_CONNECTIONS` (1,024). */
  readonly maxConnections?: number;
  /**
   * Connections served at once from one client (an IPv4 address, or an IPv6 address's /64: `clientKey()`);
   * 0 for no cap. Default `DEFAULT_MAX_CONNECTIONS_PER_CLIENT` (256). Behind a reverse proxy every client
   * is the proxy's address.
   */
  readonly maxConnectionsPerClient?: number;
  /** How long a request's headers may take to arrive, in ms. Default 20,000. */
  readonly headersTimeoutMs?: number;
  /** How long a keep-alive connection may sit idle between requests, in ms. Default 5,000 (Node's). */
  readonly keepAliveTimeoutMs?: number;
  /**
   * How long, in ms, an answer may wait in a connection's write buffer with none of it drained before
   * the connection is closed (the client stopped reading). Default 60,000. A connection with nothing
   * buffered (an event stream with nothing to send) is never closed by it.
   */
  readonly writeStallTimeoutMs?: number;
}

/** How long a refused connection may take to send its request's head before it is closed unanswered. */
export const REFUSED_WAIT_MS = 2_000;
/** What a refused client is told to wait: a connection is freed as soon as a client closes one. */
const REFUSED_RETRY_AFTER_SECONDS = 1;
/** The whole request, body included (Node's default): a 50 MiB upload on a slow link needs minutes. */
const REQUEST_TIMEOUT_MS = 300_000;
const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/**
 * At most one log line this often about connections refused, and one about connections closed for a
 * stalled answer (a flood would otherwise flood the log).
 */
const LOG_EVERY_MS = 60_000;

/**
 * An HTTP server (for @hono/node-server's `createServer`) that keeps to `limits`: `listener` serves
 * the connections within the caps, the others are answered `503`.
 */
export function limitedServerFactory(
  limits: ConnectionLimits,
  logger: Logger,
): (options: ServerOptions, listener: RequestListener) => Server {
  const headersTimeout = limits.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_SECONDS * 1000;
  return (options, listener) => {
    const refused = new WeakSet<Socket>();
    const server = createServer(
      {
        ...options,
        headersTimeout,
        requestTimeout: Math.max(REQUEST_TIMEOUT_MS, headersTimeout + 1),
        keepAliveTimeout: limits.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS,
        // Node checks the headers deadline on this beat (30 s by default, which made its 60 s up to
        // 90), so that a trickle is cut soon after it.
        connectionsCheckingInterval: beatFor(headersTimeout),
      },
      (request, response) => {
        if (refused.has(request.socket)) answerRefused(response);
        else listener(request, response);
      },
    );
    countConnections(server, limits, refused, logger);
    closeStalledWriters(
      server,
      limits.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_SECONDS * 1000,
      logger,
    );
    return server;
  };
}

/** Counts served connections, in all and per client (`clientKey()`), and marks those past a cap in `refused`. */
function countConnections(
  server: Server,
  limits: ConnectionLimits,
  refused: WeakSet<Socket>,
  logger: Logger,
): void {
  const total = limits.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const perClient = limits.maxConnectionsPerClient ?? DEFAULT_MAX_CONNECTIONS_PER_CLIENT;
  const byClient = new Map<string, number>();
  let served = 0;
  const logRefused = oncePerMinute();
  // Runs after Node's own listener has given the socket its parser: a socket destroyed here is
  // cleaned up by it as any closed connection is.
  server.on('connection', (socket: Socket) => {
    const client = clientOf(socket);
    const fromClient = byClient.get(client) ?? 0;
    const overTotal = total > 0 && served >= total;
    if (overTotal || (perClient > 0 && fromClient >= perClient)) {
      logRefused((count) => {
        logger.warn(
          {
            client,
            refused: count,
            ...(overTotal ? { maxConnections: total } : { maxConnectionsPerClient: perClient }),
          },
          overTotal
            ? 'connections refused: the server holds its most'
            : 'connections refused: one client holds its most',
        );
      });
      refused.add(socket);
      const timer = setTimeout(() => socket.destroy(), REFUSED_WAIT_MS);
      timer.unref();
      socket.once('close', () => {
        clearTimeout(timer);
      });
      return;
    }
    served += 1;
    byClient.set(client, fromClient + 1);
    socket.once('close', () => {
      served -= 1;
      const left = (byClient.get(client) ?? 1) - 1;
      if (left === 0) byClient.delete(client);
      else byClient.set(client, left);
    });
  });
}

/** How far a connection's answer had drained when last looked at, and since when. */
interface WriteProgress {
  written: number;
  queued: number;
  since: number;
}

/** The bytes of a socket's write in progress not yet taken by the kernel (what Node's own socket timeout reads). */
function writeQueueSize(socket: Socket): number {
  return (socket as unknown as { _handle?: { writeQueueSize?: number } | null })._handle?.writeQueueSize ?? 0;
}

/**
 * Closes a connection whose answer has stopped draining for `stallMs`: bytes wait in its write buffer
 * (the kernel's is full, so the client has stopped reading: a results download or an event stream it
 * never reads) and none has gone out since, neither a write completed nor a part of the one in
 * progress (a page of results can be one write of megabytes, which a slow reader takes a while to
 * drain; Node's socket timeout reads the same counter). That timeout cannot tell this from an event
 * stream with nothing to send, and the HTTP server sets it itself (keep-alive); so the connections are
 * looked at on a beat of their own, a quarter of the bound (at most 1 s), which runs while there are
 * connections. A connection with nothing buffered is never closed here, however long it is quiet; one
 * whose client reads, however slowly, is kept. One log line a minute at most says how many were closed.
 */
function closeStalledWriters(server: Server, stallMs: number, logger: Logger): void {
  const watched = new Map<Socket, WriteProgress>();
  let beat: NodeJS.Timeout | null = null;
  const logClosed = oncePerMinute();
  const look = (): void => {
    const now = Date.now();
    for (const [socket, progress] of watched) {
      const waiting = socket.writableLength;
      // `bytesWritten` counts what waits in the buffer too: the rest has been written out.
      const written = socket.bytesWritten - waiting;
      const queued = writeQueueSize(socket);
      if (waiting === 0 || written !== progress.written || queued !== progress.queued) {
        progress.written = written;
        progress.queued = queued;
        progress.since = now;
      } else if (now - progress.since >= stallMs) {
        watched.delete(socket);
        logClosed((count) => {
          logger.warn(
            { client: clientOf(socket), closed: count, writeStallTimeoutSeconds: stallMs / 1000 },
            'connections closed: a client stopped reading its answer',
          );
        });
        socket.destroy();
      }
    }
  };
  server.on('connection', (socket: Socket) => {
    watched.set(socket, { written: 0, queued: 0, since: Date.now() });
    if (beat === null) {
      beat = setInterval(look, beatFor(stallMs));
      beat.unref();
    }
    socket.once('close', () => {
      watched.delete(socket);
      if (watched.size === 0 && beat !== null) {
        clearInterval(beat);
        beat = null;
      }
    });
  });
}

/**
 * The beat on which a deadline of `ms` is checked: a quarter of it, at most 1 s (and at least 10 ms),
 * so that what passes it is cut soon after.
 */
function beatFor(ms: number): number {
  return Math.max(10, Math.min(1_000, Math.floor(ms / 4)));
}

/**
 * Counts events and says so at most once every `LOG_EVERY_MS`: `say` is called with how many came since
 * it was last called (this one included), the others only counted.
 */
function oncePerMinute(): (say: (count: number) => void) => void {
  let lastLogged = -Infinity;
  let unlogged = 0;
  return (say) => {
    unlogged += 1;
    const now = Date.now();
    if (now - lastLogged < LOG_EVERY_MS) return;
    say(unlogged);
    lastLogged = now;
    unlogged = 0;
  };
}

/** The client a connection is counted against: its address, or its /64 (see `clientKey`). */
function clientOf(socket: Socket): string {
  return clientKey(socket.remoteAddress);
}

/**
 * The client an address is counted as: an IPv4 address itself, written the same however it came
 * (`::ffff:` on a dual-stack socket), and an IPv6 one by its /64 (`2001:db8:1:2::/64`), the block a
 * single subscriber or host is given (RFC 6177) and can spread its connections over. `address` is a
 * socket's remote address as Node writes it (inet_ntop's text: lower case, `::` for zeros, no zone but
 * for a link-local peer), not input to check: an address it cannot read is counted as itself.
 */
export function clientKey(address: string | undefined): string {
  if (address === undefined) return 'unknown';
  if (!address.includes(':')) return address;
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  const network = ipv6Network(address.split('%')[0] ?? '');
  return network === null ? address : `${network.join(':')}::/64`;
}

/**
 * The first four groups (the /64) of an IPv6 address's text, in hexadecimal without leading zeros, or
 * `null`. Not `parseIpv6()` of src/dns/target-filter.ts, which an app may not import: this reads
 * Node's own text of a connected peer, and only as far as the key needs.
 */
function ipv6Network(text: string): string[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parts = halves.map((half) => (half === '' ? [] : half.split(':')));
  // A dotted IPv4 tail (`::1.2.3.4`) counts as two groups, of the last four, which the key does not read.
  const count = parts.reduce(
    (sum, half) => sum + half.reduce((n, part) => n + (part.includes('.') ? 2 : 1), 0),
    0,
  );
  if (halves.length === 1 ? count !== 8 : count > 7) return null;
  const [head = [], tail = []] = parts;
  const network = [...head, ...Array<string>(8 - count).fill('0'), ...tail].slice(0, 4);
  if (!network.every((group) => /^[0-9a-f]{1,4}$/i.test(group))) return null;
  return network.map((group) => parseInt(group, 16).toString(16));
}

function answerRefused(response: Parameters<RequestListener>[1]): void {
  const body: ApiErrorBody = {
    error: apiErrorCodeOf(503),
    message: `The server holds as many connections as it may (from this client or in all): retry in ${REFUSED_RETRY_AFTER_SECONDS} s, or use fewer connections at once`,
  };
  const json = JSON.stringify(body);
  response.writeHead(503, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(json),
    'Retry-After': String(REFUSED_RETRY_AFTER_SECONDS),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    Connection: 'close',
  });
  response.end(json);
}
