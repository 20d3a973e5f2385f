/**
 * Helpers of the scale-out suite: the PostgreSQL under test (`RCPT_TEST_PG`, set by `npm run
 * test:scale`, which starts a throwaway cluster), a fresh schema per test file, and `rcpt` processes
 * run from source with their JSON log lines collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import pg from 'pg';

import { listItems } from '../helpers/job-items.js';
import type { ScaleOut } from '../../src/jobs/postgres/index.js';

export const repo = join(import.meta.dirname, '..', '..');

/** The database URL, or `undefined` when this suite runs without one (it then skips, saying why). */
export const PG_URL: string | undefined = process.env.RCPT_TEST_PG;
export const SKIP_NO_PG =
  PG_URL === undefined ? 'RCPT_TEST_PG is not set: run `npm run test:scale` (it starts PostgreSQL)' : false;

/** A schema name no other test uses. */
export function freshSchema(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** Drops the schema and pg-boss's schema beside it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(`DROP SCHEMA IF EXISTS ${schema}_boss CASCADE`);
  } finally {
    await client.end();
  }
}

/** Runs one query on its own connection. */
export async function query<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

export interface RcptProcess {
  readonly child: ChildProcess;
  /** JSON lines written to stdout, parsed (other lines are kept as `{ text }`). */
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  /** Resolves with the first line that matches. */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<number | string | null>;
}

/** Starts `rcpt ARGS…` from source; with `stdin`, its standard input is a pipe (`child.stdin`). */
export function startRcpt(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  options: { readonly stdin?: boolean } = {},
): RcptProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(repo, 'test/scale/rcpt-entry.ts'), ...args],
    {
      cwd: repo,
      env: { ...process.env, RCPT_DOCTOR: '0', ...env },
      stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    },
  );
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  let errors = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let index: number;
    while ((index = buffer.indexOf('\n')) !== -1) {
      const text = buffer.slice(0, index);
      buffer = buffer.slice(index + 1);
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ text });
      }
      for (const wake of waiters) wake();
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const exited = new Promise<number | string | null>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(signal ?? code);
      for (const wake of waiters) wake();
    });
  });
  return {
    child,
    lines,
    stderr: () => errors,
    exited,
    waitFor(match, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(match);
          if (found !== undefined) {
            cleanup();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`rcpt exited (${child.exitCode ?? child.signalCode}) first: ${errors}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for a log line; stderr: ${errors}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Stops a process that is still running (SIGKILL), and waits for it. */
export async function ensureStopped(process: RcptProcess): Promise<void> {
  if (process.child.exitCode === null && process.child.signalCode === null) process.child.kill('SIGKILL');
  await process.exited;
}

/** A job of these addresses (one row each, in order), completely ingested with these `options`; its id. */
export async function storeAddresses(
  cluster: ScaleOut,
  addresses: readonly string[],
  options: Readonly<Record<string, unknown>> = {},
): Promise<string> {
  const job = await cluster.store.createJob({ options });
  await cluster.store.addItems(job.id, listItems(addresses));
  await cluster.store.finishIngest(job.id);
  return job.id;
}

/**
 * Stores `addresses` as a job with these `options` (its recorded `settings`, say), as `storeAddresses()`
 * does, and submits it; its id.
 */
export async function submitAddresses(
  cluster: ScaleOut,
  addresses: readonly string[],
  options: Readonly<Record<string, unknown>> = {},
): Promise<string> {
  const id = await storeAddresses(cluster, addresses, options);
  await cluster.submit(id);
  return id;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check()` holds, asking every `pollMs`; throws, naming `what`, after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
  pollMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * Resolves once a session of an rcpt process (its pool's `application_name` starts with `rcpt`) waits
 * for a lock in a statement matching `pattern`: where a test holds it with a lock of its own.
 */
export async function blockedAt(url: string, pattern: RegExp): Promise<void> {
  await until(`a statement matching ${String(pattern)} to wait for a lock`, async () => {
    const rows = await query<{ query: string }>(
      url,
      `SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name LIKE 'rcpt%'`,
    );
    return rows.some((row) => pattern.test(row.query));
  });
}

/** Resolves once the job is done; throws after `timeoutMs`. */
export function jobDone(cluster: ScaleOut, jobId: string, timeoutMs = 60_000): Promise<void> {
  return until(
    `job ${jobId} to finish`,
    async () => (await cluster.store.getJob(jobId))?.status === 'done',
    timeoutMs,
    100,
  );
}

/** The job's results counted by verdict, as `[verdict, count]` in verdict order. */
export async function verdictCounts(url: string, schema: string, jobId: string): Promise<[string, number][]> {
  const rows = await query<{ verdict: string; n: number }>(
    url,
    `SELECT verdict, count(*)::int AS n FROM ${schema}.results WHERE job_id = $1 GROUP BY verdict ORDER BY verdict`,
    [jobId],
  );
  return rows.map((row) => [row.verdict, row.n]);
}
