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
import { createVerifier, type VerifyOptions, type VerifyResult } from '../../../src/index.js';
import { verifyManyResults } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const POISONING = '127.0.5.42';
const HONEST = '127.0.5.43';
const NO_POSTMASTER = '127.0.5.44';
const DOMAINS = ['poisoned.test', 'poisoned-b.test'];

let dns: DnsServer;
let poisoning: SimMta;
let honest: SimMta;
let noPostmaster: SimMta;
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
  dns = await startDnsServer({
    zones: {
      'mx.poisoned.test': { A: [POISONING] },
      'mx.honest.test': { A: [HONEST] },
      'honest.test': { MX: [{ priority: 10, exchange: 'mx.honest.test' }] },
      'mx.no-postmaster.test': { A: [NO_POSTMASTER] },
      'no-postmaster.test': { MX: [{ priority: 10, exchange: 'mx.no-postmaster.test' }] },
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
  await Promise.all([dns.close(), poisoning.close(), honest.close(), noPostmaster.close()]);
});

const verdictOf = (r: VerifyResult | undefined) => (r === undefined ? 'missing' : `${r.verdict}/${r.reason}`);

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
    // Learning that the host poisons took one RCPT to postmaster, not one per session.
    assert.equal(postmasterRcpts(poisoning, first), 1);
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

describe('a host that answers truly but refuses postmaster (against RFC 5321 §4.5.1)', () => {
  for (const [name, existing] of [
    ['unknown addresses only', () => false],
    ['unknown addresses first, then a quarter existing', (i: number) => i >= 12 && i % 4 === 1],
  ] as const) {
    it(`${name}: taken to poison, every verdict right, one session per address at most`, async () => {
      const inputs = Array.from(
        { length: 40 },
        (_, i) => `${existing(i) ? 'ok' : 'no'}${i}@no-postmaster.test`,
      );
      const first = noPostmaster.sessions.length;
      const rcptsBefore = noPostmaster.stats.rcpts;
      const results = await verifyManyResults({ ...base, catchAll: false }, inputs, { hostConcurrency: 2 });
      for (const input of inputs) assert.equal(verdictOf(results.get(input)), expected(input), input);
      assert.equal(postmasterRcpts(noPostmaster, first), 1);
      // Each session's first RCPT is answered truly whatever the host does after a refusal: one session
      // per address at most (the cost of one connection per address), each address asked twice at most.
      const sessions = noPostmaster.sessions.length - first;
      const rcpts = noPostmaster.stats.rcpts - rcptsBefore;
      assert.ok(sessions <= inputs.length, `${sessions} sessions for ${inputs.length} addresses`);
      assert.ok(rcpts <= 2 * inputs.length, `${rcpts} RCPTs for ${inputs.length} addresses`);
    });
  }
});
