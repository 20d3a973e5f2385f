/**
 * Statements and transactions that PostgreSQL may end to let another go on: a deadlock victim (SQLSTATE
 * 40P01, PostgreSQL "Deadlock detection"), a serialization failure (40001) or a lock not available
 * (55P03). Each was undone whole, so running it again is safe (PostgreSQL's documentation on
 * serialization failure handling advises exactly that); workers writing overlapping rows (results, the
 * shared domain cache, jobs finishing, queues created on a new cluster) meet them now and then, most
 * often when several stop or start at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** SQLSTATEs after which the statement or whole transaction may simply be run again. */
const RETRIABLE_SQLSTATES: ReadonlySet<string> = new Set(['40P01', '40001', '55P03']);
/** Runs of one transaction (or statement) at most, the first included. */
export const RETRIABLE_ATTEMPTS = 5;
/** The pause before a run again, times the attempt and a random 1–2. */
const RETRY_PAUSE_MS = 20;

/** True for an error PostgreSQL says may succeed when run again (`RETRIABLE_SQLSTATES`). */
export function isRetriableError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RETRIABLE_SQLSTATES.has(code);
}

/**
 * A pause before attempt `attempt + 1`, growing with the attempt and jittered, so that two victims of
 * the same conflict do not meet again in step.
 */
function retryPause(attempt: number): Promise<void> {
  return sleep(Math.round(RETRY_PAUSE_MS * attempt * (1 + Math.random())));
}

/**
 * Runs `body` (whole or nothing: one statement, or one transaction with its BEGIN and ROLLBACK inside)
 * until it does not fail with a retriable SQLSTATE, at most `RETRIABLE_ATTEMPTS` times; any other
 * error, and the last retriable one, is thrown.
 */
export async function retrying<T>(body: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await body();
    } catch (error) {
      if (!isRetriableError(error) || attempt >= RETRIABLE_ATTEMPTS) throw error;
    }
    await retryPause(attempt);
  }
}
