/**
 * The job runner against the demo world (real DNS packets, real SMTP personas) and a real SQLite file:
 * duplicates verified once, bulk verdicts equal to address-by-address ones, resume after a stop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startDemoWorld, type DemoWorld } from '../../../src/demo/world.js';
import { createVerifier, verify, type VerifyOptions } from '../../../src/index.js';
import {
  formatOutput,
  ingestInput,
  openSqliteJobStore,
  runJob,
  type JobStore,
  type OutputRow,
} from '../../../src/jobs/index.js';
import { worldOptions } from '../../helpers/world-options.js';

let world: DemoWorld;
let base: VerifyOptions;
let dir: string;
let store: JobStore;

before(async () => {
  world = await startDemoWorld();
  base = {
    ...worldOptions(world),
    // Catch-all probes would add RCPTs; counting them is the scheduler's test, not this one's.
    catchAll: false,
  };
  dir = await mkdtemp(join(tmpdir(), 'rcpt-run-'));
  store = openSqliteJobStore(join(dir, 'jobs.db'));
});

after(async () => {
  await store.close();
  await world.close();
  await rm(dir, { recursive: true, force: true });
});

async function newJob(text: string) {
  const job = await store.createJob({});
  await ingestInput(store, job.id, [text]);
  return job.id;
}

async function output(jobId: string): Promise<OutputRow[]> {
  const rows: OutputRow[] = [];
  for await (const row of store.readOutput(jobId)) rows.push(row);
  return rows;
}

const acmeRcpts = () => world.personas.find((persona) => persona.host === '127.0.0.2')?.stats.rcpts ?? 0;

describe('runJob', () => {
  it('verifies a duplicated address once and reports it on every row', async () => {
    const jobId = await newJob(
      'email;n\nalice@acme.test;1\nalice@ACME.test;2\nnobody@acme.test;3\n alice@acme.test ;4\nnobody@acme.test;5\nbob@acme.test;6\n',
    );
    const before = acmeRcpts();
    const verifier = createVerifier(base);
    try {
      const outcome = await runJob(store, jobId, verifier);
      assert.equal(outcome.job.status, 'done');
      assert.equal(outcome.verified, 3);
    } finally {
      await verifier.close();
    }
    assert.equal(acmeRcpts() - before, 3, 'one RCPT per distinct address');
    const rows = await output(jobId);
    assert.deepEqual(
      rows.map((row) => [row.row, row.input, row.result?.reason]),
      [
        [1, 'alice@acme.test', 'accepted'],
        [2, 'alice@ACME.test', 'accepted'],
        [3, 'nobody@acme.test', 'mailbox_not_found'],
        [4, 'alice@acme.test', 'accepted'],
        [5, 'nobody@acme.test', 'mailbox_not_found'],
        [6, 'bob@acme.test', 'accepted'],
      ],
    );
    let ndjson = '';
    const layout = (await store.getJob(jobId))?.layout;
    assert.ok(layout);
    assert.deepEqual(layout.columns, ['email', 'n']);
    for await (const chunk of formatOutput(store.readOutput(jobId), layout, 'ndjson')) ndjson += chunk;
    const records = ndjson
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { row: number; input: string; reason: string });
    assert.deepEqual(
      records.map((record) => [record.row, record.input, record.reason]),
      rows.map((row) => [row.row, row.input, row.result?.reason]),
    );
  });

  it('gives the same verdicts in bulk as address by address', async () => {
    const addresses = [
      'alice@acme.test',
      'nobody@acme.test',
      'carol@acme.test',
      'dave@acme.test',
      'bob@fallback.test',
      'anyone@catchall.test',
      'temp123@mailinator.com',
      'hello@implicit.test',
      'someone@bigmail.test',
      'user@nullmx.test',
      'user@nomail.test',
      'user@nowhere.test',
      'user@broken-dns.test',
      'alice@gmial.com',
      'alice..smith@acme.test',
    ];
    const jobId = await newJob(`${addresses.join('\n')}\n`);
    const verifier = createVerifier(base);
    try {
      await runJob(store, jobId, verifier);
    } finally {
      await verifier.close();
    }
    const bulk = (await output(jobId)).map((row) => [row.input, row.result?.verdict, row.result?.reason]);
    const single = [];
    for (const address of addresses) {
      const result = await verify(address, base);
      single.push([address, result.verdict, result.reason]);
    }
    assert.deepEqual(bulk, single);
  });

  it('resumes: keys that have a result are not verified again, every row once', async () => {
    const inputs = [
      'alice@acme.test',
      'bob@acme.test',
      'info@acme.test',
      'sales@acme.test',
      'nobody@acme.test',
    ];
    const jobId = await newJob(`email\n${inputs.join('\n')}\n${inputs.join('\n')}\n`);
    // A first run stopped at once: nothing, or a little, gets done; the job goes back to queued.
    const stopped = new AbortController();
    stopped.abort();
    const first = createVerifier(base);
    try {
      const outcome = await runJob(store, jobId, first, { signal: stopped.signal });
      assert.equal(outcome.interrupted, true);
      assert.equal(outcome.job.status, 'queued');
    } finally {
      await first.close();
    }
    // Results for two keys, as a crashed run would have left them.
    const verifier = createVerifier(base);
    try {
      const done = [];
      for await (const result of verifier.verifyMany(inputs.slice(0, 2))) done.push(result);
      await store.putResults(
        jobId,
        done.map((result) => ({ key: result.input, result })),
      );
      const before = acmeRcpts();
      const outcome = await runJob(store, jobId, verifier);
      assert.equal(outcome.job.status, 'done');
      assert.equal(outcome.verified, 3);
      assert.equal(acmeRcpts() - before, 3);
    } finally {
      await verifier.close();
    }
    const rows = await output(jobId);
    assert.deepEqual(
      rows.map((row) => row.row),
      Array.from({ length: 10 }, (_, index) => index + 1),
    );
    assert.ok(rows.every((row) => row.result !== null));
    const progress = await store.getProgress(jobId);
    assert.equal(progress.doneAddresses, 5);
  });

  it('stops when the job is cancelled in the store, keeping what is done', async () => {
    const inputs = Array.from({ length: 40 }, (_, index) => `user${index}@slow.test`);
    const jobId = await newJob(`${inputs.join('\n')}\n`);
    const verifier = createVerifier(base);
    try {
      const running = runJob(store, jobId, verifier, { flushIntervalMs: 20 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await store.setStatus(jobId, 'cancelled');
      const outcome = await running;
      assert.equal(outcome.interrupted, true);
      assert.equal(outcome.job.status, 'cancelled');
      assert.ok(outcome.job.doneAddresses < inputs.length);
    } finally {
      await verifier.close();
    }
  });
});
