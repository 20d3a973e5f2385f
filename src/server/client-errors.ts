/**
 * Requests that Node's HTTP parser cannot read never reach the app, so `app.onError` cannot answer
 * them: Node's own `clientError` answer is a bare `400 Bad Request` with no body. This answers them
 * with the API's JSON error body (docs/api.md) instead, with the status Node would have chosen.
 *
 * The common case is a body without framing: a request with neither `Content-Length` nor
 * `Transfer-Encoding` has no body (RFC 9112 §6.3), so the bytes its client sent after the head are
 * read as the next request, which is no HTTP. Node's own client sends a `DELETE` body that way (it
 * does not chunk `DELETE`, `GET` or `HEAD` bodies by default), so such a `DELETE` is told what the
 * body-limit middleware tells a framed one: it takes no body. The request before the unreadable bytes
 * is marked (`isFollowedByUnreadableBytes`), so that the middleware refuses a `DELETE` whose body came
 * in the same packets rather than cancelling a job behind an answer that says it was refused.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

import { apiErrorCodeOf, type ApiErrorBody } from './http-error.js';

/**
 * Content in a DELETE has no defined meaning (RFC 9110 §9.3.5): refused, not silently ignored, so a
 * client that thinks what it sent matters is told. Said here and by the body-limit middleware.
 */
export const DELETE_TAKES_NO_BODY = 'A DELETE request takes no body (RFC 9110 §9.3.5): send it without one';

/** Node's parser errors carry llhttp's code (`HPE_…`) and, for a request timeout, `ERR_HTTP_REQUEST_TIMEOUT`. */
interface ClientError extends Error {
  readonly code?: string;
  readonly reason?: string;
}

/** The status Node's default `clientError` answer gives each error (node/lib/_http_server.js). */
function statusOf(code: string | undefined): 400 | 408 | 413 | 431 {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 431;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return 413;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** What went wrong, for people: the parser's reason and code, and what a client usually did. */
function messageOf(error: ClientError, status: number, previous: string | undefined): string {
  const what = `${error.reason ?? error.message} (${error.code ?? 'unknown'})`;
  if (status === 431) return `The request's header is too large: ${what}`;
  if (status === 408) return 'The request did not arrive in time';
  if (status === 413) return `The request's chunk extensions are too large: ${what}`;
  if (previous === 'DELETE') {
    return `${DELETE_TAKES_NO_BODY}; bytes sent after its head without Content-Length or Transfer-Encoding were read as a next request, which is not HTTP: ${what}`;
  }
  const after =
    previous === undefined
      ? ''
      : '; bytes after a request without Content-Length or Transfer-Encoding are read as the next request';
  return `The request is not HTTP/1.1 that this server can read: ${what}${after}`;
}

/** Requests after which the connection's next bytes could not be read. */
const unreadableAfter = new WeakSet<IncomingMessage>();

/**
 * Whether the bytes that came after `request` on its connection were no HTTP (and the connection was
 * closed with a 400): for a request whose client meant them as its body.
 */
export function isFollowedByUnreadableBytes(request: IncomingMessage): boolean {
  return unreadableAfter.has(request);
}

/**
 * Makes `server` answer unreadable requests with the API's JSON error body. Call once, before it
 * listens.
 */
export function answerClientErrors(server: Server): void {
  // The last request read on each connection, to say what the bytes after it were.
  const lastRequest = new WeakMap<Duplex, IncomingMessage>();
  server.on('request', (request: IncomingMessage) => {
    lastRequest.set(request.socket, request);
  });
  server.on('clientError', (error: ClientError, socket: Duplex) => {
    // As Node's default: nothing to answer on a connection already reset, or whose answer has begun.
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || answering?.headersSent === true) {
      socket.destroy();
      return;
    }
    const status = statusOf(error.code);
    const previous = lastRequest.get(socket);
    if (previous !== undefined) unreadableAfter.add(previous);
    const body: ApiErrorBody = {
      error: apiErrorCodeOf(status),
      message: messageOf(error, status, previous?.method),
    };
    const json = JSON.stringify(body);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\n` +
        'Content-Type: application/json\r\n' +
        `Content-Length: ${Buffer.byteLength(json)}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        'Referrer-Policy: no-referrer\r\n' +
        'Connection: close\r\n\r\n' +
        json,
    );
    // The connection cannot be read on (the parser lost its place): closed, as Node does.
    socket.destroy();
  });
}

const STATUS_TEXT: Record<ReturnType<typeof statusOf>, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};
