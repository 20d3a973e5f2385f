/**
 * One MX host *address* in a run: the queue of jobs waiting for it and what the run has learned about
 * its politeness (session cap, backoff, recipient limit, error budget, refusal rate, pace). Hosts are
 * keyed by address because hundreds of vanity MX names resolve to one provider's servers.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ProviderRule } from '../providers/index.js';
import type { Connector } from '../types.js';
import type { Job } from './job.js';
import { LearnedLimits, UNPROVEN_SESSION_BUDGET } from './learned-limits.js';
import { postmasterOf, type AfterRefusal } from './poisoning.js';
import { DEFAULT_RECIPIENT_LIMIT, backoffDelayMs, batchSize } from './politeness.js';
import { RefusalOdds } from './refusal-odds.js';
import { ReplyRate } from './reply-rate.js';

/**
 * How long an idle session waits for more work before QUIT: long enough to pick up the addresses DNS
 * is still resolving, far below any server's idle timeout (RFC 5321 §4.5.3.2.7: 5 minutes).
 */
export const SESSION_IDLE_MS = 300;
/** A second session is opened for a host only when this many addresses are waiting for it. */
export const EXTRA_SESSION_MIN_QUEUE = 4;
/** A session whose error budget is this low is replaced rather than fed one RCPT per round trip. */
export const MIN_USEFUL_BUDGET = 4;
/**
 * Catch-all probes waiting at a host that make a session send them (last) and end, rather than wait
 * for the session's natural end: the addresses of their domains wait for them.
 */
export const PROBE_FLUSH_AT = 8;
/**
 * How long the oldest catch-all probe at a host may wait for a session's end before a session ends
 * early to send it (a host without an error budget keeps a session for the whole run otherwise),
 * counted from when that session was ready, not from when the probe was queued: time spent
 * connecting, in a slow greeting (a tarpit, postscreen's pause) or on a loaded machine is no
 * waiting for a session's end, and counting it made a new session's first transaction its last.
 */
export const PROBE_MAX_WAIT_MS = 250;

/** The run's limits a host needs. */
export interface HostLimits {
  /** Sessions at once before any provider rule or 421 lowers it. */
  readonly hostConcurrency: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  /** Commands per second over all the host's sessions; `0` for no pace. */
  readonly hostCommandsPerSecond: number;
  /** Replies a second a slow start begins at where the host's rate is unknown; `0` for none. */
  readonly slowStart?: number;
}

export class Host {
  readonly ip: string;
  /** `ip`, or `proxy route|ip`: caps and backoff count per (egress, MX address). */
  readonly key: string;
  /** Who opens this host's connections (a SOCKS5 proxy pool), `null` for directly. */
  readonly via: Connector | null;
  readonly #limits: HostLimits;
  /** What the run learned of this host's limits (error budget, recipients, sessions). */
  readonly learned: LearnedLimits;
  readonly #queue: Job[] = [];
  /**
   * Catch-all probes (random addresses), kept apart: a session sends them last, so that no real
   * address is asked after one (some hosts refuse everything after an unknown recipient).
   */
  readonly #probes: Job[] = [];
  /**
   * `performance.now()` when the oldest waiting probe was queued. This and the other times below start
   * as `-0` (equal to 0): doubles from the start, as the times they hold are (docs/architecture.md, "CPU").
   */
  #probesSince = -0;
  /** Idle sessions waiting for work, woken one per queued job. */
  readonly #idle: (() => void)[] = [];
  /** Sessions held below a guessed budget, waiting for what its explorer learns (`waitForLimits`). */
  readonly #held = new Set<() => void>();
  #cap: number;
  /** Sessions open now. */
  active = 0;
  /** Consecutive failures (the backoff exponent). */
  #failures = 0;
  #backoffUntil = -0;
  /** Until when the host's window of RCPTs per minute is full (`hostRate`): no session is opened. */
  #rateFullUntil = -0;
  #backoffTimer: NodeJS.Timeout | null = null;
  /** The last session failed to connect at all: addresses with another MX go there meanwhile. */
  unreachable = false;
  /** RCPT replies read from this host, how many refused, at which domains (for batch sizing). */
  readonly #odds = new RefusalOdds();
  #oneRecipient = false;
  /**
   * An RCPT was accepted after a refused one of the same session: the host does not refuse every RCPT
   * after a first unknown one, and a catch-all probe's refusal means what it says wherever it comes.
   * Learned (`LearnedLimits.afterRefusal`), so shared with other runs and workers.
   */
  get answersAfterRefusal(): boolean {
    return this.learned.afterRefusal === 'answers';
  }

  /**
   * The host refuses every RCPT of a session after its first unknown one (it refused the check RCPT
   * after a refusal: poisoning.ts): a session draws one refusal at most, and what came after it is
   * asked again. Learned as `answersAfterRefusal` is.
   */
  get poisons(): boolean {
    return this.learned.afterRefusal === 'poisons';
  }
  /** A session's check RCPT after a refusal, in flight: the others wait for its answer. */
  afterRefusalCheck: Promise<AfterRefusal> | null = null;
  /**
   * An address this host accepted (a 2xx to a list address, ASCII), in this run or, kept with what was
   * learned of the host (`LearnedLimits.acceptedRecipient`), in another within the day; `null` before
   * any: asked again after a refusal, it tells what the host does after one (`checkRecipient`).
   */
  get acceptedRecipient(): string | null {
    return this.learned.acceptedRecipient;
  }

  /** The address this run saw the host accept and keeps as the check's, `null` before. */
  #acceptedHere: string | null = null;

  /** The host accepted `address` (ASCII, of the list) in this run. */
  accepted(address: string): void {
    if (this.learned.acceptedRecipient !== null) return;
    this.learned.accepted(address);
    // Kept, unless it is no address a record may name (then none is, and the next one is tried).
    this.#acceptedHere = this.learned.acceptedRecipient;
  }

  /**
   * The check asked `address` (`acceptedRecipient`) after a refusal, and the host refused it. Accepted
   * in this run, that proves it poisons (`poisonsProven`); accepted in another, its mailbox may be gone
   * since, and its refusal says no more than `postmaster`'s: the next address this run sees accepted
   * replaces it, and may yet prove the host answers.
   */
  checkRefused(address: string): void {
    if (address === this.#acceptedHere) this.poisonsProven = true;
    else this.learned.forgetAccepted();
  }
  /**
   * The host refused `acceptedRecipient` after a refusal: it poisons, and no address it accepted is
   * asked again to say otherwise. (Taken to poison on `postmaster`'s word or another run's, it may
   * yet prove that it answers: `mayProveAnswers`.)
   */
  poisonsProven = false;
  /** The last batch was taken from the back of the queue (`take`). */
  #fromBack = false;

  /**
   * The RCPT that tells what the host does after a refusal (poisoning.ts): an address it accepted in
   * this run where there is one, else `postmaster` of the domain of `recipient`.
   */
  checkRecipient(recipient: string): string {
    return this.acceptedRecipient ?? postmasterOf(recipient);
  }

  /**
   * Taken to poison on a refused `postmaster`'s word (or another run's), the host has since accepted
   * an address: asked again after a refusal, it proves the host answers, or that it poisons.
   */
  get mayProveAnswers(): boolean {
    return this.poisons && !this.poisonsProven && this.acceptedRecipient !== null;
  }
  #nextSendAt = -0;
  /** The replies a second asked of the host: its slow start, its ceiling, what its timing says. */
  readonly #rate: ReplyRate;

  constructor(
    ip: string,
    limits: HostLimits,
    key: string = ip,
    via: Connector | null = null,
    learned: LearnedLimits = new LearnedLimits(),
  ) {
    this.ip = ip;
    this.key = key;
    this.via = via;
    this.#limits = limits;
    this.learned = learned;
    this.#rate = new ReplyRate(learned, limits.slowStart ?? 0);
    this.#cap = limits.hostConcurrency;
  }

  // Queue ---------------------------------------------------------------------------------------

  /** Jobs waiting, catch-all probes included. */
  get queued(): number {
    return this.#queue.length + this.#probes.length;
  }

  /** Catch-all probes waiting (sent last in a session). */
  get probesQueued(): number {
    return this.#probes.length;
  }

  /**
   * Milliseconds until the waiting probes should be sent by a session ready since `readySince` even
   * if that ends it early (0: now; `Infinity`: no probe waits): at once when `PROBE_FLUSH_AT` wait,
   * else once the oldest has waited `PROBE_MAX_WAIT_MS` and the session has been ready as long.
   */
  probesDueIn(readySince = -Infinity, now = performance.now()): number {
    if (this.#probes.length === 0) return Infinity;
    if (this.#probes.length >= PROBE_FLUSH_AT) return 0;
    return Math.max(0, Math.max(this.#probesSince, readySince) + PROBE_MAX_WAIT_MS - now);
  }

  /** Addresses waiting (probes not counted). */
  get addressesQueued(): number {
    return this.#queue.length;
  }

  /** The job at the front of the queue (the one a new session is opened for). */
  get front(): Job | undefined {
    return this.#queue[0] ?? this.#probes[0];
  }

  has(job: Job): boolean {
    return this.#listOf(job).includes(job);
  }

  #listOf(job: Job): Job[] {
    return job.kind === 'catchAll' ? this.#probes : this.#queue;
  }

  /** Adds a job and wakes an idle session for it; returns false when none was idle. */
  add(job: Job, front: boolean): boolean {
    const list = this.#listOf(job);
    if (job.kind === 'catchAll' && list.length === 0) this.#probesSince = performance.now();
    if (front) list.unshift(job);
    else list.push(job);
    const waiter = this.#idle.shift();
    waiter?.();
    return waiter !== undefined;
  }

  /** Puts jobs back at the front, in order (a pushed-back address must not wait behind the list). */
  putBack(jobs: readonly Job[]): void {
    if (this.#probes.length === 0 && jobs.some((job) => job.kind === 'catchAll'))
      this.#probesSince = performance.now();
    for (const job of [...jobs].reverse()) this.#listOf(job).unshift(job);
  }

  remove(job: Job): void {
    const list = this.#listOf(job);
    const index = list.indexOf(job);
    if (index !== -1) list.splice(index, 1);
  }

  /**
   * Takes up to `count` addresses (no probes) that are not done yet: from the front, but every other
   * batch from the back while the host is taken to poison and has accepted nothing. There each session
   * settles one refusal, and the host cannot be told from one without `postmaster` until it accepts an
   * address (`mayProveAnswers`); a list's unknown addresses cluster (a dead domain, an old export), so
   * asking from both ends finds an existing one sooner where the list starts with a run of unknown ones.
   */
  take(count: number): Job[] {
    if (this.poisons && this.acceptedRecipient === null) {
      this.#fromBack = !this.#fromBack;
      if (this.#fromBack) return takeFrom(this.#queue, count, true);
    }
    return takeFrom(this.#queue, count);
  }

  /** Takes up to `count` catch-all probes that are not done yet. */
  takeProbes(count: number): Job[] {
    return takeFrom(this.#probes, count);
  }

  /** The queued jobs, probes last, as a copy (safe to iterate while jobs leave the queue). */
  snapshot(): Job[] {
    return [...this.#queue, ...this.#probes];
  }

  takeAll(): Job[] {
    return [...this.#queue.splice(0), ...this.#probes.splice(0)];
  }

  /**
   * Waits up to `SESSION_IDLE_MS` for an address (or probes due for a session ready since
   * `readySince`); resolves false when none came (or none can come: `mayArrive` false once the input
   * is read and nothing is being prepared).
   */
  waitForWork(mayArrive: boolean, readySince = -Infinity): Promise<boolean> {
    // Probes alone are no work for the session's middle: they wait for its end, or until they are due.
    const probesDue = this.probesDueIn(readySince);
    if (this.#queue.length > 0 || probesDue === 0) return Promise.resolve(true);
    if (!mayArrive) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(
        () => {
          const index = this.#idle.indexOf(onWork);
          if (index !== -1) this.#idle.splice(index, 1);
          // Due probes are work: the session sends them and ends.
          resolve(this.probesDueIn(readySince) === 0);
        },
        Math.min(SESSION_IDLE_MS, probesDue),
      );
      const onWork = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idle.push(onWork);
    });
  }

  // Sessions ------------------------------------------------------------------------------------

  /** Sessions at once: the run's cap, a provider rule's, and what the host told us it accepts. */
  get cap(): number {
    return Math.min(this.#cap, this.learned.sessionLimit ?? Infinity);
  }

  /** True when the queue justifies one more session within the host's cap. */
  wantsSession(): boolean {
    return (
      this.active < this.cap && this.queued >= (this.active === 0 ? 1 : EXTRA_SESSION_MIN_QUEUE * this.active)
    );
  }

  /** "421 Too many connections from your IP" while our other sessions work: that is the cap. */
  lowerCapBelowActive(): void {
    this.learned.tooManySessions(this.active - 1);
  }

  /** What the provider rule of the host's name or banner says about sessions and batches. */
  applyProvider(provider: ProviderRule | null): void {
    if (provider?.oneRecipientPerTransaction === true) this.#oneRecipient = true;
    if (provider?.maxConnections !== undefined) this.#cap = Math.min(this.#cap, provider.maxConnections);
  }

  // Backoff -------------------------------------------------------------------------------------

  /** One more consecutive failure: the host is left alone for an exponentially longer while. */
  backOff(): void {
    this.#failures += 1;
    this.#backoffUntil =
      Date.now() + backoffDelayMs(this.#failures, this.#limits.backoffMs, this.#limits.maxBackoffMs);
  }

  /** A session made progress: the next failure starts the backoff over. */
  recovered(): void {
    this.#failures = 0;
  }

  get backoffUntil(): number {
    return this.#backoffUntil;
  }

  /** True while a host that could not be reached backs off (RFC 5321 §5.1 skips it meanwhile). */
  isSkipped(now: number): boolean {
    return this.unreachable && this.#backoffUntil > now;
  }

  /**
   * The host's window of RCPTs per minute stays full for `ms`: sessions are closed rather than kept
   * idle that long, and none is opened before then.
   */
  waitForRate(ms: number): void {
    this.#rateFullUntil = Math.max(this.#rateFullUntil, Date.now() + ms);
  }

  /** Until when no session is opened (epoch milliseconds): the backoff, or a full window of RCPTs. */
  get pausedUntil(): number {
    return Math.max(this.#backoffUntil, this.#rateFullUntil);
  }

  /**
   * While the host backs off (or its window of RCPTs per minute is full), arranges one call of `resume`
   * when that ends and returns true; false when the host may be asked now.
   */
  deferWhileBackingOff(resume: () => void): boolean {
    const now = Date.now();
    const until = this.pausedUntil;
    if (until <= now) return false;
    this.#backoffTimer ??= setTimeout(() => {
      this.#backoffTimer = null;
      resume();
    }, until - now);
    return true;
  }

  // Batches -------------------------------------------------------------------------------------

  /** The error budget of session `session` (`LearnedLimits.budgetFor`); the host's without one. */
  #budget(session: number | null): number {
    const budget = session === null ? this.learned.errorBudget : this.learned.budgetFor(session);
    // Past a first refusal at a host that poisons, nothing has an answer.
    return this.poisons ? Math.min(1, budget) : budget;
  }

  /**
   * True while session `session` (the host's view without one), having drawn `errors` refusals, may go
   * on (else a fresh session is better). A session held below the guess (`LearnedLimits.budgetFor`)
   * goes on while it has any of its own left and the guess would let it: a new session would be held
   * the same.
   */
  hasUsefulBudget(errors: number, session: number | null = null): boolean {
    const budget = this.learned.errorBudget;
    return this.#budget(session) > errors && budget - errors >= Math.min(MIN_USEFUL_BUDGET, budget);
  }

  /** Refusals a session that drew `errors` may still draw (`Infinity`: the host has no budget). */
  budgetLeft(errors: number, session: number | null = null): number {
    return Math.max(0, this.#budget(session) - errors);
  }

  /**
   * True when session `session`, having drawn `errors` refusals, has room in the host's error budget
   * for one more: the check RCPT (poisoning.ts), which the one refusal a session draws at a host taken
   * to poison does not count against (it is what may prove that cap wrong). There, a session held
   * below a guessed budget takes the guess as its explorer when nobody else explores it: at a host
   * taken to poison nobody explores, so what is proven there does not grow (a worker that takes the
   * host from another with one refusal proven, or none, would otherwise never have room; its check
   * is the session's second refusal).
   */
  hasRoomForCheck(errors: number, session: number): boolean {
    const learned = this.learned;
    if (learned.budgetFor(session) - errors >= 1) return true;
    return (
      this.poisons &&
      learned.errorBudget - errors >= 1 &&
      learned.startExploring(session) &&
      learned.budgetFor(session) - errors >= 1
    );
  }

  /**
   * Refusals the next batch of session `session`, having drawn `errors`, may draw: while it explores a
   * guessed budget, what its step past the proof leaves (`LearnedLimits.reachFor`), at least one, so
   * that the batch that finds a low limit carries few refusals past it; `Infinity` otherwise (the
   * budget alone bounds it).
   */
  reachLeft(errors: number, session: number | null): number {
    if (session === null) return Infinity;
    const reach = this.learned.reachFor(session);
    return Number.isFinite(reach) ? Math.max(1, reach - errors) : Infinity;
  }

  /** True while session `session` explores a guessed budget and its reach is below it (it still grows). */
  isReaching(session: number): boolean {
    return this.learned.reachFor(session) < this.learned.errorBudget;
  }

  /** True when session `session` may draw fewer refusals than the host's budget (a guess it is not exploring). */
  isCapped(session: number): boolean {
    return !this.poisons && this.learned.budgetFor(session) < this.learned.errorBudget;
  }

  /**
   * True when session `session`, having drawn `errors` refusals, is held below the host's budget only
   * because that budget is still a guess another session is exploring: its answer may free it.
   */
  isHeld(errors: number, session: number): boolean {
    return this.learned.guessing && this.#budget(session) <= errors && this.hasUsefulBudget(errors);
  }

  /**
   * Waits up to `ms` for what is known of the host's error budget to change (a proof, a penalty, the
   * explorer gone); resolves true when woken, false at the end of the wait.
   */
  waitForLimits(ms: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (woken: boolean): void => {
        clearTimeout(timer);
        this.#held.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve(woken);
      };
      const wake = (): void => {
        done(true);
      };
      const onAbort = (): void => {
        done(false);
      };
      const timer = setTimeout(onAbort, ms);
      this.#held.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Something may have been learned of the error budget: held sessions look again. */
  limitsMayHaveChanged(): void {
    if (this.#held.size === 0) return;
    for (const wake of [...this.#held]) wake();
  }

  /** RCPTs one transaction may carry: the recipient limit, or 1 where a provider rule says so. */
  get transactionLimit(): number {
    return this.#oneRecipient ? 1 : (this.learned.recipientLimit ?? DEFAULT_RECIPIENT_LIMIT);
  }

  /**
   * RCPTs for the next transaction of a session that drew `errors` refusals so far, keeping `reserve`
   * refusals of the budget for the catch-all probes the session sends last: as many of the queue's
   * next addresses as keep the chance of overspending the budget left under `OVERSPEND_RISK`, each
   * domain's own refusals counted (`RefusalOdds`).
   */
  batchSize(errors: number, reserve = 0, session: number | null = null): number {
    // Within the replies a second allowed (`ReplyRate.batchCap`): a burst of a whole pipelined batch
    // must not cross the host's rate by itself.
    const limit = this.learned.recipientLimit ?? DEFAULT_RECIPIENT_LIMIT;
    const recipientLimit = Math.min(limit, this.#rate.batchCap());
    const budgetLeft = Math.min(this.#budget(session) - errors - reserve, this.reachLeft(errors, session));
    let size = batchSize({
      recipientLimit,
      oneRecipient: this.#oneRecipient,
      errorBudgetLeft: budgetLeft,
      refusalRate: this.#odds.rate,
    });
    // Past what fits even all refused: the domains of the addresses it would take decide.
    if (size > budgetLeft && Number.isFinite(budgetLeft))
      size = Math.max(budgetLeft, this.#odds.batchSize(this.#nextDomains(size), budgetLeft, size));
    // The explorer of a guessed budget may always carry what owes at most one reply past any limit,
    // once the host is known to answer after a refusal: before, a refusal after another in the batch
    // is a suspect (the host may refuse all after one), answered only by the check RCPT, which asks
    // again an address the host accepted (or, at a host that poisons, every suspect asked again).
    if (size > 0 && this.answersAfterRefusal && Number.isFinite(this.reachLeft(errors, session)))
      size = Math.max(
        size,
        Math.min(this.#oneRecipient ? 1 : recipientLimit, this.shallowBatch(errors) - reserve),
      );
    return size;
  }

  /**
   * Commands a session that drew `errors` refusals may send before its next reply with at most one of
   * them after whichever refusal is the host's limit, whatever the replies: the limit is past the
   * refusals proven safe, and past the first (a soft limit of 1 is below any budget rcpt keeps,
   * `UNPROVEN_SESSION_BUDGET`). So 3 with nothing proven, 2 after a reply that proved the session's
   * refusals, 1 after a refusal no reply has proven yet (the explorer's batches past the budget,
   * `SessionRun.#explore`); more where another session proved more.
   */
  shallowBatch(errors: number): number {
    const lowest = Math.max(this.learned.provenRefusals + 1, UNPROVEN_SESSION_BUDGET + 1);
    return Math.max(1, lowest - errors + 1);
  }

  /** The domains of the next `count` addresses of the queue (done ones skipped, as `take` does). */
  #nextDomains(count: number): string[] {
    const domains: string[] = [];
    for (const job of this.#queue) {
      if (domains.length >= count) break;
      if (!job.done) domains.push(job.domain.name);
    }
    return domains;
  }

  /** The host's share of refused RCPTs so far (`RefusalOdds.rate`: 2 of 4 before any reply). */
  get refusalRate(): number {
    return this.#odds.rate;
  }

  /**
   * True once the host answered an RCPT in this run and refused none, catch-all probes included (an
   * accept-all provider): its next probe is likely accepted, and spoils nothing after it.
   */
  get refusedNothing(): boolean {
    return this.#odds.refusedNone;
  }

  /** Counts one RCPT reply (refused when `code` ≥ 400) of `job` for the refusal odds. */
  countReply(code: number, job: Job | null = null): void {
    // A climber is refused by design: it tells nothing of the host's addresses.
    if (job?.kind === 'climb') return;
    this.#odds.count(code, job === null || job.kind === 'catchAll' ? null : job.domain.name);
  }

  /** `452 4.5.3` after `accepted` RCPTs: the server's per-transaction limit (RFC 5321 §4.5.3.1.10). */
  learnRecipientLimit(accepted: number): void {
    this.learned.tooManyRecipients(accepted);
  }

  /**
   * The server said its hard error limit (Postfix `421 4.7.0 Error: too many errors`) after `errors`
   * refusals; Postfix's soft limit (the sleeps) is about half of it (smtpd_soft_error_limit 10,
   * smtpd_hard_error_limit 20): stay below that from now on.
   */
  learnErrorLimit(errors: number): void {
    this.learned.disconnectedAfter(errors);
  }

  /**
   * A transaction's timing, for the replies a second asked of the host (`ReplyRate.answered`):
   * false when the session should end.
   */
  answered(
    replies: number,
    sentAt: number,
    stalledMs: number,
    now: number,
    clean: boolean,
    judged = true,
  ): boolean {
    return this.#rate.answered(replies, sentAt, stalledMs, now, clean, judged);
  }

  /** A transaction of `replies` replies goes to the host at `sentAt` (`performance.now()`). */
  sent(sentAt: number, replies: number): void {
    this.#rate.sent(sentAt, replies);
  }

  /** The transaction sent at `sentAt` is over (answered, failed or cut). */
  settled(sentAt: number): void {
    this.#rate.settled(sentAt);
  }

  /** Commands a second the host is sent at most: `hostCommandsPerSecond`, or its learned ceiling. */
  get commandRate(): number {
    const set = this.#limits.hostCommandsPerSecond;
    return Math.min(set > 0 ? set : Infinity, this.#rate.ceiling());
  }

  /**
   * Waits until `commands` more commands may be sent: within `commandRate`, after a fall's pause, and
   * during a slow start within what one second may carry (`ReplyRate.admit`).
   */
  async pace(commands: number, signal: AbortSignal): Promise<void> {
    const rate = this.commandRate;
    if (Number.isFinite(rate)) {
      const now = performance.now();
      const at = Math.max(now, this.#nextSendAt, this.#rate.pausedUntil);
      this.#nextSendAt = at + (commands * 1000) / rate;
      if (at > now) await sleep(at - now, undefined, { signal }).catch(() => undefined);
    }
    for (
      let wait = this.#rate.admit(commands);
      wait > 0 && !signal.aborted;
      wait = this.#rate.admit(commands)
    )
      await sleep(wait, undefined, { signal }).catch(() => undefined);
  }

  // Lifetime ------------------------------------------------------------------------------------

  /**
   * True when the host has nothing to do and learned nothing beyond the defaults (its error budget,
   * limits, and whether it answers after a refusal): it can be forgotten.
   */
  get isForgettable(): boolean {
    return (
      this.queued === 0 &&
      this.active === 0 &&
      this.#backoffTimer === null &&
      this.#failures === 0 &&
      !this.unreachable &&
      this.learned.isDefault &&
      !this.#oneRecipient &&
      this.#cap === this.#limits.hostConcurrency
    );
  }

  /** The run stopped: no timer left, every idle session woken (to find the run stopped). */
  stop(): void {
    if (this.#backoffTimer !== null) clearTimeout(this.#backoffTimer);
    this.#backoffTimer = null;
    for (const waiter of this.#idle.splice(0)) waiter();
    this.limitsMayHaveChanged();
  }
}

/**
 * Takes up to `count` jobs that are not done yet from the front of `list`, or from its back (the last
 * first) when `fromBack`.
 */
function takeFrom(list: Job[], count: number, fromBack = false): Job[] {
  const batch: Job[] = [];
  while (batch.length < count) {
    const job = fromBack ? list.pop() : list.shift();
    if (job === undefined) break;
    if (!job.done) batch.push(job);
  }
  return batch;
}
