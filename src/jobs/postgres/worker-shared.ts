/**
 * What the parts of a scale-out worker (src/jobs/postgres/worker.ts) share: the context each is given,
 * its events, and small helpers.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type PgBoss from 'pg-boss';

import type { SettingDifference } from '../job-settings.js';
import { retrying } from './conflicts.js';
import type { PgJobStore } from './pg-job-store.js';
import type { ScaleOut } from './scale-out.js';

export type WorkerEvent =
  | { readonly type: 'started'; readonly worker: string }
  | { readonly type: 'planned'; readonly job: string; readonly addresses: number; readonly hosts: number }
  | { readonly type: 'host'; readonly host: string; readonly verified: number; readonly ms: number }
  | { readonly type: 'lease-lost'; readonly host: string }
  | { readonly type: 'swept'; readonly hosts: readonly string[] }
  | { readonly type: 'job-done'; readonly job: string }
  | {
      readonly type: 'settings';
      readonly job: string;
      /** The worker's settings that differ from the job's, which the job is verified with. */
      readonly differences: readonly SettingDifference[];
      readonly message: string;
    }
  | { readonly type: 'error'; readonly error: unknown; readonly where: string }
  | { readonly type: 'stopping'; readonly worker: string }
  | { readonly type: 'stopped'; readonly worker: string; readonly verified: number };

/** One worker's identity, connections and stop signal, as its parts see them. */
export interface WorkerContext {
  /** `host:pid:random`, the `workers` row and the holder named in its leases. */
  readonly id: string;
  readonly cluster: ScaleOut;
  readonly store: PgJobStore;
  /** Host and plan lease, in milliseconds. */
  readonly leaseMs: number;
  /** Queue polling interval when idle, in milliseconds. */
  readonly pollMs: number;
  /** Aborted by `stop()`: no new work is taken, and work in flight is cut short. */
  readonly stopping: AbortSignal;
  readonly report: (event: WorkerEvent) => void;
}

/** Read through a call, so checks after an `await` are not judged constant by flow analysis. */
export function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Waits `ms`, or less when the worker stops meanwhile. */
export function nap(context: WorkerContext, ms: number): Promise<void> {
  return sleep(ms, undefined, { signal: context.stopping }).catch(() => undefined);
}

/** The A-label domain of an address key, or `null` for a key that is not an address. */
export function domainOfKey(key: string): string | null {
  if (key.startsWith('!') || key.startsWith('#')) return null;
  const at = key.lastIndexOf('@');
  return at === -1 ? null : key.slice(at + 1);
}

/**
 * Completes queue entries, on `db` (a transaction). pg-boss 10 takes `(name, ids, data, options)`,
 * whatever its type declarations say for a list of ids.
 */
export function completeEntries(boss: PgBoss, name: string, ids: string[], db: PgBoss.Db): Promise<unknown> {
  const complete = boss.complete.bind(boss) as unknown as (
    name: string,
    ids: string[],
    data: null,
    options: PgBoss.ConnectionOptions,
  ) => Promise<unknown>;
  return complete(name, ids, null, { db });
}

/** Runs `task` on every item, at most `limit` at once; resolves with the answers in order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await task(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** Marks the job done when every address has a result; says so. */
export async function finishIfDone(context: WorkerContext, jobId: string): Promise<void> {
  const s = context.store.schema;
  const { rowCount } = await retrying(() =>
    context.store.pool.query(
      `UPDATE ${s}.jobs SET status = 'done', updated_at = $2
       WHERE id = $1 AND status = 'running' AND planned AND done_addresses >= total_addresses`,
      [jobId, new Date().toISOString()],
    ),
  );
  if ((rowCount ?? 0) > 0) context.report({ type: 'job-done', job: jobId });
}
