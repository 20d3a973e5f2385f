/**
 * `npm run bench:memory`: peak memory of `rcpt bulk` as the list grows (issue 6: a 1,000,000-address
 * list streams through with peak RSS under 200 MB). The benchmark world of bulk-world.ts (no added
 * latency) runs in this process; `rcpt bulk` runs as a child process, the `rcpt` command as npm
 * installs it (bin/rcpt), on a CSV file (`id,email`), writing a CSV, and reports its own peak RSS
 * (`process.resourceUsage().maxRSS`) when it exits. Each size is compared with the smallest one, measured in the same run: memory bounded by the
 * work in flight stays flat as the list grows.
 *
 * Every output row is checked: each input row exactly once, in order, with the verdict the world was
 * built to give. Exit status 1 when a row is wrong or the peak at the largest size is over the target.
 *
 * Usage: node --import tsx bench/memory.bench.ts [--sizes 10000,1000000] [--target-mb 200]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { startBenchWorld, worldFlags, type BenchWorld } from './bulk-world.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,1000000' },
    'target-mb': { type: 'string', default: '200' },
  },
});
const SIZES = values.sizes
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const TARGET_MB = Number(values['target-mb']);
/** The `rcpt` command as installed (package.json "bin"): the sh wrapper that starts Node with its flags. */
const CLI = fileURLToPath(new URL('../bin/rcpt', import.meta.url));
const PEAK_REPORTER = fileURLToPath(new URL('../scripts/peak-rss.mjs', import.meta.url));

interface Run {
  readonly rows: number;
  readonly peakMb: number;
  readonly seconds: number;
  readonly problems: string[];
}

async function writeList(world: BenchWorld, rows: number, path: string): Promise<void> {
  const out = createWriteStream(path);
  out.write('id,email\n');
  for (let i = 0; i < rows; i += 1) {
    const line = `${i + 1},${world.addresses[i]?.address ?? ''}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Reads the output CSV line by line (no quoted fields are expected in this world's rows). */
async function checkOutput(world: BenchWorld, rows: number, path: string): Promise<string[]> {
  const problems: string[] = [];
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let header: string[] | null = null;
  let seen = 0;
  for await (const line of lines) {
    if (header === null) {
      header = line.split(',');
      continue;
    }
    const cells = line.split(',');
    const at = (name: string) => cells[header?.indexOf(name) ?? -1] ?? '';
    const expected = world.addresses[seen];
    seen += 1;
    const got = `${at('verdict')}/${at('reason')}`;
    if (at('id') !== String(seen) || at('email') !== expected?.address) {
      problems.push(`row ${seen}: ${line.slice(0, 80)} (expected ${expected?.address ?? 'nothing'})`);
    } else if (got !== expected.expected) {
      problems.push(`row ${seen}: ${expected.address}: ${got}, expected ${expected.expected}`);
    }
    if (problems.length > 20) break;
  }
  if (seen !== rows && problems.length <= 20) problems.push(`${seen} output rows for ${rows} input rows`);
  return problems;
}

async function runBulk(world: BenchWorld, rows: number, dir: string): Promise<Run> {
  const input = join(dir, `list-${rows}.csv`);
  const output = join(dir, `out-${rows}.csv`);
  const peakFile = join(dir, `peak-${rows}.txt`);
  await writeList(world, rows, input);
  const started = performance.now();
  const child = spawn(CLI, ['bulk', input, '-o', output, ...worldFlags(world)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: `--import=${PEAK_REPORTER}`, RCPT_PEAK_FILE: peakFile },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) return { rows, peakMb: NaN, seconds, problems: [`rcpt bulk exited ${code}: ${stderr}`] };
  const peakKb = Number(await readFile(peakFile, 'utf8'));
  const problems = await checkOutput(world, rows, output);
  await rm(join(dir, `out-${rows}.csv.rcpt.db`), { force: true });
  await Promise.all([rm(input), rm(output)]);
  return { rows, peakMb: peakKb / 1024, seconds, problems };
}

const largest = SIZES.at(-1) ?? 0;
const world = await startBenchWorld(largest, 0);
const dir = await mkdtemp(join(tmpdir(), 'rcpt-memory-bench-'));
const fmt = (n: number) => n.toLocaleString('en-US');
let failed = false;
try {
  console.log(
    `rcpt bulk peak RSS by list size (CSV in, CSV out; the world of bulk-world.ts in another process, no added latency; node ${process.version})`,
  );
  const runs: Run[] = [];
  for (const size of SIZES) {
    const run = await runBulk(world, size, dir);
    runs.push(run);
    const base = runs[0];
    const ratio =
      base === undefined || run === base
        ? ''
        : `, ${(run.peakMb / base.peakMb).toFixed(2)}× the ${fmt(base.rows)}-row run`;
    console.log(
      `  ${fmt(size).padStart(9)} rows: peak RSS ${run.peakMb.toFixed(0)} MB${ratio}; ${run.seconds.toFixed(1)} s, ${fmt(Math.round(size / run.seconds))} rows/s`,
    );
    if (run.problems.length > 0) {
      failed = true;
      console.log(`    FAILED:\n      ${run.problems.join('\n      ')}`);
    }
  }
  const last = runs.at(-1);
  if (last !== undefined && last.problems.length === 0) {
    const met = last.peakMb < TARGET_MB;
    console.log(
      `  every row exactly once, in order, with its expected verdict: yes; target peak < ${TARGET_MB} MB at ${fmt(last.rows)} rows: ${met ? 'met' : 'MISSED'}`,
    );
    if (!met) failed = true;
  }
} finally {
  await world.close();
  await rm(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
