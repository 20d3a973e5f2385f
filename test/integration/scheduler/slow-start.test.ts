/**
 * verifyMany()'s slow start at a host whose replies a second are unknown (src/scheduler/reply-rate.ts):
 * against a sim-MTA on loopback (127.0.6.x, the repo's DNS server) that answers up to 150 replies a
 * second over its connections and delays every reply above that by half a second, replies staying in
 * order on a connection, on a list with a fifth of its mailboxes unknown (so most sessions draw a
 * refusal); and one that never slows down. Counts come from the servers; nothing is timed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import type { VerifyOptions } from '../../../src/index.js';
import { SUGGESTED_START_RATE } from '../../../src/scheduler/reply-rate.js';
import { verifyManyResults, tellingLimits, type Told } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const RATE = 150;

const unknown = (address: string) =>
  address.startsWith('ok')
    ? null
    : { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };

let dns: DnsServer;
let limited: SimMta;
let open: SimMta;
let base: VerifyOptions;

before(async () => {
  limited = await startSimMta({
    name: 'limited.test',
    host: '127.0.6.4',
    port: 0,
    banner: 'mx.limited.test ESMTP Exim 4.96',
    recipient: unknown,
    latencyMs: 5,
    replyRate: { perSecond: RATE, delayMs: 500 },
  });
  open = await startSimMta({
    name: 'open.test',
    host: '127.0.6.5',
    port: limited.port,
    banner: 'mx.open.test ESMTP Exim 4.96',
    recipient: unknown,
  });
  dns = await startDnsServer({
    zones: {
      'limited.test': { MX: [{ priority: 10, exchange: 'mx.limited.test' }] },
      'mx.limited.test': { A: ['127.0.6.4'] },
      'open.test': { MX: [{ priority: 10, exchange: 'mx.open.test' }] },
      'mx.open.test': { A: ['127.0.6.5'] },
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: limited.port }),
    timeoutMs: 60_000,
    greylistWaitMs: 0,
    catchAll: false,
  };
});

after(async () => {
  await Promise.all([dns.close(), limited.close(), open.close()]);
});

/** `count` addresses at `domain`, every fifth unknown. */
const list = (domain: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${i % 5 === 4 ? 'no' : 'ok'}${i}@${domain}`);

const expected = (input: string) =>
  input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';

async function bulk(inputs: readonly string[]): Promise<Told> {
  const told: Told = new Map();
  const results = await verifyManyResults({ ...base, hostLimits: tellingLimits(told) }, inputs, {
    hostConcurrency: 2,
    slowStart: SUGGESTED_START_RATE,
  });
  for (const input of inputs) {
    const result = results.get(input);
    assert.equal(result === undefined ? 'missing' : `${result.verdict}/${result.reason}`, expected(input));
  }
  return told;
}

describe('a slow start at a host whose replies a second are unknown', () => {
  it('crosses the rate of a host that slows above it once at most, a few replies deep', async () => {
    await bulk(list('limited.test', 600));
    const { rateSlowdowns, rateDelayed } = limited.stats;
    assert.ok(rateSlowdowns <= 1, `${rateSlowdowns} slowdowns, ${rateDelayed} replies delayed`);
    assert.ok(rateDelayed <= 12, `${rateDelayed} replies delayed`);
  });

  it('grows its allowance at a host that never slows down, learns no ceiling there, and tells the proof', async () => {
    const told = await bulk(list('open.test', 3_000));
    const records = told.get('127.0.6.5') ?? [];
    const proven = Math.max(0, ...records.map((r) => r.provenRepliesPerSecond ?? 0));
    // Far past where it started (on a loaded machine the run may end before the 1,600 that free it).
    assert.ok(proven >= 4 * SUGGESTED_START_RATE, `proven ${proven}`);
    assert.ok(
      records.every((r) => (r.repliesPerSecond ?? null) === null),
      records.map((r) => String(r.repliesPerSecond)).join(' '),
    );
  });
});
