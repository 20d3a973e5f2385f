/**
 * `npm run bench:scale` (part of `npm run bench`): scale-out throughput with 1, 2 and 3 `rcpt worker`
 * processes on PostgreSQL, each sending from its own loopback source address (127.0.2.1, .2, .3),
 * against the benchmark world of `bench:bulk` (12 simulated MTAs, 25 ms per reply, in a worker
 * thread). For each run: seconds, addresses per second, the speed-up over one worker, connections per
 * address, the per-host peak of concurrent connections (must stay within the cap although several
 * workers share every host), and verdicts that differ from what the world was built to give.
 *
 * PostgreSQL: `RCPT_BENCH_PG=postgres://…`, or a throwaway cluster started from Debian's PostgreSQL
 * (test/scale/pg-cluster.sh) when it is installed; without either it says so and skips (exit 0).
 *
 * Usage: node --import tsx bench/scale.bench.ts [--count N] [--latency MS] [--workers 1,2,3]
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { LIST_LAYOUT } from '../src/jobs/index.js';
import { openScaleOut } from '../src/jobs/postgres/index.js';
import { listItems } from '../test/helpers/job-items.js';
import { worldFlags } from './bulk-world.js';
import { startWorldThread, type ThreadWorld } from './world-thread.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    latency: { type: 'string', default: '25' },
    workers: { type: 'string', default: '1,2,3' },
    cap: { type: 'string', default: '2' },
  },
});
const COUNT = Number(values.count);
const LATENCY = Number(values.latency);
const CAP = Number(values.cap);
const WORKER_COUNTS = values.workers.split(',').map(Number);
const repo = join(import.meta.dirname, '..');

/** A PostgreSQL URL and how to let it go, or why there is none. */
function findPostgres(): { url: string; stop: () => void } | { skip: string } {
  const given = process.env.RCPT_BENCH_PG;
  if (given !== undefined && given !== '') return { url: given, stop: () => undefined };
  const lib = '/usr/lib/postgresql';
  if (!existsSync(lib) || readdirSync(lib).length === 0) {
    return { skip: 'no PostgreSQL: set RCPT_BENCH_PG=postgres://… or apt-get install postgresql' };
  }
  const dir = mkdtempSync('/tmp/rcpt-bench-pg.');
  const script = join(repo, 'test/scale/pg-cluster.sh');
  try {
    const url = execFileSync('bash', [script, 'up', dir, '54332'], { encoding: 'utf8' }).trim();
    return {
      url,
      stop: () => {
        execFileSync('bash', [script, 'down', dir]);
      },
    };
  } catch (error) {
    return {
      skip: `could not start a PostgreSQL cluster (${error instanceof Error ? error.message : String(error)})`,
    };
  }
}

function startWorkerProcess(
  url: string,
  schema: string,
  world: ThreadWorld,
  n: number,
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repo, 'test/scale/rcpt-entry.ts'),
      'worker',
      '--db',
      url,
      '--source-ip',
      `127.0.2.${n}`,
      '--host-concurrency',
      String(CAP),
      ...worldFlags(world),
      '--greylist-wait',
      '0',
    ],
    {
      cwd: repo,
      env: { ...process.env, RCPT_PG_SCHEMA: schema, RCPT_DOCTOR: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  // RCPT_BENCH_VERBOSE=1 shows the workers' event log (hosts taken, leases, sweeps).
  if (process.env.RCPT_BENCH_VERBOSE === '1') child.stdout?.pipe(process.stderr);
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.includes('"type":"started"')) resolve(child);
    });
    child.once('exit', (code) => {
      reject(new Error(`worker ${n} exited (${code ?? 'signal'}) before it started`));
    });
  });
}

const fmt = (value: number, digits: number) => value.toFixed(digits);

async function main(): Promise<number> {
  const postgres = findPostgres();
  if ('skip' in postgres) {
    console.log(`scale: skipped: ${postgres.skip}`);
    return 0;
  }
  const world = await startWorldThread(COUNT, LATENCY);
  const smtpAddresses = world.addresses.filter((a) => a.hostIp !== null).length;
  console.log(
    `scale: ${world.addresses.length} addresses (${smtpAddresses} reach SMTP), ${LATENCY} ms per reply, ` +
      `cap ${CAP} connections per MX host cluster-wide, PostgreSQL ${postgres.url.replace(/:[^:@/]*@/, ':***@')}`,
  );
  const rows: {
    workers: number;
    ms: number;
    connections: number;
    peaks: Map<string, number>;
    wrong: number;
  }[] = [];
  try {
    for (const workers of WORKER_COUNTS) {
      const schema = `bench_${randomBytes(4).toString('hex')}`;
      const cluster = await openScaleOut(postgres.url, { schema, supervise: false });
      const children: ChildProcess[] = [];
      try {
        for (let n = 1; n <= workers; n++)
          children.push(await startWorkerProcess(postgres.url, schema, world, n));
        const job = await cluster.store.createJob({ options: { bench: true } });
        await cluster.store.setLayout(job.id, LIST_LAYOUT);
        await cluster.store.addItems(job.id, listItems(world.addresses.map((a) => a.address)));
        await cluster.store.finishIngest(job.id);
        await world.resetPeaks();
        const before = await world.stats();
        // Timed from submission to the last result: planning, queueing and writing included.
        const started = performance.now();
        await cluster.submit(job.id);
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          const state = await cluster.store.getJob(job.id);
          if (state?.status === 'done' || state?.status === 'failed') break;
        }
        const ms = performance.now() - started;
        const after = await world.stats();
        const expected = new Map(world.addresses.map((a) => [a.address, a.expected]));
        let wrong = 0;
        for await (const row of cluster.store.readOutput(job.id)) {
          const got = row.result === null ? 'missing' : `${row.result.verdict}/${row.result.reason}`;
          if (got !== expected.get(row.input)) wrong += 1;
        }
        rows.push({
          workers,
          ms,
          connections: after.reduce((sum, h, i) => sum + h.connections - (before[i]?.connections ?? 0), 0),
          peaks: new Map(after.map((h) => [h.name, h.peak])),
          wrong,
        });
      } finally {
        for (const child of children) child.kill('SIGTERM');
        await Promise.all(
          children.filter((child) => child.exitCode === null).map((child) => once(child, 'exit')),
        );
        await cluster.store.pool.query(`DROP SCHEMA ${schema} CASCADE`);
        await cluster.store.pool.query(`DROP SCHEMA ${schema}_boss CASCADE`);
        await cluster.close();
      }
    }
  } finally {
    await world.close();
    postgres.stop();
  }

  const one = rows[0];
  console.log('');
  console.log('workers   seconds   addr/s   vs 1 worker   conn/addr   peak/host   wrong verdicts');
  for (const row of rows) {
    const peak = Math.max(...row.peaks.values());
    console.log(
      `${String(row.workers).padStart(7)} ${fmt(row.ms / 1000, 1).padStart(9)} ${fmt(COUNT / (row.ms / 1000), 0).padStart(8)} ` +
        `${fmt(one === undefined ? 1 : one.ms / row.ms, 2).padStart(12)}x ${fmt(row.connections / smtpAddresses, 3).padStart(11)} ` +
        `${String(peak).padStart(11)} ${String(row.wrong).padStart(16)}`,
    );
  }
  console.log('');
  for (const row of rows) {
    console.log(
      `peaks with ${row.workers} worker(s): ${[...row.peaks].map(([name, peak]) => `${name} ${peak}`).join(', ')}`,
    );
  }
  const overCap = rows.some((row) => Math.max(...row.peaks.values()) > CAP);
  console.log(`per-host peak within the cap of ${CAP} in every run: ${overCap ? 'NO' : 'yes'}`);
  return overCap ? 1 : 0;
}

process.exitCode = await main();
