/**
 * How many replies a second rcpt asks of one MX host, and what the host's timing says about it
 * (docs/bulk.md, "How rcpt learns a host's limits", replies per second). Some hosts answer at their
 * usual pace up to a number of replies a second and delay every reply above it; rcpt cannot know
 * which, nor where, before it sees one slow down.
 *
 * - **Slow start** (the `slowStart` setting, on by default at `DEFAULT_SLOW_START`; 0 turns it
 *   off). As TCP's slow start grows its window: at a host whose rate is unknown, one second may carry
 *   `slowStart` replies, and `RAMP_GROWTH` times the most the host has answered on time within one
 *   second so far (its proof, `LearnedLimits.provenRepliesPerSecond`, kept for the run and shared).
 *   It counts the replies a second carries, as a rate-limiting server does, rather than spacing them:
 *   what fits goes at once, in batches as large as the second has room for (`admit`, `batchCap`), so
 *   the allowance doubles with each round trip that uses it and comes back on time, and a host
 *   without a rate limit is hardly held (an earlier slow start spaced commands evenly and grew once a
 *   second: it cost such hosts a third of their speed). While a transaction is overdue the allowance
 *   holds at four fifths of the proof (a delayed reply shows only when its transaction ends). Once
 *   `FREE_RATE` are proven the host has no ceiling.
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
 * A slow start's first allowance (replies within one second), the default of `verifyMany()`'s
 * `slowStart` setting and `rcpt bulk --slow-start` (docs/bulk.md, "Replies per second"); 0 there is
 * no slow start.
 */
export const DEFAULT_SLOW_START = 100;
/**
 * A second of the slow start may carry this many times the most the host answered on time within one
 * second (its proof): as TCP's slow start doubles its window each round trip, the allowance doubles
 * with each round trip that uses it and comes back on time.
 */
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
/** Round trip assumed before the host's quickest transaction is known. */
const ASSUMED_ROUND_TRIP_MS = 50;
/** The window a slow start counts replies in, as a rate-limiting server counts them: one second. */
const WINDOW_MS = 1_000;
/**
 * Longest a slow start waits before it looks at its allowance again: an answer on time meanwhile may
 * have grown it, before the window's oldest replies leave it.
 */
const RAMP_RECHECK_MS = 20;

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
  /** During the slow start, the replies let go in the last `WINDOW_MS`, oldest first from `#sentHead`. */
  readonly #sent: { readonly at: number; readonly replies: number }[] = [];
  #sentHead = 0;
  /** Their sum. */
  #sentInWindow = 0;

  /** Replies within one second a slow start begins at (0: no slow start). */
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
   * Replies a second the host's commands are paced at (`Infinity`: none): the ceiling learned. The
   * slow start does not pace: it counts what a second carries (`admit`).
   */
  ceiling(): number {
    return this.#learned.repliesPerSecond ?? Infinity;
  }

  /**
   * During the slow start, the replies one second may carry at `now` (`Infinity` otherwise): the
   * start, or `RAMP_GROWTH` times the proof. While a transaction is overdue (it may be held back by
   * the host), four fifths of the proof: a delayed reply shows only when its transaction ends, and
   * growing on meanwhile would cross further.
   */
  allowance(now = performance.now()): number {
    if (!this.ramping) return Infinity;
    const proven = this.#learned.provenRepliesPerSecond;
    if (this.#overdue(now)) return Math.max(MIN_REPLY_RATE, Math.floor(HELD_SHARE * proven));
    return Math.max(this.#startRate, RAMP_GROWTH * proven);
  }

  /**
   * During the slow start: 0 when `replies` more fit in the last second's allowance (they are
   * counted as sent now), else how long to wait before asking again. A rate-limiting server counts
   * the replies of a second, not their spacing: what fits goes at once. One that does not fit even
   * alone goes when the second is empty.
   */
  admit(replies: number, now = performance.now()): number {
    if (!this.ramping) return 0;
    const sent = this.#sent;
    this.#expire(now);
    const allowance = this.allowance(now);
    if (this.#sentInWindow + replies <= allowance || this.#sentInWindow === 0) {
      sent.push({ at: now, replies });
      this.#sentInWindow += replies;
      return 0;
    }
    // When enough of the window's oldest replies leave it, or sooner: an answer may grow the allowance.
    let freed = 0;
    let until = now + WINDOW_MS;
    for (let i = this.#sentHead; i < sent.length; i += 1) {
      const entry = sent[i];
      if (entry === undefined) break;
      freed += entry.replies;
      if (this.#sentInWindow - freed + replies <= allowance) {
        until = entry.at + WINDOW_MS;
        break;
      }
    }
    return Math.max(1, Math.min(until - now, RAMP_RECHECK_MS));
  }

  /** Forgets the replies let go before the last `WINDOW_MS`. */
  #expire(now: number): void {
    const sent = this.#sent;
    while (this.#sentHead < sent.length) {
      const oldest = sent[this.#sentHead];
      if (oldest === undefined || oldest.at > now - WINDOW_MS) break;
      this.#sentInWindow -= oldest.replies;
      this.#sentHead += 1;
    }
    if (this.#sentHead > 1_024 && this.#sentHead * 2 > sent.length) {
      sent.splice(0, this.#sentHead);
      this.#sentHead = 0;
    }
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
   * RCPTs one batch may carry at the rate allowed: during the slow start, what the last second's
   * allowance has room for now (2 at least); under a learned ceiling, a quarter second of it (a
   * whole pipelined batch must not cross the host's rate by itself).
   */
  batchCap(now = performance.now()): number {
    if (this.ramping) {
      this.#expire(now);
      const room = this.allowance(now) - this.#sentInWindow;
      return Math.max(RAMP_MIN_BATCH, Math.floor(room));
    }
    const ceiling = this.ceiling();
    if (!Number.isFinite(ceiling)) return Infinity;
    return Math.max(1, Math.floor(ceiling / 4));
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
