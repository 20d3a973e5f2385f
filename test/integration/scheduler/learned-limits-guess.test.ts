/**
 * verifyMany() at a host whose error budget is below the cautious guess rcpt starts an unknown host
 * with (9 refusals a session, Postfix's default less one), with two connections per host: the guess is
 * one session's at a time (the explorer's); the other sessions stay within the refusals proven safe
 * (at least 4) and wait for the explorer's answer when they reach them, so the host's limit is crossed
 * by one session, once, and learned from that, never by two sessions at once (before, both crossed
 * it: 4 delayed replies in 2 sessions, 3 runs of 3). Against a sim-MTA on loopback with Postfix's limits behind a greeting that does not say
 * Postfix; counts come from the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { SimMta } from '../../../bench/sim-mta.js';
import { createVerifier, type HostLimitsRecord } from '../../../src/index.js';
import {
  crossingSessions,
  startHiddenBudgetHost,
  type HiddenBudgetHost,
} from '../../helpers/hidden-budget.js';

const HOST = '127.0.5.41';
/** The 6th command after 5 refusals is the first one delayed: below the cautious 9. */
const SOFT = 5;

let world: HiddenBudgetHost;
let hidden: SimMta;

before(async () => {
  world = await startHiddenBudgetHost({
    host: HOST,
    soft: SOFT,
    domains: ['guess.test', 'guess-b.test'],
    exists: (address) => address.startsWith('ok'),
  });
  hidden = world.mta;
});

after(() => world.close());

describe('an error budget below the cautious guess, two connections per host', () => {
  it('is crossed by one session once, and learned: never by two sessions at once', async () => {
    const told: HostLimitsRecord[] = [];
    const verifier = createVerifier({
      ...world.options,
      timeoutMs: 30_000,
      hostLimits: {
        known: () => null,
        learned: (_key, record) => {
          told.push(record);
        },
      },
    });
    const inputs = Array.from(
      { length: 240 },
      (_, i) =>
        `${i % 3 === 2 ? 'no' : 'ok'}${i}@${Math.floor(i / 3) % 2 === 0 ? 'guess.test' : 'guess-b.test'}`,
    );
    const verdicts = new Map<string, string>();
    try {
      for await (const result of verifier.verifyMany(inputs, { hostConcurrency: 2 }))
        verdicts.set(result.input, result.verdict);
    } finally {
      await verifier.close();
    }
    for (const input of inputs)
      assert.equal(verdicts.get(input), input.startsWith('ok') ? 'deliverable' : 'undeliverable', input);
    assert.ok(hidden.sessions.length > 2, `${hidden.sessions.length} sessions`);
    assert.equal(hidden.stats.peak, 2, 'two sessions at once: the race was there to lose');
    assert.equal(hidden.stats.hardLimitHits, 0);
    assert.equal(crossingSessions(hidden), 1, `${hidden.stats.sleptReplies} delayed replies`);
    const last = told.at(-1);
    assert.equal(last?.budgetSource, 'penalty', JSON.stringify(told));
    assert.equal(last.penalties, 1, JSON.stringify(last));
    assert.ok((last.errorBudget ?? Infinity) < SOFT, JSON.stringify(last));
  });
});
