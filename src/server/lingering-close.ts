/**
 * What happens to a request body that is still arriving when its response has been written (a 413
 * under an upload, a 401 before a body was read): it is read and dropped for a bounded while, and
 * the connection is closed in stages, as RFC 9112 §9.6 describes, so that a client still sending
 * reads its answer instead of a reset.
 *
 * Closing a socket with unread bytes makes the kernel send a reset, which can throw away the
 * response before the client has read it (or fail the client's next write with EPIPE first). Node
 * destroys a connection as soon as a `Connection: close` response is written, and @hono/node-server's
 * own clean-up (`autoCleanupIncoming`, off in server.ts) closes any unread body after 500 ms: a
 * client that was not scheduled in that time lost its 413. Here:
 * - a response with `Connection: close` half-closes the connection (our side's FIN after it) instead;
 * - what still arrives is read and dropped, up to `LINGER_MAX_BYTES` (counted every 10 ms), then no
 *   more is read (the client's sending is held up by TCP, not reset);
 * - the connection is closed `LINGER_MAX_MS` after the response, or as soon as the body has ended
 *   (nothing unread: a clean close), or kept for its next request when the response let it live and
 *   the body ended in time.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** Bytes of a body read and dropped after its response before no more are read. */
export const LINGER_MAX_BYTES = 16 * 1024 * 1024;
/** How long after its response a connection with a body still arriving stays open. */
export const LINGER_MAX_MS = 2_000;

/** The request each connection is answering, for `destroySoon()` below. */
const answering = new WeakMap<Socket, IncomingMessage>();

/**
 * Makes `server` close connections with a body still arriving in stages (see above). Call once,
 * before it listens.
 */
export function lingerOnUnreadBodies(server: Server): void {
  server.on('connection', (socket: Socket) => {
    // Node calls this when a response with `Connection: close` has been written (resOnFinish in
    // node/lib/_http_server.js): end our side, and leave the rest to `linger()`, unless the body has
    // been read whole (then there is nothing to reset).
    const destroySoon = socket.destroySoon.bind(socket);
    socket.destroySoon = () => {
      const request = answering.get(socket);
      if (request === undefined || request.complete) destroySoon();
      else socket.end();
    };
  });
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    answering.set(request.socket, request);
    response.once('finish', () => {
      if (!request.complete) linger(request.socket, request);
    });
  });
}

/** How often a lingering connection's bytes are counted. */
const COUNT_EVERY_MS = 10;

/** Reads and drops what is left of `request`'s body within the bounds, then closes or keeps `socket`. */
function linger(socket: Socket, request: IncomingMessage): void {
  // What arrives is counted from the socket's own count, not with a 'data' listener: one would take
  // the socket's reading back from Node's HTTP parser, which does not start it again if it had
  // stopped it for a reader that was behind. Past the bound the socket is no longer read (the
  // client's sending is held up by TCP).
  const start = socket.bytesRead;
  const counter = setInterval(() => {
    if (socket.bytesRead - start > LINGER_MAX_BYTES) socket.pause();
  }, COUNT_EVERY_MS);
  counter.unref();
  const done = () => {
    clearTimeout(timer);
    clearInterval(counter);
    request.off('end', ended);
    socket.off('close', done);
  };
  const ended = () => {
    done();
    // Everything sent has been read: closing now sends no reset. A connection the response let
    // live carries the client's next request.
    if (socket.writableEnded) socket.destroy();
  };
  const timer = setTimeout(() => {
    done();
    socket.destroy();
  }, LINGER_MAX_MS);
  timer.unref();
  request.once('end', ended);
  socket.once('close', done);
  // A body nobody reads any more (its reader gone) is dropped by Node's parser from here on.
  if (request.listenerCount('data') === 0 && request.readableFlowing !== true) request.resume();
}
