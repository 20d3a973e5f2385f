/**
 * Disk full and unwritable outputs of `rcpt bulk` (issue 9), the cases that need no root: `/dev/full`
 * (every write fails with ENOSPC) as the output file and as standard output, a directory that does
 * not exist, a directory, a path under a regular file, an unwritable job database. Each run exits 1
 * with one `rcpt:` line naming the path and the way on, never a stack trace, leaves no `OUT.tmp-PID`,
 * and the job store stays intact: the next run writes every row exactly once without verifying again.
 * A doomed output is refused before anything is verified. The cases that need mounts (a full or
 * read-only tmpfs, SQLITE_FULL) are `npm run bench:disk`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { outputProblems, startCrashWorld, writeCrashInput, type CrashWorld } from './helpers/crash-run.js';
import { failureLine, runBulk } from './helpers/disk-run.js';
import { runCli } from '../helpers/run-cli.js';

/** Distinct addresses per run (and a tenth repeated): enough for several result batches. */
const DISTINCT = 40;

let world: CrashWorld;
let dir: string;
let input: string;
let rowsIn: readonly string[];
before(async () => {
  world = await startCrashWorld();
  dir = await mkdtemp(join(tmpdir(), 'rcpt-disk-'));
  ({ input, rowsIn } = await writeCrashInput(dir, DISTINCT));
});
after(async () => {
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

/** `rcpt bulk ARGS…` in this process (the cases that need no working directory or standard output of their own). */
function bulk(args: readonly string[]) {
  return runCli(['bulk', ...args]);
}

function oneLine(stderr: string): string {
  const { line, problem } = failureLine(stderr);
  assert.equal(problem, null);
  return line ?? '';
}

/** Files in `place` whose names start with `prefix` (temporary outputs, databases). */
async function leftBeside(place: string, prefix: string): Promise<string[]> {
  return (await readdir(place)).filter((name) => name.startsWith(prefix));
}

describe('disk full and unwritable output (no root needed)', () => {
  it('-o /dev/full: exit 1 after verifying, one line with ENOSPC and --resume; the next run writes every row once, verifying nothing', async () => {
    const db = join(dir, 'full.db');
    const before = world.rcpts();
    const bad = await bulk([input, '-o', '/dev/full', '--db', db, ...world.flags]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      oneLine(bad.stderr),
      /^rcpt: cannot write \/dev\/full: no space left on the device \(ENOSPC\); the results are kept \(job [0-9a-f]{32} in \S+full\.db\): run again with --resume once there is free space, or into another file with --resume --db \S+full\.db -o FILE; nothing is verified again$/,
    );
    assert.equal(world.rcpts() - before, DISTINCT, 'every distinct address verified once');
    // A device is written in place: no temporary file and no job database among the devices.
    assert.deepEqual(await leftBeside('/dev', 'full.'), []);
    assert.ok(statSync('/dev/full').isCharacterDevice());

    const good = join(dir, 'full.out.csv');
    const again = await bulk([input, '-o', good, '--db', db, '--resume', ...world.flags]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 verifications this run/);
    assert.equal(world.rcpts() - before, DISTINCT, 'nothing verified twice');
    assert.deepEqual(await outputProblems(good, rowsIn), []);
  });

  it('standard output on a full disk: exit 1, one line; --resume from the same directory writes every row once', async () => {
    const cwd = await mkdtemp(join(dir, 'stdout-'));
    const before = world.rcpts();
    const full = openSync('/dev/full', 'w');
    let bad;
    try {
      bad = await runBulk([input, ...world.flags], { cwd, stdout: full });
    } finally {
      closeSync(full);
    }
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      oneLine(bad.stderr),
      /^rcpt: cannot write standard output: no space left on the device \(ENOSPC\); the results are kept \(job [0-9a-f]{32} in \S+\/\.rcpt\/jobs\.db\): run again with --resume/,
    );
    assert.equal(world.rcpts() - before, DISTINCT);

    const output = join(cwd, 'resumed.csv');
    const file = openSync(output, 'w');
    let again;
    try {
      again = await runBulk([input, '--resume', ...world.flags], { cwd, stdout: file });
    } finally {
      closeSync(file);
    }
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /resuming job .*0 verifications this run/s);
    assert.equal(world.rcpts() - before, DISTINCT, 'nothing verified twice');
    assert.deepEqual(await outputProblems(output, rowsIn), []);
  });

  it('an output directory that does not exist: exit 1 before verifying, naming it; nothing is created', async () => {
    const before = world.rcpts();
    const output = join(dir, 'missing', 'sub', 'out.csv');
    const bad = await bulk([input, '-o', output, ...world.flags]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(
      oneLine(bad.stderr),
      /^rcpt: cannot write \S+\/missing\/sub\/out\.csv: the directory \S+\/missing\/sub does not exist; nothing was verified: choose a writable -o$/,
    );
    assert.equal(world.rcpts(), before);
    // Not even for its default job database (OUTPUT.rcpt.db) beside it.
    assert.equal(existsSync(join(dir, 'missing')), false);
  });

  it('an output that is a directory, or under a regular file: exit 1 before verifying, no temporary file left', async () => {
    const before = world.rcpts();
    const isDirectory = await bulk([input, '-o', dir, '--db', join(dir, 'd.db'), ...world.flags]);
    assert.equal(isDirectory.code, 1, isDirectory.stderr);
    assert.match(
      oneLine(isDirectory.stderr),
      /^rcpt: cannot write \S+: it is a directory; nothing was verified/,
    );
    const blocker = join(dir, 'a-file');
    await writeFile(blocker, 'not a directory');
    // A path under a regular file cannot be created (ENOTDIR), whoever runs the test (root included).
    const under = await bulk([input, '-o', join(blocker, 'out.csv'), ...world.flags]);
    assert.equal(under.code, 1, under.stderr);
    assert.match(
      oneLine(under.stderr),
      /^rcpt: cannot write \S+a-file\/out\.csv: a part of the path is not a directory \(ENOTDIR\); nothing was verified/,
    );
    assert.equal(world.rcpts(), before);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes('.tmp-')),
      [],
    );
  });

  it('an unwritable job database: exit 1 naming it, nothing verified, no output', async () => {
    const blocker = join(dir, 'b-file');
    await writeFile(blocker, 'not a directory');
    const before = world.rcpts();
    const output = join(dir, 'nodb.out.csv');
    const run = await bulk([input, '-o', output, '--db', join(blocker, 'jobs.db'), ...world.flags]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      oneLine(run.stderr),
      /^rcpt: cannot open the job database \S+b-file\/jobs\.db: \S+b-file is not a directory; nothing was verified: give --db a writable place$/,
    );
    assert.equal(world.rcpts(), before);
    assert.equal(existsSync(output), false);
    assert.deepEqual(await leftBeside(dir, 'nodb.out.csv'), []);
  });

  it('-o /dev/null: written in place; its job database goes to .rcpt/ of the working directory, not among the devices', async () => {
    const cwd = await mkdtemp(join(dir, 'null-'));
    const run = await runBulk([input, '-o', '/dev/null', ...world.flags], { cwd });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /output: \/dev\/null \(csv\); job [0-9a-f]{32} in \S+\/\.rcpt\/jobs\.db/);
    assert.ok(statSync('/dev/null').isCharacterDevice(), '/dev/null is still a device');
    assert.deepEqual(await leftBeside('/dev', 'null.'), []);
    assert.ok(existsSync(join(cwd, '.rcpt', 'jobs.db')));
  });
});
