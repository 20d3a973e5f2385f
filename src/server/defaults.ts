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
