/**
 * verifyMany() at hosts whose error budget is far below the cautious guess (no Postfix greeting; the
 * 1 s delay on every reply from the 3rd, then the 2nd, refusal of a session on), with two connections
 * per host: while the budget is a guess, only the explorer may draw refusals that are not proven safe,
 * so the host's limit is crossed by one session, once per run, and every verdict is the one
 * verify() gives one address at a time. Before, the other session drew up to 4 refusals unproven and
 * crossed such a limit too. Against sim-MTAs on loopback (the repo's DNS server); the crossings are
 * the servers' own count (sessions with a reply delayed by the soft limit).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier, type HostLimitsRecord, type VerifyResult } from '../../../src/index.js';
import {
  QUIT_WAIT_MS,
  crossingSessions,
  startHiddenBudgetHosts,
  type HiddenBudgetHosts,
} from '../../helpers/hidden-budget.js';
import { verdictOf } from '../../helpers/verify-many-results.js';

/** Each hidden soft limit on its own host: the reply after the `soft`th refusal of a session is late. */
const WORLDS = [
  { soft: 3, host: '127.0.5.45', domains: ['low3.test', 'low3-b.test'] as const },
  { soft: 2, host: '127.0.5.46', domains: ['low2.test', 'low2-b.test'] as const },
];

let worlds: HiddenBudgetHosts;

before(async () => {
  worlds = await startHiddenBudgetHosts(
    WORLDS.map(({ soft, host, domains }) => ({
      host,
      soft,
      domains,
      exists: (address) => address.startsWith('ok'),
    })),
  );
});

after(() => worlds.close());

for (const { soft, host, domains } of WORLDS) {
  describe(`a hidden error budget: every reply after refusal ${soft} of a session delayed`, () => {
    it('is crossed by one session once per run, and every verdict is the one-address-at-a-time one', async () => {
      const world = worlds.at(host);
      const hidden = world.mta;
      const told: HostLimitsRecord[] = [];
      // A third unknown, the two domains' addresses interleaved in threes.
      const inputs = Array.from(
        { length: 90 },
        (_, i) => `${i % 3 === 2 ? 'no' : 'ok'}${i}@${domains[Math.floor(i / 3) % 2]}`,
      );
      const many = new Map<string, VerifyResult>();
      const verifier = createVerifier({
        ...world.options,
        timeoutMs: 30_000,
        hostLimits: { known: () => null, learned: (_key, record) => void told.push(record) },
      });
      try {
        for await (const result of verifier.verifyMany(inputs, { hostConcurrency: 2 }))
          many.set(result.input, result);
      } finally {
        await verifier.close();
      }
      await hidden.settled(QUIT_WAIT_MS);
      const sessions = hidden.sessions.length;
      assert.ok(sessions > 2, `${sessions} sessions`);
      assert.equal(hidden.stats.peak, 2, 'two sessions at once: the race was there to lose');
      // At a soft limit of 2 (a hard one of 4) the explorer's one crossing may reach the hard limit.
      assert.ok(hidden.stats.hardLimitHits <= (soft <= 2 ? 1 : 0), `${hidden.stats.hardLimitHits} 421s`);
      assert.equal(crossingSessions(hidden), 1, `${hidden.stats.sleptReplies} delayed replies`);
      const last = told.at(-1);
      assert.equal(last?.budgetSource, 'penalty', JSON.stringify(told));
      assert.ok((last.errorBudget ?? Infinity) < soft, JSON.stringify(last));

      // The same list one address at a time: each verify() its own transaction.
      const alone = createVerifier({ ...world.options, timeoutMs: 30_000 });
      try {
        for (const input of inputs) {
          assert.equal(verdictOf(many.get(input)), verdictOf(await alone.verify(input)), input);
          assert.equal(
            verdictOf(many.get(input)),
            input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found',
            input,
          );
        }
      } finally {
        await alone.close();
      }
    });
  });
}
