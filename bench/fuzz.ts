/**
 * `npm run fuzz`: the seeded fuzz properties of test/reliability/fuzz-targets.ts at full size.
 * `FUZZ_RUNS` inputs per parser (default 100,000), `FUZZ_SEED` (default 9); `FUZZ_TARGETS` picks
 * targets by name (`address,reply,csv,http`). Prints one line per target and exits 1 on a broken
 * invariant, with fast-check's counterexample and the seed to replay it.
 */
import {
  fuzzCsvReader,
  fuzzHttp,
  fuzzParseAddress,
  fuzzReplyParser,
  type FuzzReport,
  type FuzzSettings,
} from '../test/reliability/fuzz-targets.js';

const runs = Number(process.env.FUZZ_RUNS ?? 100_000);
const seed = Number(process.env.FUZZ_SEED ?? 9);
const wanted = (process.env.FUZZ_TARGETS ?? 'address,reply,csv,http').split(',');

const targets: Record<string, (settings: FuzzSettings) => FuzzReport | Promise<FuzzReport>> = {
  address: fuzzParseAddress,
  reply: fuzzReplyParser,
  csv: fuzzCsvReader,
  http: fuzzHttp,
};

const rss = { peak: process.memoryUsage().rss };
const sampler = setInterval(() => {
  rss.peak = Math.max(rss.peak, process.memoryUsage().rss);
}, 100);
let failed = false;
for (const name of wanted) {
  const target = targets[name];
  if (target === undefined) {
    console.error(`fuzz: unknown target ${name} (${Object.keys(targets).join(', ')})`);
    process.exitCode = 64;
    continue;
  }
  try {
    const report = await target({ runs, seed });
    const counts = Object.entries(report.counts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([key, count]) => `${key} ${count}`)
      .join(', ');
    console.log(
      `${report.target}: ${report.runs.toLocaleString('en-US')} inputs, seed ${report.seed}, ${(report.totalMs / 1000).toFixed(1)} s, slowest input ${report.maxMs.toFixed(1)} ms; ${counts}`,
    );
  } catch (error) {
    failed = true;
    const cause =
      error instanceof Error && error.cause !== undefined
        ? `\ncause: ${error.cause instanceof Error ? error.cause.message : JSON.stringify(error.cause)}`
        : '';
    console.error(`${name}: FAILED\n${error instanceof Error ? error.message : String(error)}${cause}`);
  }
}
clearInterval(sampler);
console.log(`peak RSS ${(rss.peak / 1024 / 1024).toFixed(0)} MB`);
if (failed) process.exitCode = 1;
