/** What a run learns of one host's limits (src/scheduler/learned-limits.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  CAUTIOUS_ERROR_BUDGET,
  EXPLORER_FIRST_STEP,
  LearnedLimits,
  NO_BUDGET_AFTER,
  SLOW_REPLY_MS,
  UNPROVEN_SESSION_BUDGET,
  judgeReply,
  type LimitsRecord,
} from '../../../src/scheduler/learned-limits.js';

describe('LearnedLimits', () => {
  it('starts cautious, and knows Postfix from its greeting (no exploring then)', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.errorBudget, CAUTIOUS_ERROR_BUDGET);
    assert.equal(limits.budgetSource, 'default');
    assert.equal(limits.isDefault, true);
    assert.equal(limits.mayExplore, true);
    limits.greeted('mx.example.test ESMTP Postfix (Debian/GNU)');
    assert.equal(limits.budgetSource, 'postfix');
    assert.equal(limits.errorBudget, CAUTIOUS_ERROR_BUDGET);
    assert.equal(limits.mayExplore, false);
    assert.equal(limits.startExploring(1), false);
  });

  it('lets one session at a time explore, and grows the budget on replies on time', () => {
    const limits = new LearnedLimits();
    limits.greeted('mx.example.test ESMTP ready');
    assert.equal(limits.startExploring(1), true);
    assert.equal(limits.startExploring(2), false, 'one explorer at a time');
    assert.equal(limits.isExploring(1), true);
    limits.survived(5);
    assert.equal(limits.errorBudget, CAUTIOUS_ERROR_BUDGET, 'within the budget proves nothing new');
    limits.survived(12);
    assert.equal(limits.errorBudget, 12);
    assert.equal(limits.budgetSource, 'probed');
    limits.stopExploring(2);
    assert.equal(limits.isExploring(1), true, 'only the explorer stops its exploring');
    limits.stopExploring(1);
    assert.equal(limits.startExploring(2), true);
  });

  it('keeps the guess to the explorer: other sessions get what is proven, at least one refusal', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.guessing, true);
    assert.equal(limits.startExploring(1), true);
    assert.equal(limits.budgetFor(1), CAUTIOUS_ERROR_BUDGET);
    assert.equal(limits.budgetFor(2), UNPROVEN_SESSION_BUDGET);
    limits.provedByBatch(7);
    assert.equal(limits.budgetFor(2), 7, 'what a session drew on time is proven for all');
    assert.equal(limits.guessing, true);
    assert.equal(limits.takeChanged(), true, 'proven below the guess: shared too');
    assert.equal(limits.record().provenRefusals, 7);
    limits.provedByBatch(30);
    assert.equal(limits.guessing, false, 'proven up to the guess: no longer a guess');
    assert.equal(limits.errorBudget, CAUTIOUS_ERROR_BUDGET, 'a batch proves no more than the guess');
    assert.equal(limits.budgetSource, 'probed');
    assert.equal(limits.budgetFor(2), CAUTIOUS_ERROR_BUDGET, 'every session has it');
    assert.equal(limits.takeChanged(), true);
    assert.equal(limits.isExploring(1), true, 'the explorer goes on past it');
    // Shared: another worker starts from the proven guess.
    assert.equal(LearnedLimits.from(limits.record()).guessing, false);
    const postfix = new LearnedLimits();
    postfix.greeted('mx.example.test ESMTP Postfix');
    assert.equal(postfix.guessing, false);
    assert.equal(postfix.budgetFor(2), CAUTIOUS_ERROR_BUDGET, 'a greeting is known, not a guess');
  });

  it("grows the explorer's reach past the proof as a slow start does, up to the guess", () => {
    const limits = new LearnedLimits();
    assert.equal(limits.startExploring(1), true);
    assert.equal(limits.reachFor(1), EXPLORER_FIRST_STEP, 'nothing proven: one step past it');
    assert.equal(limits.reachFor(2), Infinity, 'another session is bounded by budgetFor alone');
    limits.provedByBatch(0, 1);
    assert.equal(limits.reachFor(1), EXPLORER_FIRST_STEP, 'a batch that proved nothing does not grow it');
    limits.provedByBatch(0, 1, true);
    assert.equal(
      limits.reachFor(1),
      2 * EXPLORER_FIRST_STEP,
      'a clean batch at a host that seldom refuses does',
    );
    limits.provedByBatch(1, 1);
    assert.equal(limits.reachFor(1), 1 + 4 * EXPLORER_FIRST_STEP, 'proven 1, and the step doubled');
    limits.provedByBatch(2, 2);
    assert.equal(
      limits.reachFor(1),
      2 + 4 * EXPLORER_FIRST_STEP,
      "another session's proof moves it, not its step",
    );
    limits.provedByBatch(4, 1);
    assert.equal(limits.reachFor(1), CAUTIOUS_ERROR_BUDGET, 'never past the guess');
    limits.provedByBatch(CAUTIOUS_ERROR_BUDGET, 1);
    assert.equal(limits.guessing, false);
    assert.equal(limits.reachFor(1), Infinity, 'proven: the budget alone bounds it');
    const late = new LearnedLimits();
    late.startExploring(1);
    late.provedByBatch(1, 1);
    late.slowedWhileGuessing();
    assert.equal(late.reachFor(1), Infinity, 'fixed by a penalty: no more exploring');
    assert.equal(late.errorBudget, 1);
  });

  it('fixes the budget at what was proven when a batch comes back late while guessing', () => {
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.provedByBatch(3);
    limits.slowedWhileGuessing();
    assert.equal(limits.budgetSource, 'penalty');
    assert.equal(limits.errorBudget, 3);
    assert.equal(limits.penalties, 1);
    assert.equal(limits.budgetFor(2), 3);
    assert.equal(limits.isExploring(1), false);
    limits.slowedWhileGuessing();
    assert.equal(limits.penalties, 1, 'only while the budget is a guess');
    const unproven = new LearnedLimits();
    unproven.slowedWhileGuessing();
    assert.equal(unproven.errorBudget, 1, 'nothing proven: one refusal a session');
  });

  it('fixes the budget one below the first slowdown, for the rest of the run', () => {
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.survived(11);
    limits.slowedAfter(12);
    assert.equal(limits.errorBudget, 11);
    assert.equal(limits.budgetSource, 'penalty');
    assert.equal(limits.penalties, 1);
    assert.equal(limits.mayExplore, false);
    assert.equal(limits.isExploring(1), false);
    limits.survived(30);
    assert.equal(limits.errorBudget, 11, 'a fixed budget does not grow again');
    limits.slowedAfter(20);
    assert.equal(limits.errorBudget, 11, 'nor rises with a later, higher slowdown');
    limits.slowedAfter(4);
    assert.equal(limits.errorBudget, 3, 'but falls with a lower one');
  });

  it('takes a reply late after refusals already proven safe for noise once a run, while it learns', () => {
    // bench:bulk's hosting5 (a soft limit of 10) under load: 9 refusals proven by a reply on time, then
    // a batch late at its last reply, the session's 10th refusal, after 9: fixed at 8 before.
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.survived(9);
    limits.slowedAfter(9);
    assert.equal(limits.penalties, 0);
    assert.equal(limits.budgetSource, 'probed');
    assert.equal(limits.errorBudget, 9);
    limits.slowedAfter(10);
    assert.equal(limits.errorBudget, 9, 'the limit itself, past the proof, is believed');
    assert.equal(limits.budgetSource, 'penalty');
    const twice = new LearnedLimits();
    twice.survived(9);
    twice.slowedAfter(9);
    twice.slowedAfter(9);
    assert.equal(twice.errorBudget, 8, 'a second time it is believed: the limit may have moved');
  });

  it('takes a host with no slowdown after NO_BUDGET_AFTER refusals to have no budget', () => {
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.survived(NO_BUDGET_AFTER - 1);
    assert.equal(limits.errorBudget, NO_BUDGET_AFTER - 1);
    limits.survived(NO_BUDGET_AFTER);
    assert.equal(limits.errorBudget, Infinity);
    assert.equal(limits.budgetSource, 'none');
    assert.equal(limits.mayExplore, false);
    assert.equal(limits.record().errorBudget, null, 'JSON-safe');
  });

  it('reads 421 too many errors as a hard limit twice the soft one', () => {
    const limits = new LearnedLimits();
    limits.greeted('mx.example.test ESMTP Postfix');
    limits.disconnectedAfter(6);
    assert.equal(limits.errorBudget, 2);
    assert.equal(limits.budgetSource, 'penalty');
    limits.disconnectedAfter(1);
    assert.equal(limits.errorBudget, 1, 'never below one');
  });

  it('keeps the lowest recipient and session limits the host stated', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.recipientLimit, null);
    limits.tooManyRecipients(50);
    limits.tooManyRecipients(80);
    assert.equal(limits.recipientLimit, 50);
    limits.tooManyRecipients(0);
    assert.equal(limits.recipientLimit, 1);
    limits.tooManySessions(3);
    limits.tooManySessions(0);
    assert.equal(limits.sessionLimit, 1);
    assert.equal(limits.isDefault, false);
  });

  it('says once when something changed, to store it', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.takeChanged(), false);
    limits.tooManyRecipients(10);
    assert.equal(limits.takeChanged(), true);
    assert.equal(limits.takeChanged(), false);
    limits.tooManyRecipients(20);
    assert.equal(limits.takeChanged(), false, 'a higher limit is no news');
  });

  it('round-trips through its record, and merges what another worker learned cautiously', () => {
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.survived(15);
    limits.tooManyRecipients(40);
    const copy = LearnedLimits.from(limits.record());
    assert.deepEqual(copy.record(), limits.record());
    // Another worker saw the slowdown: the fixed budget wins over a probed one.
    const penalty: LimitsRecord = {
      errorBudget: 11,
      budgetSource: 'penalty',
      recipientLimit: 60,
      sessionLimit: 1,
      penalties: 1,
    };
    copy.merge(penalty);
    assert.equal(copy.errorBudget, 11);
    assert.equal(copy.budgetSource, 'penalty');
    assert.equal(copy.recipientLimit, 40, 'the lower recipient limit stays');
    assert.equal(copy.sessionLimit, 1);
    // A record that makes no sense changes nothing.
    const fresh = LearnedLimits.from({
      errorBudget: -3,
      budgetSource: 'penalty',
      recipientLimit: 0,
      sessionLimit: 1.5,
      penalties: Number.NaN,
    });
    assert.equal(fresh.isDefault, true);
  });

  it("shares what was proven below the guess: another worker's sessions draw up to it", () => {
    const limits = new LearnedLimits();
    assert.equal('provenRefusals' in limits.record(), false, 'no field while nothing is proven');
    limits.startExploring(1);
    limits.provedByBatch(3);
    assert.equal(limits.takeChanged(), true);
    limits.provedByBatch(2);
    assert.equal(limits.takeChanged(), false, 'less than proven is no news');
    const record = limits.record();
    assert.equal(record.budgetSource, 'default');
    assert.equal(record.provenRefusals, 3);
    const other = LearnedLimits.from(record);
    assert.equal(other.guessing, true, 'still a guess');
    assert.equal(other.budgetFor(2), 3, 'a session other than the explorer draws what is proven');
    assert.equal(other.startExploring(1), true, 'and one explorer goes on from there');
    // Two workers' proofs: the larger (each was drawn without a slowdown).
    other.merge({ ...record, provenRefusals: 5 });
    assert.equal(other.budgetFor(2), 5);
    other.merge({ ...record, provenRefusals: 4 });
    assert.equal(other.budgetFor(2), 5);
    // A slowdown after it fixes the budget at what the cluster proved, not at what this worker did.
    other.slowedWhileGuessing();
    assert.equal(other.errorBudget, 5);
    assert.equal('provenRefusals' in other.record(), false, 'a known budget says it all');
    // The budget fixed elsewhere wins over a proof still below the guess.
    const fixed = LearnedLimits.from({ ...record, budgetSource: 'penalty', errorBudget: 2 });
    fixed.merge(record);
    assert.equal(fixed.errorBudget, 2);
    // A figure that makes no sense is ignored.
    for (const odd of [0, -1, 2.5, Number.NaN, '4'])
      assert.equal(
        LearnedLimits.from({ ...record, provenRefusals: odd } as unknown as LimitsRecord).budgetFor(2),
        UNPROVEN_SESSION_BUDGET,
      );
  });

  it("tells the explorer's batch out, and a run finding one left by a run that is gone takes it to have crossed", () => {
    const limits = new LearnedLimits();
    limits.startExploring(1);
    limits.provedByBatch(3);
    limits.takeChanged();
    limits.sending(2);
    assert.equal(limits.takeChanged(), false, "a batch within what is proven is no one's news");
    assert.equal('exploringBatch' in limits.record(), false);
    limits.sending(1);
    assert.equal(limits.takeChanged(), true, 'told before it goes out');
    const out = limits.record();
    assert.equal(typeof out.exploringBatch, 'string');
    limits.explored(2);
    assert.equal(limits.record().exploringBatch, out.exploringBatch, 'only its own session ends it');

    // Another run in this process while it is out: the batch is that run's, not a crossing.
    const beside = LearnedLimits.from(out);
    beside.takeOver();
    assert.equal(beside.guessing, true);
    assert.equal('exploringBatch' in beside.record(), false);

    // The explorer's session ends: nothing is out, and that is told.
    limits.explored(1);
    assert.equal(limits.takeChanged(), true);
    assert.equal('exploringBatch' in limits.record(), false);
    const after = LearnedLimits.from(limits.record());
    after.takeOver();
    assert.equal(after.guessing, true, 'a batch whose replies were read is no crossing');

    // A run that is gone (another process, or one stopped with the batch out) left it: fixed at what
    // is proven, and told.
    const gone = LearnedLimits.from({ ...out, exploringBatch: 'another-process:1' });
    gone.takeOver();
    assert.equal(gone.budgetSource, 'penalty');
    assert.equal(gone.errorBudget, 3);
    assert.equal(gone.takeChanged(), true);
    assert.equal('exploringBatch' in gone.record(), false);
    const unproven = LearnedLimits.from({
      ...new LearnedLimits().record(),
      exploringBatch: 'another-process:2',
    });
    unproven.takeOver();
    assert.equal(unproven.errorBudget, 1, 'at least one refusal a session');
    const stopped = new LearnedLimits();
    stopped.startExploring(4);
    stopped.sending(4);
    stopped.abandoned(4);
    stopped.explored(4);
    const next = LearnedLimits.from(stopped.record());
    next.takeOver();
    assert.equal(next.budgetSource, 'penalty', 'a batch abandoned by a stopped run stays told');
    // A budget known otherwise is not touched.
    const known = LearnedLimits.from({
      ...gone.record(),
      budgetSource: 'none',
      errorBudget: null,
      exploringBatch: 'x:1',
    });
    known.takeOver();
    assert.equal(known.errorBudget, Infinity);
    // The record told last says where the batch is; an odd value is none.
    assert.equal(
      'exploringBatch' in
        LearnedLimits.from({ ...out, exploringBatch: 7 } as unknown as LimitsRecord).record(),
      false,
    );
    const merged = LearnedLimits.from(out);
    merged.merge(limits.record());
    assert.equal('exploringBatch' in merged.record(), false);
  });

  it('keeps what the host does after a refusal: shared, and a host seen to answer is never taken to poison again', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.afterRefusal, null);
    assert.equal('afterRefusal' in limits.record(), false, 'no field until it is known');
    limits.sawAfterRefusal('poisons');
    assert.equal(limits.takeChanged(), true, 'told, to be stored');
    assert.equal(limits.isDefault, false, 'not forgotten');
    const copy = LearnedLimits.from(limits.record());
    assert.equal(copy.afterRefusal, 'poisons');
    // An RCPT accepted after a refusal is a proof: it wins over what a refused postmaster suggests.
    copy.sawAfterRefusal('answers');
    assert.equal(copy.afterRefusal, 'answers');
    copy.merge(limits.record());
    assert.equal(copy.afterRefusal, 'answers');
    assert.equal(LearnedLimits.from(copy.record()).afterRefusal, 'answers');
    // Another value (a newer rcpt, a row written by hand) is ignored.
    const odd = { ...limits.record(), afterRefusal: 'maybe' } as unknown as LimitsRecord;
    assert.equal(LearnedLimits.from(odd).afterRefusal, null);
  });

  it('keeps an address the host accepted for the check after a refusal, while that check may be asked', () => {
    const limits = new LearnedLimits();
    limits.takeChanged();
    limits.accepted('ok0@a.test');
    assert.equal(limits.takeChanged(), true, 'told, to be stored');
    assert.equal(limits.isDefault, true, 'a host that learned nothing else may be forgotten');
    limits.accepted('ok1@a.test');
    assert.equal(limits.acceptedRecipient, 'ok0@a.test', 'the first one kept');
    assert.equal(limits.takeChanged(), false);
    const copy = LearnedLimits.from(limits.record());
    assert.equal(copy.acceptedRecipient, 'ok0@a.test', 'a run that starts at the host has it');
    // Another run's, told last, is as good.
    copy.merge({ ...limits.record(), acceptedRecipient: 'ok2@a.test' });
    assert.equal(copy.acceptedRecipient, 'ok2@a.test');
    // Once the host is seen to answer after a refusal, no check is asked: the address is not kept.
    copy.sawAfterRefusal('answers');
    assert.equal('acceptedRecipient' in copy.record(), false);
    assert.equal('acceptedRecipient' in limits.record(), true);
    // Nothing that could not go into RCPT TO:<…> as it is (a row written by hand).
    for (const odd of ['a>b@c.test', 'a b@c.test', 'nobody', 'é@c.test', 42, `${'a'.repeat(250)}@c.test`]) {
      const record = { ...limits.record(), acceptedRecipient: odd } as unknown as LimitsRecord;
      assert.equal(LearnedLimits.from(record).acceptedRecipient, null, String(odd));
      const fresh = new LearnedLimits();
      if (typeof odd === 'string') fresh.accepted(odd);
      assert.equal(fresh.acceptedRecipient, null, String(odd));
    }
  });

  it("judges a late reply the server's doing only when our own stalls cannot account for it", () => {
    // On time: a stall only ever makes a reply look later.
    assert.equal(judgeReply(30, 25, 0), 'on_time');
    assert.equal(judgeReply(25 + SLOW_REPLY_MS - 1, 25, 400), 'on_time');
    // Late, and the loop ran all along: the server held it back.
    assert.equal(judgeReply(1_030, 25, 0), 'late');
    // Late by 1 s with a 700 ms stall: only 305 ms of it must be the server's, too little to tell.
    assert.equal(judgeReply(1_030, 25, 700), 'inconclusive');
    // Late by 1.5 s with a 700 ms stall: at least 800 ms of it was the server's.
    assert.equal(judgeReply(1_530, 25, 700), 'late');
    // All of it a stall of ours: nothing is learned.
    assert.equal(judgeReply(825, 25, 800), 'inconclusive');
  });

  it('halves the replies a second on the first sign of a slowdown, and grows back slowly, never to where it slowed', () => {
    const limits = new LearnedLimits();
    assert.equal(limits.repliesPerSecond, null);
    assert.equal('repliesPerSecond' in limits.record(), false, 'no field until a rate is learned');
    limits.repliedOnTime(5_000);
    assert.equal(limits.repliesPerSecond, null, 'no ceiling without a slowdown');
    // We pushed 400 a second, 300 of them came on time: half of 400, growing up to 4/5 of 300.
    limits.slowedAtRate(400, 300, 10_000);
    assert.equal(limits.repliesPerSecond, 200);
    assert.equal(limits.penalties, 1);
    assert.equal(limits.isDefault, false);
    limits.repliedOnTime(10_500);
    assert.equal(limits.repliesPerSecond, 200, 'grows once a second at most');
    limits.repliedOnTime(11_000);
    assert.equal(limits.repliesPerSecond, 210);
    for (let t = 12_000; t < 40_000; t += 1_000) limits.repliedOnTime(t);
    assert.equal(limits.repliesPerSecond, 240, 'up to 4/5 of the replies that came on time');
    // A second sign halves again, below the ceiling so far.
    limits.slowedAtRate(1_000, 0, 41_000);
    assert.equal(limits.repliesPerSecond, 120);
    limits.repliedOnTime(43_000);
    assert.equal(limits.repliesPerSecond, 120, 'nothing came on time that time: no room to grow');
    assert.equal(limits.record().repliesPerSecond, 120);
    // Another worker's lower ceiling is taken as it is; a higher one changes nothing.
    const other = LearnedLimits.from({ ...limits.record(), repliesPerSecond: 50 });
    assert.equal(other.repliesPerSecond, 50);
    other.merge({ ...limits.record(), repliesPerSecond: 500 });
    assert.equal(other.repliesPerSecond, 50);
    assert.equal(LearnedLimits.from({ ...limits.record(), repliesPerSecond: -1 }).repliesPerSecond, null);
  });
});
