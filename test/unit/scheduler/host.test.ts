/** One MX host address's queue and politeness (src/scheduler/host.ts), and a domain's catch-all state. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';

import { DomainState, DomainTable } from '../../../src/scheduler/domain-state.js';
import {
  EXTRA_SESSION_MIN_QUEUE,
  Host,
  PROBE_FLUSH_AT,
  PROBE_MAX_WAIT_MS,
} from '../../../src/scheduler/host.js';
import { Job, type ParkedAnswer } from '../../../src/scheduler/job.js';
import { CAUTIOUS_ERROR_BUDGET, LearnedLimits } from '../../../src/scheduler/learned-limits.js';
import type { ProviderRule } from '../../../src/providers/index.js';

const limits = { hostConcurrency: 2, backoffMs: 1000, maxBackoffMs: 8000, hostCommandsPerSecond: 0 };

function job(
  id: number,
  domain = new DomainState<ParkedAnswer>('example.test'),
  kind: 'address' | 'catchAll' = 'address',
): Job {
  const targets = [{ host: 'mx.example.test', ip: '192.0.2.1' }];
  return new Job(id, kind, `user${String(id)}@example.test`, false, targets, domain, null, 0, '');
}

describe('Host', () => {
  it('takes jobs in order, skipping those already done, and puts pushed-back ones at the front', () => {
    const host = new Host('192.0.2.1', limits);
    const jobs = [job(0), job(1), job(2), job(3)];
    for (const j of jobs) host.add(j, false);
    const first = jobs[1];
    assert.ok(first !== undefined);
    first.done = true;
    assert.deepEqual(
      host.take(2).map((j) => j.id),
      [0, 2],
    );
    host.putBack([jobs[0] as Job]);
    assert.deepEqual(
      host.takeAll().map((j) => j.id),
      [0, 3],
    );
  });

  it('wants a first session for one job, a second only for a longer queue, never over the cap', () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(host.wantsSession(), false);
    host.add(job(0), false);
    assert.equal(host.wantsSession(), true);
    host.active = 1;
    assert.equal(host.wantsSession(), false);
    for (let i = 1; i < EXTRA_SESSION_MIN_QUEUE; i += 1) host.add(job(i), false);
    assert.equal(host.wantsSession(), true);
    host.active = 2;
    for (let i = 0; i < 20; i += 1) host.add(job(100 + i), false);
    assert.equal(host.wantsSession(), false, 'hostConcurrency 2');
  });

  it('lowers its cap for a provider rule, and is then not forgettable', () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(host.isForgettable, true);
    host.applyProvider({ maxConnections: 1 } as unknown as ProviderRule);
    assert.equal(host.cap, 1);
    assert.equal(host.isForgettable, false);
  });

  it('backs off exponentially and starts over after progress', () => {
    const host = new Host('192.0.2.1', limits);
    const before = Date.now();
    host.backOff();
    host.backOff();
    host.backOff();
    assert.ok(host.backoffUntil >= before + 4000, 'third failure: 1000 × 2²');
    assert.ok(host.backoffUntil <= Date.now() + 4000);
    host.recovered();
    host.backOff();
    assert.ok(host.backoffUntil <= Date.now() + 1000);
    host.stop();
  });

  it('sizes batches within the error budget and learns the limits servers state', () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(host.hasUsefulBudget(0), true);
    assert.ok(host.batchSize(0) >= CAUTIOUS_ERROR_BUDGET);
    host.learnRecipientLimit(3);
    assert.equal(host.batchSize(0), 3);
    host.learnErrorLimit(5); // `421 too many errors` at the 5th refusal: budget ⌊4 / 2⌋ = 2
    assert.equal(host.batchSize(0), 2);
    assert.equal(host.hasUsefulBudget(2), false);
  });

  it('sizes a shallow batch to leave at most one command after whichever refusal is the limit', () => {
    const learned = new LearnedLimits();
    const host = new Host('192.0.2.1', limits, '192.0.2.1', null, learned);
    // Nothing proven: the limit is past the first refusal at least, so two may come before a third.
    assert.equal(host.shallowBatch(0), 3);
    assert.equal(host.shallowBatch(1), 2, 'one refusal not yet proven: the next may be the limit');
    learned.survived(1);
    assert.equal(host.shallowBatch(1), 2, 'one proven: one more may be the limit, one command after it');
    assert.equal(host.shallowBatch(2), 1, 'its last refusal unproven: one command alone');
    learned.survived(5);
    assert.equal(host.shallowBatch(2), 5, 'another session proved 5: this one may draw 4 more, one after');
    // The explorer of a guessed budget carries at least that, whatever its step allows, once the host
    // is known to answer after a refusal (before, a second refusal in the batch costs the check RCPT).
    const fresh = new Host('192.0.2.2', limits, '192.0.2.2', null, new LearnedLimits());
    for (let i = 0; i < 10; i += 1) fresh.add(job(i), false);
    assert.ok(fresh.learned.startExploring(7));
    assert.equal(fresh.learned.reachFor(7), 1);
    assert.equal(fresh.batchSize(0, 0, 7), 1, 'the step alone: one RCPT at even odds');
    fresh.learned.sawAfterRefusal('answers');
    assert.equal(fresh.batchSize(0, 0, 7), 3, 'the step alone allowed one RCPT at even odds');
    assert.equal(fresh.batchSize(0, 1, 7), 2, 'one refusal kept for what follows the batch');
  });

  it('wakes an idle session when a job arrives, and says none can arrive once the input is done', async () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(await host.waitForWork(false), false);
    const waiting = host.waitForWork(true);
    assert.equal(host.add(job(0), false), true, 'an idle session took it');
    assert.equal(await waiting, true);
  });
});

describe('Host after a refusal', () => {
  it('checks with an address it accepted where there is one, else postmaster of the domain', () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(host.checkRecipient('no1@b.test'), 'postmaster@b.test');
    host.accepted('ok0@a.test');
    assert.equal(host.checkRecipient('no1@b.test'), 'ok0@a.test', 'any domain the host serves');
  });

  it("taken to poison on postmaster's word, may prove otherwise once it accepted an address", () => {
    const host = new Host('192.0.2.1', limits);
    host.learned.sawAfterRefusal('poisons');
    assert.equal(host.mayProveAnswers, false, 'nothing accepted: nothing to ask');
    host.accepted('ok0@a.test');
    assert.equal(host.mayProveAnswers, true);
    host.poisonsProven = true;
    assert.equal(host.mayProveAnswers, false, 'an address it accepted was refused after a refusal');
    host.poisonsProven = false;
    host.learned.sawAfterRefusal('answers');
    assert.equal(host.mayProveAnswers, false, 'it answers');
  });

  it("refused an address another run saw accepted: taken as postmaster's word, the next one accepted asked", () => {
    const host = new Host(
      '192.0.2.1',
      limits,
      '192.0.2.1',
      null,
      LearnedLimits.from({
        errorBudget: CAUTIOUS_ERROR_BUDGET,
        budgetSource: 'default',
        recipientLimit: null,
        sessionLimit: null,
        penalties: 0,
        afterRefusal: 'poisons',
        acceptedRecipient: 'ok0@a.test',
      }),
    );
    assert.equal(host.checkRecipient('no1@b.test'), 'ok0@a.test');
    assert.equal(host.mayProveAnswers, true);
    host.checkRefused('ok0@a.test');
    assert.equal(host.poisonsProven, false, 'its mailbox may be gone since');
    assert.equal(host.acceptedRecipient, null);
    host.accepted('ok1@a.test');
    assert.equal(host.checkRecipient('no1@b.test'), 'ok1@a.test');
    host.checkRefused('ok1@a.test');
    assert.equal(host.poisonsProven, true, 'accepted in this run, refused after a refusal');
  });

  it('taken to poison with nothing accepted, takes every other batch from the back of the queue', () => {
    const host = new Host('192.0.2.1', limits);
    for (let i = 0; i < 6; i += 1) host.add(job(i), false);
    assert.deepEqual(
      host.take(1).map((j) => j.id),
      [0],
    );
    host.learned.sawAfterRefusal('poisons');
    assert.deepEqual(
      [host.take(1), host.take(2), host.take(1)].map((batch) => batch.map((j) => j.id)),
      [[5], [1, 2], [4]],
    );
    host.accepted('ok0@a.test');
    assert.deepEqual(
      host.take(1).map((j) => j.id),
      [3],
      'from the front once it accepted an address',
    );
  });

  it('has room for the check past the one refusal a session draws at a host taken to poison', () => {
    const host = new Host('192.0.2.1', limits);
    host.learned.sawAfterRefusal('poisons');
    assert.equal(host.budgetLeft(1, 1), 0, 'one refusal a session');
    // The budget is a guess: session 1 takes it as its explorer; session 2 then may not.
    assert.equal(host.hasRoomForCheck(1, 1), true);
    assert.equal(host.learned.isExploring(1), true);
    assert.equal(host.hasRoomForCheck(1, 2), false);
    host.learnErrorLimit(5); // a budget of 2, fixed
    assert.equal(host.hasRoomForCheck(1, 2), true);
    assert.equal(host.hasRoomForCheck(2, 2), false);
  });
});

describe('Host catch-all probes', () => {
  it('counts how long a probe waited for a session from when that session was ready, not from when it was queued', () => {
    const host = new Host('192.0.2.1', limits);
    assert.equal(host.probesDueIn(), Infinity, 'no probe waits');
    host.add(job(0, undefined, 'catchAll'), false);
    const queued = performance.now();
    // Long after it was queued (a slow connect, a tarpit's greeting, a loaded machine):
    const now = queued + 10 * PROBE_MAX_WAIT_MS;
    assert.equal(host.probesDueIn(-Infinity, now), 0);
    assert.equal(host.probesDueIn(now - PROBE_MAX_WAIT_MS, now), 0, 'ready long enough');
    assert.equal(host.probesDueIn(now - 100, now), PROBE_MAX_WAIT_MS - 100, 'ready 100 ms ago');
    assert.equal(host.probesDueIn(now, now), PROBE_MAX_WAIT_MS, 'just ready');
    // Enough probes are sent at once, by any session.
    for (let i = 1; i < PROBE_FLUSH_AT; i += 1) host.add(job(i, undefined, 'catchAll'), false);
    assert.equal(host.probesDueIn(now, now), 0);
  });
});

describe('DomainState', () => {
  it('claims the catch-all probe once, parks answers and hands them back with the reply', () => {
    const table = new DomainTable<ParkedAnswer>();
    const domain = table.acquire('example.test');
    assert.equal(domain.claimProbe(), true);
    assert.equal(domain.claimProbe(), false);
    assert.equal(domain.isPending, true);
    const reply = { stage: 'rcpt', code: 550, enhanced: '5.1.1', text: 'no' } as const;
    const view = {
      host: 'mx',
      ip: '192.0.2.1',
      tls: false,
      tlsCertificateError: null,
      banner: null,
      extensions: [],
      providers: new Map(),
    };
    const answer = { reply, classification: null, failure: null, view, transcript: null, timedOut: false };
    domain.park({ job: job(0, domain), answer });
    const parked = domain.settle(reply);
    assert.equal(parked.length, 1);
    assert.equal(domain.isPending, false);
    assert.deepEqual(domain.catchAllReply, reply);
    assert.equal(domain.settle(null).length, 0);
    assert.equal(domain.catchAllReply, null, 'a probe without a reply leaves nothing to read');
  });

  it('is dropped from the table with its last job', () => {
    const table = new DomainTable<ParkedAnswer>();
    const a = table.acquire('example.test');
    table.acquire('example.test');
    table.release(a);
    assert.equal(table.size, 1);
    table.release(a);
    assert.equal(table.size, 0);
  });
});
