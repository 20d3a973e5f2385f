/**
 * `npm run bench:disk`: `rcpt bulk` on a full disk and a read-only file system (issue 9), the cases
 * that need mounts, so root. It runs itself again inside a private mount namespace (`unshare --mount`):
 * every tmpfs it mounts vanishes with the namespace even if it crashes, and none is seen outside it;
 * `finally` unmounts them too. Each case runs a real `rcpt bulk` child against the slow MTAs of
 * test/reliability/helpers/crash-run.ts and checks: exit 1 with one `rcpt:` line naming what failed
 * and how to go on, no stack trace, no `OUT.tmp-PID` left; then, space freed or the mount made
 * writable, a run gives every row exactly once, without verifying again what has a stored result.
 * Also `rcpt serve`'s job API on a full job database: a JSON 507, and the server lives on; and the disk
 * an accepted upload takes at its peak while it is stored (`DISK_UPLOAD_ADDRESSES`, default 1,000,000),
 * beside the job store's final size. `DISK_CASE=TEXT` runs only the cases whose name holds TEXT.
 * `DISK_DISTINCT` distinct addresses per case (default 400, plus a tenth repeated).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import {
  outputProblems,
  startCrashWorld,
  writeCrashInput,
  type CrashWorld,
} from '../test/reliability/helpers/crash-run.js';
import { storedResults } from '../test/helpers/stored-results.js';
import { failureLine, runBulk, startBulk, type BulkRun } from '../test/reliability/helpers/disk-run.js';
import { fillUp } from '../test/reliability/helpers/tmpfs.js';
import type { VerifyOptions } from '../src/index.js';
import type { ServerOptions } from '../src/server/server.js';

const NAMESPACE_FLAG = 'RCPT_DISK_BENCH_NAMESPACE';

if (process.env[NAMESPACE_FLAG] !== '1') {
  if (process.getuid?.() !== 0) {
    console.error('bench:disk needs root: it mounts small tmpfs file systems (in a private mount namespace)');
    process.exit(1);
  }
  const again = spawnSync(
    'unshare',
    [
      '--mount',
      '--propagation',
      'private',
      process.execPath,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
    ],
    { stdio: 'inherit', env: { ...process.env, [NAMESPACE_FLAG]: '1' } },
  );
  if (again.error !== undefined) console.error(`bench:disk: unshare: ${again.error.message}`);
  process.exit(again.status ?? 1);
}

const distinct = Number(process.env.DISK_DISTINCT ?? 400);
/** Addresses in the accepted upload whose disk use is measured. */
const uploadAddresses = Number(process.env.DISK_UPLOAD_ADDRESSES ?? 1_000_000);
/** Runs only the cases whose name holds this text (all when unset). */
const only = process.env.DISK_CASE;
const mounted: string[] = [];

function mountTmpfs(dir: string, options: string): void {
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  mounted.push(dir);
}

function remount(dir: string, options: string): void {
  execFileSync('mount', ['-o', `remount,${options}`, dir]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

/** Bytes in use on the file system of `dir`. */
function usedBytes(dir: string): number {
  const fs = statfsSync(dir);
  return (fs.blocks - fs.bfree) * fs.bsize;
}

/**
 * The most bytes in use on the file system of `dir` until `stop()`, read every millisecond by a
 * thread of its own (the server's own thread is busy storing while the disk use peaks).
 */
function watchPeak(dir: string): { stop: () => Promise<number> } {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { statfsSync } = require('node:fs');
    const { parentPort, workerData } = require('node:worker_threads');
    let peak = 0;
    while (Atomics.load(workerData.flag, 0) === 0) {
      const fs = statfsSync(workerData.dir);
      peak = Math.max(peak, (fs.blocks - fs.bfree) * fs.bsize);
      Atomics.wait(workerData.flag, 0, 0, 1);
    }
    parentPort.postMessage(peak);`,
    { eval: true, workerData: { dir, flag } },
  );
  return {
    stop: async () => {
      const peak = new Promise<number>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      return Math.max(await peak, usedBytes(dir));
    },
  };
}

interface Case {
  readonly name: string;
  readonly summary: string[];
  readonly problems: string[];
}

const cases: Case[] = [];
let world: CrashWorld | null = null;
const base = await mkdtemp(join(tmpdir(), 'rcpt-disk-bench-'));
const started = performance.now();

try {
  const crashWorld = await startCrashWorld();
  world = crashWorld;
  const flags = crashWorld.flags;
  const { input, rowsIn } = await writeCrashInput(base, distinct);

  /** Checks a failed run: exit 1, one line matching `pattern`, `verified` RCPTs; returns the line. */
  const expectFailure = (
    c: Case,
    run: BulkRun,
    pattern: RegExp,
    verified: number,
    expectedVerified: number,
  ): void => {
    const { line, problem } = failureLine(run.stderr);
    if (run.code !== 1) c.problems.push(`exit ${run.code ?? run.signal}, expected 1: ${run.stderr}`);
    if (problem !== null) c.problems.push(problem);
    else if (line !== null && !pattern.test(line)) c.problems.push(`unexpected message: ${line}`);
    if (verified !== expectedVerified) {
      c.problems.push(`${verified} addresses verified, expected ${expectedVerified}`);
    }
    c.summary.push(`exit ${run.code ?? run.signal}, ${verified} verified: ${line ?? run.stderr.trim()}`);
  };
  /** Checks a run that must finish: exit 0, `verified` RCPTs, every row once in `output`. */
  const expectDone = async (
    c: Case,
    run: BulkRun,
    output: string,
    verified: number,
    expectedVerified: number | null,
    what: string,
  ): Promise<void> => {
    if (run.code !== 0) c.problems.push(`${what}: exit ${run.code ?? run.signal}: ${run.stderr}`);
    if (expectedVerified !== null && verified !== expectedVerified) {
      c.problems.push(`${what}: ${verified} addresses verified, expected ${expectedVerified}`);
    }
    const problems = await outputProblems(output, rowsIn);
    c.problems.push(...problems.slice(0, 5).map((p) => `${what}: ${p}`));
    c.summary.push(
      `${what}: exit ${run.code ?? run.signal}, ${verified} verified, ${problems.length === 0 ? `${rowsIn.length} rows each exactly once` : 'ROWS WRONG'}`,
    );
  };
  const noTemporary = async (c: Case, dir: string) => {
    const left = (await readdir(dir)).filter((name) => name.includes('.tmp-'));
    if (left.length > 0) c.problems.push(`left behind in ${dir}: ${left.join(', ')}`);
  };
  const run = async (name: string, body: (c: Case, dir: string) => Promise<void>) => {
    if (only !== undefined && !name.includes(only)) return;
    const c: Case = { name, summary: [], problems: [] };
    cases.push(c);
    const dir = join(base, `case${cases.length}`);
    await mkdir(dir);
    try {
      await body(c, dir);
    } catch (error) {
      c.problems.push(`threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  };
  const rcpts = () => crashWorld.rcpts();
  const DISK_KEY = 'disk-bench-key-0123456789abcdef';
  /**
   * `rcpt serve`'s server with its job store in `dbDir` (API key `DISK_KEY`, no rate limit), verifying
   * against the crash world; `extra` adds to its options (`verify` to the verify options).
   */
  const startDiskServer = async (
    dbDir: string,
    extra: Omit<ServerOptions, 'verify'> & { readonly verify?: VerifyOptions },
  ) => {
    const { startServer } = await import('../src/server/server.js');
    return startServer({
      port: 0,
      host: '127.0.0.1',
      db: join(dbDir, 'jobs.db'),
      apiKeys: [DISK_KEY],
      rateLimit: null,
      processMetrics: false,
      ...extra,
      verify: {
        dnsServers: [crashWorld.dns.address],
        smtpPort: crashWorld.servers[0]?.port ?? 0,
        allowPrivateTargets: true,
        helo: 'probe.crash.test',
        ...extra.verify,
      },
    });
  };

  await run(
    'output directory on a read-only file system (default job database beside it)',
    async (c, dir) => {
      const ro = join(dir, 'ro');
      await mkdir(ro);
      mountTmpfs(ro, 'size=1m,ro');
      const before = rcpts();
      const bad = await runBulk([input, '-o', join(ro, 'out.csv'), ...flags]);
      expectFailure(
        c,
        bad,
        /^rcpt: cannot write \S+\/ro\/out\.csv: read-only file system \(EROFS\); nothing was verified: choose a writable -o \(the job database goes beside it unless --db says otherwise\)$/,
        rcpts() - before,
        0,
      );
    },
  );

  await run('job database in a read-only directory (--db), output elsewhere', async (c, dir) => {
    const ro = join(dir, 'ro');
    await mkdir(ro);
    mountTmpfs(ro, 'size=1m,ro');
    const before = rcpts();
    const output = join(dir, 'out.csv');
    const bad = await runBulk([input, '-o', output, '--db', join(ro, 'jobs.db'), ...flags]);
    expectFailure(
      c,
      bad,
      /^rcpt: cannot open the job database \S+\/ro\/jobs\.db: read-only file system \(EROFS\); nothing was verified: give --db a writable place$/,
      rcpts() - before,
      0,
    );
    if (existsSync(output)) c.problems.push('an output file was written');
    await noTemporary(c, dir);
  });

  await run('output disk full before the run (default job database beside it)', async (c, dir) => {
    const full = join(dir, 'full');
    await mkdir(full);
    mountTmpfs(full, 'size=8m');
    const filler = join(full, 'filler');
    const took = fillUp(filler);
    const before = rcpts();
    const output = join(full, 'out.csv');
    const bad = await runBulk([input, '-o', output, ...flags]);
    expectFailure(
      c,
      bad,
      /^rcpt: cannot write \S+\/full\/out\.csv: no space left on the device \(ENOSPC\); nothing was verified: free some space or choose another -o/,
      rcpts() - before,
      0,
    );
    await noTemporary(c, full);
    await rm(filler);
    c.summary.push(`(${(took / 1_048_576).toFixed(1)} MiB filler removed)`);
    const again = await runBulk([input, '-o', output, ...flags]);
    await expectDone(c, again, output, rcpts() - before, distinct, 'space freed, run again');
  });

  await run(
    'output disk fills while the output is written (64 KiB tmpfs, job database elsewhere)',
    async (c, dir) => {
      const small = join(dir, 'small');
      await mkdir(small);
      mountTmpfs(small, 'size=64k');
      const db = join(dir, 'jobs.db');
      const output = join(small, 'out.csv');
      const before = rcpts();
      const bad = await runBulk([input, '-o', output, '--db', db, ...flags]);
      expectFailure(
        c,
        bad,
        /^rcpt: cannot write \S+\/small\/out\.csv: no space left on the device \(ENOSPC\); the results are kept \(job [0-9a-f]{32} in \S+jobs\.db\): run again with --resume once there is free space, or into another file with --resume --db \S+jobs\.db -o FILE; nothing is verified again$/,
        rcpts() - before,
        distinct,
      );
      if (existsSync(output)) c.problems.push('a partial output file was left');
      await noTemporary(c, small);
      const elsewhere = join(dir, 'elsewhere.csv');
      const moved = await runBulk([input, '--resume', '--db', db, '-o', elsewhere, ...flags]);
      await expectDone(c, moved, elsewhere, rcpts() - before - distinct, 0, '--resume --db DB -o ANOTHER');
      remount(small, 'size=16m');
      const same = await runBulk([input, '--resume', '--db', db, '-o', output, ...flags]);
      await expectDone(c, same, output, rcpts() - before - distinct, 0, 'tmpfs grown, --resume');
    },
  );

  await run('output file system remounted read-only during verification', async (c, dir) => {
    const flip = join(dir, 'flip');
    await mkdir(flip);
    mountTmpfs(flip, 'size=16m');
    const db = join(dir, 'jobs.db');
    const output = join(flip, 'out.csv');
    const before = rcpts();
    const child = startBulk([input, '-o', output, '--db', db, ...flags]);
    let exited: BulkRun | null = null;
    void child.done.then((result) => (exited = result));
    const deadline = Date.now() + 60_000;
    while (exited === null && Date.now() < deadline && storedResults(db) < 20) await sleep(20);
    if (exited !== null) c.problems.push('the run ended before the remount');
    remount(flip, 'ro');
    c.summary.push(`remounted read-only with ${storedResults(db)} results stored`);
    const bad = await child.done;
    expectFailure(
      c,
      bad,
      /^rcpt: cannot write \S+\/flip\/out\.csv: read-only file system \(EROFS\); the results are kept \(job [0-9a-f]{32} in \S+\): run again with --resume once it is writable/,
      rcpts() - before,
      distinct,
    );
    remount(flip, 'rw');
    await noTemporary(c, flip);
    const again = await runBulk([input, '--resume', '--db', db, '-o', output, ...flags]);
    await expectDone(c, again, output, rcpts() - before - distinct, 0, 'writable again, --resume');
  });

  await run(
    'job database disk full while storing the input (SQLITE_FULL; 512 KiB tmpfs, 20,000 rows)',
    async (c, dir) => {
      const tiny = join(dir, 'tiny');
      await mkdir(tiny);
      mountTmpfs(tiny, 'size=512k');
      const db = join(tiny, 'jobs.db');
      // Many rows, few distinct addresses: storing the input is large, verifying it is not.
      const manyRows = Array.from({ length: 20_000 }, (_, i) => rowsIn[i % rowsIn.length] ?? '');
      const big = join(dir, 'many.csv');
      await writeFile(big, `id,email\n${manyRows.map((address, i) => `${i + 1},"${address}"`).join('\n')}\n`);
      const output = join(dir, 'many.out.csv');
      const before = rcpts();
      const bad = await runBulk([big, '-o', output, '--db', db, ...flags]);
      expectFailure(
        c,
        bad,
        /^rcpt: the job database \S+\/tiny\/jobs\.db failed while storing the input: the disk is full \(SQLITE_FULL\); the job is kept: run again with --resume once there is free space \(addresses with a stored result are not verified again\)$/,
        rcpts() - before,
        0,
      );
      remount(tiny, 'size=64m');
      const again = await runBulk([big, '--resume', '-o', output, '--db', db, ...flags]);
      if (again.code !== 0)
        c.problems.push(`tmpfs grown, --resume: exit ${again.code ?? again.signal}: ${again.stderr}`);
      const problems = await outputProblems(output, manyRows);
      c.problems.push(...problems.slice(0, 5));
      const verified = rcpts() - before;
      if (verified !== distinct) c.problems.push(`${verified} addresses verified, expected ${distinct}`);
      c.summary.push(
        `tmpfs grown, --resume: exit ${again.code ?? again.signal}, ${verified} verified, ${problems.length === 0 ? `${manyRows.length.toLocaleString('en-US')} rows each exactly once` : 'ROWS WRONG'}`,
      );
    },
  );

  await run('job database disk fills while storing results (SQLITE_FULL)', async (c, dir) => {
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    mountTmpfs(dbDir, 'size=16m');
    const db = join(dbDir, 'jobs.db');
    const output = join(dir, 'out.csv');
    const before = rcpts();
    const child = startBulk([input, '-o', output, '--db', db, ...flags]);
    let exited: BulkRun | null = null;
    void child.done.then((result) => (exited = result));
    const deadline = Date.now() + 60_000;
    while (exited === null && Date.now() < deadline && storedResults(db) < 30) await sleep(20);
    if (exited !== null) c.problems.push('the run ended before the disk was filled');
    const filler = join(dbDir, 'filler');
    fillUp(filler);
    const storedAtFill = storedResults(db);
    const bad = await child.done;
    const storedAtExit = storedResults(db);
    const verifiedBad = rcpts() - before;
    expectFailure(
      c,
      bad,
      /^rcpt: the job database \S+\/db\/jobs\.db failed while storing results: the disk is full \(SQLITE_FULL\); the job is kept: run again with --resume once there is free space \(addresses with a stored result are not verified again\)$/,
      verifiedBad,
      verifiedBad,
    );
    c.summary.push(`filled with ${storedAtFill} results stored, ${storedAtExit} at exit`);
    if (existsSync(output)) c.problems.push('an output file was written');
    await rm(filler);
    const again = await runBulk([input, '--resume', '-o', output, '--db', db, ...flags]);
    const verifiedAgain = rcpts() - before - verifiedBad;
    await expectDone(c, again, output, verifiedAgain, distinct - storedAtExit, 'space freed, --resume');
    c.summary.push(
      `verified twice: ${verifiedBad + verifiedAgain - distinct} (in flight or in the batch the full disk refused)`,
    );
  });

  await run('rcpt serve: job API on a full job database', async (c, dir) => {
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    mountTmpfs(dbDir, 'size=8m');
    const { createLogger } = await import('../src/server/logger.js');
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logs.push(chunk.toString());
        callback();
      },
    });
    const key = DISK_KEY;
    const server = await startDiskServer(dbDir, {
      verify: { catchAll: false },
      logger: createLogger({ level: 'info', destination: sink }),
    });
    try {
      const headers = { authorization: `Bearer ${key}`, 'content-type': 'text/csv' };
      const body = `email\n${rowsIn.slice(0, 50).join('\n')}\n`;
      const filler = join(dbDir, 'filler');
      fillUp(filler);
      const refused = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body });
      const refusedBody = await refused.text();
      c.summary.push(`POST /v1/jobs on a full disk: ${refused.status} ${refusedBody}`);
      if (refused.status !== 507) c.problems.push(`POST on a full disk: ${refused.status}, expected 507`);
      if (!/^\{"error":/.test(refusedBody)) c.problems.push(`not a JSON error: ${refusedBody}`);
      const health = await fetch(`${server.url}/healthz`);
      c.summary.push(`GET /healthz after it: ${health.status}`);
      if (health.status !== 200) c.problems.push(`the server is not healthy after: ${health.status}`);
      await rm(filler);
      const accepted = await fetch(`${server.url}/v1/jobs`, { method: 'POST', headers, body });
      const { id } = (await accepted.json()) as { id?: string };
      let status = '';
      for (let i = 0; i < 600 && status !== 'done'; i++) {
        await sleep(100);
        const job = (await (await fetch(`${server.url}/v1/jobs/${id ?? ''}`, { headers })).json()) as {
          status?: string;
        };
        status = job.status ?? '';
      }
      c.summary.push(`space freed: POST ${accepted.status}, job ${status}`);
      if (accepted.status !== 202 || status !== 'done')
        c.problems.push(`after freeing space: ${accepted.status} ${status}`);
      const logged = logs
        .join('')
        .match(/"msg":"[^"]*"[^\n]*SQLITE_FULL|SQLITE_FULL[^\n]*"msg":"[^"]*"/)?.[0];
      if (logged !== undefined) c.summary.push('the log has the SQLITE_FULL error');
    } finally {
      await server.close();
    }
  });

  await run(
    `rcpt serve: the disk an accepted upload takes (${uploadAddresses.toLocaleString('en-US')} addresses as a text list)`,
    async (c, dir) => {
      const dbDir = join(dir, 'store');
      await mkdir(dbDir);
      mountTmpfs(dbDir, 'size=4g');
      const { createLogger } = await import('../src/server/logger.js');
      const key = DISK_KEY;
      const server = await startDiskServer(dbDir, {
        // Stored, never run: the disk measured is the upload's alone.
        runningJobs: 0,
        logger: createLogger({ level: 'silent' }),
      });
      try {
        const body = Array.from({ length: uploadAddresses }, (_, i) => `user.number.${i}@upload.test`).join(
          '\n',
        );
        const before = usedBytes(dbDir);
        const watch = watchPeak(dbDir);
        const startedAt = performance.now();
        const answer = await fetch(`${server.url}/v1/jobs`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
          body,
        });
        const seconds = (performance.now() - startedAt) / 1000;
        const peak = await watch.stop();
        const after = usedBytes(dbDir);
        if (answer.status !== 202) c.problems.push(`POST /v1/jobs: ${answer.status} ${await answer.text()}`);
        const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
        c.summary.push(
          `a ${mib(Buffer.byteLength(body))} upload, ${answer.status} after ${seconds.toFixed(1)} s: the disk in use grew ${mib(peak - before)} at its peak, ${mib(after - before)} once stored (the job store); the peak over the store: ${mib(peak - after)}`,
        );
      } finally {
        await server.close();
      }
    },
  );
} finally {
  for (const dir of mounted.reverse()) spawnSync('umount', ['-l', dir]);
  await world?.close();
  await rm(base, { recursive: true, force: true });
}

const failed = cases.filter((c) => c.problems.length > 0);
console.log(
  `disk full and read-only (rcpt bulk, SQLite job store): ${cases.length} cases, ${distinct.toLocaleString('en-US')} distinct addresses (${(distinct + Math.floor(distinct / 10)).toLocaleString('en-US')} rows) each, tmpfs in a private mount namespace; ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
for (const c of cases) {
  console.log(`  ${c.problems.length === 0 ? 'ok' : 'FAILED'}  ${c.name}`);
  for (const line of c.summary) console.log(`        ${line}`);
  for (const problem of c.problems) console.log(`      ! ${problem}`);
}
console.log(
  failed.length === 0
    ? '  every case: exit 1 with one line naming the path and the way on, no stack trace, no OUT.tmp-PID, then every row exactly once: yes'
    : `  ${failed.length} case(s) FAILED`,
);
if (failed.length > 0) process.exitCode = 1;
