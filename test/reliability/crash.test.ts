/**
 * Crash safety of `rcpt bulk` on SQLite, short form (issue 9): 5 kill -9 at random points of a real
 * child process, each followed by `--resume`, then a last `--resume`: every row exactly once, in order,
 * with its verdict. An unwritable output path or job database: exit 1 with a message naming the path,
 * and the job store intact (the next run with a good path writes the output without verifying again).
 * The 20-kill run is `npm run bench:crash`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runCrashCycle, startCrashWorld, type CrashWorld } from './helpers/crash-run.js';

const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Date.now() / 86_400_000));
const REPO = fileURLToPath(new URL('../../', import.meta.url));

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

/** Runs `rcpt bulk` as a child process to completion (asynchronously: the servers live in this process). */
async function bulk(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO, 'test/fixtures/bulk/rcpt-entry.ts'), 'bulk', ...args],
    { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stderr };
}

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

  it('an unwritable output path: exit 1 naming it; the store is intact and the next run writes without verifying', async () => {
    const input = join(dir, 'small.txt');
    await writeFile(input, 'ok1@one.crash.test\nnobody3@two.crash.test\n');
    const db = join(dir, 'small.db');
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    const rcpts = world.rcpts();
    // A path under a regular file cannot be created (ENOTDIR), whoever runs the test (root included).
    const bad = await bulk([input, '-o', join(blocker, 'out.csv'), '--db', db, ...world.flags]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /cannot write .*a-file\/out\.csv/);
    assert.equal(world.rcpts() - rcpts, 2, 'both addresses were verified once');
    const good = join(dir, 'small.out.csv');
    const again = await bulk([input, '-o', good, '--db', db, '--resume', ...world.flags]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 verifications this run/);
    assert.equal(world.rcpts() - rcpts, 2, 'nothing verified twice');
    assert.match(await readFile(good, 'utf8'), /ok1@one\.crash\.test.*accepted/);
  });

  it('an unwritable job database: exit 1 naming it, nothing verified, no output', async () => {
    const input = join(dir, 'small2.txt');
    await writeFile(input, 'ok1@one.crash.test\n');
    const blocker = join(dir, 'b-file');
    await writeFile(blocker, 'not a directory');
    const rcpts = world.rcpts();
    const output = join(dir, 'small2.out.csv');
    const run = await bulk([input, '-o', output, '--db', join(blocker, 'jobs.db'), ...world.flags]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /cannot open the job database .*b-file\/jobs\.db/);
    assert.equal(world.rcpts(), rcpts);
    assert.equal(existsSync(output), false);
  });
});
