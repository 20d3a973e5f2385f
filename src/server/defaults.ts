/**
 * Where `rcpt serve` listens unless told otherwise (docs/api.md), and how often a key may call it.
 * Apart from server.ts and app.ts so that the CLI can print them in `--help` without loading the HTTP
 * stack.
 */
import type { RateLimitOptions } from './rate-limit.js';

export const DEFAULT_PORT = 8025;
export const DEFAULT_HOST = '127.0.0.1';
/** Per key: a sign-up form checks one address per visitor; 300 a minute with bursts of 60 is generous. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perMinute: 300, burst: 60 };
/**
 * How long the API's jobs are kept once they ended (done, cancelled, failed), their results with them:
 * a server running for months would otherwise keep every upload and result without end
 * (docs/api.md, "How long jobs are kept").
 */
export const DEFAULT_KEEP_FINISHED_JOBS_DAYS = 30;
/**
 * Connections `rcpt serve` holds at once, and from one client (an IPv6 one by its /64): a socket is a file
 * descriptor, and one that the HTTP server may not bound is one the verifier beside it cannot open
 * for SMTP (256 sessions by default). The per-client cap is counted before any API key is read (keys
 * are checked only once a request's headers arrived); it leaves room for a client's burst of a couple
 * hundred requests at once, which the key's rate limit answers (429) rather than this cap.
 */
export const DEFAULT_MAX_CONNECTIONS = 1024;
export const DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 256;
/**
 * How long a request's headers may take to arrive, from the connection's start or the end of its
 * last answer: a client sends them in one packet, so 20 s is generous, and bounds a client that
 * trickles them (Node's own 60 s, checked every 30 s, held a socket up to 90 s).
 */
export const DEFAULT_HEADERS_TIMEOUT_SECONDS = 20;
/**
 * How long an answer may sit in a connection's write buffer without a byte of it draining before the
 * connection is closed: a client that stops reading a results download or an event stream (its
 * receive window shut) held the connection, and what fed it, until the connection caps were reached.
 * A reader as slow as a phone on a poor link drains some every second; an event stream with nothing to
 * send has nothing buffered and is never cut.
 */
export const DEFAULT_WRITE_STALL_TIMEOUT_SECONDS = 60;
