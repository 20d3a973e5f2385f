/**
 * A PostgreSQL job store that cannot be reached, said in one line (`rcpt worker`, `rcpt serve` and
 * `rcpt bulk` with `--db postgres://…`): where it was looked for, what went wrong and what to check,
 * instead of the driver's `connect ECONNREFUSED 127.0.0.1:5432`. The URL's password is never shown.
 */

/** What a socket error code means to a user looking for their database server. */
const NETWORK: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused; is it running?',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'its host name could not be looked up',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'no route to its host',
  ENETUNREACH: 'no route to its network',
  ECONNRESET: 'the connection was reset',
  ENOENT: 'no such socket; is it running?',
};

/** SQLSTATEs (PostgreSQL appendix A) of a server reached that will not let us in. */
const REFUSED = new Set(['28000', '28P01', '3D000', '57P03']);

/** `host:port` of a postgres:// URL (5432 when it names none), or the URL's socket directory. */
function placeOf(url: string): string {
  try {
    const parsed = new URL(url);
    const socket = parsed.searchParams.get('host');
    if (parsed.hostname === '' && socket !== null) return socket;
    return `${parsed.hostname === '' ? 'localhost' : parsed.hostname}:${parsed.port === '' ? '5432' : parsed.port}`;
  } catch {
    return 'the --db URL';
  }
}

/** The first `code` found on `error`, its causes, or an AggregateError's errors (one per address tried). */
function codeOf(error: unknown, depth = 0): string | null {
  if (typeof error !== 'object' || error === null || depth > 4) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const errors = (error as { errors?: unknown }).errors;
  for (const inner of Array.isArray(errors) ? (errors as unknown[]) : []) {
    const found = codeOf(inner, depth + 1);
    if (found !== null) return found;
  }
  return codeOf((error as { cause?: unknown }).cause, depth + 1);
}

/**
 * `cannot reach PostgreSQL at HOST:PORT: WHY (--db or RCPT_DB names it)` when `error` is a failure to
 * connect to the server at `url`, `PostgreSQL at HOST:PORT did not let rcpt in: …` when the server
 * refused the user, password or database; `null` for any other error.
 */
export function postgresUnreachable(error: unknown, url: string): string | null {
  const code = codeOf(error);
  if (code === null) return null;
  const place = placeOf(url);
  const network = NETWORK[code];
  if (network !== undefined) {
    return `cannot reach PostgreSQL at ${place}: ${network} (--db or RCPT_DB names it)`;
  }
  if (REFUSED.has(code)) {
    const message = error instanceof Error ? error.message : String(error);
    return `PostgreSQL at ${place} did not let rcpt in: ${message} (--db or RCPT_DB names the database, user and password)`;
  }
  return null;
}

/**
 * A postgres:// URL as it may be shown (a summary line, the --resume advice): its password as `***`
 * (`postgres://rcpt:***@db.internal/rcpt`), like a proxy URL recorded in a job. A URL that does not
 * parse is shown as `the --db URL`, since a password could hide anywhere in it.
 */
export function shownPostgresUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.href;
  } catch {
    return 'the --db URL';
  }
}
