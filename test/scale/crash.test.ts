/**
 * Crash safety on PostgreSQL (issue 9): a bulk job submitted with `rcpt bulk --db postgres://…` and
 * verified by `rcpt worker` processes, through 20 kill -9 in a row at seeded random points (a worker
 * mid-batch, the `rcpt bulk` follower, or both), each killed process started again at once (`--resume`
 * for the follower); after the last resume every row is in the output exactly once, in input order,
 * with the world's verdict, and the store holds one result per address and no work or lease.
 * `CRASH_KILLS`, `CRASH_SEED` and `CRASH_SIZE` change the run (test/scale/crash-run.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { runPgCrashCycle } from './crash-run.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema } from './helpers.js';
import { startScaleWorld, type ScaleWorld } from './world.js';

const KILLS = Number(process.env.CRASH_KILLS ?? 20);
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Date.now() / 86_400_000));
const SIZE = Number(process.env.CRASH_SIZE ?? 2_500);

describe(
  'crash safety on PostgreSQL: rcpt bulk and rcpt worker killed with SIGKILL',
  { skip: SKIP_NO_PG },
  () => {
    const url = PG_URL ?? '';
    const schema = freshSchema('crash');
    let world: ScaleWorld;
    let dir: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rcpt-scale-crash-'));
      world = await startScaleWorld({ size: SIZE, latencyMs: 20, greylistMs: 800, seed: SEED });
    });

    after(async () => {
      await world?.close();
      await dropSchema(url, schema);
      await rm(dir, { recursive: true, force: true });
    });

    it(`${KILLS} × kill -9 at random points (seed ${SEED}), each followed by a restart: every row once`, async () => {
      const report = await runPgCrashCycle(world, { url, schema, dir, kills: KILLS, seed: SEED });
      const kinds = (kind: string) => report.kills.filter((k) => k.kind === kind).length;
      process.stdout.write(
        [
          `crash safety (PostgreSQL): ${report.kills.length} kill -9 (worker ${kinds('worker')}, bulk ${kinds('bulk')}, both ${kinds('both')}), seed ${SEED}; ${report.rows} rows (${report.distinct} distinct), ${(report.ms / 1000).toFixed(1)} s`,
          `  kills: ${report.kills.map((k) => `${k.kind}@${k.stored}/${k.phase}${k.leases === null ? '' : `/L${k.leases}`}${k.finishedBefore ? '/finished' : ''}`).join(' ')}`,
          `  kills that found the job already done: ${report.kills.filter((k) => k.finishedBefore || k.phase === 'done').length}; re-verified ${report.reverified}; from the last kill to the output ${(report.lastResumeMs / 1000).toFixed(1)} s; peak per host ${report.peakPerHost}`,
          `  temporary output files left by a kill while writing: ${report.strayFiles.length}`,
          `  problems: ${report.problems.length === 0 ? 'none' : report.problems.slice(0, 20).join('\n    ')}`,
          '',
        ].join('\n'),
      );
      assert.deepEqual(report.problems, []);
    });
  },
);
