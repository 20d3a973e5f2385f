/**
 * verifyMany() learning how many replies a second a host gives before it slows down
 * (src/scheduler/learned-limits.ts, "Replies per second"), against simulated MTAs on loopback
 * (127.0.6.x, the repo's DNS server): one answers up to 150 replies a second and delays every reply
 * above that by 60 ms; one never slows down. Counters come from the servers; nothing is timed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import type { VerifyOptions, VerifyResult } from '../../../src/index.js';
import { verifyManyResults, tellingLimits, type Told } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const RATE = 150;

const unknown = (address: string) =>
  address.startsWith('ok')
    ? null
    : { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };

let dns: DnsServer;
let rated: SimMta;
let brisk: SimMta;
let base: VerifyOptions;

before(async () => {
  rated = await startSimMta({
    name: 'rated.test',
    host: '127.0.6.2',
    port: 0,
    banner: 'mx.rated.test ESMTP Exim 4.96',
    recipient: unknown,
    replyRate: { perSecond: RATE, delayMs: 60 },
  });
  brisk = await startSimMta({
    name: 'brisk.test',
    host: '127.0.6.3',
    port: rated.port,
    banner: 'mx.brisk.test ESMTP Exim 4.96',
    recipient: unknown,
  });
  dns = await startDnsServer({
    zones: {
      'rated.test': { MX: [{ priority: 10, exchange: 'mx.rated.test' }] },
      'mx.rated.test': { A: ['127.0.6.2'] },
      'brisk.test': { MX: [{ priority: 10, exchange: 'mx.brisk.test' }] },
      'mx.brisk.test': { A: ['127.0.6.3'] },
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: rated.port }),
    timeoutMs: 30_000,
    greylistWaitMs: 0,
  };
});

after(async () => {
  await Promise.all([dns.close(), rated.close(), brisk.close()]);
});

/** `count` existing addresses at `domain` (a refusal would leave the rate's sign unread). */
const list = (domain: string, count: number) => Array.from({ length: count }, (_, i) => `ok${i}@${domain}`);

const expected = (input: string) =>
  input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';

async function bulk(inputs: readonly string[]): Promise<{
  results: Map<string, VerifyResult>;
  told: Told;
}> {
  const told: Told = new Map();
  const results = await verifyManyResults({ ...base, hostLimits: tellingLimits(told) }, inputs, {
    hostConcurrency: 2,
  });
  return { results, told };
}

describe('verifyMany() learns the replies a second a host gives before it slows down', () => {
  it('settles under the rate of a host that slows above it, drawing its slowdown once', async () => {
    const inputs = list('rated.test', 400);
    const { results, told } = await bulk(inputs);
    for (const input of inputs) {
      const result = results.get(input);
      assert.equal(result === undefined ? 'missing' : `${result.verdict}/${result.reason}`, expected(input));
    }
    const records = told.get('127.0.6.2') ?? [];
    const ceilings = records.map((r) => r.repliesPerSecond ?? null);
    const last = ceilings.at(-1) ?? null;
    // The ceiling was learned from the slowdown, and stayed under the host's rate.
    assert.ok(last !== null && last < RATE, `ceilings ${ceilings.join(' ')}`);
    assert.ok(
      ceilings.every((c) => c === null || c < RATE),
      `ceilings ${ceilings.join(' ')}`,
    );
    // The host started delaying once (the crossing that taught the ceiling), never again.
    assert.equal(rated.stats.rateSlowdowns, 1, `${rated.stats.rateDelayed} replies delayed`);
  });

  it('learns no ceiling at a host that never slows down', async () => {
    const inputs = list('brisk.test', 1_200);
    const { results, told } = await bulk(inputs);
    assert.equal(results.size, inputs.length);
    const records = told.get('127.0.6.3') ?? [];
    assert.ok(
      records.every((r) => (r.repliesPerSecond ?? null) === null),
      records.map((r) => String(r.repliesPerSecond)).join(' '),
    );
  });
});
