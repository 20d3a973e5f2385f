/**
 * verifyMany() learning how many replies a second a host gives before it slows down
 * (src/scheduler/learned-limits.ts, "Replies per second"), against simulated MTAs on loopback
 * (127.0.6.x, the repo's DNS server): one answers up to 150 replies a second and delays every reply
 * above that by 60 ms; one never slows down. Counters come from the servers; nothing is timed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { SimMta } from '../../../bench/sim-mta.js';
import type { VerifyOptions, VerifyResult } from '../../../src/index.js';
import { verifyManyResults, tellingLimits, type Told } from '../../helpers/verify-many-results.js';
import { okExists, startSimWorld, type SimWorld } from '../../helpers/sim-world.js';

const RATE = 150;

let world: SimWorld<'rated' | 'brisk'>;
let rated: SimMta;
let base: VerifyOptions;

before(async () => {
  world = await startSimWorld({
    rated: {
      host: '127.0.6.2',
      domains: ['rated.test'],
      banner: 'mx.rated.test ESMTP Exim 4.96',
      recipient: okExists,
      replyRate: { perSecond: RATE, delayMs: 60 },
    },
    brisk: {
      host: '127.0.6.3',
      domains: ['brisk.test'],
      banner: 'mx.brisk.test ESMTP Exim 4.96',
      recipient: okExists,
    },
  });
  rated = world.mtas.rated;
  base = { ...world.options, timeoutMs: 30_000 };
});

after(() => world.close());

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
