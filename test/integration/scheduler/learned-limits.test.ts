/**
 * verifyMany() learning each host's limits (src/scheduler/learned-limits.ts) against real servers on
 * loopback (127.0.5.x, the repo's DNS server): a host with an error budget it does not announce (no
 * Postfix greeting), a Postfix host, a host with no budget at all, a host that refuses every RCPT after
 * the first unknown one, and a host with a `452 4.5.3` recipient limit. Counters come from the servers;
 * nothing is timed. Every verdict equals the address-by-address one.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { performance } from 'node:perf_hooks';

import { createVerifier, type VerifyOptions, type VerifyResult } from '../../../src/index.js';
import { verifyManyResults, tellingLimits, verdictOf, type Told } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const unknown = (address: string) =>
  address.startsWith('ok')
    ? null
    : {
        code: 550,
        text: `5.1.1 <${address}>: Recipient address rejected: User unknown in local recipient table`,
      };

/** Its soft limit: the 13th command after 12 refusals is the first one delayed. */
const HIDDEN_SOFT = 12;

let dns: DnsServer;
let hidden: SimMta;
let postfix: SimMta;
let open: SimMta;
let poison: SimMta;
let limited: SimMta;
let stalling: SimMta;
let sieve: SimMta;

/** The sieve host's domains (sieve1–5.test); those that accept every recipient. */
const SIEVE_DOMAINS = [1, 2, 3, 4, 5].map((n) => `sieve${n}.test`);
const SIEVE_CATCH_ALL = new Set(['sieve3.test', 'sieve5.test']);
let base: VerifyOptions;

/** Busy-waits the whole event loop (rcpt's and the servers'), as a loaded machine or a long GC does. */
function blockLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spin: nothing else runs meanwhile.
  }
}

/** Event-loop stalls the stalling host still has to cause, and those it caused. */
const stalls = { left: 0, caused: 0 };

/** `count` addresses at `domain`, every `every`-th unknown. */
function list(domain: string, count: number, every: number): string[] {
  return Array.from({ length: count }, (_, i) => `${i % every === every - 1 ? 'no' : 'ok'}${i}@${domain}`);
}

before(async () => {
  hidden = await startSimMta({
    name: 'hidden.test',
    host: '127.0.5.2',
    port: 0,
    banner: 'mx.hidden.test ESMTP ready',
    recipient: unknown,
    errorLimits: { soft: HIDDEN_SOFT, hard: 2 * HIDDEN_SOFT, sleepMs: 1_000 },
    record: true,
  });
  const port = hidden.port;
  postfix = await startSimMta({
    name: 'postfix.test',
    host: '127.0.5.3',
    port,
    recipient: unknown,
    errorLimits: { soft: 10, hard: 20, sleepMs: 1_000 },
    record: true,
  });
  open = await startSimMta({
    name: 'open.test',
    host: '127.0.5.4',
    port,
    banner: 'mx.open.test ESMTP Exim 4.96',
    recipient: unknown,
    record: true,
  });
  poison = await startSimMta({
    name: 'poison.test',
    host: '127.0.5.5',
    port,
    banner: 'mx.poison.test ESMTP',
    recipient: unknown,
    refuseAllAfterUnknown: true,
    record: true,
  });
  limited = await startSimMta({
    name: 'limited.test',
    host: '127.0.5.6',
    port,
    banner: 'mx.limited.test ESMTP',
    recipient: unknown,
    recipientLimit: 5,
    record: true,
  });
  // No error budget; the first RCPTs asked past the cautious budget find the event loop blocked for
  // longer than a penalty delay while their reply is in flight.
  stalling = await startSimMta({
    name: 'stalling.test',
    host: '127.0.5.7',
    port,
    banner: 'mx.stalling.test ESMTP Exim 4.96',
    recipient: (address, session) => {
      if (session.errors >= 9 && stalls.left > 0) {
        stalls.left -= 1;
        stalls.caused += 1;
        blockLoop(800);
      }
      return unknown(address);
    },
    record: true,
  });
  // Refuses every RCPT after the first unknown one of a session, saying "user unknown" to each: a
  // catch-all domain's random address asked after another unknown one is refused like a missing one.
  sieve = await startSimMta({
    name: 'sieve.test',
    host: '127.0.5.8',
    port,
    banner: 'mx.sieve.test ESMTP',
    recipient: (address) => (SIEVE_CATCH_ALL.has(address.split('@')[1] ?? '') ? null : unknown(address)),
    refuseAllAfterUnknown: true,
    poisonedReply: { code: 550, text: '5.1.1 Recipient address rejected: User unknown' },
    record: true,
  });
  const zones: Record<string, { MX?: { priority: number; exchange: string }[]; A?: string[] }> = {};
  for (const [name, ip] of [
    ['hidden', '127.0.5.2'],
    ['postfix', '127.0.5.3'],
    ['open', '127.0.5.4'],
    ['poison', '127.0.5.5'],
    ['limited', '127.0.5.6'],
    ['stalling', '127.0.5.7'],
  ] as const) {
    for (const domain of [`${name}.test`, `${name}-b.test`, `${name}-c.test`])
      zones[domain] = { MX: [{ priority: 10, exchange: `mx.${name}.test` }] };
    zones[`mx.${name}.test`] = { A: [ip] };
  }
  for (const domain of SIEVE_DOMAINS) zones[domain] = { MX: [{ priority: 10, exchange: 'mx.sieve.test' }] };
  zones['mx.sieve.test'] = { A: ['127.0.5.8'] };
  dns = await startDnsServer({ zones });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
    timeoutMs: 20_000,
    greylistWaitMs: 0,
  };
});

after(async () => {
  await Promise.all([
    dns.close(),
    hidden.close(),
    postfix.close(),
    open.close(),
    poison.close(),
    limited.close(),
    stalling.close(),
    sieve.close(),
  ]);
});

const bulk = (
  inputs: readonly string[],
  told: Told = new Map(),
  hostConcurrency = 2,
): Promise<Map<string, VerifyResult>> =>
  verifyManyResults({ ...base, hostLimits: tellingLimits(told) }, inputs, { hostConcurrency });

function expected(input: string): string {
  return input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';
}

/** Refused RCPTs per recorded session of `mta` (a recipient is refused when `unknown` says so). */
function refusalsPerSession(mta: SimMta, from: number): number[] {
  return mta.sessions.slice(from).map(
    (session) =>
      session.commands.filter((line) => {
        const address = /^RCPT TO:<([^>]*)>/i.exec(line)?.[1];
        return address !== undefined && unknown(address) !== null;
      }).length,
  );
}

describe('verifyMany() learns each host limits', () => {
  it('learns a budget the host does not announce, crossing it at most once in the run', async () => {
    const inputs = [...list('hidden.test', 240, 3), ...list('hidden-b.test', 60, 3)];
    const first = hidden.sessions.length;
    const results = await bulk(inputs);
    for (const input of inputs) assert.equal(verdictOf(results.get(input)), expected(input), input);
    // 100 refusals (and 2 catch-all probes): learning the soft limit costs one delayed reply, no more.
    assert.ok(hidden.stats.sleptReplies <= 1, `${hidden.stats.sleptReplies} delayed replies`);
    assert.equal(hidden.stats.hardLimitHits, 0);
    const perSession = refusalsPerSession(hidden, first);
    // Past the cautious 9 (the budget grew on evidence) and never past the soft limit but once.
    assert.ok(
      perSession.some((n) => n > 9),
      `refusals per session ${perSession.join(' ')}`,
    );
    assert.ok(perSession.filter((n) => n >= HIDDEN_SOFT).length <= 1, perSession.join(' '));
  });

  it('takes no stall of its own event loop for a penalty: a host without a budget is still found to have none', async () => {
    // 120 refusals: room for sessions whose exploring RCPTs meet a blocked loop, and for one that
    // explores on to the 24 refusals that prove the host has no budget. One session at a time: with
    // two, the other one drew the list's refusals in batches up to the proven budget while the
    // explorer went one RCPT a round trip, and on a loaded machine the list could run out with the
    // explorer at 21 (a race, not a penalty: the stalls cost nothing either way).
    const inputs = list('stalling.test', 240, 2);
    stalls.left = 2;
    stalls.caused = 0;
    const first = stalling.sessions.length;
    const told: Told = new Map();
    const results = await bulk(inputs, told, 1);
    for (const input of inputs) assert.equal(verdictOf(results.get(input)), expected(input), input);
    assert.equal(stalls.caused, 2, 'the loop was blocked while exploring replies were in flight');
    const records = told.get('127.0.5.7') ?? [];
    const budgets = records.map((r) => `${r.budgetSource}:${r.errorBudget ?? '-'}/${r.penalties}`);
    // No penalty taken from the stalls, no budget fixed; the host's lack of one is learned all the same.
    assert.ok(
      records.every((r) => r.penalties === 0 && r.budgetSource !== 'penalty'),
      budgets.join(' '),
    );
    assert.equal(records.at(-1)?.budgetSource, 'none', budgets.join(' '));
    assert.ok(Math.max(...refusalsPerSession(stalling, first)) >= 24);
  });

  it('gives a host without a budget bigger batches and fewer sessions than a Postfix host', async () => {
    const openFirst = open.sessions.length;
    const postfixFirst = postfix.sessions.length;
    const openBefore = { ...open.stats };
    const postfixBefore = { ...postfix.stats };
    const inputs = [...list('open.test', 300, 3), ...list('postfix.test', 300, 3)];
    // One session per host: with two, the one exploring past the budget (one RCPT a round trip) may
    // find the queue drained by the other before it reaches 24 refusals (a race, not a penalty).
    const results = await bulk(inputs, new Map(), 1);
    for (const input of inputs) assert.equal(verdictOf(results.get(input)), expected(input), input);
    const openSessions = open.sessions.length - openFirst;
    const postfixSessions = postfix.sessions.length - postfixFirst;
    const openPerMail = (open.stats.rcpts - openBefore.rcpts) / (open.stats.mails - openBefore.mails);
    const postfixPerMail =
      (postfix.stats.rcpts - postfixBefore.rcpts) / (postfix.stats.mails - postfixBefore.mails);
    assert.ok(
      openSessions < postfixSessions,
      `sessions: no budget ${openSessions}, Postfix ${postfixSessions}`,
    );
    assert.ok(
      openPerMail > postfixPerMail,
      `RCPTs per transaction: no budget ${openPerMail.toFixed(1)}, Postfix ${postfixPerMail.toFixed(1)}`,
    );
    // A session at the host without a budget went on far past Postfix's 10.
    assert.ok(Math.max(...refusalsPerSession(open, openFirst)) > 20);
    // The Postfix host: its budget is known from its greeting, never crossed.
    assert.equal(postfix.stats.sleptReplies - postfixBefore.sleptReplies, 0);
    assert.equal(postfix.stats.hardLimitHits - postfixBefore.hardLimitHits, 0);
    assert.ok(Math.max(...refusalsPerSession(postfix, postfixFirst)) <= 9);
  });

  it('asks the catch-all probe last, so a host that refuses all after an unknown one costs no address its answer', async () => {
    const inputs = ['poison.test', 'poison-b.test', 'poison-c.test'].flatMap((domain) =>
      Array.from({ length: 20 }, (_, i) => `ok${i}@${domain}`),
    );
    const first = poison.sessions.length;
    const results = await bulk(inputs);
    for (const input of inputs) assert.equal(verdictOf(results.get(input)), 'deliverable/accepted', input);
    // Each domain's random address was asked, each after every real address of its session (a
    // probe refused after another is asked again in a later session: it may have been refused for
    // coming after one).
    const probes = new Set<string>();
    for (const session of poison.sessions.slice(first)) {
      const rcpts = session.commands.filter((line) => /^RCPT TO:/i.test(line));
      const firstProbe = rcpts.findIndex((line) => !/^RCPT TO:<ok/i.test(line));
      if (firstProbe === -1) continue;
      for (const line of rcpts.slice(firstProbe)) probes.add(line);
      assert.ok(
        rcpts.slice(firstProbe).every((line) => !/^RCPT TO:<ok/i.test(line)),
        `an address after a probe: ${rcpts.join(' | ')}`,
      );
    }
    assert.equal(probes.size, 3);
    // None of the three domains accepts every recipient, and each probe's answer says so.
    for (const domain of ['poison.test', 'poison-b.test', 'poison-c.test'])
      assert.equal(results.get(`ok0@${domain}`)?.smtp?.catchAll, false, domain);
  });

  it('asks one catch-all probe a session at a host that may refuse all after an unknown one: every probe answered truly, no RCPT poisoned', async () => {
    // Five domains at one host, each with a catch-all probe. Were they asked in one last transaction,
    // every probe after the first would be refused "user unknown" whatever its domain (two are
    // catch-all). The host is never seen to accept after a refusal, so each probe goes last in a
    // session of its own.
    const inputs = SIEVE_DOMAINS.flatMap((domain) => Array.from({ length: 8 }, (_, i) => `ok${i}@${domain}`));
    const first = sieve.sessions.length;
    const poisonedBefore = sieve.stats.poisonedRcpts;
    const results = await bulk(inputs);
    for (const domain of SIEVE_DOMAINS) {
      const catchAll = SIEVE_CATCH_ALL.has(domain);
      for (const input of inputs.filter((address) => address.endsWith(`@${domain}`))) {
        const smtp = results.get(input)?.smtp;
        // Every real address has its own answer, and its domain's true catch-all status.
        assert.equal(smtp?.reply?.code, 250, input);
        assert.equal(smtp.catchAll, catchAll, input);
        assert.equal(
          verdictOf(results.get(input)),
          catchAll ? 'risky/catch_all' : 'deliverable/accepted',
          input,
        );
      }
    }
    assert.equal(
      sieve.stats.poisonedRcpts,
      poisonedBefore,
      'no RCPT came after an unknown one in its session',
    );
    // No real address was asked after a probe, and no session asked two.
    for (const session of sieve.sessions.slice(first)) {
      const rcpts = session.commands.filter((line) => /^RCPT TO:/i.test(line));
      const firstProbe = rcpts.findIndex((line) => !/^RCPT TO:<ok/i.test(line));
      if (firstProbe !== -1) assert.equal(firstProbe, rcpts.length - 1, rcpts.join(' | '));
    }
  });

  it('learns a 452 4.5.3 recipient limit and keeps every transaction within it', async () => {
    const inputs = list('limited.test', 60, 4);
    const first = limited.sessions.length;
    const results = await bulk(inputs);
    for (const input of inputs) assert.equal(verdictOf(results.get(input)), expected(input), input);
    const perTransaction = limited.sessions.slice(first).flatMap((session) => {
      const counts: number[] = [];
      for (const line of session.commands) {
        if (/^MAIL FROM:/i.test(line)) counts.push(0);
        else if (/^RCPT TO:/i.test(line)) counts[counts.length - 1] = (counts.at(-1) ?? 0) + 1;
      }
      return counts;
    });
    const sent = perTransaction.reduce((a, b) => a + b, 0);
    // 60 addresses and 1 probe, each answered once; the RCPTs refused with 452 before the limit was
    // known (the first batch of each session open then) are all that is sent again.
    assert.ok(sent - 61 <= 2 * 61 - 2 * 5, `${sent} RCPTs`);
    assert.ok(sent - 61 <= 20, `${sent - 61} RCPTs sent again`);
    // 45 accepted at 5 a transaction: at least 9 transactions, most of them of 5 to 6 RCPTs.
    assert.ok(perTransaction.length >= 9, `${perTransaction.length} transactions`);
  });

  it('reaches the verdicts address-by-address verification gives', async () => {
    const inputs = [
      ...list('hidden-c.test', 12, 3),
      ...list('open-b.test', 12, 3),
      ...list('limited-b.test', 12, 4),
    ];
    const many = await bulk(inputs);
    const verifier = createVerifier(base);
    try {
      for (const input of inputs)
        assert.equal(verdictOf(many.get(input)), verdictOf(await verifier.verify(input)), input);
    } finally {
      await verifier.close();
    }
  });
});
