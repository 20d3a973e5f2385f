/**
 * verifyMany() learning an error budget a host does not announce, on a list where every address is
 * unknown (a list of bounced addresses re-checked, a harvested list): every session spends its whole
 * budget, and the session exploring past it adds one RCPT at a time to the transaction it has open,
 * refused RCPTs and all (RFC 5321 §3.3), never a new RSET and MAIL FROM whose replies a host past its
 * soft limit would delay too. Against a sim-MTA on loopback with Postfix's limits and no Postfix
 * greeting; counts come from the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { SimMta } from '../../../bench/sim-mta.js';
import { createVerifier } from '../../../src/index.js';
import { QUIT_WAIT_MS, startHiddenBudgetHost, type HiddenBudgetHost } from '../../helpers/hidden-budget.js';

const HOST = '127.0.5.40';
/** The 13th command after 12 refusals is the first one delayed. */
const SOFT = 12;

let world: HiddenBudgetHost;
let hidden: SimMta;

before(async () => {
  world = await startHiddenBudgetHost({
    host: HOST,
    soft: SOFT,
    domains: ['allunknown.test'],
    exists: () => false,
  });
  hidden = world.mta;
});

after(() => world.close());

describe('learning an unannounced error budget on a list of unknown addresses', () => {
  it('draws one delayed reply, the RCPT that finds the budget, and no RSET or MAIL FROM past it', async () => {
    const verifier = createVerifier({
      ...world.options,
      catchAll: false,
    });
    const addresses = Array.from({ length: 600 }, (_, i) => `no${i}@allunknown.test`);
    const reasons = new Map<string, number>();
    try {
      for await (const result of verifier.verifyMany(addresses)) {
        reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
      }
    } finally {
      await verifier.close();
    }
    // The last session's QUIT may still be on its way: counted once the host saw every connection close.
    await hidden.settled(QUIT_WAIT_MS);
    assert.deepEqual([...reasons], [['mailbox_not_found', 600]]);
    assert.equal(hidden.stats.sleptReplies, 1, `${hidden.stats.sleptReplies} delayed replies`);
    assert.equal(hidden.stats.hardLimitHits, 0);
    // In every session, whatever followed its SOFT-th refusal was RCPTs (and QUIT), nothing else.
    for (const session of hidden.sessions) {
      const rcpts = session.commands
        .map((line, index) => ({ line, index }))
        .filter(({ line }) => /^RCPT/i.test(line));
      const soft = rcpts[SOFT - 1];
      if (soft === undefined) continue;
      const after = session.commands.slice(soft.index + 1).filter((line) => !/^(RCPT|QUIT)/i.test(line));
      assert.deepEqual(after, [], session.commands.join(' | '));
    }
  });
});
