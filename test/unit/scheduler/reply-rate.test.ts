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

describe('ReplyRate', () => {
  it('has no ceiling without a slow start until a host slows down', () => {
    const rate = new ReplyRate(new LearnedLimits());
    assert.equal(rate.ramping, false);
    assert.equal(rate.ceiling(0), Infinity);
    assert.equal(rate.batchCap(2), Infinity);
  });

  it('starts at its first allowance and grows to twice what came on time within a second', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    assert.equal(rate.ramping, true);
    assert.equal(rate.ceiling(0), 100);
    // 10 transactions of 9 replies within a second, all on time: 90 proven.
    onTime(rate, 0, 10, 9, 90);
    assert.equal(learned.provenRepliesPerSecond, 90);
    assert.equal(rate.ceiling(1_000), Math.max(100, RAMP_GROWTH * 90));
    assert.deepEqual(learned.record().provenRepliesPerSecond, 90);
    // Small batches meanwhile: the allowance over two sessions at the host's 25 ms round trip.
    assert.ok(rate.batchCap(2) < 20, String(rate.batchCap(2)));
  });

  it('holds at four fifths of the proof while a transaction is overdue, and grows on once it is over', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(learned.provenRepliesPerSecond, 200);
    rate.sent(at, 10);
    assert.equal(rate.ceiling(at + 100), 400);
    assert.equal(rate.ceiling(at + 400), 160);
    rate.settled(at);
    assert.equal(rate.ceiling(at + 400), 400);
  });

  it('falls to four fifths of the proof at a clean late transaction, pauses, and ends the session', () => {
    const learned = new LearnedLimits();
    const rate = new ReplyRate(learned, 100);
    const at = onTime(rate, 0, 20, 10, 50);
    assert.equal(rate.answered(10, at, 0, at + 1_025, true), false);
    assert.equal(learned.repliesPerSecond, 160);
    assert.equal(learned.penalties, 1);
    assert.equal(rate.ramping, false);
    assert.ok(rate.pausedUntil >= at + 1_025 + 1_000 - 1);
    // Under the learned ceiling, a batch is a quarter second of it.
    assert.equal(rate.batchCap(2), 40);
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
    assert.equal(rate.ceiling(1_000), Infinity);
    // Another worker starts where this one's proof ended.
    const other = LearnedLimits.from(learned.record());
    assert.equal(new ReplyRate(other, 100).ceiling(0), Infinity);
    other.merge({ ...learned.record(), provenRepliesPerSecond: 10 });
    assert.equal(other.provenRepliesPerSecond, learned.provenRepliesPerSecond);
  });
});
