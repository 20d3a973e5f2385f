/**
 * What a run has learned about one MX host's limits, kept for the run (and shared by scale-out workers
 * through the job store): how many refused RCPTs a session may draw before the server slows down or
 * disconnects (its error budget), how many recipients it takes per transaction, how many sessions at
 * once it accepts from us, how many replies a second it gives before it slows down. A pure state
 * machine: the session runner reports what it saw, and asks how far it may go. Polite first: start
 * cautious, grow only on evidence, fall back at the first penalty.
 *
 * The error budget (docs/bulk.md, "How rcpt learns a host's limits"):
 * - a host that greets as Postfix has Postfix's: `smtpd_soft_error_limit = 10` (every reply after the
 *   10th error is delayed by a second), so 9 refusals per session, with one to spare;
 * - any other host starts at the same 9, a guess. While it is only a guess, it is one session's at a
 *   time (the explorer's): the host's other sessions draw at most the refusals proven safe there, and
 *   at least `UNPROVEN_SESSION_BUDGET` (`budgetFor`), so that a host whose limit is below the guess is
 *   crossed by one session, once, not by every session at once. The explorer's batches that come back
 *   on time prove what they drew (`provedByBatch`, up to the guess); one that comes back late after
 *   refusals fixes the budget at what was proven (`slowedWhileGuessing`). The explorer's batches draw
 *   at most a step past what is proven (`reachFor`), one at first, doubled by each batch that proves
 *   more, so that the one crossing is shallow: the batch that finds a low limit holds few replies past
 *   it;
 * - the explorer may also go on past the budget, a round trip at a time, in batches that leave at most
 *   one command after whichever refusal is the limit (`Host.shallowBatch`: two RCPTs, one after a
 *   refusal no reply has proven yet), so that a slowdown costs a single delayed reply. Each reply
 *   that comes back at the usual pace after `n` refusals proves that `n` are safe (the budget grows);
 *   a reply delayed by a second or more after `n` refusals means the budget is `n − 1` (fixed for the
 *   run); `NO_BUDGET_AFTER` refusals without a slowdown means the host has none. A reply that looks
 *   late only because rcpt's own event loop was stalled meanwhile proves nothing either way
 *   (`judgeReply`): the session ends, and a later one asks again;
 * - `421 … too many errors` after `n` refusals fixes the budget below it, as Postfix's soft limit is
 *   half its hard one.
 *
 * Replies per second: a host may answer at its usual pace up to some rate and delay every reply above
 * it. A transaction far slower than the host's quickest (`RATE_SLOW_MS`, our own stalls aside), in a
 * session without refusals (no error limit can explain it), while we pushed at least
 * `RATE_SIGN_FLOOR` replies a second, is that sign: the ceiling becomes half the rate we pushed, the
 * host's commands are paced under it, and it grows back slowly, never to where the host slowed down
 * (AIMD).
 */

import { randomUUID } from 'node:crypto';

import type { BudgetSource, HostLimitsRecord } from '../types.js';

/**
 * Refusals per session before a budget is known, and at a host that greets as Postfix: Postfix counts
 * every refused RCPT of a session; from the 10th (`smtpd_soft_error_limit = 10`) it delays every later
 * reply by `smtpd_error_sleep_time` (1 s), and at the 20th (`smtpd_hard_error_limit`) it disconnects
 * with `421 4.7.0 Error: too many errors` (measured on Postfix 3.7 in the lab, docs/lab.md). Nine
 * refusals per session stay below both; then a new session.
 */
export const CAUTIOUS_ERROR_BUDGET = 9;

/**
 * Refusals a session other than the explorer may draw at a host whose budget is still the guess, until
 * more is proven: one, so that a host whose soft limit is as low as 2 (every reply after a session's
 * 2nd refusal delayed) is crossed by the explorer alone, once per run (at 4, a host whose limit was 4
 * or lower was crossed by each of its sessions at once). Not none: a session without a budget could
 * send nothing, and a host that refuses nothing would never get a second one. A soft limit of 1 (every
 * reply after a first refusal delayed) is below any budget rcpt keeps (docs/bulk.md).
 */
export const UNPROVEN_SESSION_BUDGET = 1;

/**
 * Refusals past what is proven that the explorer's first batch may draw while the budget is only the
 * guess; each of its batches that comes back on time with a refusal past the proof doubles it (as a slow
 * start grows its window), up to the guess (`reachFor`). So the batch that finds a limit below the
 * guess carries few refusals past the last proof, and the crossing stays shallow (at a soft limit of 2,
 * a batch sized for the whole guess drew 7 delayed replies and the `421`), while a host without a
 * budget reaches the guess in a few round trips (1, 2, 4, 8).
 */
export const EXPLORER_FIRST_STEP = 1;

/**
 * A host whose share of refused RCPTs is below this seldom refuses: a batch of its explorer that drew
 * no refusal doubles the step too (a host that refuses nothing would otherwise never prove a refusal,
 * and its explorer's batches would stay within one).
 */
export const SELDOM_REFUSED = 0.1;

/**
 * Refusals one session drew with every reply on time, after which the host is taken to have no error
 * budget: past Postfix's hard limit (20, a disconnect) and any soft limit seen in the lab.
 */
export const NO_BUDGET_AFTER = 24;

/**
 * A reply this much slower than the session's usual round trip is a penalty (Postfix sleeps
 * `smtpd_error_sleep_time = 1s` per reply past its soft limit; tarpits sleep longer).
 */
export const SLOW_REPLY_MS = 500;

/**
 * A transaction this much slower than the host's quickest (our own stalls and a few milliseconds per
 * reply aside) while we got many replies a second from it: the host slows down under our rate.
 */
export const RATE_SLOW_MS = 200;
/** Server time a reply may take on its own (a pipelined batch of 100 takes up to 500 ms longer). */
export const PER_REPLY_MS = 5;
/** Below this many replies a second, a slow transaction is not read as a rate limit (a tarpit, the network). */
export const RATE_SIGN_FLOOR = 20;
/** The lowest ceiling on replies a second that halving goes down to. */
export const MIN_REPLY_RATE = 5;
/** The ceiling grows back by this share of itself each second without a slowdown… */
const RATE_GROWTH = 0.05;
/** …up to this share of the replies that came on time when the host slowed down. */
const RATE_GROWTH_CAP = 0.8;

/** What a reply's timing says about the server: on time, held back by it, or cannot tell. */
export type ReplyTiming = 'on_time' | 'late' | 'inconclusive';

/**
 * Judges a reply read `ms` after its command was sent, against the session's usual round trip
 * (`usualMs`), knowing that rcpt's own event-loop stalls can have held it back by `stalledMs` at most
 * (`LoopStallWatch.stalledSince`). A stall can only make a reply look later: a reply on time is on
 * time. A late one is the server's doing only when it stays late with those milliseconds taken off
 * (the stalls and the server's delay may have overlapped, so the server held it back at least that
 * much); otherwise it is inconclusive, and nothing is learned from it.
 */
export function judgeReply(ms: number, usualMs: number, stalledMs: number): ReplyTiming {
  const late = ms - usualMs;
  if (late < SLOW_REPLY_MS) return 'on_time';
  return late - stalledMs >= SLOW_REPLY_MS ? 'late' : 'inconclusive';
}

/** How the error budget is known (see `BudgetSource` in types.ts). */
export type { BudgetSource } from '../types.js';
/** The limits learned at one host, as stored and shared. */
export type LimitsRecord = HostLimitsRecord;

const POSTFIX_GREETING = /\bPostfix\b/i;

/** Names this process's runs in `exploringBatch` (a run of another process is never live here). */
const PROCESS_TAG = randomUUID();
let runs = 0;
/** `exploringBatch` names of the batches out now in this process: a run that is still going. */
const batchesOut = new Set<string>();

/**
 * True for an address a stored record may name as the check's (`HostLimitsRecord.acceptedRecipient`):
 * printable ASCII with an `@`, no `<`, `>` or space (it goes into `RCPT TO:<…>` as it is), and no longer
 * than a path may be (RFC 5321 §4.5.3.1.3). A row written by hand, or by a newer rcpt, names no other.
 */
function isCheckAddress(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 254 && /^[!-;=?-~]+@[!-;=?-~]+$/.test(value);
}

export class LearnedLimits {
  /**
   * Refusals a session may draw, `Infinity` for none. Made a double first (then set to the guess in the
   * constructor), so that `Infinity` later does not change the object's shape (docs/architecture.md, "CPU").
   */
  #budget = Infinity;
  #source: BudgetSource = 'default';
  #recipientLimit: number | null = null;
  #sessionLimit: number | null = null;
  #penalties = 0;
  /** Replies a second allowed at the host (`null`: no ceiling), and how far it may grow back. */
  #replyRate: number | null = null;
  #growthCap: number | null = null;
  /**
   * The most replies the host answered on time within one second, before any slowdown: how far the
   * slow start at a host whose rate is unknown has proven it (`reply-rate.ts`). 0 while unproven.
   */
  #provenRate = 0;
  /** What the host does after a refusal (`HostLimitsRecord.afterRefusal`); `null` while unknown. */
  #afterRefusal: 'answers' | 'poisons' | null = null;
  /** An address the host accepted (`HostLimitsRecord.acceptedRecipient`); `null` while none. */
  #acceptedRecipient: string | null = null;
  /** `now` of the ceiling's last change (it grows once a second); `-0`: a double, as `now` is. */
  #rateChangedAt = -0;
  /** The session exploring past the budget now, or `null`: one at a time. */
  #explorer: number | null = null;
  /** Most refusals a session of ours drew with a reply on time after them (proven safe). */
  #proven = 0;
  /** A late reply after refusals already proven safe was taken for noise once (`slowedAfter`). */
  #doubted = false;
  /** Refusals past `#proven` the explorer's next batch may draw while guessing (`reachFor`). */
  #step = EXPLORER_FIRST_STEP;
  /** Something was learned since the last `takeChanged()`. */
  #changed = false;
  /** This instance's name in `exploringBatch`, made when its explorer first sends a batch. */
  #name: string | null = null;
  /** The explorer's batch out now past what is proven (`HostLimitsRecord.exploringBatch`), or `null`. */
  #batchOut: string | null = null;
  /** The session whose batch `#batchOut` is. */
  #batchSession = -1;
  /** The run was stopped with that batch out (`abandoned`): it stays told. */
  #abandoned = false;

  constructor() {
    this.#budget = CAUTIOUS_ERROR_BUDGET;
  }

  /** Limits as another worker stored them; a record that makes no sense is ignored (defaults kept). */
  static from(record: LimitsRecord | null): LearnedLimits {
    const limits = new LearnedLimits();
    if (record !== null) limits.merge(record);
    // Known already where it came from: nothing to tell back.
    limits.takeChanged();
    return limits;
  }

  /**
   * Takes in what another worker learned: the more cautious of the two for every limit that is known
   * by evidence, the larger proven budget while both are still probing.
   */
  merge(record: LimitsRecord): void {
    const budget = record.errorBudget;
    switch (record.budgetSource) {
      case 'penalty':
        if (budget !== null && Number.isInteger(budget) && budget >= 1) this.#fix(budget);
        break;
      case 'postfix':
        if (this.#source === 'default' || this.#source === 'probed') this.#source = 'postfix';
        this.#budget = Math.min(this.#budget, CAUTIOUS_ERROR_BUDGET);
        break;
      case 'probed':
        if (budget !== null && Number.isInteger(budget)) {
          this.#proven = Math.max(this.#proven, budget);
          this.#proved(budget);
        }
        break;
      case 'none':
        if (this.#source === 'default' || this.#source === 'probed') {
          this.#source = 'none';
          this.#budget = Infinity;
        }
        break;
      default:
        break;
    }
    const limit = record.recipientLimit;
    if (limit !== null && Number.isInteger(limit) && limit >= 1) this.#lowerRecipientLimit(limit);
    const sessions = record.sessionLimit;
    if (sessions !== null && Number.isInteger(sessions) && sessions >= 1) this.#lowerSessionLimit(sessions);
    if (Number.isInteger(record.penalties) && record.penalties > this.#penalties)
      this.#penalties = record.penalties;
    const rate = record.repliesPerSecond;
    if (typeof rate === 'number' && Number.isFinite(rate) && rate >= MIN_REPLY_RATE) {
      if (this.#replyRate === null || rate < this.#replyRate) {
        this.#replyRate = Math.floor(rate);
        this.#changed = true;
      }
      // How far the other worker's ceiling could grow is not stored: no further.
      this.#growthCap = Math.min(this.#growthCap ?? Infinity, this.#replyRate);
    }
    const proven = record.provenRepliesPerSecond;
    if (typeof proven === 'number' && Number.isFinite(proven) && proven > 0) this.provedRate(proven);
    const after = record.afterRefusal;
    if (after === 'answers' || after === 'poisons') this.sawAfterRefusal(after);
    // Any address the host accepted serves: the record told last says which.
    const accepted = record.acceptedRecipient;
    if (isCheckAddress(accepted)) this.#acceptedRecipient = accepted;
    // Proven below the guess by another worker's sessions: as safe here (`survived`).
    const refusals = record.provenRefusals;
    if (typeof refusals === 'number' && Number.isInteger(refusals) && refusals >= 1) this.survived(refusals);
    // Not a limit but news of the explorer's batch: the record told last says where it is.
    const out = record.exploringBatch;
    this.#batchOut = typeof out === 'string' && out.length > 0 && out.length <= 100 ? out : null;
  }

  // Error budget ------------------------------------------------------------------------------------

  /** Refusals a session may draw (`Infinity` when the host has no budget). */
  get errorBudget(): number {
    return this.#budget;
  }

  get budgetSource(): BudgetSource {
    return this.#source;
  }

  /** The host's greeting: Postfix's budget is known from it. */
  greeted(banner: string | null): void {
    if (this.#source === 'default' && banner !== null && POSTFIX_GREETING.test(banner)) {
      this.#source = 'postfix';
      this.#changed = true;
    }
  }

  /**
   * True while the budget is only the cautious guess: no greeting announced it, no penalty fixed it,
   * no session has yet drawn as many refusals with a reply on time after them.
   */
  get guessing(): boolean {
    return this.#source === 'default';
  }

  /**
   * Refusals session `id` may draw. While the budget is only the guess, the guess is the explorer's
   * alone: the host's other sessions stay within what is proven (at least `UNPROVEN_SESSION_BUDGET`),
   * since a host with a lower limit would otherwise be crossed by every session at once.
   */
  budgetFor(id: number): number {
    if (this.#source === 'default' && this.#explorer !== id)
      return Math.min(this.#budget, Math.max(UNPROVEN_SESSION_BUDGET, this.#proven));
    return this.#budget;
  }

  /**
   * Refusals session `id` may have drawn by the end of its next batch: while the budget is only the
   * guess and `id` explores it, what is proven and the step past it (`EXPLORER_FIRST_STEP`, doubled by
   * each batch that proves more), up to the guess; otherwise no more than `budgetFor` says (`Infinity`).
   */
  reachFor(id: number): number {
    if (this.#source !== 'default' || this.#explorer !== id) return Infinity;
    return Math.min(this.#budget, this.#proven + this.#step);
  }

  /** Most refusals a session of ours drew with a reply on time after them (`survived`), 0 before any. */
  get provenRefusals(): number {
    return this.#proven;
  }

  /** True when the budget may still grow: nothing fixes it yet, nobody else is exploring. */
  get mayExplore(): boolean {
    return (this.#source === 'default' || this.#source === 'probed') && this.#explorer === null;
  }

  /** Session `id` goes past the budget, a shallow batch a round trip; false when it may not. */
  startExploring(id: number): boolean {
    if (!this.mayExplore) return false;
    this.#explorer = id;
    return true;
  }

  /** Session `id` stopped exploring (it ended, or ran out of work). */
  stopExploring(id: number): void {
    if (this.#explorer === id) this.#explorer = null;
  }

  isExploring(id: number): boolean {
    return this.#explorer === id && (this.#source === 'default' || this.#source === 'probed');
  }

  /** A reply came back on time after `refusals` refusals in one session: that many are safe. */
  survived(refusals: number): void {
    if (refusals > this.#proven) {
      this.#proven = refusals;
      // Below the guess, what is proven is shared too: the others' sessions draw up to it.
      if (this.#source === 'default') this.#changed = true;
    }
    if (this.#source === 'default' || this.#source === 'probed') this.#proved(refusals);
  }

  /**
   * A pipelined batch came back on time, its last reply after `refusals` refusals of its session: that
   * many are safe, up to the guess. Past the guess the budget grows only by `survived`, one RCPT a
   * round trip, where the reply that finds the limit is known exactly.
   */
  provedByBatch(refusals: number, session: number | null = null, clean = false): void {
    const before = this.#proven;
    this.survived(Math.min(refusals, CAUTIOUS_ERROR_BUDGET));
    // The explorer's step doubles with each of its batches that proves more (a slow start's growth), or
    // that drew no refusal at a host that seldom refuses (`clean`: nothing to prove there, little risk).
    if (
      session !== null &&
      session === this.#explorer &&
      this.#source === 'default' &&
      (this.#proven > before || clean)
    )
      this.#step = Math.min(CAUTIOUS_ERROR_BUDGET, this.#step * 2);
  }

  /**
   * A batch of the explorer came back late after drawing refusals no reply had proven yet, while the
   * budget was only the guess or was being probed past it: the host's limit is somewhere past what
   * was proven. The budget is fixed at what was proven (at least 1), for the rest of the run.
   */
  slowedWhileGuessing(): void {
    if (this.#source !== 'default' && this.#source !== 'probed') return;
    this.#penalties += 1;
    this.#fix(Math.max(1, this.#proven));
  }

  /**
   * A reply came back late (by `SLOW_REPLY_MS` or more) after `refusals` refusals in one session: the
   * host's soft limit is `refusals`, and the budget one less (at least 1), for the rest of the run.
   * While the budget is still being learned, a reply late after no more refusals than a reply on time
   * already proved safe contradicts that proof: the host's pace or ours (a loaded machine), not its
   * limit. The first such in a run proves nothing (the session ends, as it does at any late reply);
   * a second is believed (a limit that moved: a host counting refusals per hour). Believed at once,
   * it fixed bench:bulk's hosting5 (a soft limit of 10, 9 proven) at 8 under load.
   */
  slowedAfter(refusals: number): void {
    const learning = this.#source === 'default' || this.#source === 'probed';
    if (learning && refusals <= this.#proven && !this.#doubted) {
      this.#doubted = true;
      return;
    }
    this.#penalties += 1;
    this.#fix(Math.max(1, refusals - 1));
  }

  /**
   * `421 … too many errors` after `refusals` refusals: the hard limit. Postfix's soft limit is half of
   * it (10 and 20): stay below that from now on.
   */
  disconnectedAfter(refusals: number): void {
    this.#penalties += 1;
    this.#fix(Math.max(1, Math.floor((refusals - 1) / 2)));
  }

  #fix(budget: number): void {
    const next = this.#source === 'penalty' ? Math.min(this.#budget, budget) : budget;
    if (this.#source !== 'penalty' || next !== this.#budget) this.#changed = true;
    this.#source = 'penalty';
    this.#budget = next;
    this.#explorer = null;
  }

  #proved(refusals: number): void {
    if (refusals >= NO_BUDGET_AFTER) {
      this.#source = 'none';
      this.#budget = Infinity;
      this.#explorer = null;
      this.#changed = true;
      return;
    }
    if (refusals > this.#budget || (refusals === this.#budget && this.#source === 'default')) {
      // Proven up to the guess (or past it): no longer a guess, every session may use it.
      this.#budget = refusals;
      this.#source = 'probed';
      this.#changed = true;
    }
  }

  /**
   * Session `id` sends a batch: the explorer's goes past what is proven, so it is told (stored) before
   * it goes out, in case the run ends before its replies are read (`takeOver`). It stays told until
   * the session ends (`explored`), so that no record without it and without what its replies said is
   * stored between the two. True when it is news (to store before the batch goes out).
   */
  sending(id: number): boolean {
    if (!this.isExploring(id) || this.#batchOut !== null) return false;
    this.#name ??= `${PROCESS_TAG}:${++runs}`;
    this.#batchOut = this.#name;
    this.#batchSession = id;
    batchesOut.add(this.#name);
    this.#changed = true;
    return true;
  }

  /**
   * Session `id`'s batch past what is proven could not be told (the store's write failed): it does not
   * go out. Nothing past what is proven can be told at this host then, so for the run the budget is
   * fixed at what is proven (at least 1), as a batch left out by a run that is gone fixes it
   * (`takeOver`): no session explores, and none waits for an explorer.
   */
  unstored(id: number): void {
    if (this.#batchOut === null || this.#batchSession !== id) return;
    batchesOut.delete(this.#batchOut);
    this.#batchOut = null;
    if (this.#source === 'default' || this.#source === 'probed') this.#fix(Math.max(1, this.#proven));
    this.#changed = true;
  }

  /**
   * Session `id` ended, every reply it had read and judged: no batch of it is out any more. A batch
   * the run abandoned stays told.
   */
  explored(id: number): void {
    if (this.#batchOut === null || this.#batchSession !== id || this.#abandoned) return;
    batchesOut.delete(this.#batchOut);
    this.#batchOut = null;
    this.#changed = true;
  }

  /**
   * The run was stopped with session `id`'s batch out, its replies never read: it stays told, so that
   * whoever takes the host next knows (`takeOver`); this run is gone.
   */
  abandoned(id: number): void {
    if (this.#batchOut === null || this.#batchSession !== id) return;
    batchesOut.delete(this.#batchOut);
    this.#abandoned = true;
  }

  /**
   * A run starts at the host with what is known of it: an explorer's batch left out by a run that is
   * gone (a worker killed or stopped while it was out) may have crossed the host's limit, and nobody
   * read its replies. It is taken to have: the budget is fixed at what is proven (at least 1), so the
   * host is not crossed a second time. A batch of a run still going in this process is its own.
   */
  takeOver(): void {
    const out = this.#batchOut;
    if (out === null) return;
    this.#batchOut = null;
    if (batchesOut.has(out)) return;
    if (this.#source === 'default' || this.#source === 'probed') this.#fix(Math.max(1, this.#proven));
    this.#changed = true;
  }

  // Recipients and sessions -------------------------------------------------------------------------

  /** Recipients per transaction, `null` when no limit was seen (RFC 5321's 100 then applies). */
  get recipientLimit(): number | null {
    return this.#recipientLimit;
  }

  /** `452 4.5.3` after `accepted` RCPTs of one transaction (RFC 5321 §4.5.3.1.10). */
  tooManyRecipients(accepted: number): void {
    this.#lowerRecipientLimit(Math.max(1, accepted));
  }

  #lowerRecipientLimit(limit: number): void {
    if (this.#recipientLimit !== null && this.#recipientLimit <= limit) return;
    this.#recipientLimit = limit;
    this.#changed = true;
  }

  /** Sessions at once the host accepts from us, `null` when it never refused one. */
  get sessionLimit(): number | null {
    return this.#sessionLimit;
  }

  /** "421 Too many connections" while `open` other sessions of ours were open: that many is the most. */
  tooManySessions(open: number): void {
    this.#lowerSessionLimit(Math.max(1, open));
  }

  #lowerSessionLimit(limit: number): void {
    if (this.#sessionLimit !== null && this.#sessionLimit <= limit) return;
    this.#sessionLimit = limit;
    this.#changed = true;
  }

  // Replies per second ------------------------------------------------------------------------------

  /** Replies a second rcpt allows itself at the host, `null` while it never slowed down. */
  get repliesPerSecond(): number | null {
    return this.#replyRate;
  }

  /**
   * The most replies the host answered on time within one second so far (0: none proven): its slow
   * start grows from there (`reply-rate.ts`).
   */
  get provenRepliesPerSecond(): number {
    return this.#provenRate;
  }

  /** The host answered `replies` on time within one second: that many are proven (the larger proof). */
  provedRate(replies: number): void {
    const proven = Math.floor(replies);
    if (proven <= this.#provenRate) return;
    this.#provenRate = proven;
    this.#changed = true;
  }

  /**
   * The host slowed down while we pushed `pushed` replies a second at it, `onTime` of them answered at
   * its usual pace: the ceiling halves, below both that rate and the ceiling so far (AIMD's
   * decrease). It may grow back to four fifths of the replies that came on time, never beyond.
   */
  slowedAtRate(pushed: number, onTime: number, now: number): void {
    const ceiling = Math.max(MIN_REPLY_RATE, Math.floor(Math.min(this.#replyRate ?? Infinity, pushed) / 2));
    this.#replyRate = ceiling;
    this.#growthCap = Math.min(
      this.#growthCap ?? Infinity,
      Math.max(ceiling, Math.floor(onTime * RATE_GROWTH_CAP)),
    );
    this.#rateChangedAt = now;
    this.#penalties += 1;
    this.#changed = true;
  }

  /**
   * The host slowed down at the end of its slow start, after answering `proven` replies within one
   * second on time: the ceiling becomes four fifths of that, at least `floor`, and stays there (the
   * slow start found where the host slows down; growing back would find it again).
   */
  slowedAfterProof(proven: number, floor: number, now: number): void {
    const ceiling = Math.max(floor, MIN_REPLY_RATE, Math.floor(proven * RATE_GROWTH_CAP));
    this.#replyRate = Math.min(this.#replyRate ?? Infinity, ceiling);
    this.#growthCap = this.#replyRate;
    this.#rateChangedAt = now;
    this.#penalties += 1;
    this.#changed = true;
  }

  /**
   * Replies came on time at `now`: once a second the ceiling grows by a twentieth (AIMD's increase),
   * up to its cap.
   */
  repliedOnTime(now: number): void {
    const ceiling = this.#replyRate;
    const cap = this.#growthCap;
    if (ceiling === null || cap === null || now - this.#rateChangedAt < 1_000) return;
    this.#rateChangedAt = now;
    const next = Math.min(cap, ceiling + Math.max(1, Math.round(ceiling * RATE_GROWTH)));
    if (next <= ceiling) return;
    this.#replyRate = next;
    this.#changed = true;
  }

  // After a refusal ---------------------------------------------------------------------------------

  /**
   * What the host does with an RCPT after refusing one in the same session (poisoning.ts): `answers`,
   * `poisons`, or `null` while unknown.
   */
  get afterRefusal(): 'answers' | 'poisons' | null {
    return this.#afterRefusal;
  }

  /**
   * The host was seen to answer after a refusal (an RCPT accepted after one), or to poison (the check
   * RCPT, an address it had accepted or `postmaster`, refused after one). Seeing it answer is a proof
   * and stays; poisoning gives way to that proof (a refused `postmaster` may only mean that the
   * domain has none).
   */
  sawAfterRefusal(after: 'answers' | 'poisons'): void {
    if (this.#afterRefusal === after || this.#afterRefusal === 'answers') return;
    this.#afterRefusal = after;
    this.#changed = true;
  }

  /**
   * An address the host accepted, in this run or another (`HostLimitsRecord.acceptedRecipient`),
   * `null` while none: asked again after a refusal, it tells what the host does after one.
   */
  get acceptedRecipient(): string | null {
    return this.#acceptedRecipient;
  }

  /**
   * The host accepted `address` (ASCII, from the list): kept as the check's address where none is yet,
   * and told (stored) while what the host does after a refusal is not known to be `answers`.
   */
  accepted(address: string): void {
    if (this.#acceptedRecipient !== null || !isCheckAddress(address)) return;
    this.#acceptedRecipient = address;
    if (this.#afterRefusal !== 'answers') this.#changed = true;
  }

  /**
   * The address kept is no longer one to ask (another run's, refused now: its mailbox may be gone):
   * the next address the host accepts takes its place.
   */
  forgetAccepted(): void {
    this.#acceptedRecipient = null;
  }

  // Reports -----------------------------------------------------------------------------------------

  get penalties(): number {
    return this.#penalties;
  }

  /** True while nothing is known beyond the defaults. */
  get isDefault(): boolean {
    return (
      this.#source === 'default' &&
      this.#recipientLimit === null &&
      this.#sessionLimit === null &&
      this.#penalties === 0 &&
      this.#replyRate === null &&
      this.#explorer === null &&
      this.#proven === 0 &&
      this.#provenRate === 0 &&
      this.#afterRefusal === null &&
      this.#batchOut === null
    );
  }

  /** The record to store or share. */
  record(): LimitsRecord {
    return {
      errorBudget: Number.isFinite(this.#budget) ? this.#budget : null,
      budgetSource: this.#source,
      recipientLimit: this.#recipientLimit,
      sessionLimit: this.#sessionLimit,
      penalties: this.#penalties,
      // Only when learned: a record of a host that never slowed down is as it was before rates.
      ...(this.#replyRate === null ? {} : { repliesPerSecond: this.#replyRate }),
      ...(this.#provenRate === 0 ? {} : { provenRepliesPerSecond: this.#provenRate }),
      ...(this.#afterRefusal === null ? {} : { afterRefusal: this.#afterRefusal }),
      // Only while a check may be asked: an address of the user's list is kept no longer than needed.
      ...(this.#acceptedRecipient === null || this.#afterRefusal === 'answers'
        ? {}
        : { acceptedRecipient: this.#acceptedRecipient }),
      ...(this.#source === 'default' && this.#proven > 0 ? { provenRefusals: this.#proven } : {}),
      ...(this.#batchOut === null ? {} : { exploringBatch: this.#batchOut }),
    };
  }

  /** True once when something was learned since the last call (to store it). */
  takeChanged(): boolean {
    const changed = this.#changed;
    this.#changed = false;
    return changed;
  }
}
