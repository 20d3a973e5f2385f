/**
 * The scheduler's run logic with a scripted session (test/helpers/fake-session.ts) and fake verifier
 * ports: batching at one host, the session cap, a 421 at the greeting, a disconnect mid-batch, a
 * recipient limit, greylisting, the catch-all probe, and the next MX host. No sockets, no timers beyond
 * the scheduler's own (small backoffs).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  HarvestAllowance,
  HostRateWindow,
  schedule,
  type PlannedAddress,
  type Preparation,
  type ResultBody,
  type SchedulerPorts,
  type SchedulerSettings,
  type Conversation,
} from '../../../src/scheduler/index.js';
import { classifyReply } from '../../../src/classify/index.js';
import { parseAddress } from '../../../src/syntax/index.js';
import {
  verdictOf,
  type HostLimitsFacts,
  type HostLimitsRecord,
  type SmtpReplyInfo,
  type ProbeTarget,
  type Reason,
  type VerifyResult,
} from '../../../src/types.js';
import { FakeSmtp, NO_SUCH_USER, OK, reply, type HostScript } from '../../helpers/fake-session.js';

const MX1: ProbeTarget = { host: 'mx1.example.test', ip: '192.0.2.1' };
const MX2: ProbeTarget = { host: 'mx2.example.test', ip: '192.0.2.2' };

interface Ports extends SchedulerPorts<PlannedAddress> {
  /** Catch-all replies each concluded address saw, by recipient. */
  readonly catchAllSeen: Map<string, number | null>;
}

/** Ports that plan every valid address at `targets`, and read a reply code as its reason. */
function fakePorts(targets: readonly ProbeTarget[], options: { catchAll?: boolean } = {}): Ports {
  const catchAllSeen = new Map<string, number | null>();
  const body = (input: string, reason: Reason): ResultBody => ({
    input,
    address: input,
    verdict: verdictOf(reason),
    reason,
    flags: { role: false, free: false, disposable: false, catchAll: false },
    suggestion: null,
    syntax: parseAddress(input),
    dns: null,
    smtp: null,
    retryAt: null,
  });
  return {
    catchAllSeen,
    allowance: new HarvestAllowance(),
    rate: new HostRateWindow(),
    prepare(input): Promise<Preparation<PlannedAddress>> {
      if (!input.includes('@')) return Promise.resolve({ kind: 'done', body: body(input, 'invalid_syntax') });
      return Promise.resolve({
        kind: 'probe',
        plan: {
          recipient: input,
          domain: input.slice(input.indexOf('@') + 1),
          targets,
          smtputf8: false,
          needsCatchAll: options.catchAll === true,
        },
      });
    },
    conclude(plan, conversation: Conversation) {
      catchAllSeen.set(plan.recipient, conversation.catchAll?.code ?? null);
      const rcpt = conversation.reply;
      if (rcpt === null) {
        const reason = conversation.timedOut ? 'timeout' : 'connection_failed';
        return { body: body(plan.recipient, reason), waitMs: null };
      }
      // Read once, where the reply arrived: the verifier does not classify it again.
      assert.equal(conversation.classification?.verdict, classifyReply(rcpt).verdict);
      if (rcpt.code === 450) return { body: body(plan.recipient, 'greylisted'), waitMs: 5 };
      return { body: body(plan.recipient, rcpt.code < 300 ? 'accepted' : 'mailbox_not_found'), waitMs: null };
    },
    finish: (result, _startedAt, checkedAt) => ({ ...result, durationMs: 0, checkedAt }),
    harvestLimited: (plan) => body(plan.recipient, 'rate_limited'),
  };
}

async function run(
  inputs: readonly string[],
  ports: SchedulerPorts<PlannedAddress>,
  smtp: FakeSmtp,
  overrides: Partial<SchedulerSettings> = {},
): Promise<Map<string, VerifyResult>> {
  const results = new Map<string, VerifyResult>();
  for await (const result of schedule(inputs, ports, smtp.settings(overrides))) {
    assert.equal(results.has(result.input), false, `one result per input (${result.input})`);
    results.set(result.input, result);
  }
  return results;
}

const addresses = (count: number, domain = 'example.test'): string[] =>
  Array.from({ length: count }, (_, i) => `user${String(i)}@${domain}`);

/** Answers `user<even>` with 250 and `user<odd>` with 550 5.1.1. */
const evenOdd: HostScript['rcpt'] = (recipient) =>
  Number(/user(\d+)/.exec(recipient)?.[1]) % 2 === 0 ? OK : NO_SUCH_USER;

describe('schedule() with a fake session', () => {
  it('verifies many addresses at one host in one session, several RCPTs per transaction', async () => {
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: () => OK } });
    const inputs = addresses(60);
    const results = await run(inputs, fakePorts([MX1]), smtp);
    assert.equal(results.size, 60);
    for (const input of inputs) assert.equal(results.get(input)?.reason, 'accepted');
    assert.equal(smtp.sessions.length, 1, 'one session for one host at hostConcurrency 1');
    assert.ok(smtp.transactions.length < 60, `batched (${String(smtp.transactions.length)} transactions)`);
    assert.ok(
      smtp.transactions.slice(1).every((t) => t.reset),
      'RSET between transactions',
    );
    const asked = smtp.transactions.flatMap((t) => t.recipients);
    assert.deepEqual([...asked].sort(), [...inputs].sort(), 'each address asked exactly once');
  });

  it('answers an address that needs no conversation without a session', async () => {
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: () => OK } });
    const results = await run(['not-an-address'], fakePorts([MX1]), smtp);
    assert.equal(results.get('not-an-address')?.reason, 'invalid_syntax');
    assert.equal(smtp.sessions.length, 0);
  });

  it('keeps within the error budget: refusals end a session and a new one goes on', async () => {
    // A Postfix greeting: its error budget is known (politeness.ts), nothing to learn.
    const smtp = new FakeSmtp({ [MX1.ip]: { banner: 'mx.test ESMTP Postfix', rcpt: evenOdd } });
    const inputs = addresses(80);
    const results = await run(inputs, fakePorts([MX1]), smtp);
    for (const [i, input] of inputs.entries())
      assert.equal(results.get(input)?.reason, i % 2 === 0 ? 'accepted' : 'mailbox_not_found');
    // 40 refusals, at most 9 per session (Postfix's soft limit, politeness.ts).
    assert.ok(smtp.sessions.length >= 5, `${String(smtp.sessions.length)} sessions`);
    const bySession = new Map<number, number>();
    for (const t of smtp.transactions) {
      const refused = t.recipients.filter((r) => evenOdd(r, 0) !== OK).length;
      bySession.set(t.session, (bySession.get(t.session) ?? 0) + refused);
    }
    for (const [session, refused] of bySession)
      assert.ok(refused <= 9, `session ${String(session)}: ${String(refused)}`);
  });

  it('learns a host without an error budget once, and a run sharing what it learned starts from it', async () => {
    const told = new Map<string, HostLimitsRecord>();
    const facts: HostLimitsFacts = {
      known: (key) => told.get(key) ?? null,
      learned: (key, record) => {
        told.set(key, record);
      },
    };
    // No Postfix greeting: the budget is not known, and the host never slows down.
    const first = new FakeSmtp({ [MX1.ip]: { rcpt: evenOdd } });
    const results = await run(addresses(120), { ...fakePorts([MX1]), hostLimits: facts }, first);
    assert.equal(results.size, 120);
    assert.ok(
      first.transactions.some((t) => t.more),
      'the first run went past the budget one RCPT at a time',
    );
    assert.equal(told.get(MX1.ip)?.budgetSource, 'none');
    assert.equal(told.get(MX1.ip)?.errorBudget, null);
    const second = new FakeSmtp({ [MX1.ip]: { rcpt: evenOdd } });
    await run(addresses(120, 'other.test'), { ...fakePorts([MX1]), hostLimits: facts }, second);
    assert.equal(
      second.transactions.filter((t) => t.more).length,
      0,
      'nothing left to learn: no RCPT one at a time',
    );
    assert.equal(second.sessions.length, 1, '60 refusals in one session at a host without a budget');
    assert.ok(second.transactions.length < first.transactions.length);
  });

  it('never opens more sessions at a host than hostConcurrency', async () => {
    const smtp = new FakeSmtp({ [MX1.ip]: { banner: 'mx.test ESMTP Postfix', rcpt: evenOdd } });
    await run(addresses(200), fakePorts([MX1]), smtp, { hostConcurrency: 2 });
    assert.ok((smtp.peak.get(MX1.ip) ?? 0) <= 2);
    assert.ok(smtp.sessions.length > 2);
  });

  it('backs off after a 421 greeting and asks again', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: {
        open: (attempt) =>
          attempt === 0
            ? {
                kind: 'reply',
                stage: 'greeting',
                message: 'busy',
                reply: { stage: 'greeting', code: 421, enhanced: '4.3.2', text: 'Try again later' },
              }
            : null,
        rcpt: () => OK,
      },
    });
    const results = await run(addresses(5), fakePorts([MX1]), smtp);
    assert.equal(results.size, 5);
    for (const result of results.values()) assert.equal(result.reason, 'accepted');
    assert.equal(smtp.sessions.length, 2);
  });

  it('goes to the next MX host when the first cannot be reached (RFC 5321 §5.1)', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: {
        open: () => ({ kind: 'connection_failed', stage: 'connect', message: 'refused', reply: null }),
        rcpt: () => OK,
      },
      [MX2.ip]: { rcpt: () => NO_SUCH_USER },
    });
    const results = await run(addresses(3), fakePorts([MX1, MX2]), smtp);
    for (const result of results.values()) assert.equal(result.reason, 'mailbox_not_found');
    assert.ok(smtp.transactions.every((t) => t.ip === MX2.ip));
  });

  it('asks an address again in a new session after a disconnect, never making it a verdict', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: { rcpt: (recipient, n) => (recipient === 'user2@example.test' && n === 0 ? 'drop' : OK) },
    });
    const results = await run(addresses(6), fakePorts([MX1]), smtp);
    for (const result of results.values()) assert.equal(result.reason, 'accepted');
    assert.ok(smtp.sessions.length >= 2);
  });

  it('gives an address up after hostTries sessions without its own reply', async () => {
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: () => 'drop' } });
    const results = await run(['a@example.test'], fakePorts([MX1]), smtp, { hostTries: 3 });
    assert.equal(results.get('a@example.test')?.reason, 'connection_failed');
    assert.equal(smtp.sessions.length, 3);
  });

  it('learns a recipient limit from 452 4.5.3 and sends the rest in the next transaction', async () => {
    const limit = 3;
    // The (limit+1)-th RCPT of each transaction is refused with 452 4.5.3.
    const limited: FakeSmtp = new FakeSmtp({
      [MX1.ip]: {
        rcpt: (recipient): SmtpReplyInfo => {
          const index: number = limited.transactions.at(-1)?.recipients.indexOf(recipient) ?? 0;
          return index >= limit ? reply(452, '4.5.3', 'Too many recipients') : OK;
        },
      },
    });
    const inputs = addresses(12);
    const results = await run(inputs, fakePorts([MX1]), limited);
    for (const input of inputs) assert.equal(results.get(input)?.reason, 'accepted');
    const sizes = limited.transactions.map((t) => t.recipients.length);
    assert.ok(
      sizes.slice(-2).every((size) => size <= limit),
      `later transactions within the limit: ${sizes.join(',')}`,
    );
  });

  it('retries a greylisted address after the window, at the same host', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: { rcpt: (_recipient, n) => (n === 0 ? reply(450, '4.2.0', 'Greylisted') : OK) },
    });
    const results = await run(['a@example.test', 'b@example.test'], fakePorts([MX1]), smtp);
    for (const result of results.values()) assert.equal(result.reason, 'accepted');
  });

  it('asks the catch-all question once per domain and hands its reply to every address there', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: { rcpt: (recipient) => (recipient.startsWith('random@') ? NO_SUCH_USER : OK) },
    });
    const inputs = [...addresses(4, 'one.test'), ...addresses(3, 'two.test')];
    const ports = fakePorts([MX1], { catchAll: true });
    const results = await run(inputs, ports, smtp);
    assert.equal(results.size, 7);
    const asked = smtp.transactions.flatMap((t) => t.recipients);
    assert.equal(asked.filter((r) => r === 'random@one.test').length, 1);
    // At a host never seen to accept after a refusal (it may refuse everything after one), one probe
    // a session: random@two in a session of its own, never after random@one's refusal.
    assert.equal(asked.filter((r) => r === 'random@two.test').length, 1);
    assert.ok(
      smtp.transactions.every((t) => t.recipients.filter((r) => r.startsWith('random@')).length <= 1),
    );
    for (const input of inputs) assert.equal(ports.catchAllSeen.get(input), 550, input);
  });

  it('goes on after the catch-all probes at a host that has refused nothing, where each ended a session', async () => {
    // An accept-all provider: every RCPT accepted, the probes of its twenty domains too.
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: () => OK } });
    const inputs = Array.from({ length: 20 }, (_, i) => addresses(5, `y${String(i)}.test`)).flat();
    const ports = fakePorts([MX1], { catchAll: true });
    const results = await run(inputs, ports, smtp);
    assert.equal(results.size, 100);
    for (const input of inputs) assert.equal(ports.catchAllSeen.get(input), 250, input);
    const asked = smtp.transactions.flatMap((t) => t.recipients);
    assert.equal(asked.filter((r) => r.startsWith('random@')).length, 20, 'one probe a domain');
    // Still one probe a transaction: the host was never seen to accept after a refusal.
    assert.ok(
      smtp.transactions.every((t) => t.recipients.filter((r) => r.startsWith('random@')).length <= 1),
    );
    // The first probe, with nothing yet answered, still ends its session.
    assert.ok(smtp.sessions.length <= 2, `${String(smtp.sessions.length)} sessions`);
  });

  it('takes a preparation answered at once as one that came later; a prepare that throws ends the run', async () => {
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: evenOdd } });
    const ports = fakePorts([MX1]);
    const planned = new Map<string, Preparation<PlannedAddress>>();
    for (const input of [...addresses(20), 'not-an-address'])
      planned.set(input, await ports.prepare(input, new AbortController().signal));
    // Every other address is answered without a promise, as a remembered route lets the verifier do.
    let calls = 0;
    const mixed: SchedulerPorts<PlannedAddress> = {
      ...ports,
      prepare: (input) => {
        const preparation = planned.get(input);
        assert.ok(preparation !== undefined);
        return calls++ % 2 === 0 ? preparation : Promise.resolve(preparation);
      },
    };
    const events: string[] = [];
    const lifetime = { started: () => events.push('started'), ended: () => events.push('ended') };
    const results = new Map<string, VerifyResult>();
    const run = schedule([...planned.keys()], mixed, smtp.settings(), undefined, lifetime);
    assert.deepEqual(events, [], 'nothing starts before the results are pulled');
    for await (const result of run) results.set(result.input, result);
    assert.deepEqual(events, ['started', 'ended']);
    assert.equal(results.size, 21);
    assert.equal(results.get('not-an-address')?.reason, 'invalid_syntax');
    for (const [i, input] of addresses(20).entries())
      assert.equal(results.get(input)?.reason, i % 2 === 0 ? 'accepted' : 'mailbox_not_found');

    const broken: SchedulerPorts<PlannedAddress> = {
      ...ports,
      prepare: (input) => {
        if (input.endsWith('@broken.test')) throw new Error('prepare broke');
        return ports.prepare(input, new AbortController().signal);
      },
    };
    const ended: string[] = [];
    await assert.rejects(
      (async () => {
        for await (const result of schedule(
          ['a@example.test', 'b@broken.test', 'c@example.test'],
          broken,
          new FakeSmtp({ [MX1.ip]: { rcpt: () => OK } }).settings(),
          undefined,
          { started: () => undefined, ended: () => ended.push('ended') },
        ))
          assert.ok(result);
      })(),
      /prepare broke/,
    );
    assert.deepEqual(ended, ['ended']);
  });

  it('gives its results as a generator would: nothing before next(), calls at once in order, return() and throw() end the run', async () => {
    const ports = fakePorts([MX1]);
    const smtp = new FakeSmtp({ [MX1.ip]: { rcpt: evenOdd } });
    const events: string[] = [];
    const lifetime = { started: () => events.push('started'), ended: () => events.push('ended') };

    // return() before the first next(): nothing starts, nothing is read, the run is over.
    let read = 0;
    const counted = function* (): Generator<string> {
      for (const address of addresses(4)) {
        read += 1;
        yield address;
      }
    };
    const unstarted = schedule(counted(), ports, smtp.settings(), undefined, lifetime);
    assert.deepEqual(await unstarted.return?.(undefined), { value: undefined, done: true });
    assert.deepEqual(await unstarted.next(), { value: undefined, done: true });
    assert.deepEqual([read, events, smtp.sessions.length], [0, [], 0]);

    // Five calls at once: answered in order, each result once, then the end.
    const all = schedule(addresses(4), ports, smtp.settings(), undefined, lifetime);
    const steps = await Promise.all([all.next(), all.next(), all.next(), all.next(), all.next()]);
    assert.deepEqual(
      steps.map((step) => step.done),
      [false, false, false, false, true],
    );
    assert.deepEqual(
      steps.flatMap((step) => (step.done === true ? [] : [step.value.input])).sort(),
      addresses(4).sort(),
    );
    assert.deepEqual(events, ['started', 'ended']);

    // return() after a result: the run ends (its input closed), and stays ended.
    events.length = 0;
    let closed = false;
    const endless = function* (): Generator<string> {
      try {
        for (let i = 0; ; i++) yield `user${String(i)}@example.test`;
      } finally {
        closed = true;
      }
    };
    const left = schedule(endless(), ports, smtp.settings(), undefined, lifetime);
    assert.equal((await left.next()).done, false);
    assert.deepEqual(await left.return?.('bye'), { value: 'bye', done: true });
    assert.deepEqual([closed, events], [true, ['started', 'ended']]);
    assert.deepEqual(await left.next(), { value: undefined, done: true });

    // throw() after a result ends the run with that error, whatever it is.
    events.length = 0;
    const thrown = schedule(addresses(40), ports, smtp.settings(), undefined, lifetime);
    assert.equal((await thrown.next()).done, false);
    await assert.rejects(thrown.throw?.('stop') ?? Promise.resolve(), (error) => error === 'stop');
    assert.deepEqual(events, ['started', 'ended']);
    assert.deepEqual(await thrown.next(), { value: undefined, done: true });
  });

  it("is not over while a climber is out: its reply, the explorer's crossing perhaps, is read first", async () => {
    const told: HostLimitsRecord[] = [];
    const facts: HostLimitsFacts = { known: () => null, learned: (_key, record) => void told.push(record) };
    // No Postfix greeting, no budget: past the guess the explorer ends its batches with a climber, a
    // random address. The third climber sent alone (the budget proven past the guess by then, so that
    // the other session is not held for the explorer's answer) is held until the test lets it go.
    const smtp = new FakeSmtp({
      [MX1.ip]: {
        rcpt: (recipient) => (recipient.startsWith('climb') ? NO_SUCH_USER : evenOdd(recipient, 0)),
      },
    });
    let release: (() => void) | null = null;
    let held: Promise<void> | null = null;
    const factory = smtp.factory;
    let climbers = 0;
    let alone = 0;
    const settings = smtp.settings({
      hostConcurrency: 2,
      randomLocalPart: () => `climb${String(climbers++)}`,
      openSession: (options) => {
        const session = factory(options);
        const transaction = session.transaction.bind(session);
        session.transaction = async (request) => {
          if (request.recipients.length === 1 && request.recipients[0]?.startsWith('climb') === true)
            alone += 1;
          if (alone === 3 && held === null) {
            held = new Promise((resolve) => {
              release = resolve;
            });
            await held;
          }
          return transaction(request);
        };
        return session;
      },
    });
    const inputs = addresses(600);
    const results = schedule(inputs, { ...fakePorts([MX1]), hostLimits: facts }, settings);
    // Every address answered by the host's other session while the climber waits.
    for (let i = 0; i < inputs.length; i++) assert.equal((await results.next()).done, false);
    assert.notEqual(held, null, 'a climber went alone');
    let ended = false;
    const end = results.next().then((step) => {
      ended = true;
      return step;
    });
    for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(ended, false, 'the run ended with a climber out, its reply never read');
    (release as (() => void) | null)?.();
    assert.equal((await end).done, true);
    assert.ok(told.length > 0);
  });

  it('ends every address in flight as a timeout when the caller aborts', async () => {
    const smtp = new FakeSmtp({
      [MX1.ip]: { open: () => null, rcpt: () => reply(450, '4.2.0', 'Greylisted') },
    });
    const controller = new AbortController();
    const results: VerifyResult[] = [];
    const ports = fakePorts([MX1]);
    const slow: SchedulerPorts<PlannedAddress> = {
      ...ports,
      conclude: (plan, conversation) => {
        const concluded = ports.conclude(plan, conversation);
        // The caller aborts soon after the first greylisting reply, while the retries wait.
        setImmediate(() => {
          controller.abort();
        });
        return { ...concluded, waitMs: concluded.waitMs === null ? null : 60_000 };
      },
    };
    for await (const result of schedule(addresses(3), slow, smtp.settings(), controller.signal))
      results.push(result);
    assert.equal(results.length, 3);
    for (const result of results) assert.equal(result.reason, 'timeout');
  });
});
