/**
 * The bulk scheduler behind `verifyMany()` (docs/library.md): addresses are grouped by the MX host
 * *address* they reach (hundreds of vanity MX names resolve to one provider's servers), and each host
 * gets at most `hostConcurrency` sessions that verify many addresses each: one EHLO, then batches of
 * RCPTs (`RSET`, `MAIL FROM`, RCPT…, pipelined when PIPELINING is advertised, RFC 2920), within the
 * server's recipient limit and error tolerance.
 *
 * Push-back is read, not fought: a `421` or a `4.7.x` deferral backs the host off (exponential, capped)
 * and its addresses are asked again later; an address gets a verdict only from its own RCPT reply. A
 * greylisted address is rescheduled after the server's window with the same MAIL FROM while the run
 * goes on with others.
 *
 * The verifier supplies the per-address logic (`prepare`, `conclude`), so bulk and single verification
 * reach the same verdicts from the same replies, and the way sessions are opened (`openSession`).
 *
 * The parts: `Scheduler` (this file: input, output, the life of each job), `Host` (one MX host
 * address: its queue and politeness), `SessionRun` (one session feeding batches to a host),
 * `DomainState` (a domain's catch-all probe), `Job` (one address or probe).
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

import type { ProbeFailure, ProbeTarget, SmtpReplyInfo, VerifyResult } from '../types.js';
import { DomainTable, type DomainState } from './domain-state.js';
import { Host } from './host.js';
import { LearnedLimits } from './learned-limits.js';
import {
  Job,
  failed as noReply,
  providerAt,
  replied,
  type Answer,
  type JobKind,
  type ParkedAnswer,
  type SessionView,
} from './job.js';
import type {
  Conversation,
  PlannedAddress,
  Preparation,
  SchedulerPorts,
  SchedulerSettings,
} from './ports.js';
import { SessionRun, type SessionOwner } from './session-run.js';

export type {
  Concluded,
  Conversation,
  PlannedAddress,
  Preparation,
  ResultBody,
  SchedulerPorts,
  SchedulerSettings,
  SessionSettings,
} from './ports.js';

/** Lookups resolving at once (the resolver shares in-flight queries per domain; this bounds sockets). */
const PREPARE_CONCURRENCY = 256;
/**
 * Longest the run keeps the event loop to itself, in milliseconds. Answers from DNS caches and job
 * stores settle as promise jobs only; without a turn now and then, timers (progress, flushes, session
 * idles) and signals (Ctrl-C) would wait for the whole list (measured: 33 s on 1,000,000 addresses).
 */
const MAX_TURN_MS = 20;

/** What `next()` answers once every result is out. */
const ALL_OUT: IteratorResult<VerifyResult> = Object.freeze({ value: undefined, done: true });

/**
 * Verifies `inputs` through per-host sessions, yielding each result as it completes. Reads the input
 * lazily: at most `settings.window` addresses are read and not yet yielded. Never throws for what
 * servers do; an input that throws ends the run with that error.
 */
export function schedule<P extends PlannedAddress>(
  inputs: Iterable<string> | AsyncIterable<string>,
  ports: SchedulerPorts<P>,
  settings: SchedulerSettings,
  signal?: AbortSignal,
  lifetime?: RunLifetime,
): AsyncIterableIterator<VerifyResult> {
  return new Scheduler(inputs, ports, settings, signal, lifetime).results();
}

/**
 * Told when a run starts (its results first pulled) and when it has ended (every result out, the
 * consumer gone, or an error): the verifier keeps the runs `close()` must end this way, without a
 * generator around the results that every result would pass through.
 */
export interface RunLifetime {
  started(): void;
  ended(): void;
}

/** One run of `schedule()`. Use `results()` once. */
export class Scheduler<P extends PlannedAddress>
  implements SessionOwner, AsyncIterableIterator<VerifyResult>
{
  readonly settings: SchedulerSettings;
  readonly #ports: SchedulerPorts<P>;
  readonly #inputs: Iterable<string> | AsyncIterable<string>;
  readonly #lifetime: RunLifetime | undefined;
  /** Where the results' iterator is: not pulled yet, a result out (or pulling), or ended. */
  #state: 'new' | 'yielded' | 'done' = 'new';
  /** A pull waiting for a result (or a turn of the event loop), which later calls wait behind. */
  #waiting: Promise<IteratorResult<VerifyResult>> | null = null;
  /** When the run last gave the event loop a turn (`MAX_TURN_MS`). */
  #turnStartedAt = -0;
  /** Opened when `results()` is first pulled, as a generator function would. */
  #iterator: Iterator<string> | AsyncIterator<string> | null = null;
  /** The input is a plain iterable: its next address is read without waiting a promise turn. */
  #syncInput = false;
  /** The last `#checkedAt()`: its millisecond (a double, as `Date.now()` is: NaN, none yet) and its string. */
  #isoAt = Number.NaN;
  #iso = '';
  readonly #signal: AbortSignal | undefined;
  readonly #stop = new AbortController();
  readonly #hosts = new Map<string, Host>();
  readonly #domains = new DomainTable<ParkedAnswer>();
  readonly #live = new Set<Job<P>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #output: VerifyResult[] = [];
  #wake: (() => void) | null = null;
  /** Addresses read and not yet yielded (against `settings.window`). */
  #inFlight = 0;
  /**
   * Climbers out (`climber()`): the run is not over while one is, though no address waits for it. It
   * may be the explorer's crossing of the host's error budget (its reply a second late), and what that
   * reply teaches (the penalty) is stored before the run ends, as an address's batch is read before.
   */
  #climbers = 0;
  #preparing = 0;
  #reading = false;
  #exhausted = false;
  #stopped = false;
  /** The caller's signal fired (as opposed to the consumer leaving). */
  #aborted = false;
  #failure: { readonly error: unknown } | null = null;
  #nextJobId = 0;
  #nextSessionId = 0;
  /** Sessions open now over all hosts, against `settings.maxSessions`. */
  #openSessions = 0;

  constructor(
    inputs: Iterable<string> | AsyncIterable<string>,
    ports: SchedulerPorts<P>,
    settings: SchedulerSettings,
    signal?: AbortSignal,
    lifetime?: RunLifetime,
  ) {
    this.settings = settings;
    this.#ports = ports;
    this.#signal = signal;
    this.#inputs = inputs;
    this.#lifetime = lifetime;
    // Every open session listens on it: hundreds at once are expected, not a leak.
    setMaxListeners(0, this.#stop.signal);
    // Set once more: they change once, late in a run (the input's end), and code compiled while they
    // had only their initial value was thrown away then (as `Job`'s fields: docs/architecture.md, "CPU").
    this.#exhausted = false;
    this.#stopped = false;
  }

  get allowance(): SchedulerPorts<P>['allowance'] {
    return this.#ports.allowance;
  }

  get rate(): SchedulerPorts<P>['rate'] {
    return this.#ports.rate;
  }

  get stopSignal(): AbortSignal {
    return this.#stop.signal;
  }

  isStopped(): boolean {
    return this.#stopped;
  }

  get mayGetWork(): boolean {
    return !(this.#exhausted && this.#preparing === 0);
  }

  /** Hosts the run holds state for now (forgotten when idle with nothing learned). */
  get hostCount(): number {
    return this.#hosts.size;
  }

  /** Domains with live jobs now. */
  get domainCount(): number {
    return this.#domains.size;
  }

  /**
   * The results, as they complete: the run itself is their async iterator (use it once). Written out
   * rather than an `async *` generator: a generator's `yield` awaits the result and then settles a request
   * promise (a promise turn more per result, and 363 bytes allocated per address of a bulk run against
   * 161 here), where `next()` answers a result that is ready with one resolved promise. It behaves as the
   * generator did: nothing starts before the first `next()`; `return()` and `throw()` end the run as
   * a consumer leaving a `for await` does; calls made while one waits are answered in order.
   */
  results(): AsyncIterableIterator<VerifyResult> {
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<VerifyResult> {
    return this;
  }

  next(): Promise<IteratorResult<VerifyResult>> {
    if (this.#waiting !== null) return this.#after(this.#waiting, () => this.next());
    switch (this.#state) {
      case 'done':
        return Promise.resolve(ALL_OUT);
      case 'new':
        try {
          this.#begin();
        } catch (error) {
          this.#state = 'done';
          return rethrow(error);
        }
        break;
      case 'yielded':
        // Counted out only once the consumer has it: the window bounds read-but-unconsumed addresses.
        this.#inFlight -= 1;
        this.#readMore();
        break;
    }
    return this.#pull();
  }

  return(value?: unknown): Promise<IteratorResult<VerifyResult>> {
    if (this.#waiting !== null) return this.#after(this.#waiting, () => this.return(value));
    const ended = { value, done: true } as IteratorResult<VerifyResult>;
    if (this.#state !== 'yielded') {
      this.#state = 'done';
      return Promise.resolve(ended);
    }
    return this.#end().then(() => ended);
  }

  throw(error?: unknown): Promise<IteratorResult<VerifyResult>> {
    if (this.#waiting !== null) return this.#after(this.#waiting, () => this.throw(error));
    if (this.#state !== 'yielded') {
      this.#state = 'done';
      return rethrow(error);
    }
    return this.#end().then(() => rethrow(error));
  }

  /** A call made while a pull waits, answered once that pull is (as a generator queues its calls). */
  #after(
    waiting: Promise<IteratorResult<VerifyResult>>,
    call: () => Promise<IteratorResult<VerifyResult>>,
  ): Promise<IteratorResult<VerifyResult>> {
    return waiting.then(call, call);
  }

  /** The first `next()`: the input opened, the caller's signal watched, the first addresses read. */
  #begin(): void {
    this.#lifetime?.started();
    const inputs = this.#inputs;
    const iterator =
      Symbol.asyncIterator in inputs ? inputs[Symbol.asyncIterator]() : inputs[Symbol.iterator]();
    this.#iterator = iterator;
    this.#syncInput = !(Symbol.asyncIterator in inputs);
    const signal = this.#signal;
    if (signal?.aborted === true) this.#onAbort();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#state = 'yielded';
    this.#readMore();
    this.#turnStartedAt = performance.now();
  }

  /** The next result, or the run's end: at once when one is ready, else once something happens. */
  #pull(): Promise<IteratorResult<VerifyResult>> {
    try {
      if (performance.now() - this.#turnStartedAt > MAX_TURN_MS) {
        return this.#wait(
          nextTurn().then(() => {
            this.#turnStartedAt = performance.now();
          }),
        );
      }
      const next = this.#output.shift();
      if (next !== undefined) return Promise.resolve({ value: next, done: false });
      const failure = this.#failure;
      if (failure !== null) return this.#end().then(() => rethrow(failure.error));
      if (this.#allOut()) return this.#end().then(() => ALL_OUT);
      return this.#wait(
        new Promise<void>((resolve) => {
          this.#wake = resolve;
        }),
      );
    } catch (error) {
      return this.#end().then(() => rethrow(error));
    }
  }

  /** Every address read and yielded, and no climber out: the run is over. */
  #allOut(): boolean {
    return this.#exhausted && !this.#reading && this.#inFlight === 0 && this.#climbers === 0;
  }

  /** Pulls again once `event` has happened; `next()`, `return()` and `throw()` wait for it meanwhile. */
  #wait(event: Promise<void>): Promise<IteratorResult<VerifyResult>> {
    const pulled = event.then(() => {
      this.#waiting = null;
      return this.#pull();
    });
    this.#waiting = pulled;
    return pulled;
  }

  /** The run over (every result out, the consumer gone, or an error): what the generator's `finally` did. */
  async #end(): Promise<void> {
    this.#state = 'done';
    this.#signal?.removeEventListener('abort', this.#onAbort);
    // Every result out: the sessions still open end politely (QUIT), not cut.
    this.#shutdown(this.#allOut() && this.#failure === null);
    try {
      if (!this.#exhausted || this.#reading) await this.#iterator?.return?.();
    } finally {
      this.#lifetime?.ended();
    }
  }

  readonly #onAbort = (): void => {
    this.#abort();
  };

  // Input, preparation, output --------------------------------------------------------------------

  #notify(): void {
    const resolve = this.#wake;
    this.#wake = null;
    resolve?.();
  }

  #later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#stopped) action();
    }, ms);
    this.#timers.add(timer);
  }

  #emit(result: VerifyResult): void {
    this.#output.push(result);
    this.#notify();
  }

  #readMore(): void {
    const iterator = this.#iterator;
    if (iterator === null || this.#reading || this.#exhausted || this.#stopped) return;
    this.#reading = true;
    if (this.#syncInput) {
      // A plain iterable: the same loop, with no promise turn per address.
      const input = iterator as Iterator<string>;
      try {
        while (this.#wantsMore() && this.#take(input.next()));
      } catch (error) {
        this.#readFailed(error);
      } finally {
        this.#readPaused();
      }
      return;
    }
    void (async () => {
      try {
        while (this.#wantsMore() && this.#take(await iterator.next()));
      } catch (error) {
        this.#readFailed(error);
      } finally {
        this.#readPaused();
      }
    })();
  }

  /** Room to read another address: input left, the run going, the window and the preparations not full. */
  #wantsMore(): boolean {
    return (
      !this.#exhausted &&
      !this.#stopped &&
      this.#inFlight < this.settings.window &&
      this.#preparing < PREPARE_CONCURRENCY
    );
  }

  /** One step of the input: an address started (read on), or its end (stop). */
  #take(step: IteratorResult<string>): boolean {
    if (step.done === true) {
      this.#exhausted = true;
      return false;
    }
    this.#inFlight += 1;
    this.#start(step.value);
    return true;
  }

  /** The input threw: the run ends with its error. */
  #readFailed(error: unknown): void {
    this.#failure = { error };
    this.#exhausted = true;
  }

  /** A read stopped (input ended, window full, or failed): the next one may start. */
  #readPaused(): void {
    this.#reading = false;
    this.#notify();
  }

  #start(input: string): void {
    const startedAt = performance.now();
    const checkedAt = this.#checkedAt();
    this.#preparing += 1;
    // The resolver bounds each query (dnsTimeoutMs × dnsTries); the run's signal ends them all at once.
    // One signal for the run instead of a timer and a signal per address: a 2-million-line list must
    // not cost 4 million timers.
    let prepared: Preparation<P> | Promise<Preparation<P>>;
    try {
      prepared = this.#ports.prepare(input, this.#stop.signal);
    } catch (error) {
      this.#prepareFailed(error);
      return;
    }
    // A remembered route answers at once: the address goes on in this turn, with no promise (and no
    // closures: most addresses of a bulk list).
    if (prepared instanceof Promise) {
      void prepared.then(
        (later) => {
          this.#ready(later, startedAt, checkedAt);
        },
        (error: unknown) => {
          this.#prepareFailed(error);
        },
      );
    } else {
      this.#ready(prepared, startedAt, checkedAt);
    }
  }

  /** An address prepared: done already (its result out), or admitted to its host's queue. */
  #ready(prepared: Preparation<P>, startedAt: number, checkedAt: string): void {
    try {
      if (prepared.kind === 'done') {
        if (!this.#stopped || this.#aborted)
          this.#emit(this.#ports.finish(prepared.body, startedAt, checkedAt));
      } else if (!this.#stopped) this.#admit(prepared.plan, startedAt, checkedAt);
      else if (this.#aborted) this.#emit(this.#abortedResult(prepared.plan, 0, startedAt, checkedAt));
    } finally {
      this.#prepared();
    }
  }

  /** A preparation that threw or rejected ends the run with its error. */
  #prepareFailed(error: unknown): void {
    this.#failure ??= { error };
    this.#notify();
    this.#prepared();
  }

  /** One preparation less in flight: room to read on. */
  #prepared(): void {
    this.#preparing -= 1;
    this.#readMore();
  }

  /** Now as an ISO 8601 string, made once per millisecond: a bulk run starts many addresses in one. */
  #checkedAt(): string {
    const now = Date.now();
    if (now !== this.#isoAt) {
      this.#isoAt = now;
      this.#iso = new Date(now).toISOString();
    }
    return this.#iso;
  }

  // Jobs ------------------------------------------------------------------------------------------

  #newJob(
    kind: JobKind,
    recipient: string,
    plan: P | null,
    domain: DomainState<ParkedAnswer>,
    startedAt: number,
    checkedAt: string,
    from: PlannedAddress,
  ): Job<P> {
    const job = new Job<P>(
      this.#nextJobId++,
      kind,
      recipient,
      kind === 'address' && from.smtputf8,
      from.targets,
      domain,
      plan,
      startedAt,
      checkedAt,
    );
    this.#live.add(job);
    return job;
  }

  #admit(plan: P, startedAt: number, checkedAt: string): void {
    const domain = this.#domains.acquire(plan.domain);
    // Once per domain: apart, so that what V8 optimizes for every address leaves it out.
    if (plan.needsCatchAll && domain.claimProbe()) this.#probeCatchAll(plan, domain, startedAt, checkedAt);
    this.enqueue(this.#newJob('address', plan.recipient, plan, domain, startedAt, checkedAt, plan));
  }

  /**
   * Queues the domain's catch-all probe, once per domain per run, in the same queue as the domain's
   * first address (docs/verdicts.md, "Catch-all domains").
   */
  #probeCatchAll(plan: P, domain: DomainState<ParkedAnswer>, startedAt: number, checkedAt: string): void {
    const recipient = `${this.settings.randomLocalPart()}@${plan.domain}`;
    this.#domains.acquire(plan.domain);
    this.enqueue(this.#newJob('catchAll', recipient, null, domain, startedAt, checkedAt, plan));
  }

  climber(like: Job): Job {
    const recipient = `${this.settings.randomLocalPart()}@${like.domain.name}`;
    const domain = this.#domains.acquire(like.domain.name);
    const job = new Job<P>(
      this.#nextJobId++,
      'climb',
      recipient,
      false,
      like.targets,
      domain,
      null,
      performance.now(),
      like.checkedAt,
    );
    job.targetIndex = like.targetIndex;
    this.#live.add(job);
    this.#climbers += 1;
    return job;
  }

  #release(job: Job): void {
    job.done = true;
    this.#live.delete(job as Job<P>);
    this.#domains.release(job.domain);
    // The last climber out may be all the run waited for.
    if (job.kind === 'climb' && --this.#climbers === 0) this.#notify();
  }

  /**
   * Ends a job with its answer: a catch-all probe settles its domain, an address is concluded, a
   * climber is done (its reply told the session what it draws).
   */
  finalize(job: Job, answer: Answer): void {
    if (job.done) return;
    if (job.kind === 'climb') {
      this.#release(job);
      return;
    }
    if (job.kind === 'catchAll') {
      this.#release(job);
      this.#settleCatchAll(job.domain, answer.reply);
      return;
    }
    const plan = job.plan as P;
    const concluded = this.#ports.conclude(plan, this.#conversation(job, plan, answer));
    if (concluded.waitMs !== null && job.greylists < this.settings.greylistRetries && !this.#stopped) {
      // RFC 6647 §2.1: the same (client IP, MAIL FROM, RCPT) triplet passes after the window; the
      // address goes back to the same host address, the MAIL FROM never changes.
      job.greylists += 1;
      job.tries = 0;
      this.#later(concluded.waitMs, () => {
        this.enqueue(job);
      });
      return;
    }
    this.#release(job);
    this.#emit(this.#ports.finish(concluded.body, job.startedAt, job.checkedAt));
  }

  /** What the run's sessions said about one address, for the verifier's `conclude`. */
  #conversation(job: Job, plan: P, answer: Answer): Conversation {
    const { reply, view } = answer;
    const target = job.target ?? job.targets[0];
    const host = view === null ? null : (target?.host ?? view.host);
    return {
      host,
      ip: view?.ip ?? null,
      port: this.settings.session.port,
      tls: view?.tls ?? false,
      provider: view === null || host === null ? null : providerAt(view, host),
      reply,
      classification: answer.classification,
      otherRecipientAccepted: false,
      failure: reply === null ? answer.failure : null,
      catchAll: plan.needsCatchAll ? job.domain.catchAllReply : null,
      attempts: job.sessions,
      transcript: answer.transcript,
      timedOut: answer.timedOut,
      proxy: view?.proxy ?? null,
    };
  }

  /** Gives an address up after `hostTries` sessions without its own reply. */
  #giveUp(job: Job): void {
    const view = job.lastView;
    const reply = job.lastReply;
    if (reply !== null && reply.stage === 'rcpt') {
      this.finalize(job, replied(reply, null, view));
      return;
    }
    const failure: ProbeFailure = job.lastFailure ?? {
      kind: 'connection_failed',
      stage: 'connect',
      message: 'no session could be completed',
      reply,
    };
    this.finalize(job, noReply(failure, view, null, job.lastFailure?.kind === 'timeout'));
  }

  /**
   * Ends a job that cannot be asked within the hour's allowance of refusals at `ip`: an address gets
   * `unknown/rate_limited` with `retryAt`; a catch-all probe settles as unanswered (its domain's
   * addresses are concluded without it).
   */
  endUnasked(job: Job, ip: string): void {
    if (job.done) return;
    if (job.kind !== 'address') {
      this.finalize(job, noReply(null, null));
      return;
    }
    this.#release(job);
    const ports = this.#ports;
    this.#emit(ports.finish(ports.harvestLimited(job.plan as P, ip), job.startedAt, job.checkedAt));
  }

  #settleCatchAll(domain: DomainState<ParkedAnswer>, reply: SmtpReplyInfo | null): void {
    for (const { job, answer } of domain.settle(reply)) this.finalize(job, answer);
  }

  deliver(job: Job, answer: Answer): void {
    if (job.kind === 'address' && job.plan?.needsCatchAll === true && job.domain.isPending) {
      job.domain.park({ job, answer });
      return;
    }
    this.finalize(job, answer);
  }

  /** Milliseconds left of `job`'s deadline (at least 1: a job with none left is finalized). */
  remainingMs(job: Job): number {
    return Math.max(1, this.settings.timeoutMs - job.spentMs);
  }

  /**
   * Charges `ms` of server time to `job`; one whose deadline is spent ends now as `unknown/timeout`
   * with `failed` (taken out of its host's queue). Returns whether it ended.
   */
  charge(host: Host, job: Job, ms: number, failed: ProbeFailure, view: SessionView | null): boolean {
    if (job.done) return true;
    job.spentMs += ms;
    const timeoutMs = this.settings.timeoutMs;
    if (job.spentMs < timeoutMs) return false;
    host.remove(job);
    const message = `no answer within the deadline of ${timeoutMs} ms (${failed.message})`;
    this.finalize(job, noReply({ ...failed, kind: 'timeout', message }, view, null, true));
    return true;
  }

  // Hosts -----------------------------------------------------------------------------------------

  #hostOf(target: ProbeTarget): Host {
    const ip = target.ip;
    const key = hostKey(target);
    let host = this.#hosts.get(key);
    if (host === undefined) {
      // What other runs (other workers) learned of this host's limits is where this run starts.
      const known = this.#ports.hostLimits?.known(key) ?? null;
      const learned = LearnedLimits.from(known);
      // An explorer's batch left out by a run that is gone is taken to have crossed the limit.
      learned.takeOver();
      host = new Host(ip, this.settings, key, target.via ?? null, learned);
      this.#hosts.set(key, host);
    }
    return host;
  }

  /** Queues a job at the host of its current target (the next one while that host is skipped). */
  enqueue(job: Job, front = false): void {
    if (this.#stopped || job.done) return;
    let target = job.target;
    // A host that could not be reached is skipped while it backs off, as RFC 5321 §5.1 skips it.
    const now = Date.now();
    while (target !== undefined && job.hasNextTarget) {
      if (this.#hosts.get(hostKey(target))?.isSkipped(now) !== true) break;
      job.targetIndex += 1;
      target = job.target;
    }
    if (target === undefined) {
      this.#giveUp(job);
      return;
    }
    if (this.#ports.allowance.isSpent(target.ip)) {
      // The gateway's hour of refusals is used up: asking would prove nothing (no connection at all).
      this.endUnasked(job, target.ip);
      return;
    }
    const host = this.#hostOf(target);
    if (!host.add(job, front)) this.#pump(host);
  }

  requeue(host: Host, jobs: readonly Job[], counted: boolean): void {
    // Back at the front, in order: a pushed-back address must not wait behind the whole list again.
    for (const job of [...jobs].reverse()) {
      if (job.done) continue;
      // A climber is asked for its session's sake, never again.
      if (job.kind === 'climb') {
        this.#release(job);
        continue;
      }
      if (counted) job.tries += 1;
      if (job.tries >= this.settings.hostTries) this.#giveUp(job);
      else host.putBack([job]);
    }
  }

  #pump(host: Host): void {
    if (this.#stopped) return;
    if (
      host.deferWhileBackingOff(() => {
        this.#pump(host);
      })
    )
      return;
    while (host.wantsSession() && this.#openSessions < this.settings.maxSessions) {
      host.active += 1;
      this.#openSessions += 1;
      void new SessionRun(this, host, this.#nextSessionId++).run();
    }
  }

  /** Tells what the run learned of `host`'s limits since the last time to whoever shares them. */
  shareLimits(host: Host): void {
    if (host.learned.takeChanged()) this.#ports.hostLimits?.learned(host.key, host.learned.record());
  }

  limitsStored(): Promise<boolean> {
    return this.#ports.hostLimits?.flush?.() ?? Promise.resolve(true);
  }

  sessionClosed(host: Host): void {
    host.active -= 1;
    this.#openSessions -= 1;
    this.shareLimits(host);
    if (this.#stopped) return;
    this.#pump(host);
    // Forgets a host with nothing to do and nothing learned beyond the defaults (bounded memory).
    if (host.isForgettable) this.#hosts.delete(host.key);
    // A slot freed under the global cap: hosts kept waiting by it may start a session now.
    if (this.#openSessions < this.settings.maxSessions) {
      for (const other of this.#hosts.values()) if (other !== host && other.queued > 0) this.#pump(other);
    }
  }

  // Stopping --------------------------------------------------------------------------------------

  /**
   * Stops the run: nothing new starts, idle sessions are woken to end. A run that `completed` lets its
   * sessions end with QUIT; any other stop cuts them (the stop signal).
   */
  #shutdown(completed = false): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (!completed) this.#stop.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const host of this.#hosts.values()) host.stop();
    this.#notify();
  }

  #abortedResult(plan: P, attempts: number, startedAt: number, checkedAt: string): VerifyResult {
    const concluded = this.#ports.conclude(plan, {
      host: null,
      ip: null,
      port: this.settings.session.port,
      tls: false,
      provider: null,
      reply: null,
      classification: null,
      otherRecipientAccepted: false,
      failure: { kind: 'timeout', stage: 'connect', message: 'verification run aborted', reply: null },
      catchAll: null,
      attempts,
      transcript: null,
      timedOut: true,
    });
    return this.#ports.finish(concluded.body, startedAt, checkedAt);
  }

  /** The caller's signal: nothing new starts, and every address in flight ends as `unknown/timeout`. */
  #abort(): void {
    this.#aborted = true;
    this.#exhausted = true;
    const abandoned = [...this.#live].filter((job) => job.kind === 'address' && !job.done);
    this.#shutdown();
    for (const job of abandoned) {
      job.done = true;
      this.#output.push(this.#abortedResult(job.plan as P, job.sessions, job.startedAt, job.checkedAt));
    }
    this.#live.clear();
    this.#climbers = 0;
    this.#notify();
  }
}

/** Rejects with `error` as it was thrown (an input may throw anything), as a generator passes it on. */
function rethrow(error: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as it came
  return Promise.reject(error);
}

/** Hosts are keyed by MX address, and by the proxy route too when there is one: caps per (egress, MX). */
function hostKey(target: ProbeTarget): string {
  return target.via === undefined || target.via === null ? target.ip : `${target.via.name}|${target.ip}`;
}
