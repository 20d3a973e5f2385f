/**
 * Crash safety of a bulk job on PostgreSQL (issue 9), the real user path: `rcpt bulk INPUT -o OUT --db
 * postgres://…` submits and follows the job while `rcpt worker` processes verify it. `kills` times in a
 * row a process is killed with SIGKILL at a seeded random point and started again at once (a worker
 * with the same arguments, `rcpt bulk` with `--resume`):
 *
 * - `worker`: a worker holding host leases, once a random number of new results are stored (mid-batch:
 *   its sessions die, its results in memory are lost, its leases must run out and be swept);
 * - `bulk`: the follower, half after a random delay from its spawn (start-up, ingest, submission),
 *   half once a random number of new results are stored (following);
 * - `both`: a worker and the follower at the same moment.
 *
 * The last `rcpt bulk --resume` is left to finish; the output must hold every input row exactly once,
 * in input order, with the verdict the world gives it, and the database one result per address, no
 * work and no lease left.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { parse } from 'csv-parse/sync';
import pg from 'pg';

import { seeded } from '../helpers/seeded.js';
import { ensureStopped, startRcpt, type RcptProcess } from './helpers.js';
import { workerArgs, type ScaleWorld } from './world.js';

export type KillKind = 'worker' | 'bulk' | 'both';

export interface PgCrashSettings {
  readonly url: string;
  readonly schema: string;
  readonly dir: string;
  readonly kills: number;
  readonly seed: number;
  /** Worker processes running at once. Default 2. */
  readonly workers?: number;
  /** Host lease of the workers (a killed worker's hosts come back after it). Default 1000. */
  readonly leaseMs?: number;
  /** Sessions per MX host, cluster-wide. Default 1. */
  readonly hostConcurrency?: number;
  /** Hosts each worker works on at once. Default 3. */
  readonly concurrency?: number;
  /** Longest the last `--resume` may take to finish. Default 120 s. */
  readonly finishTimeoutMs?: number;
}

export interface KillRecord {
  readonly kind: KillKind;
  /** Results stored when the kill was sent. */
  readonly stored: number;
  /** What the job was doing: not stored yet, being ingested, queued, planning, running, done. */
  readonly phase: string;
  /** Leases the killed worker held (`null` when no worker was killed). */
  readonly leases: number | null;
  /** The process had exited on its own before its kill point (the job was done). */
  readonly finishedBefore: boolean;
}

export interface PgCrashReport {
  readonly kills: readonly KillRecord[];
  readonly rows: number;
  readonly distinct: number;
  /** Addresses (off the greylisting host) asked more than once: in flight at a kill, verified again. */
  readonly reverified: number;
  /** From the last kill to the output written. */
  readonly lastResumeMs: number;
  /** Most connections any MTA saw at once, over the whole run. */
  readonly peakPerHost: number;
  /** Temporary output files left by a follower killed while it wrote the output. */
  readonly strayFiles: readonly string[];
  /** Problems found; empty when every row is there once with the right verdict and nothing is left over. */
  readonly problems: readonly string[];
  readonly ms: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `'timeout'` after `ms` (the timer cleared either way, so it holds no process up). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => {
          resolve('timeout');
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function alive(process: RcptProcess): boolean {
  return process.child.exitCode === null && process.child.signalCode === null;
}

/** Runs the kill cycle; never throws for what it finds (see `problems`). */
export async function runPgCrashCycle(world: ScaleWorld, settings: PgCrashSettings): Promise<PgCrashReport> {
  const started = performance.now();
  const random = seeded(settings.seed);
  const { url, schema, dir } = settings;
  const s = schema;
  const leaseMs = settings.leaseMs ?? 1_000;
  const problems: string[] = [];
  const env = { RCPT_PG_SCHEMA: schema };

  // The list: every address of the world, a tenth of them repeated (each row must come out once too).
  const addresses = world.addresses.map((a) => a.address);
  const rowsIn = [...addresses, ...addresses.slice(0, Math.floor(addresses.length / 10))];
  const input = join(dir, 'list.csv');
  await writeFile(input, `id,email\n${rowsIn.map((address, i) => `${i + 1},${address}`).join('\n')}\n`);
  const output = join(dir, 'out.csv');

  const workerAt = (n: number) =>
    workerArgs(url, world, n + 1, {
      leaseMs,
      concurrency: settings.concurrency ?? 3,
      hostConcurrency: settings.hostConcurrency ?? 1,
      flags: ['--greylist-wait', '1', '--timeout', '15000'],
    });
  const bulkArgs = (resume: boolean) => [
    'bulk',
    input,
    '-o',
    output,
    '--db',
    url,
    ...(resume ? ['--resume'] : []),
  ];

  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  /** One number from the database, 0 while the schema does not exist yet. */
  const count = async (text: string, values: unknown[] = []): Promise<number> => {
    try {
      const { rows } = await pool.query<{ n: number }>(text, values);
      return rows[0]?.n ?? 0;
    } catch {
      return 0;
    }
  };
  const stored = () => count(`SELECT count(*)::int AS n FROM ${s}.results`);
  const leasesOf = (worker: string) =>
    count(`SELECT count(*)::int AS n FROM ${s}.host_leases WHERE worker = $1 AND expires_at > now()`, [
      worker,
    ]);
  const phase = async (): Promise<string> => {
    try {
      const { rows } = await pool.query<{ status: string; ingested: boolean; planned: boolean }>(
        `SELECT status, ingested, planned FROM ${s}.jobs`,
      );
      const job = rows[0];
      if (job === undefined) return 'no job';
      if (!job.ingested) return 'ingest';
      if (job.status === 'running' && !job.planned) return 'planning';
      return job.status;
    } catch {
      return 'no schema';
    }
  };

  /** What is left in the store, for a failure message: work per host, leases, host queue entries. */
  const snapshot = async (): Promise<string> => {
    const parts: string[] = [];
    for (const [label, text] of [
      [
        'work',
        `SELECT host, count(*)::int AS n, min(not_before) AS next, max(attempts) AS attempts FROM ${s}.work GROUP BY host`,
      ],
      ['leases', `SELECT host, worker, expires_at > now() AS live FROM ${s}.host_leases`],
      [
        'queue',
        `SELECT name, state, data->>'host' AS host, count(*)::int AS n FROM ${s}_boss.job GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
      ],
    ] as const) {
      try {
        parts.push(`${label} ${JSON.stringify((await pool.query(text)).rows)}`);
      } catch (error) {
        parts.push(`${label}: ${String(error)}`);
      }
    }
    return parts.join('; ');
  };

  const workerIds = new Map<RcptProcess, string>();
  const startWorkerProcess = (n: number): RcptProcess => {
    const worker = startRcpt(workerAt(n), env);
    void worker
      .waitFor((line) => line.type === 'started', 60_000)
      .then((line) => workerIds.set(worker, String(line.worker)))
      .catch(() => undefined);
    return worker;
  };
  const workers: RcptProcess[] = Array.from({ length: settings.workers ?? 2 }, (_, n) =>
    startWorkerProcess(n),
  );
  let bulk = startRcpt(bulkArgs(false), env);
  let bulkStarted = Date.now();
  const kills: KillRecord[] = [];
  let lastKillAt = performance.now();

  /** Waits until `n` more results are stored than now, or the process ended, or 30 s passed. */
  const untilStored = async (more: number, watch: RcptProcess): Promise<void> => {
    const wanted = (await stored()) + more;
    const deadline = Date.now() + 30_000;
    while (alive(watch) && Date.now() < deadline && (await stored()) < wanted) await sleep(20);
  };
  /** The worker to kill: one that holds leases if any does (a kill mid-batch), else any. */
  const pickWorker = async (): Promise<number> => {
    const holding: number[] = [];
    for (const [n, worker] of workers.entries()) {
      const id = workerIds.get(worker);
      if (id !== undefined && (await leasesOf(id)) > 0) holding.push(n);
    }
    const from = holding.length > 0 ? holding : workers.map((_, n) => n);
    return from[Math.floor(random() * from.length)] as number;
  };

  try {
    for (let k = 0; k < settings.kills; k++) {
      const draw = random();
      const kind: KillKind = draw < 0.5 ? 'worker' : draw < 0.9 ? 'bulk' : 'both';
      const byTime = random() < 0.5;
      const more = 1 + Math.floor(random() * 40);
      let finishedBefore = false;
      let leases: number | null = null;
      if (kind === 'bulk' && byTime) {
        // 100 ms – 3 s after its spawn: start-up, ingest and submission fall in this window.
        const at = bulkStarted + 100 + Math.floor(random() * 2_900);
        while (alive(bulk) && Date.now() < at) await sleep(10);
      } else {
        await untilStored(more, bulk);
      }
      const victim = kind === 'bulk' ? null : await pickWorker();
      const victimProcess = victim === null ? null : (workers[victim] as RcptProcess);
      if (victimProcess !== null) {
        const id = workerIds.get(victimProcess);
        leases = id === undefined ? 0 : await leasesOf(id);
      }
      const at = { stored: await stored(), phase: await phase() };
      // The kills themselves: SIGKILL, then wait for the process to be gone.
      if (victimProcess !== null) {
        if (!alive(victimProcess)) {
          // A worker never ends on its own.
          finishedBefore = true;
          problems.push(
            `before kill ${k + 1}: a worker exited by itself (${String(victimProcess.child.exitCode)}): ${victimProcess.stderr().slice(-1_500)}`,
          );
        }
        await ensureStopped(victimProcess);
      }
      if (kind !== 'worker') {
        if (!alive(bulk)) {
          // rcpt bulk ends on its own once the job is done and the output written, with status 0.
          finishedBefore = true;
          if (bulk.child.exitCode !== 0) {
            problems.push(
              `before kill ${k + 1}: rcpt bulk exited with ${String(bulk.child.exitCode)}: ${bulk.stderr().slice(-1_500)}`,
            );
          }
        }
        await ensureStopped(bulk);
      }
      lastKillAt = performance.now();
      kills.push({ kind, stored: at.stored, phase: at.phase, leases, finishedBefore });
      if (existsSync(output) && at.phase !== 'done') {
        problems.push(`after kill ${k + 1}: an output file exists before the job finished`);
      }
      // … and each killed process started again at once.
      if (victim !== null) {
        workers[victim] = startWorkerProcess(victim);
      }
      if (kind !== 'worker') {
        bulk = startRcpt(bulkArgs(true), env);
        bulkStarted = Date.now();
      }
    }

    // The last `--resume` (or the follower running since the last bulk kill) finishes the job.
    const finishTimeoutMs = settings.finishTimeoutMs ?? 120_000;
    const code = await within(bulk.exited, finishTimeoutMs);
    const lastResumeMs = performance.now() - lastKillAt;
    if (code !== 0) {
      problems.push(
        `the last rcpt bulk --resume ended with ${String(code)} (job ${await phase()}, ${await stored()} results): ${bulk.stderr().slice(-2_000)}`,
        `  left then: ${await snapshot()}`,
      );
    }

    // The workers are stopped as an operator would (SIGTERM) and must leave nothing behind.
    // (A worker started by the last kill is let finish its start-up first, so that what is checked is a
    // stop after a start; a SIGTERM during start-up is cli.test.ts's.)
    for (const worker of workers) {
      await worker.waitFor((line) => line.type === 'started', 60_000).catch(() => undefined);
      worker.child.kill('SIGTERM');
    }
    for (const [n, worker] of workers.entries()) {
      const exit = await within(worker.exited, 20_000);
      if (exit !== 0) {
        problems.push(
          `worker ${n + 1} did not stop with exit 0 on SIGTERM: ${String(exit)}; stderr ${worker.stderr().slice(-1_500)}; last lines ${JSON.stringify(worker.lines.slice(-5))}`,
        );
      }
    }
    const left = {
      work: await count(`SELECT count(*)::int AS n FROM ${s}.work`),
      leases: await count(`SELECT count(*)::int AS n FROM ${s}.host_leases`),
    };
    if (left.work > 0) problems.push(`${left.work} work rows left`);
    if (left.leases > 0) problems.push(`${left.leases} host leases left after the workers stopped`);
    const { rows: jobs } = await pool.query<{ n: number; distinct: number; done: number; total: number }>(
      `SELECT (SELECT count(*)::int FROM ${s}.results) AS n,
              (SELECT count(DISTINCT key)::int FROM ${s}.results) AS distinct,
              done_addresses AS done, total_addresses AS total FROM ${s}.jobs`,
    );
    if (jobs.length !== 1) problems.push(`${jobs.length} jobs in the store for one input`);
    const job = jobs[0];
    if (job !== undefined) {
      if (job.n !== job.total || job.distinct !== job.total || job.done !== job.total) {
        problems.push(
          `store: ${job.n} results (${job.distinct} distinct), done ${job.done}, for ${job.total} addresses`,
        );
      }
    }

    // The output: every row once, in input order, with the world's verdict.
    const rows: Record<string, string>[] = existsSync(output)
      ? parse(await readFile(output, 'utf8'), { columns: true })
      : [];
    if (rows.length !== rowsIn.length)
      problems.push(`${rows.length} output rows for ${rowsIn.length} input rows`);
    const verdicts = new Map(world.addresses.map((a) => [a.address, a.verdict]));
    for (const [index, expected] of rowsIn.entries()) {
      const row = rows[index];
      if (row === undefined) break;
      if (row.id !== String(index + 1) || row.email !== expected) {
        problems.push(`row ${index + 1}: ${row.id} ${row.email}, expected ${index + 1} ${expected}`);
      } else if (row.verdict !== verdicts.get(expected)) {
        problems.push(
          `row ${index + 1} (${expected}): ${row.verdict}/${row.reason}, expected ${verdicts.get(expected)}`,
        );
      }
      if (problems.length > 40) break;
    }
    if (new Set(rows.map((row) => row.id)).size !== rows.length) problems.push('a row appears twice');
    // A follower killed while writing the output leaves its temporary file (never the output itself).
    const strayFiles = (await readdir(dir)).filter((name) => name.startsWith('out.csv.tmp-'));

    const greylisted = new Set(world.domainsByHost.get(world.greylistHost));
    const reverified = world.addresses.filter(
      (a) =>
        !greylisted.has(a.address.split('@')[1] ?? '') &&
        (world.rcptsByAddress.get(a.address.toLowerCase()) ?? 0) > 1,
    ).length;
    return {
      kills,
      rows: rowsIn.length,
      distinct: addresses.length,
      reverified,
      lastResumeMs,
      peakPerHost: Math.max(...world.hosts.map((host) => host.peak)),
      strayFiles,
      problems,
      ms: performance.now() - started,
    };
  } finally {
    await Promise.all([bulk, ...workers].map((p) => ensureStopped(p)));
    await pool.end();
  }
}
