/**
 * The fuzz properties of fuzz-targets.ts in a short form (seconds): `FUZZ_TEST_RUNS` inputs per parser,
 * default 2,000, with a seed that changes daily (printed, so a failure can be replayed with
 * `FUZZ_SEED=…`). `npm run fuzz` runs the full ≥100,000 inputs per parser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  MAX_MS_PER_INPUT,
  fuzzCsvReader,
  fuzzHttp,
  fuzzParseAddress,
  fuzzReplyParser,
  type FuzzReport,
} from './fuzz-targets.js';

const RUNS = Number(process.env.FUZZ_TEST_RUNS ?? 2_000);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Date.now() / 86_400_000));

function check(report: FuzzReport): void {
  process.stdout.write(
    `# ${report.target}: ${report.runs} inputs, seed ${report.seed}, slowest ${report.maxMs.toFixed(1)} ms\n`,
  );
  assert.equal(report.runs, RUNS);
}

describe(`fuzzing (${RUNS} inputs per parser, seed ${SEED})`, () => {
  it('parseAddress: total, bounded time, accepted addresses round-trip', () => {
    const report = fuzzParseAddress({ runs: RUNS, seed: SEED });
    check(report);
    assert.ok(
      (report.counts.valid ?? 0) > RUNS / 20,
      `only ${report.counts.valid ?? 0} valid inputs generated`,
    );
    assert.ok(report.maxMs < MAX_MS_PER_INPUT);
  });
  it('SMTP reply parser: total, chunking-independent, buffers capped', () => {
    const report = fuzzReplyParser({ runs: RUNS, seed: SEED });
    check(report);
    assert.ok((report.counts.replies ?? 0) > RUNS, 'the generator produces replies');
    assert.ok((report.counts['streams failed'] ?? 0) > 0 && (report.counts['streams clean'] ?? 0) > 0);
  });
  it('CSV / list reader: only InputError escapes, row numbers right, chunking-independent', async () => {
    const report = await fuzzCsvReader({ runs: Math.ceil(RUNS / 2), seed: SEED });
    process.stdout.write(
      `# ${report.target}: ${report.runs} inputs, slowest ${report.maxMs.toFixed(1)} ms\n`,
    );
    assert.ok((report.counts.rows ?? 0) > 0);
  });
  it('HTTP API: random requests are answered, never with a 5xx', async () => {
    const report = await fuzzHttp({ runs: Math.ceil(RUNS / 2), seed: SEED });
    process.stdout.write(`# ${report.target}: statuses ${JSON.stringify(report.counts)}\n`);
    assert.ok((report.counts['200'] ?? 0) > 0, 'some requests were valid');
    assert.ok((report.counts['400'] ?? 0) > 0, 'some requests were refused');
  });
});
