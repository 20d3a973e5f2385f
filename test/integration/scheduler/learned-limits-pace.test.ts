/**
 * How fast verifyMany() learns a host's error budget where nobody announces it, counted in round trips
 * at the server. Two hosts on loopback (sim-MTAs, two connections each, the repo's DNS server), a fifth
 * of each list unknown: one without any error limit behind a greeting that names no MTA, one with
 * Postfix's limits (every reply after a session's 10th refusal a second late) behind a changed
 * greeting and serving many domains (each with its catch-all probe), as bench:bulk's hosting5 does.
 * The explorer past what is proven sends as many RCPTs a round trip as leave at most one command after
 * whichever refusal is the host's limit (two, not one), and ends its batches with a waiting catch-all
 * probe, or where none waits a climber (a random address of the host's domain), a refusal the next
 * batch proves; so the host without a budget is found to have none within the list, and the one with Postfix's is learned with the one delayed reply that finds it. Before,
 * the explorer added one RCPT a round trip past the guess of 9 (a refusal every fifth), and held its
 * probes for its session's end, which left its last refusal unproven: many domains' host stayed at
 * the guess for a third of bench:bulk's run, its other session held to one refusal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { SimMta } from '../../../bench/sim-mta.js';
import { createVerifier, type HostLimitsRecord, type VerifyResult } from '../../../src/index.js';
import { NO_BUDGET_AFTER } from '../../../src/scheduler/learned-limits.js';
import { QUIT_WAIT_MS, halfKnown, isKnown, startHiddenBudgetHost } from '../../helpers/hidden-budget.js';
import { startSimWorld, userUnknown, type SimWorld } from '../../helpers/sim-world.js';

const NONE_HOST = '127.0.5.80';
const HOSTING_HOST = '127.0.5.81';
/** A host of one domain with a hidden soft limit of 12, whose crossing a climber draws. */
const CLIMB_HOST = '127.0.5.82';
const SOFT = 10;
/** Round trips the host without a budget may see for its 600 addresses at two connections. */
const MAX_NONE_ROUND_TRIPS = 95;
const HOSTED = Array.from({ length: 30 }, (_, i) => `pace${String(i).padStart(2, '0')}.test`) as [
  string,
  ...string[],
];

/** A local part starting `ok` exists; every fifth address is unknown. */
const exists = (address: string) => (address.startsWith('ok') ? null : userUnknown(address));
const list = (count: number, domainOf: (i: number) => string): string[] =>
  Array.from({ length: count }, (_, i) => `${i % 5 === 4 ? 'no' : 'ok'}${i}@${domainOf(i)}`);
const verdictOf = (result: VerifyResult | undefined): string => `${result?.verdict}/${result?.reason}`;

let world: SimWorld<'none' | 'hosting'>;

before(async () => {
  world = await startSimWorld({
    none: {
      host: NONE_HOST,
      domains: ['pace-none.test'],
      banner: 'mx.pace-none.test ESMTP ready',
      recipient: exists,
    },
    hosting: {
      host: HOSTING_HOST,
      domains: HOSTED,
      banner: `mx.${HOSTED[0]} ESMTP ready`,
      recipient: exists,
      errorLimits: { soft: SOFT, hard: 2 * SOFT, sleepMs: 1_000 },
      record: true,
    },
  });
});

after(() => world.close());

async function run(
  inputs: readonly string[],
  mta: SimMta,
): Promise<{ told: HostLimitsRecord[]; roundTrips: number; rcpts: number }> {
  const told: HostLimitsRecord[] = [];
  const before = mta.stats.roundTrips;
  const rcptsBefore = mta.stats.rcpts;
  const verifier = createVerifier({
    ...world.options,
    timeoutMs: 30_000,
    hostLimits: { known: () => null, learned: (_key, record) => void told.push(record) },
  });
  const results = new Map<string, VerifyResult>();
  try {
    for await (const result of verifier.verifyMany(inputs, { hostConcurrency: 2 }))
      results.set(result.input, result);
  } finally {
    await verifier.close();
  }
  await mta.settled(QUIT_WAIT_MS);
  for (const input of inputs)
    assert.equal(
      verdictOf(results.get(input)),
      input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found',
      input,
    );
  return { told, roundTrips: mta.stats.roundTrips - before, rcpts: mta.stats.rcpts - rcptsBefore };
}

describe('learning an unannounced error budget, in round trips', () => {
  it('finds that a host without one has none within a list of 600', async (t) => {
    const { told, roundTrips, rcpts } = await run(
      list(600, () => 'pace-none.test'),
      world.mtas.none,
    );
    t.diagnostic(`round trips: ${roundTrips}; RCPTs: ${rcpts}; last record: ${JSON.stringify(told.at(-1))}`);
    assert.equal(told.at(-1)?.budgetSource, 'none', JSON.stringify(told.at(-1)));
    // Measured 77 with climbers; 102-129 with the explorer's own addresses two a round trip, a refusal
    // every fifth (174-193 one a round trip, the host still probed at 22 refusals when the list ended).
    assert.ok(roundTrips <= MAX_NONE_ROUND_TRIPS, `${roundTrips} round trips`);
    // The addresses, the domain's catch-all probe, and a climber at most for each refusal to learn.
    assert.ok(rcpts <= 600 + 1 + NO_BUDGET_AFTER, `${rcpts} RCPTs`);
  });

  it('learns Postfix limits behind a changed greeting at a host of many domains with one delayed reply', async (t) => {
    const mta = world.mtas.hosting;
    const { told, roundTrips } = await run(
      list(600, (i) => HOSTED[i % HOSTED.length] as string),
      mta,
    );
    const last = told.at(-1);
    t.diagnostic(
      `round trips: ${roundTrips}; slept: ${mta.stats.sleptReplies}; last record: ${JSON.stringify(last)}`,
    );
    assert.equal(mta.stats.sleptReplies, 1);
    assert.equal(mta.stats.hardLimitHits, 0);
    assert.equal(last?.budgetSource, 'penalty', JSON.stringify(last));
    assert.equal(last.errorBudget, SOFT - 1, JSON.stringify(last));
  });

  it('learns the crossing a climber draws as the list ends before the run ends', async () => {
    // 300 addresses, half unknown, one domain: the explorer's climbers draw a refusal a round trip
    // while the host's other session asks the addresses, and the climber that crosses the hidden limit
    // (its reply a second late) is out alone when the last address is answered. The run ended then,
    // its reply never read: the penalty was never learned, the record told last (what a scale-out
    // worker stores before it hands the host on) still 11 'probed' with the explorer's batch out.
    const soft = 12;
    const host = await startHiddenBudgetHost({
      host: CLIMB_HOST,
      soft,
      domains: ['climb.test'],
      exists: isKnown,
    });
    const told: HostLimitsRecord[] = [];
    const verifier = createVerifier({
      ...host.options,
      timeoutMs: 20_000,
      greylistWaitMs: 0,
      hostLimits: { known: () => null, learned: (_key, record) => void told.push(record) },
    });
    let toldAtEnd: HostLimitsRecord | undefined;
    try {
      const results = [];
      for await (const result of verifier.verifyMany(halfKnown('climb.test', 300), { hostConcurrency: 2 }))
        results.push(result);
      toldAtEnd = told.at(-1);
      assert.equal(results.length, 300);
    } finally {
      await verifier.close();
      await host.close();
    }
    assert.equal(host.mta.stats.sleptReplies, 1, 'one delayed reply: the crossing');
    assert.equal(toldAtEnd?.budgetSource, 'penalty', JSON.stringify(toldAtEnd));
    assert.equal(toldAtEnd.errorBudget, soft - 1, JSON.stringify(toldAtEnd));
    assert.equal(toldAtEnd.exploringBatch, undefined, JSON.stringify(toldAtEnd));
  });
});
