/**
 * The `JobStore` contract (src/jobs/job-store.ts) as one suite, declared for each store by its own test
 * file: test/integration/jobs/sqlite-job-store.test.ts (a SQLite file) and test/scale/pg-job-store.test.ts
 * (a real PostgreSQL). Idempotent writes, keyset paging in byte order, output in row order, statuses,
 * cascading deletes, the domain cache, several handles on one store, and errors that are rejections.
 * What only one store has (SQLite's WAL file, PostgreSQL's migrations and work table) stays in its file.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  createVerifier,
  parseAddress,
  verdictOf,
  type HostLimitsRecord,
  type Reason,
  type VerifyResult,
} from '../../src/index.js';
import {
  HOST_LIMITS_TTL_MS,
  addressKey,
  runJob,
  type InputLayout,
  type JobStatus,
  type JobStore,
} from '../../src/jobs/index.js';
import { jobItem } from './job-items.js';
import { loopbackOptions } from './world-options.js';

/** A store under test, fresh and empty, and what the contract needs to look beside it. */
export interface StoreUnderTest {
  readonly store: JobStore;
  /** Another handle on the same data: a second process, or the same one after a restart. */
  readonly openAnother: () => Promise<JobStore>;
  /** How many rows of the job a table still holds, read with the store's own database client. */
  readonly countRows: (table: 'items' | 'results', jobId: string) => Promise<number>;
  /** Closes the store and removes its data. */
  readonly dispose: () => Promise<void>;
}

/** A result as the verifier would store it, with only the reason (and so the verdict) chosen. */
export function fakeResult(input: string, reason: Reason): VerifyResult {
  return {
    input,
    address: input,
    verdict: verdictOf(reason),
    reason,
    flags: { role: false, free: false, disposable: false, catchAll: false },
    suggestion: null,
    syntax: parseAddress(input),
    dns: null,
    smtp: null,
    durationMs: 1,
    checkedAt: '2026-11-28T20:00:00.000Z',
    retryAt: null,
  };
}

const CSV_LAYOUT: InputLayout = {
  format: 'csv',
  delimiter: ',',
  columns: ['id', 'email'],
  addressColumn: 1,
  headerless: false,
};

/**
 * Declares the contract suite as `describe(name)`: `open` gives a fresh, empty store before the suite
 * and its `dispose` runs after it. `skip` skips the whole suite, saying why (no database to run on).
 */
export function describeJobStoreContract(
  name: string,
  open: () => Promise<StoreUnderTest>,
  options: { readonly skip?: string | false } = {},
): void {
  describe(`${name}: the JobStore contract`, { skip: options.skip ?? false }, () => {
    let subject: StoreUnderTest;
    let store: JobStore;

    before(async () => {
      subject = await open();
      store = subject.store;
    });
    after(async () => {
      await subject.dispose();
    });

    it('creates a queued job with what it was given, and records the input layout later', async () => {
      const bare = await store.createJob({});
      assert.equal(bare.status, 'queued');
      assert.equal(bare.owner, null);
      assert.deepEqual(bare.options, {});
      assert.equal(bare.source, null);
      assert.equal(bare.layout, null);
      assert.equal(bare.startedAt, null);
      assert.equal(bare.error, null);
      assert.deepEqual(
        [bare.ingested, bare.totalRows, bare.totalAddresses, bare.doneAddresses],
        [false, 0, 0, 0],
      );
      assert.deepEqual(await store.getJob(bare.id), bare);
      assert.equal(await store.getJob('no-such-job'), null);

      const listed = await store.createJob({ layout: { ...CSV_LAYOUT, headerless: true } });
      assert.deepEqual(listed.layout, { ...CSV_LAYOUT, headerless: true });
      await store.setLayout(listed.id, CSV_LAYOUT);
      assert.deepEqual((await store.getJob(listed.id))?.layout, CSV_LAYOUT);
      assert.notEqual(listed.id, bare.id);
    });

    it('stores a job, its items once (a replayed batch adds nothing) and computes totals', async () => {
      const job = await store.createJob({
        owner: 'key1',
        options: { format: 'csv' },
        source: { path: '/lists/a.csv', size: 10, mtimeMs: 5, headSha256: 'ab' },
      });
      assert.equal(job.status, 'queued');
      assert.equal(job.ingested, false);
      assert.equal(job.owner, 'key1');
      assert.deepEqual(job.options, { format: 'csv' });
      assert.deepEqual(job.source, { path: '/lists/a.csv', size: 10, mtimeMs: 5, headSha256: 'ab' });
      // Options are the caller's: replaced whole (a resume that overrides its settings records them).
      const settings = { format: 'csv', settings: { '--dns-server': ['127.0.0.1:53'], '--timeout': 500 } };
      await store.setOptions(job.id, settings);
      assert.deepEqual((await store.getJob(job.id))?.options, settings);
      await store.setOptions(job.id, { format: 'csv' });
      assert.deepEqual((await store.getJob(job.id))?.options, { format: 'csv' });
      const items = [
        jobItem(1, 'a@x.test'),
        jobItem(2, 'B@X.TEST'),
        jobItem(3, 'a@x.test'),
        jobItem(4, 'b@x.test'),
      ];
      await store.addItems(job.id, items);
      await store.addItems(job.id, items.slice(1));
      const ingested = await store.finishIngest(job.id);
      assert.equal(ingested.ingested, true);
      assert.equal(ingested.totalRows, 4);
      // a@x.test twice; B@X.TEST and b@x.test differ in the local part (RFC 5321 §2.4) but not the domain.
      assert.equal(ingested.totalAddresses, 3);
      assert.equal((await store.findJobBySourcePath('/lists/a.csv'))?.id, job.id);
      assert.equal(await store.findJobBySourcePath('/lists/other.csv'), null);
      // The most recent job of a path wins (what `rcpt bulk --resume` continues).
      const later = await store.createJob({
        source: { path: '/lists/a.csv', size: 11, mtimeMs: 6, headSha256: 'cd' },
      });
      assert.equal((await store.findJobBySourcePath('/lists/a.csv'))?.id, later.id);
      // listJobs: by status, oldest first (a server resumes its unfinished jobs with it).
      const queued = (await store.listJobs(['queued'])).map((listed) => listed.id);
      assert.deepEqual(
        queued.filter((id) => id === job.id || id === later.id),
        [job.id, later.id],
      );
      await store.setStatus(job.id, 'done');
      assert.ok(!(await store.listJobs(['queued', 'running'])).some((listed) => listed.id === job.id));
      assert.ok((await store.listJobs(['queued', 'running'])).some((listed) => listed.id === later.id));
      assert.ok((await store.listJobs(['done'])).some((listed) => listed.id === job.id));
      assert.deepEqual(await store.listJobs([]), []);
    });

    it('upserts results by (job, key): a replayed write neither duplicates nor recounts', async () => {
      const job = await store.createJob({});
      await store.addItems(job.id, [jobItem(1, 'a@x.test'), jobItem(2, 'a@x.test'), jobItem(3, 'c@x.test')]);
      await store.finishIngest(job.id);
      const first = [{ key: addressKey('a@x.test'), result: fakeResult('a@x.test', 'greylisted') }];
      assert.equal(await store.putResults(job.id, first), 1);
      assert.equal(await store.putResults(job.id, first), 0);
      const retried = [{ key: addressKey('a@x.test'), result: fakeResult('a@x.test', 'accepted') }];
      assert.equal(await store.putResults(job.id, retried), 0);
      assert.equal(await store.putResults(job.id, []), 0);
      const progress = await store.getProgress(job.id);
      assert.equal(progress.totalRows, 3);
      assert.equal(progress.totalAddresses, 2);
      assert.equal(progress.doneAddresses, 1);
      assert.deepEqual(progress.counts, { deliverable: 1, undeliverable: 0, risky: 0, unknown: 0 });
      assert.deepEqual(progress.reasons, { accepted: 1 });
      const output = [];
      for await (const row of store.readOutput(job.id)) output.push(row);
      assert.deepEqual(
        output.map((row) => [row.row, row.input, row.result?.reason ?? null]),
        [
          [1, 'a@x.test', 'accepted'],
          [2, 'a@x.test', 'accepted'],
          [3, 'c@x.test', null],
        ],
      );
      // One key twice in one batch: the last result stands, counted once.
      const twice = [
        { key: 'c@x.test', result: fakeResult('c@x.test', 'timeout') },
        { key: 'c@x.test', result: fakeResult('c@x.test', 'mailbox_not_found') },
      ];
      assert.equal(await store.putResults(job.id, twice), 1);
      const finished = await store.getProgress(job.id);
      assert.equal(finished.doneAddresses, 2);
      assert.deepEqual(finished.counts, { deliverable: 1, undeliverable: 1, risky: 0, unknown: 0 });
      assert.deepEqual(finished.reasons, { accepted: 1, mailbox_not_found: 1 });
      const rewritten = [];
      for await (const row of store.readOutput(job.id)) rewritten.push(row);
      assert.deepEqual(
        rewritten.map((row) => [row.row, row.input, row.result?.reason ?? null]),
        [
          [1, 'a@x.test', 'accepted'],
          [2, 'a@x.test', 'accepted'],
          [3, 'c@x.test', 'mailbox_not_found'],
        ],
      );
      assert.deepEqual(rewritten[2]?.result, fakeResult('c@x.test', 'mailbox_not_found'));
    });

    it('counts an address once when two handles write it (a lease that changed hands)', async () => {
      const other = await subject.openAnother();
      try {
        const job = await store.createJob({});
        const inputs = Array.from({ length: 200 }, (_, i) => `race${i}@x.test`);
        await store.addItems(
          job.id,
          inputs.map((input, i) => jobItem(i + 1, input)),
        );
        await store.finishIngest(job.id);
        const results = inputs.map((input) => ({
          key: addressKey(input),
          result: fakeResult(input, 'accepted'),
        }));
        const added = await Promise.all([
          store.putResults(job.id, results),
          other.putResults(job.id, [...results].reverse()),
          store.putResults(job.id, results.slice(50, 150)),
        ]);
        assert.equal(
          added.reduce((a, b) => a + b, 0),
          200,
        );
        assert.equal(await subject.countRows('results', job.id), 200);
        assert.equal((await store.getJob(job.id))?.doneAddresses, 200);
        assert.equal((await other.getJob(job.id))?.doneAddresses, 200);
      } finally {
        await other.close();
      }
    });

    it('pages pending keys after a key, skipping keys with a result and unreadable rows', async () => {
      const job = await store.createJob({});
      const inputs = Array.from({ length: 25 }, (_, index) => `u${String(index).padStart(2, '0')}@x.test`);
      await store.addItems(job.id, [
        ...inputs.map((input, index) => jobItem(index + 1, input)),
        {
          row: 26,
          line: 27,
          input: '',
          key: '#row:26',
          fields: null,
          error: 'line 27: unterminated quoted field',
        },
        // Byte order, not the server's locale: upper case sorts before lower case.
        jobItem(27, 'Z@x.test'),
      ]);
      await store.finishIngest(job.id);
      await store.putResults(job.id, [{ key: 'u03@x.test', result: fakeResult('u03@x.test', 'accepted') }]);
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await store.pendingAddresses(job.id, after, 10);
        seen.push(...page.map((p) => p.input));
        if (page.length < 10) break;
        after = page.at(-1)?.key ?? null;
      }
      assert.deepEqual(seen, ['Z@x.test', ...inputs.filter((input) => input !== 'u03@x.test')]);
    });

    it('reads output in row order across pages', async () => {
      const job = await store.createJob({});
      const count = 2_345;
      const items = Array.from({ length: count }, (_, index) =>
        jobItem(index + 1, `n${count - index}@x.test`),
      );
      await store.addItems(job.id, items);
      await store.finishIngest(job.id);
      let expected = 1;
      for await (const row of store.readOutput(job.id, { pageSize: 100 })) {
        assert.equal(row.row, expected);
        assert.deepEqual(row.fields, [String(expected), `n${count - expected + 1}@x.test`]);
        expected += 1;
      }
      assert.equal(expected, count + 1);
    });

    it('sets statuses and the started time once; deletes a job with its items and results', async () => {
      const job = await store.createJob({});
      const running = await store.setStatus(job.id, 'running');
      assert.equal(running.status, 'running');
      assert.ok(running.startedAt !== null);
      const cancelled = await store.setStatus(job.id, 'cancelled');
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.startedAt, running.startedAt);
      const failed = await store.setStatus(job.id, 'failed', 'disk full');
      assert.equal(failed.error, 'disk full');
      assert.equal(failed.startedAt, running.startedAt);
      await store.addItems(job.id, [jobItem(1, 'a@x.test')]);
      await store.putResults(job.id, [{ key: 'a@x.test', result: fakeResult('a@x.test', 'accepted') }]);
      assert.equal(await subject.countRows('items', job.id), 1);
      assert.equal(await subject.countRows('results', job.id), 1);
      assert.equal(await store.deleteJob(job.id), true);
      assert.equal(await store.getJob(job.id), null);
      assert.equal(await store.deleteJob(job.id), false);
      assert.equal(await subject.countRows('items', job.id), 0);
      assert.equal(await subject.countRows('results', job.id), 0);
    });

    it('sets a status only over the statuses it is given (compare-and-set), else leaves the job as it is', async () => {
      const job = await store.createJob({});
      await store.setStatus(job.id, 'cancelled');
      const kept = await store.setStatus(job.id, 'queued', null, ['running']);
      assert.equal(kept.status, 'cancelled');
      assert.equal(kept.startedAt, null);
      const failed = await store.setStatus(job.id, 'failed', 'x', ['queued', 'running']);
      assert.deepEqual([failed.status, failed.error], ['cancelled', null]);
      const running = await store.setStatus(job.id, 'running', null, ['cancelled']);
      assert.equal(running.status, 'running');
      assert.ok(running.startedAt !== null);
    });

    // The window: the run read the job (not cancelled), then a DELETE /v1/jobs/{id} on another handle
    // cancelled it, then the run wrote its status. The store hands the run a cancel just before that
    // write, as another request would.
    for (const [window, write, answered] of [
      ['starts (queued -> running)', 'running', false],
      ['yields its place (running -> queued)', 'queued', false],
      ['ends (running -> done)', 'done', true],
    ] as const) {
      it(`keeps a cancel that lands as a run ${window}: the job is not queued or run again`, async () => {
        const inputs = ['a@x.test', 'b@x.test'];
        const job = await store.createJob({});
        await store.addItems(
          job.id,
          inputs.map((input, i) => jobItem(i + 1, input)),
        );
        await store.finishIngest(job.id);
        if (answered) {
          await store.putResults(
            job.id,
            inputs.map((input) => ({ key: input, result: fakeResult(input, 'accepted') })),
          );
        }
        const other = await subject.openAnother();
        // Nothing to verify reaches the verifier (a paused run takes no address; an answered job has
        // none), so its DNS server and SMTP port are closed ports on loopback.
        const verifier = createVerifier(loopbackOptions({ dnsServer: '127.0.0.1:9', smtpPort: 9 }));
        try {
          const racing = cancelledBefore(store, other, write);
          const outcome = await runJob(racing, job.id, verifier, { pause: AbortSignal.abort() });
          assert.equal(outcome.job.status, 'cancelled');
          assert.equal(outcome.interrupted, true);
          assert.equal((await other.getJob(job.id))?.status, 'cancelled');
        } finally {
          await verifier.close();
          await other.close();
        }
      });
    }

    it('keeps domain facts until they expire', async () => {
      const now = Date.now();
      await store.putDomainFacts({
        domain: 'x.test',
        mx: [{ exchange: 'mx.x.test', priority: 10 }],
        catchAll: true,
        provider: null,
        expiresAt: now + 1_000,
      });
      await store.putDomainFacts({
        domain: 'old.test',
        mx: null,
        catchAll: null,
        provider: 'google',
        expiresAt: now - 1,
      });
      assert.deepEqual(await store.getDomainFacts('x.test', now), {
        domain: 'x.test',
        mx: [{ exchange: 'mx.x.test', priority: 10 }],
        catchAll: true,
        provider: null,
        expiresAt: now + 1_000,
      });
      assert.equal(await store.getDomainFacts('old.test', now), null);
      assert.equal(await store.purgeDomainFacts(now), 1);
      // A second put replaces the facts (a verifier that learned more).
      await store.putDomainFacts({
        domain: 'x.test',
        mx: null,
        catchAll: false,
        provider: 'microsoft',
        expiresAt: now + 2_000,
      });
      assert.deepEqual(await store.getDomainFacts('x.test', now), {
        domain: 'x.test',
        mx: null,
        catchAll: false,
        provider: 'microsoft',
        expiresAt: now + 2_000,
      });
      assert.equal(await store.getDomainFacts('x.test', now + 2_000), null);
    });

    it('keeps learned host limits for a day, merged with what another run learned, the more cautious kept', async () => {
      const t0 = Date.now();
      const limits = (
        budgetSource: HostLimitsRecord['budgetSource'],
        errorBudget: number | null,
        recipientLimit: number | null,
        sessionLimit: number | null,
        penalties: number,
      ): HostLimitsRecord => ({ errorBudget, budgetSource, recipientLimit, sessionLimit, penalties });
      const probed = limits('probed', 11, null, 3, 0);
      assert.deepEqual(await store.putHostLimits('192.0.2.1', probed, t0), {
        key: '192.0.2.1',
        record: probed,
        learnedAt: t0,
        expiresAt: t0 + HOST_LIMITS_TTL_MS,
      });
      // Another run fixed the budget by a penalty and met a recipient limit; it saw more sessions pass.
      const merged = await store.putHostLimits('192.0.2.1', limits('penalty', 8, 50, 5, 1), t0 + 10);
      assert.deepEqual(merged.record, limits('penalty', 8, 50, 3, 1));
      assert.equal(merged.expiresAt, t0 + 10 + HOST_LIMITS_TTL_MS);
      // A run that began before and found no budget: the penalty's budget stays, its smaller limit joins.
      await store.putHostLimits('192.0.2.1', limits('none', null, 20, null, 0), t0 + 20);
      // Two runs still probing: the larger count proven safe.
      await store.putHostLimits('192.0.2.2', limits('probed', 10, null, null, 0), t0);
      await store.putHostLimits('192.0.2.2', limits('probed', 14, null, null, 0), t0);
      await store.putHostLimits('socks-a|192.0.2.1 port 2525', probed, t0);
      const keysOf = (rows: readonly { key: string }[]) => rows.map((row) => row.key).sort();
      const atOne = await store.getHostLimits(['192.0.2.1'], t0 + 30);
      assert.deepEqual(keysOf(atOne), ['192.0.2.1', 'socks-a|192.0.2.1 port 2525']);
      assert.deepEqual(atOne.find((row) => row.key === '192.0.2.1')?.record, limits('penalty', 8, 20, 3, 1));
      const all = await store.getHostLimits(null, t0 + 30);
      assert.deepEqual(keysOf(all), ['192.0.2.1', '192.0.2.2', 'socks-a|192.0.2.1 port 2525']);
      assert.deepEqual(
        all.find((row) => row.key === '192.0.2.2')?.record,
        limits('probed', 14, null, null, 0),
      );
      // A day later the rows learned at t0 are gone; one learned again after it expired starts afresh.
      const later = t0 + HOST_LIMITS_TTL_MS;
      assert.deepEqual(keysOf(await store.getHostLimits(null, later)), ['192.0.2.1']);
      await store.putHostLimits('192.0.2.2', limits('probed', 10, null, null, 0), later);
      assert.deepEqual(
        (await store.getHostLimits(['192.0.2.2'], later)).map((row) => row.record),
        [limits('probed', 10, null, null, 0)],
      );
      // Expired rows are deleted by the purge; live ones are kept.
      assert.equal(await store.purgeHostLimits(later), 1);
      assert.deepEqual(keysOf(await store.getHostLimits(null, later)), ['192.0.2.1', '192.0.2.2']);
      assert.equal(await store.purgeHostLimits(later + HOST_LIMITS_TTL_MS), 2);
      assert.deepEqual(await store.getHostLimits(null, t0), []);
    });

    it('numbers a job once, never gives a number twice, and finds the job by it', async () => {
      const first = await store.createJob({});
      const second = await store.createJob({});
      const n1 = await store.numberJob(first.id);
      assert.ok(Number.isInteger(n1) && n1 > 0);
      assert.equal(await store.numberJob(first.id), n1, 'asking again gives the same number');
      const n2 = await store.numberJob(second.id);
      assert.notEqual(n2, n1);
      assert.equal(await store.jobIdOfNumber(n1), first.id);
      assert.equal(await store.jobIdOfNumber(n2), second.id);
      assert.equal(await store.jobIdOfNumber(987_654_321), null);
      await store.deleteJob(second.id);
      assert.equal(await store.jobIdOfNumber(n2), null);
      const third = await store.createJob({});
      assert.ok((await store.numberJob(third.id)) > n2, "a deleted job's number is not given again");
      await assert.rejects(() => store.numberJob('no-such-job'));
    });

    it('owes a webhook call per first result and one at the end, claims, holds and settles them', async () => {
      const plain = await store.createJob({});
      const hooked = await store.createJob({ options: { webhook: { onResult: true, onEnd: true } } });
      for (const job of [plain, hooked]) {
        await store.addItems(job.id, [jobItem(1, 'a@x.test'), jobItem(2, 'b@x.test')]);
        await store.finishIngest(job.id);
      }
      const put = (jobId: string, input: string) =>
        store.putResults(jobId, [{ key: addressKey(input), result: fakeResult(input, 'accepted') }]);
      await put(plain.id, 'a@x.test');
      await put(hooked.id, 'a@x.test');
      await put(hooked.id, 'a@x.test'); // a replayed write owes nothing more
      const t0 = Date.now();
      const first = await store.claimWebhookDeliveries(t0, 60_000, 10);
      assert.deepEqual(
        first.map((d) => [d.jobId, d.event, d.key, d.attempts]),
        [[hooked.id, 'result', addressKey('a@x.test'), 0]],
      );
      // Held for the lease: a second claimer (another process) gets nothing until it passes.
      assert.deepEqual(await store.claimWebhookDeliveries(t0 + 1, 60_000, 10), []);
      const delivery = first[0];
      assert.ok(delivery !== undefined);
      await store.settleWebhookDelivery(delivery.id, { state: 'pending', error: 'HTTP 500', nextAt: t0 + 5 });
      const again = await store.claimWebhookDeliveries(t0 + 10, 60_000, 10);
      assert.deepEqual(
        again.map((d) => [d.id, d.attempts]),
        [[delivery.id, 1]],
      );
      await store.settleWebhookDelivery(delivery.id, { state: 'delivered' });

      await put(hooked.id, 'b@x.test');
      await store.setStatus(hooked.id, 'done');
      await store.setStatus(plain.id, 'done');
      const rest = await store.claimWebhookDeliveries(Date.now(), 60_000, 10);
      assert.deepEqual(rest.map((d) => [d.jobId, d.event, d.key]).sort(), [
        [hooked.id, 'end', ''],
        [hooked.id, 'result', addressKey('b@x.test')],
      ]);
      for (const d of rest) await store.settleWebhookDelivery(d.id, { state: 'failed', error: 'gave up' });
      // The end is owed once: a settled one is not owed again.
      assert.deepEqual(await store.claimWebhookDeliveries(Date.now() + 1e9, 60_000, 10), []);
    });

    it('survives a reopen: another handle on the same data gives the same jobs', async () => {
      const job = await store.createJob({ options: { a: 1 } });
      const other = await subject.openAnother();
      try {
        assert.deepEqual((await other.getJob(job.id))?.options, { a: 1 });
      } finally {
        await other.close();
      }
    });

    it('an unknown job or a closed store is a rejected promise, never a synchronous throw', async () => {
      // Callers chain `.catch()` on these (the server marks a job failed that may be gone already).
      // A JobError (ERR_RCPT_JOB) naming the job, in the VerifyError hierarchy (test/unit/errors.test.ts).
      const unknown = {
        name: 'JobError',
        code: 'ERR_RCPT_JOB',
        kind: 'not_found',
        jobId: 'no-such-job',
        message: 'no job no-such-job',
      };
      await assert.rejects(() => store.getProgress('no-such-job'), unknown);
      await assert.rejects(() => store.finishIngest('no-such-job'), unknown);
      await assert.rejects(() => store.setStatus('no-such-job', 'failed', 'x'), unknown);
      await assert.rejects(() => store.addItems('no-such-job', [jobItem(1, 'a@x.test')]));
      await assert.rejects(() =>
        store.putResults('no-such-job', [{ key: 'a@x.test', result: fakeResult('a@x.test', 'accepted') }]),
      );
      const closed = await subject.openAnother();
      await closed.close();
      await closed.close();
      await assert.rejects(() => closed.getJob('no-such-job'));
      await assert.rejects(() => closed.createJob({}));
    });
  });
}

/**
 * `store` with one seam: just before a status write of `status`, `other` (another handle, as another
 * request) cancels the job as `DELETE /v1/jobs/{id}` does. Every call reaches the real store.
 */
function cancelledBefore(store: JobStore, other: JobStore, status: JobStatus): JobStore {
  return new Proxy(store, {
    get(target, property): unknown {
      if (property === 'setStatus') {
        return async (...args: Parameters<JobStore['setStatus']>) => {
          if (args[1] === status) await other.setStatus(args[0], 'cancelled', null, ['queued', 'running']);
          return target.setStatus(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
