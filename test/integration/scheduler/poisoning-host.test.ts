/**
 * verifyMany() at a host that refuses every RCPT of a session after its first unknown recipient and
 * says "user unknown" to each (some anti-harvest setups, src/scheduler/poisoning.ts): a real address
 * asked after an unknown one would be refused like a missing mailbox. A refusal after another one is
 * kept aside until one RCPT to `postmaster` (RFC 5321 §4.5.1) in the same transaction tells whether
 * the host answers after a refusal; here it refuses it too, so the host is known to poison, and what
 * came after a refusal is asked again where nothing spoils it. Against sim-MTAs on loopback (the repo's
 * DNS server); verdicts are checked against which mailboxes exist, and against verify(), and counts
 * come from the servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { createVerifier, type VerifyOptions } from '../../../src/index.js';
import { tellingLimits, verdictOf, verifyManyResults, type Told } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const POISONING = '127.0.5.42';
const HONEST = '127.0.5.43';
const NO_POSTMASTER = '127.0.5.44';
const POISONING_NO_POSTMASTER = '127.0.5.45';
const DOMAINS = ['poisoned.test', 'poisoned-b.test'];

let dns: DnsServer;
let poisoning: SimMta;
let honest: SimMta;
let noPostmaster: SimMta;
let poisoningNoPostmaster: SimMta;
let base: VerifyOptions;

const unknownUser = (address: string) =>
  address.startsWith('ok')
    ? null
    : { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };

before(async () => {
  poisoning = await startSimMta({
    name: 'poisoned.test',
    host: POISONING,
    port: 0,
    banner: 'mx.poisoned.test ESMTP',
    recipient: unknownUser,
    refuseAllAfterUnknown: true,
    poisonedReply: { code: 550, text: '5.1.1 Recipient address rejected: User unknown' },
    record: true,
  });
  // Answers every RCPT truly, refusals or not.
  honest = await startSimMta({
    name: 'honest.test',
    host: HONEST,
    port: poisoning.port,
    banner: 'mx.honest.test ESMTP',
    recipient: unknownUser,
    record: true,
  });
  // Answers every RCPT truly, but has no postmaster (against RFC 5321 §4.5.1), as many real domains.
  noPostmaster = await startSimMta({
    name: 'no-postmaster.test',
    host: NO_POSTMASTER,
    port: poisoning.port,
    banner: 'mx.no-postmaster.test ESMTP',
    recipient: unknownUser,
    postmaster: false,
    record: true,
  });
  // Refuses everything after an unknown recipient, and has no postmaster either.
  poisoningNoPostmaster = await startSimMta({
    name: 'poisoned-np.test',
    host: POISONING_NO_POSTMASTER,
    port: poisoning.port,
    banner: 'mx.poisoned-np.test ESMTP',
    recipient: unknownUser,
    postmaster: false,
    refuseAllAfterUnknown: true,
    poisonedReply: { code: 550, text: '5.1.1 Recipient address rejected: User unknown' },
    record: true,
  });
  dns = await startDnsServer({
    zones: {
      'mx.poisoned.test': { A: [POISONING] },
      'mx.honest.test': { A: [HONEST] },
      'honest.test': { MX: [{ priority: 10, exchange: 'mx.honest.test' }] },
      'mx.no-postmaster.test': { A: [NO_POSTMASTER] },
      'no-postmaster.test': { MX: [{ priority: 10, exchange: 'mx.no-postmaster.test' }] },
      'mx.poisoned-np.test': { A: [POISONING_NO_POSTMASTER] },
      'poisoned-np.test': { MX: [{ priority: 10, exchange: 'mx.poisoned-np.test' }] },
      ...Object.fromEntries(
        DOMAINS.map((domain) => [domain, { MX: [{ priority: 10, exchange: 'mx.poisoned.test' }] }]),
      ),
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: poisoning.port }),
    timeoutMs: 30_000,
    greylistWaitMs: 0,
  };
});

after(async () => {
  await Promise.all([
    dns.close(),
    poisoning.close(),
    honest.close(),
    noPostmaster.close(),
    poisoningNoPostmaster.close(),
  ]);
});

const expected = (input: string) =>
  input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';

/** RCPTs to `postmaster@` in the recorded sessions of `mta` from `from` on. */
const postmasterRcpts = (mta: SimMta, from: number) =>
  mta.sessions
    .slice(from)
    .flatMap((session) => session.commands.filter((line) => /^RCPT TO:<postmaster@/i.test(line))).length;

describe('a host that refuses every RCPT after an unknown one, saying "user unknown"', () => {
  it('costs no existing address its answer, and no catch-all probe its truth', async () => {
    // A quarter unknown, spread through the list and both domains.
    const inputs = Array.from(
      { length: 160 },
      (_, i) => `${i % 4 === 1 ? 'no' : 'ok'}${i}@${DOMAINS[Math.floor(i / 5) % 2] ?? ''}`,
    );
    const first = poisoning.sessions.length;
    const results = await verifyManyResults(base, inputs, { hostConcurrency: 2 });
    assert.ok(poisoning.stats.poisonedRcpts > 0, 'the host spoiled some RCPTs');
    const wrong = inputs.filter((input) => verdictOf(results.get(input)) !== expected(input));
    assert.deepEqual(
      wrong.map((input) => `${input}: ${verdictOf(results.get(input))}`),
      [],
    );
    // Neither domain accepts every recipient, and no probe's answer said otherwise.
    for (const domain of DOMAINS) {
      const known = inputs.filter((input) => input.startsWith('ok') && input.endsWith(`@${domain}`));
      for (const input of known) assert.equal(results.get(input)?.smtp?.catchAll, false, input);
    }
    // Learning that the host poisons took one check RCPT, not one per session: an address it had
    // accepted, asked again after a refusal (refused), in place of postmaster. No address was asked
    // more than three times (spoiled once, accepted, the check).
    assert.equal(postmasterRcpts(poisoning, first), 0);
    const asked = new Map<string, number>();
    for (const session of poisoning.sessions.slice(first))
      for (const line of session.commands.filter((l) => /^RCPT TO:<ok/i.test(l)))
        asked.set(line, (asked.get(line) ?? 0) + 1);
    assert.ok(Math.max(...asked.values()) <= 3, `an address asked ${Math.max(...asked.values())} times`);
    // The catch-all probes (a random local part, neither the list's nor postmaster) were asked, and
    // each came after every address of its session: a probe refused first cannot spoil one.
    const sessions = poisoning.sessions
      .slice(first)
      .map((session) => session.commands.filter((line) => /^RCPT TO:/i.test(line)));
    const isProbe = (line: string) => !/^RCPT TO:<(ok|no|postmaster@)/i.test(line);
    assert.ok(sessions.flat().some(isProbe), 'catch-all probes were asked');
    const probeFirst = sessions.filter((rcpts) => {
      const probe = rcpts.findIndex(isProbe);
      return probe !== -1 && rcpts.slice(probe).some((line) => /^RCPT TO:<(ok|no)/i.test(line));
    });
    assert.deepEqual(probeFirst, []);
    // Once known, no session went on past its first refusal with more than that transaction's RCPTs.
    const spoiledAfter = poisoning.sessions.slice(first + 2).filter((session) => {
      const rcpts = session.commands.filter((line) => /^RCPT TO:/i.test(line));
      const refused = rcpts.findIndex((line) => /^RCPT TO:<no/i.test(line));
      return (
        refused !== -1 &&
        session.commands
          .slice(session.commands.indexOf(rcpts[refused] ?? ''))
          .some((l) => /^(MAIL|RSET)/i.test(l))
      );
    });
    assert.deepEqual(
      spoiledAfter.map((session) => session.commands.join(' | ')),
      [],
    );
  });

  it('answers a list of unknown addresses truly, each asked once', async () => {
    const inputs = Array.from({ length: 30 }, (_, i) => `no-all${i}@${DOMAINS[i % 2] ?? ''}`);
    const rcptsBefore = poisoning.stats.rcpts;
    const results = await verifyManyResults({ ...base, catchAll: false }, inputs, { hostConcurrency: 2 });
    for (const input of inputs)
      assert.equal(verdictOf(results.get(input)), 'undeliverable/mailbox_not_found', input);
    // The host is new to this verifier: learning it poisons costs one postmaster and the RCPTs it
    // spoiled in that first transaction, asked again.
    const sent = poisoning.stats.rcpts - rcptsBefore;
    assert.ok(sent <= 2 * inputs.length, `${sent} RCPTs for ${inputs.length} addresses`);
  });

  it('gives the verdicts verify() gives, one address at a time', async () => {
    const inputs = ['ok1', 'no2', 'no3', 'ok4', 'no5', 'ok6', 'ok7', 'no8'].map(
      (local) => `${local}@${DOMAINS[0]}`,
    );
    const many = await verifyManyResults(base, inputs, { hostConcurrency: 1 });
    const verifier = createVerifier(base);
    try {
      for (const input of inputs)
        assert.equal(verdictOf(many.get(input)), verdictOf(await verifier.verify(input)), input);
    } finally {
      await verifier.close();
    }
  });
});

describe('a host whose refusals mean what they say', () => {
  it('is trusted after one postmaster accepted after a refusal: its refusals stand, and cost nothing again', async () => {
    // All unknown: no RCPT is ever accepted after a refusal unless postmaster is asked.
    const inputs = Array.from({ length: 60 }, (_, i) => `no${i}@honest.test`);
    const first = honest.sessions.length;
    const rcptsBefore = honest.stats.rcpts;
    const results = await verifyManyResults({ ...base, catchAll: false }, inputs, { hostConcurrency: 2 });
    for (const input of inputs)
      assert.equal(verdictOf(results.get(input)), 'undeliverable/mailbox_not_found', input);
    assert.equal(postmasterRcpts(honest, first), 1);
    // Each address asked once, and the check.
    assert.ok(
      honest.stats.rcpts - rcptsBefore <= inputs.length + 1,
      `${honest.stats.rcpts - rcptsBefore} RCPTs`,
    );
  });
});

/** `inputs` verified one address at a time (verify(), one session each): the verdicts by input. */
async function oneAtATime(inputs: readonly string[]): Promise<Map<string, string>> {
  const verifier = createVerifier({ ...base, catchAll: false });
  const verdicts = new Map<string, string>();
  try {
    for (const input of inputs) verdicts.set(input, verdictOf(await verifier.verify(input)));
  } finally {
    await verifier.close();
  }
  return verdicts;
}

/** RCPTs to `postmaster@`, sessions and RCPTs `mta` received while `run` ran. */
async function counted<T>(
  mta: SimMta,
  run: () => Promise<T>,
): Promise<{ result: T; postmaster: number; sessions: number; rcpts: number; from: number }> {
  const from = mta.sessions.length;
  const rcptsBefore = mta.stats.rcpts;
  const result = await run();
  return {
    result,
    postmaster: postmasterRcpts(mta, from),
    sessions: mta.sessions.length - from,
    rcpts: mta.stats.rcpts - rcptsBefore,
    from,
  };
}

/** 200 addresses: the first 30 % unknown, then a quarter existing (docs/bulk.md's table). */
const unknownFirst = (domain: string, tag: string) =>
  Array.from({ length: 200 }, (_, i) => `${i >= 60 && i % 4 === 1 ? 'ok' : 'no'}${i}${tag}@${domain}`);

describe('a host that answers truly but refuses postmaster (against RFC 5321 §4.5.1)', () => {
  it('unknown addresses only: taken to poison, every verdict right, one session per address at most', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => `no${i}@no-postmaster.test`);
    const { result, postmaster, sessions, rcpts } = await counted(noPostmaster, () =>
      verifyManyResults({ ...base, catchAll: false }, inputs, { hostConcurrency: 2 }),
    );
    for (const input of inputs) assert.equal(verdictOf(result.get(input)), expected(input), input);
    // Nothing accepted: postmaster is all there is to ask, and it is refused.
    assert.equal(postmaster, 1);
    // Each session's first RCPT is answered truly whatever the host does after a refusal: one session
    // per address at most (the cost of one connection per address), each address asked twice at most.
    assert.ok(sessions <= inputs.length, `${sessions} sessions for ${inputs.length} addresses`);
    assert.ok(rcpts <= 2 * inputs.length, `${rcpts} RCPTs for ${inputs.length} addresses`);
  });

  it('asks an address it accepted in place of postmaster: no postmaster, no session per address', async () => {
    // Two existing addresses first, accepted before any refusal: the refusals after them prove nothing
    // until one of them is asked again after a refusal.
    const inputs = Array.from({ length: 40 }, (_, i) => `${i < 2 ? 'ok' : 'no'}${i}x@no-postmaster.test`);
    const told: Told = new Map();
    const { result, postmaster, sessions, rcpts } = await counted(noPostmaster, () =>
      verifyManyResults({ ...base, catchAll: false, hostLimits: tellingLimits(told) }, inputs, {
        hostConcurrency: 2,
      }),
    );
    for (const input of inputs) assert.equal(verdictOf(result.get(input)), expected(input), input);
    assert.equal(postmaster, 0);
    // Before, postmaster was refused and each unknown address took a session of its own (38).
    assert.ok(sessions <= 8, `${sessions} sessions for ${inputs.length} addresses`);
    assert.ok(rcpts <= inputs.length + 2, `${rcpts} RCPTs for ${inputs.length} addresses`);
    assert.equal([...told.values()].flat().at(-1)?.afterRefusal, 'answers');
  });

  it('the first 30 % unknown, then a quarter existing: proves itself once an address is accepted, verdicts as one address at a time', async () => {
    const inputs = unknownFirst('no-postmaster.test', 'u');
    const { result, postmaster, sessions, rcpts, from } = await counted(noPostmaster, () =>
      verifyManyResults({ ...base, catchAll: false }, inputs, { hostConcurrency: 2 }),
    );
    const single = await oneAtATime(inputs);
    assert.deepEqual(
      inputs.filter((input) => verdictOf(result.get(input)) !== single.get(input)),
      [],
    );
    for (const input of inputs) assert.equal(single.get(input), expected(input), input);
    // Postmaster refused, the host is taken to poison until it accepts an address: one session per
    // address until then, every other one taken from the back of the list, where existing addresses
    // are; then a handful. (Before: 165 sessions, one per refused address to the end; 67 asking from
    // the front only, one per unknown address before the first existing one.)
    assert.equal(postmaster, 1);
    const firstAccepted = noPostmaster.sessions
      .slice(from)
      .findIndex((session) => session.commands.some((line) => /^RCPT TO:<ok/i.test(line)));
    assert.ok(
      firstAccepted !== -1 && firstAccepted <= 12,
      `first existing address in session ${firstAccepted}`,
    );
    const after = sessions - firstAccepted;
    assert.ok(after <= 10, `${after} sessions after the first existing address (${sessions} in all)`);
    assert.ok(rcpts <= inputs.length + 20, `${rcpts} RCPTs for ${inputs.length} addresses`);
  });

  it('taken to poison by another run (its stored record), proves itself with an address it accepts', async () => {
    // The other run: unknown addresses only, so postmaster (refused) is all it could ask.
    const first: Told = new Map();
    const unknown = Array.from({ length: 20 }, (_, i) => `no${i}a@no-postmaster.test`);
    await verifyManyResults({ ...base, catchAll: false, hostLimits: tellingLimits(first) }, unknown, {
      hostConcurrency: 2,
    });
    const stored = [...first.values()].flat().at(-1);
    assert.equal(stored?.afterRefusal, 'poisons');
    const inputs = Array.from(
      { length: 80 },
      (_, i) => `${i % 4 === 1 ? 'ok' : 'no'}${i}s@no-postmaster.test`,
    );
    const told: Told = new Map();
    const { result, postmaster, sessions } = await counted(noPostmaster, () =>
      verifyManyResults(
        { ...base, catchAll: false, hostLimits: { ...tellingLimits(told), known: () => stored ?? null } },
        inputs,
        { hostConcurrency: 2 },
      ),
    );
    for (const input of inputs) assert.equal(verdictOf(result.get(input)), expected(input), input);
    assert.equal(postmaster, 0);
    // Before: one session per unknown address (60).
    assert.ok(sessions <= 10, `${sessions} sessions for ${inputs.length} addresses`);
    assert.equal([...told.values()].flat().at(-1)?.afterRefusal, 'answers');
  });

  it('asks an address it accepted in another run (its stored record), not postmaster: unknown addresses settled in few sessions', async () => {
    // The other run: existing addresses only, nothing refused, so nothing learned of what comes after
    // a refusal; what it keeps is an address the host accepted.
    const first: Told = new Map();
    const existing = Array.from({ length: 6 }, (_, i) => `ok${i}k@no-postmaster.test`);
    await verifyManyResults({ ...base, catchAll: false, hostLimits: tellingLimits(first) }, existing, {
      hostConcurrency: 2,
    });
    const stored = [...first.values()].flat().at(-1) ?? null;
    assert.ok(existing.includes(stored?.acceptedRecipient ?? ''), JSON.stringify(stored));
    assert.equal(stored?.afterRefusal, undefined, JSON.stringify(stored));
    const inputs = Array.from({ length: 40 }, (_, i) => `no${i}k@no-postmaster.test`);
    const told: Told = new Map();
    const { result, postmaster, sessions } = await counted(noPostmaster, () =>
      verifyManyResults(
        { ...base, catchAll: false, hostLimits: { ...tellingLimits(told), known: () => stored } },
        inputs,
        { hostConcurrency: 2 },
      ),
    );
    for (const input of inputs) assert.equal(verdictOf(result.get(input)), expected(input), input);
    assert.equal(postmaster, 0);
    // Before: postmaster asked, refused, the host taken to poison: one session per address (40).
    assert.ok(sessions <= 8, `${sessions} sessions for ${inputs.length} addresses`);
    const last = [...told.values()].flat().at(-1);
    assert.equal(last?.afterRefusal, 'answers', JSON.stringify(last));
    assert.equal('acceptedRecipient' in last, false, 'not kept once the host is known to answer');
  });
});

describe('a host that refuses everything after an unknown recipient and has no postmaster', () => {
  it('the first 30 % unknown, then a quarter existing: every verdict as one address at a time, each asked twice at most', async () => {
    const inputs = unknownFirst('poisoned-np.test', 'p');
    const told: Told = new Map();
    const { result, postmaster, sessions, rcpts } = await counted(poisoningNoPostmaster, () =>
      verifyManyResults({ ...base, catchAll: false, hostLimits: tellingLimits(told) }, inputs, {
        hostConcurrency: 2,
      }),
    );
    assert.ok(poisoningNoPostmaster.stats.poisonedRcpts > 0, 'the host spoiled some RCPTs');
    const single = await oneAtATime(inputs);
    assert.deepEqual(
      inputs.filter((input) => verdictOf(result.get(input)) !== single.get(input)),
      [],
    );
    for (const input of inputs) assert.equal(single.get(input), expected(input), input);
    assert.equal(postmaster, 1);
    assert.ok(sessions <= inputs.length, `${sessions} sessions for ${inputs.length} addresses`);
    assert.ok(rcpts <= 2 * inputs.length, `${rcpts} RCPTs for ${inputs.length} addresses`);
    // The address it accepted, asked again after a refusal, was refused: it poisons, and no later
    // session asked it again (one RCPT, not one per session): no address asked more than three times
    // (spoiled once, accepted, the check).
    assert.equal([...told.values()].flat().at(-1)?.afterRefusal, 'poisons');
    const asked = new Map<string, number>();
    for (const session of poisoningNoPostmaster.sessions)
      for (const line of session.commands.filter((l) => /^RCPT TO:<.*p@/i.test(l)))
        asked.set(line, (asked.get(line) ?? 0) + 1);
    const most = Math.max(...asked.values());
    assert.ok(most <= 3, `an address asked ${most} times`);
  });
});
