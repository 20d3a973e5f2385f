/** The replies a second asked of a host, and its slow start (src/scheduler/reply-rate.ts); clocks given. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { LearnedLimits } from '../../../src/scheduler/learned-limits.js';
import { AMBIGUOUS_FLOOR, FREE_RATE, RAMP_GROWTH, ReplyRate } from '../../../src/scheduler/reply-rate.js';

/** `count` transactions of `replies` replies, 25 ms each, every `gap` ms from `from`; returns the end. */
function onTime(
  rate: ReplyRate,
  from: number,
  count: number,
  replies: number,
  gap: number,
  clean = true,
): number {
  let at = from;
  for (let i = 0; i < count; i += 1) {
    assert.equal(rate.answered(replies, at, 0, at + 25, clean), true);
    at += gap;
  }
  return at;
}

/** The allowance after a proof of `proven`. */
const grown = (proven: number) => RAMP_GROWTH * proven;

describe('ReplyRate', () => {
  it('has no ceiling without a slow start until a host slows down', () => {
    const rate = new ReplyRate(new LearnedLimits());
    assert.equal(rate.ramping, false);
    assert.equal(rate.ceiling(), Infinity);
    assert.equal(rate.allowance(0), Infinity);
    assert.equal(rate.batchCap(0), Infinity);
    assert.equal(rate.admit(10_000, 0), 0);
  });

  it('lets its first allowance go at once, then what twice the proof leaves room for', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    assert.equal(rate.ramping, true);
    assert.equal(rate.ceiling(), Infinity, 'a slow start counts a second, it does not pace');
    assert.equal(rate.allowance(0), 100);
    assert.equal(rate.admit(60, 0), 0);
    assert.equal(rate.admit(40, 1), 0);
    const wait = rate.admit(10, 2);
    assert.ok(wait > 0, 'the second is full');
    // 100 answered on time within a second: proven, and as many more may go.
    rate.answered(100, 0, 0, 30, true);
    assert.equal(learned.provenRepliesPerSecond, 100);
    assert.equal(rate.allowance(31), grown(100));
    assert.equal(rate.admit(grown(100) - 100, 31), 0);
    assert.ok(rate.admit(1, 32) > 0);
    // The window's oldest replies leave it a second after they went.
    assert.equal(rate.admit(60, 1_001), 0);
    assert.deepEqual(learned.record().provenRepliesPerSecond, 100);
  });

  it('doubles its allowance with each round trip that uses it and comes back on time', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    let at = 0;
    let sentInSecond = 0;
    const proofs: number[] = [];
    for (let trip = 0; trip < 4; trip += 1) {
      // Each round trip sends what the second has room for, in batches of 4, and all comes back on time.
      let batches = 0;
      while (rate.admit(4, at) === 0) batches += 1;
      rate.answered(batches * 4, at, 0, at + 25, true);
      sentInSecond += batches * 4;
      proofs.push(learned.provenRepliesPerSecond);
      at += 30;
    }
    // Four round trips of 30 ms: the second carried what was allowed, never more, and the proof doubled
    // each time from the first 100.
    assert.deepEqual(proofs, [100, 200, 400, 800]);
    assert.ok(sentInSecond <= rate.allowance(at), `${sentInSecond} sent, ${rate.allowance(at)} allowed`);
    assert.equal(sentInSecond, 800);
  });

  it('sizes a batch by what the second has room for', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    onTime(rate, 0, 20, 10, 45);
    assert.equal(learned.provenRepliesPerSecond, 200);
    assert.equal(rate.batchCap(2_000), 400);
    assert.equal(rate.admit(390, 2_000), 0);
    assert.equal(rate.batchCap(2_001), 10);
    assert.equal(rate.admit(10, 2_001), 0);
    assert.equal(rate.batchCap(2_002), 2, 'a full second still gives the least batch, which waits for room');
    assert.ok(rate.admit(2, 2_002) > 0);
    // A second later the window is empty again.
    assert.equal(rate.batchCap(3_001), 400);
  });

  it('holds at four fifths of the proof while a transaction is overdue, and grows on once it is over', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(learned.provenRepliesPerSecond, 200);
    rate.sent(at, 10);
    assert.equal(rate.allowance(at + 100), grown(200));
    assert.equal(rate.allowance(at + 400), 160);
    rate.settled(at);
    assert.equal(rate.allowance(at + 400), grown(200));
  });

  it('falls to four fifths of the proof at a clean late transaction, pauses, and ends the session', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(rate.answered(10, at, 0, at + 1_025, true), false);
    assert.equal(learned.repliesPerSecond, 160);
    assert.equal(learned.penalties, 1);
    assert.equal(rate.ramping, false);
    assert.equal(rate.ceiling(), 160);
    assert.ok(rate.pausedUntil >= at + 1_025 + 1_000 - 1);
    // Under the learned ceiling, a batch is a quarter second of it, and the commands are paced, not counted.
    assert.equal(rate.batchCap(), 40);
    assert.equal(rate.admit(1_000, at + 1_030), 0);
    // A transaction sent before the fall is no new sign.
    assert.equal(rate.answered(10, at + 10, 0, at + 1_200, true), false);
    assert.equal(learned.repliesPerSecond, 160);
  });

  it('lets a late transaction with a refusal end the slow start, but no lower than the ambiguous floor', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 30, 1, 40, false);
    assert.equal(learned.provenRepliesPerSecond, 25);
    // A tarpit's refusal: the session goes on, the ceiling is the floor, not four fifths of 25.
    assert.equal(rate.answered(5, at, 0, at + 2_025, false), true);
    assert.equal(learned.repliesPerSecond, AMBIGUOUS_FLOOR);
    // Once a ceiling is learned, only a clean session lowers it.
    assert.equal(rate.answered(5, at + 3_000, 0, at + 5_000, false), true);
    assert.equal(learned.repliesPerSecond, AMBIGUOUS_FLOOR);
  });

  it("takes a reply late by our own event loop's stalls for no sign", () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(rate.answered(10, at, 900, at + 1_025, true), true);
    assert.equal(learned.repliesPerSecond, null);
    assert.equal(rate.ramping, true);
  });

  it("reads no sign from a session exploring the error budget (the budget's rules judge it)", () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(rate.answered(1, at, 0, at + 1_025, false, false), true);
    assert.equal(learned.repliesPerSecond, null);
  });

  it('frees a host that proves enough replies a second of any ceiling', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    onTime(rate, 0, 40, Math.ceil(FREE_RATE / 40), 25);
    assert.ok(learned.provenRepliesPerSecond >= FREE_RATE);
    assert.equal(rate.ramping, false);
    assert.equal(rate.allowance(1_000), Infinity);
    assert.equal(rate.admit(10_000, 1_000), 0);
    // Another worker starts where this one's proof ended.
    const other = LearnedLimits.from(learned.record());
    assert.equal(new ReplyRate(other, 100).allowance(0), Infinity);
    other.merge({ ...learned.record(), provenRepliesPerSecond: 10 });
    assert.equal(other.provenRepliesPerSecond, learned.provenRepliesPerSecond);
  });
});
