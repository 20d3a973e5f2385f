/**
 * One size limit for every request body, whatever its framing (issue 14): a `Content-Length` over the
 * limit is refused before a byte is read, and a body without one (`Transfer-Encoding: chunked`) is
 * counted as it arrives and cut at the limit with a 413 naming it. Applied to every route of the app
 * (`app.use('*')`), so a route added later gets the default limit without doing anything; a route
 * whose bodies may be larger (job uploads) has a rule of its own.
 *
 * A body that a handler parses whole (JSON) is read here, up to the limit, before any validator runs:
 * hono's validators would otherwise read it without a bound, and turn a failed read into "Malformed
 * JSON". A streamed body (a CSV or text upload going into the job store) is passed on through a
 * counter that fails the stream with the 413 at the limit, so it is never held whole.
 *
 * A body in a content coding (`Content-Encoding: gzip`) is refused with 415 before it is read (RFC 9110
 * §8.4.1, RFC 7694: `Accept-Encoding: identity` says what is taken).
 *
 * A DELETE that carries a body is refused with 400 before it is read (its content would be ignored);
 * one whose body has no framing is held for one turn of the event loop, and refused when the bytes
 * after it could not be read (client-errors.ts), so that no job is cancelled behind that 400.
 */
import type { Context, MiddlewareHandler } from 'hono';

import type { IncomingMessage } from 'node:http';

import { DELETE_TAKES_NO_BODY, isFollowedByUnreadableBytes } from './client-errors.js';
import { HttpError } from './http-error.js';
import { LINGER_MAX_BYTES } from './lingering-close.js';

/** A route whose bodies have their own limit. */
export interface BodyLimitRule {
  readonly method: string;
  readonly path: string;
  /** Largest body, in bytes. */
  readonly maxBytes: number;
  /** True when the handler streams bodies of this media type (lower case, no parameters). */
  readonly streams?: (mediaType: string) => boolean;
}

/**
 * After a 413 (or a DELETE's 400), what is left of the body is read and dropped, up to
 * `LINGER_MAX_BYTES`, so that a client still sending reads its answer instead of a reset. The
 * connection is closed in stages by lingering-close.ts: it also stops reading past that many bytes,
 * and closes the connection `LINGER_MAX_MS` after the answer or once the body has ended. A read that
 * fails (the connection closed) ends this.
 */
function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>): void {
  void (async () => {
    let dropped = 0;
    try {
      while (dropped <= LINGER_MAX_BYTES) {
        const { done, value } = await reader.read();
        if (done) return;
        dropped += value.byteLength;
      }
    } catch {
      // The connection closed: nothing left to drop.
    }
  })();
}

/**
 * The 413 for a body over `maxBytes`. The rest of the body is not wanted: the connection closes after
 * it (RFC 9110 §15.5.14), in stages (lingering-close.ts).
 */
export function bodyTooLarge(maxBytes: number, hint = ''): HttpError {
  return new HttpError(413, 'payload_too_large', `The body is larger than ${maxBytes} bytes${hint}`, {
    Connection: 'close',
  });
}

/** A request that says it carries content: a `Content-Length` above 0, or any `Transfer-Encoding`. */
function declaresBody(headers: Headers): boolean {
  const length = headers.get('content-length');
  return headers.has('transfer-encoding') || (length !== null && length.trim() !== '0');
}

/**
 * The content coding a request's body says it is in (`gzip`, `br, gzip`), or `null` for none or
 * `identity`. No coding is undone: a body is read as sent, so a compressed one would reach its reader
 * as binary ("Malformed JSON", "not a text file"), and inflating it would need the size limits kept on
 * what it inflates to as well as on what arrives (a 50 KiB gzip of zeros is 50 MiB).
 */
function contentCodingOf(headers: Headers): string | null {
  const value = headers.get('content-encoding');
  if (value === null) return null;
  const codings = value
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding.toLowerCase() !== 'identity');
  return codings.length === 0 ? null : codings.join(', ');
}

/** The media type of a request, lower case, without parameters. */
export function mediaTypeOf(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** The `charset` parameter of a request's Content-Type (RFC 9110 §8.3.2), unquoted; else `undefined`. */
export function charsetOf(c: Context): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(c.req.header('content-type') ?? '');
  return match?.[1];
}

/**
 * The middleware: `defaultMaxBytes` for every body, or the limit of the first rule that matches the
 * request's method and path. `hintFor` adds to the message (where to send larger inputs).
 */
export function limitBodies(
  defaultMaxBytes: number,
  rules: readonly BodyLimitRule[],
  hintFor: (rule: BodyLimitRule | null) => string = () => '',
): MiddlewareHandler {
  return async (c, next) => {
    const raw = c.req.raw;
    if (c.req.method === 'DELETE') {
      if (raw.body !== null && declaresBody(raw.headers)) {
        discardRest(raw.body.getReader());
        throw new HttpError(400, 'bad_request', DELETE_TAKES_NO_BODY);
      }
      // A body sent without framing arrives in the same packets as the head: by the next turn Node's
      // parser has failed on it, and the connection is answered 400 already (client-errors.ts).
      const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
      if (incoming !== undefined) {
        await new Promise((resolve) => setImmediate(resolve));
        if (isFollowedByUnreadableBytes(incoming)) {
          throw new HttpError(400, 'bad_request', DELETE_TAKES_NO_BODY);
        }
      }
    }
    if (raw.body === null) return next();
    const encoding = contentCodingOf(raw.headers);
    if (encoding !== null) {
      discardRest(raw.body.getReader());
      throw new HttpError(
        415,
        'unsupported_media_type',
        `Content-Encoding ${encoding} is not accepted: send the body uncompressed, without a Content-Encoding header`,
        { 'Accept-Encoding': 'identity' },
      );
    }
    const rule = rules.find((r) => r.method === c.req.method && r.path === c.req.path) ?? null;
    const maxBytes = rule?.maxBytes ?? defaultMaxBytes;
    const tooLarge = () => bodyTooLarge(maxBytes, hintFor(rule));
    const body: ReadableStream<Uint8Array> = raw.body;
    const declared = raw.headers.get('content-length');
    if (declared !== null && Number(declared) > maxBytes) {
      discardRest(body.getReader());
      throw tooLarge();
    }
    if (rule?.streams?.(mediaTypeOf(c)) === true) {
      let seen = 0;
      const counter = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          seen += chunk.byteLength;
          if (seen > maxBytes) controller.error(tooLarge());
          else controller.enqueue(chunk);
        },
      });
      body.pipeTo(counter.writable, { preventCancel: true }).catch(() => {
        if (!body.locked) discardRest(body.getReader());
      });
      c.req.raw = new Request(raw, { body: counter.readable, duplex: 'half' });
      return next();
    }
    const chunks: Uint8Array[] = [];
    let seen = 0;
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      seen += value.byteLength;
      if (seen > maxBytes) {
        // Nothing more is kept; cancelling at once would reset the connection under a client still
        // sending, which would then never read its 413.
        discardRest(reader);
        throw tooLarge();
      }
      chunks.push(value);
    }
    c.req.raw = new Request(raw, { body: Buffer.concat(chunks, seen) });
    return next();
  };
}
