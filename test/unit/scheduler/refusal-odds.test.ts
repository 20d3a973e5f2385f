/** The odds of a batch's refusals, each domain's own evidence counted (src/scheduler/refusal-odds.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { OVERSPEND_RISK, batchSize } from '../../../src/scheduler/politeness.js';
import { RefusalOdds } from '../../../src/scheduler/refusal-odds.js';

/** A host that accepted `valid` addresses at `domain`. */
function acceptedMany(valid: number, domain = 'valid.test'): RefusalOdds {
  const odds = new RefusalOdds();
  for (let i = 0; i < valid; i += 1) odds.count(250, domain);
  return odds;
}

const many = (domain: string, count: number) => Array.from({ length: count }, () => domain);

describe('RefusalOdds', () => {
  it('starts pessimistic: 2 refused of 4, and a new domain as likely dead as alive', () => {
    const odds = new RefusalOdds();
    assert.equal(odds.rate, 0.5);
    assert.equal(odds.deadChance('new.test'), 0.5);
  });

  it('takes a domain the host accepted an address of for alive', () => {
    const odds = acceptedMany(1);
    odds.count(550, 'valid.test');
    assert.equal(odds.deadChance('valid.test'), 0);
  });

  it('lets a new domain at a host of many live domains count as seldom dead, a refusing one as likely dead', () => {
    const odds = new RefusalOdds();
    for (let i = 0; i < 98; i += 1) odds.count(250, `d${i}.test`);
    assert.equal(odds.deadChance('new.test'), 1 / 100);
    odds.count(550, 'gone.test');
    odds.count(550, 'gone.test');
    odds.count(550, 'gone.test');
    assert.ok(odds.deadChance('gone.test') > 0.5, String(odds.deadChance('gone.test')));
  });

  it('keeps a live domain at the host-wide rate: the binomial batch size', () => {
    const odds = acceptedMany(300);
    const size = odds.batchSize(many('valid.test', 100), 9, 100);
    const binomial = batchSize({
      recipientLimit: 100,
      oneRecipient: false,
      errorBudgetLeft: 9,
      refusalRate: odds.rate,
    });
    assert.equal(size, binomial);
    assert.equal(size, 100);
  });

  it('sends no more of a new domain than the budget at a host that accepted many valid addresses', () => {
    const odds = acceptedMany(300);
    // The host-wide rate alone would take all 24.
    assert.equal(
      batchSize({ recipientLimit: 100, oneRecipient: false, errorBudgetLeft: 9, refusalRate: odds.rate }),
      100,
    );
    assert.equal(odds.batchSize(many('gone.test', 24), 9, 100), 9);
    // A live domain's addresses before them ride along.
    const mixed = [...many('valid.test', 30), ...many('gone.test', 24)];
    const size = odds.batchSize(mixed, 9, 100);
    assert.ok(size >= 30 && size <= 39, String(size));
    assert.ok(odds.overspendChance(mixed.slice(0, size), 9) <= OVERSPEND_RISK);
    assert.ok(odds.overspendChance(mixed.slice(0, size + 1), 9) > OVERSPEND_RISK);
  });

  it('sends a refusing domain no further than the budget left, whatever the host-wide rate', () => {
    const odds = acceptedMany(1_000);
    for (let i = 0; i < 9; i += 1) odds.count(550, 'gone.test');
    assert.equal(odds.batchSize(many('gone.test', 40), 5, 100), 5);
    assert.equal(odds.batchSize(many('gone.test', 40), 0, 100), 0);
  });

  it('takes a whole queue front within the budget even all refused', () => {
    const odds = new RefusalOdds();
    assert.equal(odds.batchSize(many('x.test', 3), 9, 100), 3);
    assert.equal(odds.overspendChance(many('x.test', 9), 9), 0);
  });

  it('forgets the oldest domain past 10,000, and counts a probe (no domain) only host-wide', () => {
    const odds = new RefusalOdds();
    odds.count(250, 'first.test');
    for (let i = 0; i < 10_000; i += 1) odds.count(550, `d${i}.test`);
    assert.equal(odds.deadChance('first.test'), odds.deadChance('never.test'));
    const before = odds.deadChance('never.test');
    odds.count(550, null);
    assert.ok(odds.rate > 0.99);
    assert.ok(Math.abs(odds.deadChance('never.test') - before) < 1e-12);
  });
});
