/**
 * Cisco IronPort's Directory Harvest Attack Prevention against verify() and verifyMany() together: a
 * raw simulated MTA on loopback, reached through the loopback DNS under an `*.iphmx.com` MX name and
 * greeting like an IronPort appliance, refuses unknown users with `550 #5.1.0 Address rejected.` up to
 * its threshold of 25 a client an hour and then, as in work-queue mode, silently accepts everyone
 * (AsyncOS Advanced Configuration Guide, providers.md §B). The verifier's one allowance, shared by both
 * paths, must keep the refusals the server sees within the threshold, answer the rest
 * `unknown/rate_limited` with `retryAt`, and give for what it asked the verdicts verify() gives.
 */
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { providerById } from '../../../src/providers/index.js';
import { createVerifier, type VerifyOptions, type VerifyResult } from '../../../src/index.js';
import { verdictOf } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

/** The IronPort rule's allowance: what the server below tolerates before it stops telling the truth. */
const THRESHOLD = providerById('ironport')?.maxInvalidRecipientsPerHour ?? 0;

let dns: DnsServer;
let gateway: SimMta;
let base: VerifyOptions;
/** The gateway's DHAP state: refusals it made this "hour", and unknown users it let through after. */
const dhap = { refused: 0, silentlyAccepted: 0 };

const range = (prefix: string, count: number, from = 1): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${from + i}@iron.test`);

before(async () => {
  gateway = await startSimMta({
    name: 'esa1.hc1234-56.iphmx.com',
    host: '127.0.2.30',
    port: 0,
    banner: 'esa1.hc1234-56.iphmx.com ESMTP',
    recipient: (address) => {
      if (address.startsWith('ok')) return null;
      if (dhap.refused >= THRESHOLD) {
        dhap.silentlyAccepted += 1;
        return null;
      }
      dhap.refused += 1;
      return { code: 550, text: '#5.1.0 Address rejected.' };
    },
  });
  dns = await startDnsServer({
    zones: {
      'iron.test': { MX: [{ priority: 10, exchange: 'esa1.hc1234-56.iphmx.com' }] },
      'esa1.hc1234-56.iphmx.com': { A: ['127.0.2.30'] },
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: gateway.port }),
    timeoutMs: 8_000,
    connectTimeoutMs: 1_000,
    greylistWaitMs: 0,
  };
});

after(async () => {
  await Promise.all([dns.close(), gateway.close()]);
});

/** A new hour at the gateway. */
beforeEach(() => {
  dhap.refused = 0;
  dhap.silentlyAccepted = 0;
});

async function collect(iterable: AsyncIterable<VerifyResult>): Promise<Map<string, VerifyResult>> {
  const results = new Map<string, VerifyResult>();
  for await (const result of iterable) {
    assert.ok(!results.has(result.input), `two results for ${result.input}`);
    results.set(result.input, result);
  }
  return results;
}

/** Answered `unknown/rate_limited` without an RCPT, with a retryAt within the next hour. */
function assertNotAsked(result: VerifyResult | undefined, input: string): void {
  assert.equal(verdictOf(result), 'unknown/rate_limited', input);
  assert.equal(result?.smtp, null, input);
  const retryAt = Date.parse(result?.retryAt ?? '');
  assert.ok(
    retryAt > Date.now() && retryAt <= Date.now() + 3_600_000,
    `${input}: retryAt ${result?.retryAt}`,
  );
}

describe('the IronPort harvest allowance in bulk', () => {
  it('refuses no more RCPTs than the allowance; the rest are rate_limited; what was asked is what verify() says', async () => {
    assert.equal(THRESHOLD, 25);
    // 40 unknown and 10 known addresses at one gateway: more unknowns than the hour allows.
    const unknown = range('no', 40);
    const known = range('ok', 10);
    const list = unknown.flatMap((address, i) => (i % 4 === 0 ? [address, known[i / 4] ?? ''] : [address]));
    const rcptsBefore = gateway.stats.rcpts;
    const verifier = createVerifier(base);
    try {
      const results = await collect(verifier.verifyMany(list, { hostConcurrency: 2 }));
      assert.equal(results.size, list.length);
      assert.ok(dhap.refused <= THRESHOLD, `the gateway refused ${dhap.refused} RCPTs`);
      assert.equal(dhap.silentlyAccepted, 0, 'RCPTs were sent past the threshold');
      // The whole allowance was used (the catch-all probe took one): nothing was left unasked needlessly.
      assert.equal(dhap.refused, THRESHOLD);
      const byVerdict = new Map<string, string[]>();
      for (const [input, result] of results) {
        const key = verdictOf(result);
        byVerdict.set(key, [...(byVerdict.get(key) ?? []), input]);
      }
      const notFound = byVerdict.get('undeliverable/mailbox_not_found') ?? [];
      const accepted = byVerdict.get('deliverable/accepted') ?? [];
      const limited = byVerdict.get('unknown/rate_limited') ?? [];
      assert.equal(notFound.length, THRESHOLD - 1, JSON.stringify(Object.fromEntries(byVerdict)));
      assert.equal(notFound.length + accepted.length + limited.length, list.length);
      assert.ok(limited.length >= unknown.length - notFound.length, `${limited.length} rate_limited`);
      for (const input of limited) assertNotAsked(results.get(input), input);
      // Each RCPT the gateway saw was an address asked once, or the catch-all probe.
      assert.equal(gateway.stats.rcpts - rcptsBefore, list.length - limited.length + 1);

      // The same verifier afterwards, one address at a time: the allowance is spent, nothing is asked.
      const rcptsAfterBulk = gateway.stats.rcpts;
      const connectionsAfterBulk = gateway.stats.connections;
      assertNotAsked(await verifier.verify('no99@iron.test'), 'no99@iron.test');
      // And another run: answered without even connecting.
      const again = await collect(verifier.verifyMany(range('no', 5, 100)));
      assert.equal(again.size, 5);
      for (const [input, result] of again) assertNotAsked(result, input);
      assert.equal(gateway.stats.rcpts, rcptsAfterBulk);
      assert.equal(gateway.stats.connections, connectionsAfterBulk);

      // What bulk asked, verify() answers alike (a fresh verifier, in a fresh hour at the gateway).
      const mismatches: string[] = [];
      for (const [input, result] of results) {
        if (result.reason === 'rate_limited') continue;
        dhap.refused = 0;
        const single = createVerifier(base);
        try {
          const answer = await single.verify(input);
          if (verdictOf(answer) !== verdictOf(result))
            mismatches.push(`${input}: verify ${verdictOf(answer)}, bulk ${verdictOf(result)}`);
        } finally {
          await single.close();
        }
      }
      assert.deepEqual(mismatches, []);
    } finally {
      await verifier.close();
    }
  });

  it('verify() and verifyMany() spend one allowance between them', async () => {
    const verifier = createVerifier(base);
    try {
      // verify() spends 10 refusals and the catch-all probe's one.
      for (const input of range('no', 10)) {
        assert.equal(verdictOf(await verifier.verify(input)), 'undeliverable/mailbox_not_found', input);
      }
      assert.equal(dhap.refused, 11);
      const results = await collect(verifier.verifyMany(range('no', 30, 11)));
      assert.equal(results.size, 30);
      assert.equal(dhap.refused, THRESHOLD);
      assert.equal(dhap.silentlyAccepted, 0);
      const limited = [...results.values()].filter((r) => r.reason === 'rate_limited');
      assert.equal(limited.length, 30 - (THRESHOLD - 11));
      for (const result of limited) assertNotAsked(result, result.input);
    } finally {
      await verifier.close();
    }
  });

  it('concurrent verify() calls reserve before they ask: never past the threshold', async () => {
    const verifier = createVerifier(base);
    try {
      const results = await Promise.all(range('no', 40).map((input) => verifier.verify(input)));
      assert.ok(dhap.refused <= THRESHOLD, `the gateway refused ${dhap.refused} RCPTs`);
      assert.equal(dhap.silentlyAccepted, 0);
      const reasons = new Set(results.map((r) => r.reason));
      assert.deepEqual([...reasons].sort(), ['mailbox_not_found', 'rate_limited']);
    } finally {
      await verifier.close();
    }
  });
});
