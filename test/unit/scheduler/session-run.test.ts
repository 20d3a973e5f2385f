/**
 * One SMTP session feeding a host's queue (src/scheduler/session-run.ts), alone: a scripted session
 * (test/helpers/fake-session.ts) and a run that records what the session hands back (answers, jobs
 * asked again, jobs ended without an answer), instead of the whole `Scheduler`. What the scheduler makes
 * of those calls is tested in scheduler.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { classifyReply } from '../../../src/classify/index.js';
import { DomainState } from '../../../src/scheduler/domain-state.js';
import { HarvestAllowance } from '../../../src/scheduler/harvest-allowance.js';
import { Host } from '../../../src/scheduler/host.js';
import { HostRateWindow } from '../../../src/scheduler/host-rate.js';
import { Job, type Answer, type JobKind, type ParkedAnswer } from '../../../src/scheduler/job.js';
import type { SchedulerSettings } from '../../../src/scheduler/ports.js';
import { SessionRun, type SessionOwner } from '../../../src/scheduler/session-run.js';
import type { ProbeFailure, ProbeTarget } from '../../../src/types.js';
import { FakeSmtp, NO_SUCH_USER, OK, reply, type HostScript } from '../../helpers/fake-session.js';

const MX1: ProbeTarget = { host: 'mx1.example.test', ip: '192.0.2.1' };
const MX2: ProbeTarget = { host: 'mx2.example.test', ip: '192.0.2.2' };
/** Postfix's greeting: its error budget is known at once, so the session does not explore it. */
const POSTFIX = 'mx1.example.test ESMTP Postfix';

/** A run that records what one session hands back to it. */
class RecordingRun implements SessionOwner {
  readonly settings: SchedulerSettings;
  readonly allowance = new HarvestAllowance();
  readonly rate = new HostRateWindow();
  readonly stopSignal = new AbortController().signal;
  readonly mayGetWork = false;
  readonly delivered: { recipient: string; answer: Answer }[] = [];
  readonly finalized: { recipient: string; answer: Answer }[] = [];
  readonly requeued: { recipients: string[]; counted: boolean }[] = [];
  readonly enqueued: string[] = [];
  readonly charged: string[] = [];
  closed = 0;

  constructor(smtp: FakeSmtp) {
    this.settings = smtp.settings();
  }

  isStopped(): boolean {
    return false;
  }
  finalize(job: Job, answer: Answer): void {
    job.done = true;
    this.finalized.push({ recipient: job.recipient, answer });
  }
  deliver(job: Job, answer: Answer): void {
    job.done = true;
    this.delivered.push({ recipient: job.recipient, answer });
  }
  requeue(_host: Host, jobs: readonly Job[], counted: boolean): void {
    this.requeued.push({ recipients: jobs.map((job) => job.recipient), counted });
  }
  enqueue(job: Job): void {
    this.enqueued.push(`${job.recipient} -> ${job.target?.host ?? 'none'}`);
  }
  climber(like: Job): Job {
    return new Job(
      nextId++,
      'climb',
      `climb@${like.domain.name}`,
      false,
      like.targets,
      like.domain,
      null,
      0,
      '',
    );
  }
  endUnasked(job: Job): void {
    job.done = true;
  }
  charge(_host: Host, job: Job): boolean {
    this.charged.push(job.recipient);
    return false;
  }
  remainingMs(): number {
    return 10_000;
  }
  sessionClosed(): void {
    this.closed += 1;
  }
  shareLimits(): void {
    // Nothing shares this run's limits.
  }
  /** What `limitsStored()` answers: false as a store whose writes fail does. */
  stored = true;
  /** How long `limitsStored()` takes: a store's write, slow under load. */
  storeMs = 0;
  limitsStored(): Promise<boolean> {
    if (this.storeMs === 0) return Promise.resolve(this.stored);
    return new Promise((resolve) =>
      setTimeout(() => {
        resolve(this.stored);
      }, this.storeMs),
    );
  }
}

let nextId = 0;
function queue(host: Host, recipients: readonly string[], kind: JobKind = 'address'): Job[] {
  const domain = new DomainState<ParkedAnswer>('example.test');
  return recipients.map((recipient) => {
    const job = new Job(nextId++, kind, recipient, false, [MX1, MX2], domain, null, 0, '');
    host.add(job, false);
    return job;
  });
}

async function runSession(script: HostScript, fill: (host: Host) => void) {
  const smtp = new FakeSmtp({ [MX1.ip]: script });
  const run = new RecordingRun(smtp);
  const host = new Host(MX1.ip, run.settings);
  fill(host);
  host.active = 1;
  await new SessionRun(run, host, 0).run();
  return { smtp, run, host };
}

describe('SessionRun with a scripted session', () => {
  it('asks the queued addresses in one session and hands each its own reply, read once', async () => {
    const recipients = ['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test'];
    const { smtp, run, host } = await runSession(
      { banner: POSTFIX, rcpt: (recipient) => (recipient.startsWith('b') ? NO_SUCH_USER : OK) },
      (h) => queue(h, recipients),
    );
    assert.equal(smtp.sessions.length, 1);
    assert.deepEqual(
      run.delivered.map((d) => d.recipient),
      recipients,
    );
    for (const { recipient, answer } of run.delivered) {
      const expected = recipient.startsWith('b') ? NO_SUCH_USER : OK;
      assert.equal(answer.reply, expected);
      // The reading that went with it is the reply's own classification, not classified again later.
      assert.deepEqual(answer.classification, classifyReply(expected));
      assert.equal(answer.view?.banner, POSTFIX);
    }
    assert.equal(host.queued, 0);
    assert.equal(run.closed, 1, 'the slot is handed back once');
  });

  it("sends the host's catch-all probe in the last transaction, after every address", async () => {
    const { smtp, run } = await runSession({ banner: POSTFIX, rcpt: () => OK }, (h) => {
      queue(h, ['random@example.test'], 'catchAll');
      queue(h, ['a@example.test', 'b@example.test']);
    });
    const asked = smtp.transactions.flatMap((t) => t.recipients);
    assert.equal(asked.at(-1), 'random@example.test', asked.join(', '));
    assert.equal(asked.length, 3);
    assert.equal(run.delivered.length, 3);
  });

  it("sends no batch past what is proven when the store could not be told of it, and fixes the host's budget at what is proven", async () => {
    // A host whose greeting names no MTA: its budget is a guess, and the session explores it, its
    // batch stored (`exploringBatch`) before it goes out. A store whose write failed (flush false):
    // a run killed with that batch out would leave nobody knowing it may have crossed the limit.
    const smtp = new FakeSmtp({ [MX1.ip]: { banner: 'mx1.example.test ESMTP', rcpt: () => NO_SUCH_USER } });
    const run = new RecordingRun(smtp);
    run.stored = false;
    const host = new Host(MX1.ip, run.settings);
    const jobs = queue(host, ['a@example.test', 'b@example.test', 'c@example.test']);
    host.active = 1;
    await new SessionRun(run, host, 0).run();
    assert.deepEqual(
      smtp.transactions.flatMap((t) => t.recipients),
      [],
      'no RCPT went out past what is proven',
    );
    assert.equal(host.queued, jobs.length, 'every address back in the queue');
    assert.ok(
      jobs.every((job) => job.sessions === 0),
      'their try not counted',
    );
    assert.equal(run.delivered.length + run.finalized.length, 0);
    assert.equal(host.learned.guessing, false, 'no session explores the guess after that');
    assert.equal(host.learned.errorBudget, 1, 'the budget fixed at what is proven (none: at least 1)');
    assert.equal(run.closed, 1);
  });

  it("takes no slow write of the store for the host's late reply to the explorer's batch", async () => {
    // The explorer's first batch draws a refusal and waits for its record to be stored before it goes
    // out: 600 ms, past the 500 ms that make a reply late. Timed from before that wait, the batch
    // was judged late after a refusal, and the budget fixed at 1 (a penalty the host never gave).
    const smtp = new FakeSmtp({
      [MX1.ip]: { banner: 'mx1.example.test ESMTP', rcpt: (r) => (r.startsWith('no') ? NO_SUCH_USER : OK) },
    });
    const run = new RecordingRun(smtp);
    run.storeMs = 600;
    const host = new Host(MX1.ip, run.settings);
    queue(host, ['no1@example.test', 'ok1@example.test', 'ok2@example.test', 'ok3@example.test']);
    host.active = 1;
    await new SessionRun(run, host, 0).run();
    assert.equal(run.delivered.length, 4);
    assert.equal(host.learned.record().penalties, 0, JSON.stringify(host.learned.record()));
    assert.notEqual(host.learned.record().budgetSource, 'penalty');
  });

  it('gives back the address a 421 answered, and the rest unasked, and backs the host off', async () => {
    const closing = reply(421, '4.7.0', 'Try again later, closing connection');
    const { run, host } = await runSession(
      { banner: POSTFIX, rcpt: (recipient) => (recipient.startsWith('b') ? closing : OK) },
      (h) => queue(h, ['a@example.test', 'b@example.test', 'c@example.test']),
    );
    assert.deepEqual(
      run.delivered.map((d) => d.recipient),
      ['a@example.test'],
    );
    // The 421 is about us, not b: asked again (a try counted); c never got its own reply.
    assert.deepEqual(run.requeued, [
      { recipients: ['b@example.test'], counted: true },
      { recipients: ['c@example.test'], counted: true },
    ]);
    assert.ok(host.backoffUntil > 0, 'the host backs off');
  });

  it('ends every queued address with a refusal at the greeting, as verify() would (no RCPT)', async () => {
    const refused: ProbeFailure = {
      kind: 'reply',
      stage: 'connect',
      message: 'no SMTP service here',
      reply: { stage: 'connect', code: 554, enhanced: null, text: 'no SMTP service here' },
    };
    const { smtp, run } = await runSession({ open: () => refused, rcpt: () => OK }, (h) =>
      queue(h, ['a@example.test', 'b@example.test']),
    );
    assert.equal(smtp.transactions.length, 0);
    assert.deepEqual(
      run.finalized.map((f) => [f.recipient, f.answer.failure?.reply?.code]),
      [
        ['a@example.test', 554],
        ['b@example.test', 554],
      ],
    );
  });

  it('moves the addresses of an unreachable host to their next MX host at once (RFC 5321 §5.1)', async () => {
    const unreachable: ProbeFailure = {
      kind: 'connection_failed',
      stage: 'connect',
      message: 'connect ECONNREFUSED',
      reply: null,
    };
    const { run, host } = await runSession({ open: () => unreachable, rcpt: () => OK }, (h) =>
      queue(h, ['a@example.test', 'b@example.test']),
    );
    assert.deepEqual(run.enqueued, [
      'a@example.test -> mx2.example.test',
      'b@example.test -> mx2.example.test',
    ]);
    assert.deepEqual(run.charged, ['a@example.test', 'b@example.test'], 'the failed open is charged to both');
    assert.equal(host.unreachable, true);
  });
});
