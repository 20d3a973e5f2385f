/** The pure arithmetic of the scheduler's politeness: batch sizes, backoff, session-level replies. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  CAUTIOUS_ERROR_BUDGET,
  DEFAULT_RECIPIENT_LIMIT,
  OVERSPEND_RISK,
  binomialTailAbove,
  backoffDelayMs,
  batchSize,
  isClosingReply,
  isTooManyRecipients,
} from '../../../src/scheduler/index.js';
import type { SmtpReplyInfo } from '../../../src/types.js';

const rcpt = (code: number, enhanced: string | null, text: string): SmtpReplyInfo => ({
  stage: 'rcpt',
  code,
  enhanced,
  text,
});

describe('batchSize', () => {
  const cases: [string, Parameters<typeof batchSize>[0], number][] = [
    [
      'a fresh session: the error budget',
      { recipientLimit: 100, oneRecipient: false, errorBudgetLeft: 9, refusalRate: 1 },
      9,
    ],
    [
      'a learned recipient limit below the budget',
      { recipientLimit: 3, oneRecipient: false, errorBudgetLeft: 9, refusalRate: 1 },
      3,
    ],
    [
      'one recipient per transaction (Outlook.com)',
      { recipientLimit: 100, oneRecipient: true, errorBudgetLeft: 9, refusalRate: 1 },
      1,
    ],
    [
      'the last refusal of the budget',
      { recipientLimit: 100, oneRecipient: false, errorBudgetLeft: 1, refusalRate: 1 },
      1,
    ],
    [
      'a spent budget: a new session',
      { recipientLimit: 100, oneRecipient: false, errorBudgetLeft: 0, refusalRate: 1 },
      0,
    ],
    [
      'a spent budget, even for one recipient',
      { recipientLimit: 100, oneRecipient: true, errorBudgetLeft: 0, refusalRate: 1 },
      0,
    ],
    [
      'a broken recipient limit of 0 still sends one',
      { recipientLimit: 0, oneRecipient: false, errorBudgetLeft: 5, refusalRate: 1 },
      1,
    ],
  ];
  for (const [name, limits, expected] of cases) {
    it(name, () => {
      assert.equal(batchSize(limits), expected);
    });
  }

  it('grows with a low refusal rate, keeping the overspend risk under 1 %', () => {
    const limits = { recipientLimit: 100, oneRecipient: false, errorBudgetLeft: 9 };
    const pessimistic = batchSize({ ...limits, refusalRate: 0.5 });
    const typical = batchSize({ ...limits, refusalRate: 0.2 });
    const clean = batchSize({ ...limits, refusalRate: 0.02 });
    assert.ok(
      pessimistic >= 9 && pessimistic < typical && typical < clean,
      `${pessimistic} ${typical} ${clean}`,
    );
    assert.equal(clean, 100);
    for (const [rate, size] of [
      [0.5, pessimistic],
      [0.2, typical],
    ] as const) {
      assert.ok(binomialTailAbove(size, rate, 9) <= OVERSPEND_RISK, `rate ${rate} size ${size}`);
      assert.ok(
        binomialTailAbove(size + 1, rate, 9) > OVERSPEND_RISK,
        `rate ${rate} size ${size} is not the largest`,
      );
    }
    assert.equal(batchSize({ ...limits, recipientLimit: 3, refusalRate: 0.01 }), 3);
  });

  it('gives the size a scan one size at a time up from the budget gives', () => {
    // The batch sizing before issue 16's eighth pass: every size from the budget up, until the next
    // one's risk is too high. batchSize() now steps and bisects; it must land on the same size.
    const scanned = (limits: Parameters<typeof batchSize>[0]): number => {
      const cap = Math.max(1, limits.recipientLimit);
      let size = Math.min(cap, limits.errorBudgetLeft);
      while (
        size < cap &&
        binomialTailAbove(size + 1, limits.refusalRate, limits.errorBudgetLeft) <= OVERSPEND_RISK
      )
        size += 1;
      return size;
    };
    let compared = 0;
    for (const recipientLimit of [1, 2, 3, 7, 10, 33, 50, 99, 100, 250, 1000]) {
      for (const errorBudgetLeft of [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20, 40]) {
        for (let step = 0; step <= 200; step += 1) {
          // Refusal rates from 0 to 1, finely where the batch sizes change most.
          const refusalRate = step <= 100 ? step / 1000 : (step - 90) / 110;
          const limits = { recipientLimit, oneRecipient: false, errorBudgetLeft, refusalRate };
          assert.equal(batchSize(limits), scanned(limits), JSON.stringify(limits));
          compared += 1;
        }
      }
    }
    assert.equal(compared, 11 * 12 * 201);
  });

  it('computes binomial upper tails', () => {
    assert.equal(binomialTailAbove(5, 0.5, 5), 0);
    assert.ok(Math.abs(binomialTailAbove(2, 0.5, 0) - 0.75) < 1e-12);
    assert.ok(Math.abs(binomialTailAbove(10, 0.5, 4) - 0.623046875) < 1e-12);
    assert.equal(binomialTailAbove(10, 0, 0), 0);
    assert.equal(binomialTailAbove(10, 1, 3), 1);
  });

  it('stays below the Postfix soft error limit (10) and within RFC 5321 limits', () => {
    assert.ok(CAUTIOUS_ERROR_BUDGET < 10, `budget ${CAUTIOUS_ERROR_BUDGET}`);
    assert.equal(DEFAULT_RECIPIENT_LIMIT, 100);
  });
});

describe('backoffDelayMs', () => {
  it('doubles from the base and stops at the cap', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(n, 1000, 20_000)),
      [0, 1000, 2000, 4000, 8000, 16_000, 20_000, 20_000],
    );
  });

  it('stays finite for absurd failure counts', () => {
    assert.equal(backoffDelayMs(10_000, 1000, 120_000), 120_000);
  });
});

describe('session-level replies', () => {
  it('reads 452 4.5.3 as the recipient limit, not as a full mailbox', () => {
    assert.equal(isTooManyRecipients(rcpt(452, '4.5.3', 'Error: too many recipients')), true);
    assert.equal(isTooManyRecipients(rcpt(452, null, 'Too many recipients received this hour')), true);
    assert.equal(isTooManyRecipients(rcpt(452, '4.2.2', 'Mailbox full')), false);
    assert.equal(isTooManyRecipients(rcpt(452, '4.3.1', 'Insufficient system storage')), false);
    assert.equal(isTooManyRecipients({ ...rcpt(452, '4.5.3', 'too many recipients'), stage: 'mail' }), false);
  });

  it('reads any 421 as the server closing the session (RFC 5321 §3.8)', () => {
    assert.equal(isClosingReply(rcpt(421, '4.7.0', 'mx Error: too many errors')), true);
    assert.equal(isClosingReply({ ...rcpt(421, null, 'Service not available'), stage: 'greeting' }), true);
    assert.equal(isClosingReply(rcpt(450, '4.2.0', 'Greylisted')), false);
  });
});
