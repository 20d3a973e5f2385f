/**
 * Crash safety of `rcpt bulk` on SQLite, short form (issue 9): 5 kill -9 at random points of a real
 * child process, each followed by `--resume`, then a last `--resume`: every row exactly once, in order,
 * with its verdict. The 20-kill run is `npm run bench:crash`; an unwritable output or job database and
 * a full disk are test/reliability/disk.test.ts and `npm run bench:disk`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCrashCycle, startCrashWorld, type CrashWorld } from './helpers/crash-run.js';

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Date.now() / 86_400_000));

let world: CrashWorld;
let dir: string;
before(async () => {
  world = await startCrashWorld();
  dir = await mkdtemp(join(tmpdir(), 'rcpt-crash-'));
});
after(async () => {
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

describe('crash safety (SQLite)', () => {
  it(`5 × kill -9 at random points, each followed by --resume (seed ${SEED}): every row once`, async () => {
    const report = await runCrashCycle(world, await mkdtemp(join(dir, 'kills-')), {
      kills: 5,
      distinct: 300,
      seed: SEED,
    });
    process.stdout.write(
      `kills ${report.kills}, stored after each ${report.storedAfterKill.join(' ')}, re-verified ${report.reverified}, ${(report.ms / 1000).toFixed(1)} s\n`,
    );
    assert.deepEqual(report.problems, []);
  });
});
