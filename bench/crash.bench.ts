/**
 * `npm run bench:crash`: crash safety of `rcpt bulk` on SQLite (issue 9). `CRASH_KILLS` kill -9 of a
 * real child process at seeded random points (default 20), each followed by `--resume`, then a last
 * `--resume`; `CRASH_DISTINCT` distinct addresses (default 1,000, plus a tenth repeated) at two slow
 * MTAs. Prints what was stored after each kill and whether every row came out exactly once with its
 * verdict; exits 1 otherwise. `CRASH_SEED` replays a sequence.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCrashCycle, startCrashWorld } from '../test/reliability/helpers/crash-run.js';

const kills = Number(process.env.CRASH_KILLS ?? 20);
const distinct = Number(process.env.CRASH_DISTINCT ?? 1_000);
const seed = Number(process.env.CRASH_SEED ?? 20);

const world = await startCrashWorld();
const dir = await mkdtemp(join(tmpdir(), 'rcpt-crash-bench-'));
try {
  const report = await runCrashCycle(world, dir, { kills, distinct, seed });
  console.log(
    `crash safety (SQLite): ${report.kills} kill -9 in a row (seed ${seed}), each then --resume, then a last --resume; ${report.rows.toLocaleString('en-US')} rows (${report.distinct.toLocaleString('en-US')} distinct), ${(report.ms / 1000).toFixed(1)} s`,
  );
  console.log(`  results stored after each kill: ${report.storedAfterKill.join(' ')}`);
  console.log(`  runs that finished before their kill point: ${report.finishedBeforeKill}`);
  console.log(`  addresses verified again because a kill caught them in flight: ${report.reverified}`);
  console.log(
    report.problems.length === 0
      ? `  every row exactly once, in input order, with its verdict: yes`
      : `  FAILED:\n    ${report.problems.slice(0, 20).join('\n    ')}`,
  );
  if (report.problems.length > 0) process.exitCode = 1;
} finally {
  await world.close();
  await rm(dir, { recursive: true, force: true });
}
