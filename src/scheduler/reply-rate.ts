/**
 * How many replies a second rcpt asks of one MX host, and what the host's timing says about it
 * (docs/bulk.md, "How rcpt learns a host's limits", replies per second). Some hosts answer at their
 * usual pace up to a number of replies a second and delay every reply above it; rcpt cannot know
 * which, nor where, before it sees one slow down.
 *
 * - **Slow start** (the `slowStart` setting, off by default: it costs hosts without a rate limit
 *   their first second's speed, docs/bulk.md). As TCP's slow start grows its window: at a host whose
 *   rate is unknown rcpt allows itself `slowStart` replies a second, and `RAMP_GROWTH` times the most
 *   the host has answered on time within one second so far (its proof,
 *   `LearnedLimits.provenRepliesPerSecond`, kept for the run and shared). Its pipelined batches stay
 *   small meanwhile (`batchCap`): enough to keep the allowance over the host's sessions at its round
 *   trip, so that few replies are in flight when the host's rate is crossed (a rate-limiting server
 *   delays each in turn). While a transaction is overdue the allowance holds at four fifths of the
 *   proof (a delayed reply shows only when its transaction ends). Once `FREE_RATE` are proven the
 *   host has no ceiling.
 * - **A slowdown** (a transaction late by `RATE_SLOW_MS` beyond the host's quickest, our own
 *   event-loop stalls and the server's own work aside, while many replies a second were pushed):
 *   after a slow start the ceiling becomes four fifths of the proof, and stays; under a ceiling
 *   already learned (or without a slow start) it halves and grows back slowly, never to where the
 *   host slowed (`LearnedLimits.slowedAtRate`). No command goes to the host for `FALL_PAUSE_MS`
 *   either way, the time a rate-limiting server's window takes to empty.
 *
 * Telling a rate limit from other delays: our own stalls are taken off (`LoopStallWatch`). A late
 * transaction in a session without refusals has no other cause the scheduler knows of. One with a
 * refusal may be an error limit, a tarpit that delays every refusal, or a slow lookup of an unknown
 * recipient: during a slow start it still ends it (growing on would cross a rate limit further), but
 * it cannot take the ceiling below `AMBIGUOUS_FLOOR`, where a tarpit's refusals would drive it; once a
 * ceiling is learned only clean sessions lower it. A session exploring the error budget has its
 * replies counted in the rate pushed, its lateness read by the budget's rules alone.
 */
import { performance } from 'node:perf_hooks';

import type { LearnedLimits } from './learned-limits.js';
import { MIN_REPLY_RATE, PER_REPLY_MS, RATE_SIGN_FLOOR, RATE_SLOW_MS } from './learned-limits.js';

/**
 * A slow start's first allowance, as measured in bench:bulk (docs/bulk.md): the `slowStart` setting
 * of `verifyMany()` names it; 0, the default, is no slow start.
 */
export const SUGGESTED_START_RATE = 100;
/** The slow start allows this many times the most replies the host answered on time in a second. */
export const RAMP_GROWTH = 2;
/** Replies answered on time within one second after which a host is taken to have no rate limit. */
export const FREE_RATE = 1_600;
/** No command goes to a host for this long after it slowed down under our rate (its window empties). */
export const FALL_PAUSE_MS = 1_000;
/** The lowest ceiling a late transaction with a refusal (a tarpit, a slow lookup) can set. */
export const AMBIGUOUS_FLOOR = 50;
/** How long answered transactions are kept, to judge a late one by what was pushed before it was sent. */
const HISTORY_MS = 5_000;
/** The share of the proven replies a second allowed while a transaction is overdue, and after a fall. */
const HELD_SHARE = 0.8;
/** Fewest RCPTs a batch may carry during the slow start. */
const RAMP_MIN_BATCH = 2;
/** A slow start's batches keep its allowance at the host's round trip with this much to spare. */
const RAMP_BATCH_SPARE = 2.5;
/** Round trip assumed before the host's quickest transaction is known. */
const ASSUMED_ROUND_TRIP_MS = 50;

interface Answered {
  readonly at: number;
  readonly replies: number;
  readonly late: boolean;
}

export class ReplyRate {
  readonly #learned: LearnedLimits;
  /** The host's quickest transaction so far (ms): its round trip, against which slowness shows. */
  #fastestMs = Infinity;
  /** Transactions answered in the last `HISTORY_MS`, oldest first from `#head`. */
  readonly #history: Answered[] = [];
  #head = 0;
  /** Transactions sent and not yet over. */
  readonly #inFlight: { readonly sentAt: number; readonly replies: number }[] = [];
  /** When the ceiling last fell (`performance.now()`); a transaction sent before it is no new sign. */
  #fellAt = -Infinity;
  /** Until when no command goes to the host (`performance.now()`), after a fall. */
  #pausedUntil = -Infinity;

  /** Replies a second a slow start begins at (0: no slow start). */
  readonly #startRate: number;

  constructor(learned: LearnedLimits, startRate = 0) {
    this.#learned = learned;
    this.#startRate = startRate;
  }

  /** True while the host's rate is unknown and rcpt grows its allowance on proof. */
  get ramping(): boolean {
    const learned = this.#learned;
    return (
      this.#startRate > 0 && learned.repliesPerSecond === null && learned.provenRepliesPerSecond < FREE_RATE
    );
  }

  /**
   * Replies a second allowed at the host at `now` (`Infinity`: none). During the slow start, while a
   * transaction is overdue (it may be held back by the host), four fifths of what is proven: a
   * delayed reply shows only when its transaction ends, and growing on meanwhile would cross further.
   */
  ceiling(now = performance.now()): number {
    const learned = this.#learned;
    const learnedRate = learned.repliesPerSecond;
    if (learnedRate !== null) return learnedRate;
    if (!this.ramping) return Infinity;
    const proven = learned.provenRepliesPerSecond;
    if (this.#overdue(now)) return Math.max(MIN_REPLY_RATE, Math.floor(HELD_SHARE * proven));
    return Math.max(this.#startRate, RAMP_GROWTH * proven);
  }

  /** A transaction of `replies` replies goes to the host at `sentAt`; `settled` when it is over. */
  sent(sentAt: number, replies: number): void {
    this.#inFlight.push({ sentAt, replies });
  }

  settled(sentAt: number): void {
    const index = this.#inFlight.findIndex((flight) => flight.sentAt === sentAt);
    if (index !== -1) this.#inFlight.splice(index, 1);
  }

  /** True when a transaction in flight is later than the host's quickest would allow. */
  #overdue(now: number): boolean {
    const fastest = Number.isFinite(this.#fastestMs) ? this.#fastestMs : ASSUMED_ROUND_TRIP_MS;
    return this.#inFlight.some(
      (flight) => now - flight.sentAt - fastest - PER_REPLY_MS * flight.replies >= RATE_SLOW_MS,
    );
  }

  /**
   * RCPTs one batch may carry at the rate allowed: during the slow start, what keeps the allowed rate
   * over `sessions` sessions at the host's round trip, with a quarter to spare; under a learned
   * ceiling, a quarter second of it (a whole pipelined batch must not cross the host's rate by itself).
   */
  batchCap(sessions: number): number {
    const ceiling = this.ceiling();
    if (!Number.isFinite(ceiling)) return Infinity;
    if (!this.ramping) return Math.max(1, Math.floor(ceiling / 4));
    const roundTrip = Number.isFinite(this.#fastestMs) ? this.#fastestMs : ASSUMED_ROUND_TRIP_MS;
    const perSession = (ceiling * roundTrip * RAMP_BATCH_SPARE) / 1000 / Math.max(1, sessions);
    return Math.max(RAMP_MIN_BATCH, Math.ceil(perSession));
  }

  /** `performance.now()` before which no command should go to the host (after a fall). */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  /**
   * A transaction of `replies` replies sent at `sentAt` was answered at `now`, held back by our own
   * event loop's stalls by `stalledMs` at most (`LoopStallWatch.stalledSince`); `clean` when its
   * session had drawn no refusal by its end (no error limit can have delayed it); `judged` false for
   * a reply whose lateness the error budget's rules read (a session exploring past the budget): its
   * replies count towards the rate pushed, its lateness is no sign here. Returns false when a clean
   * one was late: the host held it back under our rate, and the session should end (a connection's
   * backlog of delayed replies would delay its next transactions too).
   */
  answered(
    replies: number,
    sentAt: number,
    stalledMs: number,
    now: number,
    clean: boolean,
    judged = true,
  ): boolean {
    const ms = now - sentAt;
    const usual = this.#fastestMs;
    this.#fastestMs = Math.min(this.#fastestMs, ms);
    const late = ms - stalledMs - usual - PER_REPLY_MS * replies >= RATE_SLOW_MS;
    const history = this.#history;
    history.push({ at: now, replies, late });
    // Kept for the longest a late transaction may be judged over: its own second before it was sent.
    while (this.#head < history.length && (history[this.#head]?.at ?? now) <= now - HISTORY_MS)
      this.#head += 1;
    if (this.#head > 1_024 && this.#head * 2 > history.length) {
      history.splice(0, this.#head);
      this.#head = 0;
    }
    const learned = this.#learned;
    if (!late) {
      // Proof counts only replies sent since the last fall: those before it were over the rate.
      if (this.ramping && sentAt >= this.#fellAt) learned.provedRate(this.#repliesSince(now - 1_000, true));
      learned.repliedOnTime(now);
      return true;
    }
    if (!judged) return true;
    // The rate we pushed when it was sent: the replies of the second before, and in flight since.
    // Sent before the ceiling last fell, it was sent at the rate that fell already: no new sign.
    const pushed = this.#repliesSince(sentAt - 1_000, false);
    const sign = sentAt >= this.#fellAt && pushed >= RATE_SIGN_FLOOR;
    const onTime = this.#repliesSince(sentAt - 1_000, true);
    if (!clean) {
      // An error limit, a tarpit or a slow lookup may explain it: it ends the slow start, no lower.
      if (sign && this.ramping) this.#fall(pushed, onTime, now, AMBIGUOUS_FLOOR);
      return true;
    }
    if (sign) this.#fall(pushed, onTime, now, MIN_REPLY_RATE);
    return false;
  }

  /** Replies answered after `since` (those on time only, with `onTime`). */
  #repliesSince(since: number, onTime: boolean): number {
    let sum = 0;
    const history = this.#history;
    for (let i = history.length - 1; i >= this.#head; i -= 1) {
      const entry = history[i];
      if (entry === undefined || entry.at <= since) break;
      if (!onTime || !entry.late) sum += entry.replies;
    }
    return sum;
  }

  /**
   * The host slowed down under our rate: from the slow start, the ceiling becomes four fifths of
   * what it proved (at least `floor`); under a ceiling already learned, it halves (`slowedAtRate`).
   * No command goes to the host for `FALL_PAUSE_MS` either way.
   */
  #fall(pushed: number, onTime: number, now: number, floor: number): void {
    const learned = this.#learned;
    if (this.ramping) learned.slowedAfterProof(learned.provenRepliesPerSecond, floor, now);
    else learned.slowedAtRate(pushed, onTime, now);
    this.#fellAt = now;
    this.#pausedUntil = now + FALL_PAUSE_MS;
    this.#head = this.#history.length;
  }
}
