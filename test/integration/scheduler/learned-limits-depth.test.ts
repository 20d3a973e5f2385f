/**
 * How deep the one crossing of a hidden error budget goes. verifyMany() at hosts whose error budget is
 * not announced (no Postfix greeting; every reply after the `soft`th refusal of a session a second late,
 * `421 … too many errors` at twice that), two connections per host: the host is crossed by one session
 * (the explorer's), once per run, and that crossing is shallow: the explorer's refusals not yet proven
 * grow per batch, from one and doubling on each batch that proves more (as a slow start does), so the
 * batch that finds the limit owes at most `MAX_OWED` replies after it, and never reaches the hard
 * limit; and rcpt waits for one of them only: at the first late reply it drops the session and asks
 * what the rest would have said in another one. Before, the explorer's batches were sized for the
 * whole guess of 9 (at a soft limit of 2 the crossing batch drew 7 delayed replies and the 421), and
 * then it waited for every delayed reply the batch was owed (2 at a soft limit of 3). Against sim-MTAs
 * on loopback (the repo's DNS server); delayed replies and 421s are the servers' own count, per
 * session, owed (the commands taken up past the limit) and sent (what a client that stays is sent).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier, type HostLimitsRecord, type VerifyResult } from '../../../src/index.js';
import { CAUTIOUS_ERROR_BUDGET } from '../../../src/scheduler/learned-limits.js';
import { QUIT_WAIT_MS, startHiddenBudgetHosts, type HiddenBudgetHosts } from '../../helpers/hidden-budget.js';
import { verdictOf } from '../../helpers/verify-many-results.js';

/**
 * Delayed replies the one crossing may owe. The batch that crosses draws at most its step of refusals
 * past the proof (at the 0.1 % overspend odds of its sizing), and the step doubles only when a batch
 * proves more; with a third of the addresses unknown, a batch allowed k refusals carries about k
 * RCPTs, so the replies after the limit are the rest of a short batch (after a batch ending with the
 * limit's refusal, the next one's RCPTs, without RSET and MAIL FROM). Measured 1, 2, 1 and 1 at soft
 * limits 2, 3, 5 and 9; before the explorer's step, 7 and the 421, 3, 1 and 1.
 */
const MAX_OWED = 2;

/**
 * Delayed replies rcpt waits for in the one crossing: the first (it cannot know the limit before a
 * reply is late), then the session is dropped. Before, every one the batch was owed: 2 at a soft limit
 * of 3.
 */
const MAX_SENT = 1;

/**
 * Each hidden soft limit on its own host; `proven`: refusals a run before this one proved there (the
 * record scale-out workers share), so that the explorer's first step past them is the limit's refusal
 * itself, often the last reply of its batch: the crossing is then the next batch's first reply.
 */
const WORLDS = [
  { soft: 2, proven: 0, host: '127.0.5.60', domains: ['depth2.test', 'depth2-b.test'] as const },
  { soft: 3, proven: 0, host: '127.0.5.61', domains: ['depth3.test', 'depth3-b.test'] as const },
  { soft: 5, proven: 0, host: '127.0.5.62', domains: ['depth5.test', 'depth5-b.test'] as const },
  { soft: 9, proven: 0, host: '127.0.5.63', domains: ['depth9.test', 'depth9-b.test'] as const },
  { soft: 3, proven: 2, host: '127.0.5.64', domains: ['proven3.test', 'proven3-b.test'] as const },
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

for (const { soft, proven, host, domains } of WORLDS) {
  const known = proven === 0 ? '' : `, ${proven} proven by an earlier run`;
  describe(`a hidden error budget, every reply after refusal ${soft} of a session delayed${known}`, () => {
    it(`is crossed once, ${MAX_SENT} reply waited for, at most ${MAX_OWED} owed, never the 421`, async (t) => {
      const world = worlds.at(host);
      const hidden = world.mta;
      const told: HostLimitsRecord[] = [];
      // A third unknown, the two domains' addresses interleaved in threes.
      const inputs = Array.from(
        { length: 120 },
        (_, i) => `${i % 3 === 2 ? 'no' : 'ok'}${i}@${domains[Math.floor(i / 3) % 2]}`,
      );
      const many = new Map<string, VerifyResult>();
      const verifier = createVerifier({
        ...world.options,
        timeoutMs: 30_000,
        hostLimits: {
          known: () =>
            proven === 0
              ? null
              : {
                  errorBudget: CAUTIOUS_ERROR_BUDGET,
                  budgetSource: 'default',
                  recipientLimit: null,
                  sessionLimit: null,
                  penalties: 0,
                  provenRefusals: proven,
                },
          learned: (_key, record) => void told.push(record),
        },
      });
      try {
        for await (const result of verifier.verifyMany(inputs, { hostConcurrency: 2 }))
          many.set(result.input, result);
      } finally {
        await verifier.close();
      }
      await hidden.settled(QUIT_WAIT_MS);
      const crossing = hidden.sessions.filter((session) => session.sleptReplies > 0);
      const delayed = crossing.map((session) => session.sleptReplies);
      const sent = crossing.map((session) => session.sleptRepliesSent);
      const summary = `delayed replies per crossing session: [${delayed.join(', ')}] (sent [${sent.join(', ')}]), 421s: ${hidden.stats.hardLimitHits}`;
      t.diagnostic(`${summary}; sessions: ${hidden.sessions.length}; budget: ${told.at(-1)?.errorBudget}`);
      assert.equal(hidden.stats.hardLimitHits, 0, summary);
      assert.equal(
        hidden.sessions.filter((session) => session.hardLimitHit).length,
        0,
        `no session ended with 421: ${summary}`,
      );
      assert.equal(delayed.length, 1, `one crossing session: ${summary}`);
      assert.ok((delayed[0] ?? 0) <= MAX_OWED, summary);
      assert.equal(sent[0], MAX_SENT, summary);
      const last = told.at(-1);
      assert.equal(last?.budgetSource, 'penalty', JSON.stringify(told));
      assert.ok((last.errorBudget ?? Infinity) < soft, JSON.stringify(last));
      assert.ok((last.errorBudget ?? 0) >= Math.max(1, proven), JSON.stringify(last));
      // One crossing, one penalty: the budget's, not also a fall of the slow start's reply rate (a
      // ceiling of 50 replies a second, kept with the host) read from the same late batch.
      assert.equal(last.penalties, 1, JSON.stringify(last));
      assert.equal(last.repliesPerSecond ?? null, null, JSON.stringify(last));
      for (const input of inputs)
        assert.equal(
          verdictOf(many.get(input)),
          input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found',
          input,
        );
    });
  });
}
