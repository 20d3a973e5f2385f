/**
 * verifyMany() sizing batches at a host that accepted many valid addresses when a domain whose
 * addresses are all unknown comes next (src/scheduler/refusal-odds.ts): the host-wide refusal rate is
 * low, but one domain's unknown addresses come together, so a batch sized from the host's rate alone
 * carries two dozen refusals past an error budget of 9. Against sim-MTAs on loopback with Postfix's
 * error limits, one greeting as Postfix (the budget known) and one that does not (learned, at the
 * price of the one delayed reply that finds it); counts come from the servers, nothing is timed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { VerifyOptions } from '../../../src/index.js';
import { startHiddenBudgetHost, type HiddenBudgetHost } from '../../helpers/hidden-budget.js';
import { okExists, startSimWorld, type SimWorld } from '../../helpers/sim-world.js';
import { verifyManyResults } from '../../helpers/verify-many-results.js';

const POSTFIX_HOST = '127.0.5.50';
const HIDDEN_HOST = '127.0.5.51';
const HIDDEN_SOFT = 12;

let postfixWorld: SimWorld<'postfix'>;
let hiddenWorld: HiddenBudgetHost;

before(async () => {
  postfixWorld = await startSimWorld({
    postfix: {
      host: POSTFIX_HOST,
      domains: ['valid.test', 'gone.test', 'left.test'],
      recipient: okExists,
      errorLimits: { soft: 10, hard: 20, sleepMs: 1_000 },
    },
  });
  hiddenWorld = await startHiddenBudgetHost({
    host: HIDDEN_HOST,
    soft: HIDDEN_SOFT,
    domains: ['kept.test', 'lost.test'],
    exists: (address) => address.startsWith('ok'),
  });
});

after(async () => {
  await Promise.all([postfixWorld.close(), hiddenWorld.close()]);
});

/** `valid` existing mailboxes at `good`, then `dead` unknown ones at each of `gone` (a list's tail). */
function list(good: string, valid: number, gone: readonly string[], dead: number): string[] {
  return [
    ...Array.from({ length: valid }, (_, i) => `ok${i}@${good}`),
    ...gone.flatMap((domain) => Array.from({ length: dead }, (_, i) => `no${i}@${domain}`)),
  ];
}

async function run(
  world: { readonly options: VerifyOptions },
  inputs: readonly string[],
): Promise<Map<string, string>> {
  const options: VerifyOptions = { ...world.options, timeoutMs: 60_000, catchAll: false };
  const results = await verifyManyResults(options, inputs, { hostConcurrency: 2 });
  return new Map([...results].map(([input, result]) => [input, `${result.verdict}/${result.reason}`]));
}

const expected = (input: string) =>
  input.startsWith('ok') ? 'deliverable/accepted' : 'undeliverable/mailbox_not_found';

describe('batches at a host that accepted many valid addresses, when all-unknown domains come', () => {
  it('draws no delayed reply where the budget is known (Postfix greeting)', async () => {
    const inputs = list('valid.test', 300, ['gone.test', 'left.test'], 30);
    const verdicts = await run(postfixWorld, inputs);
    const postfix = postfixWorld.mtas.postfix;
    for (const input of inputs) assert.equal(verdicts.get(input), expected(input), input);
    assert.equal(postfix.stats.sleptReplies, 0, `${postfix.stats.sleptReplies} delayed replies`);
    assert.equal(postfix.stats.hardLimitHits, 0);
  });

  it('draws at most the one delayed reply that finds an unannounced budget', async () => {
    const inputs = list('kept.test', 300, ['lost.test'], 40);
    const verdicts = await run(hiddenWorld, inputs);
    const hidden = hiddenWorld.mta;
    for (const input of inputs) assert.equal(verdicts.get(input), expected(input), input);
    assert.ok(hidden.stats.sleptReplies <= 1, `${hidden.stats.sleptReplies} delayed replies`);
    assert.equal(hidden.stats.hardLimitHits, 0);
  });
});
