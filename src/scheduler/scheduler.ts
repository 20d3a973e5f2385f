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
 * reach the same verdicts from the same replies.
 */
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

import { classifyReply } from '../classify/index.js';
import { matchProvider } from '../providers/index.js';
import { SmtpSession } from '../smtp/session.js';
import type {
  ProbeFailure,
  ProbeResult,
  ProbeTarget,
  SmtpReplyInfo,
  TranscriptEntry,
  VerifyResult,
} from '../types.js';
import type { HarvestAllowance, Reservation } from './harvest-allowance.js';
import {
  DEFAULT_RECIPIENT_LIMIT,
  SESSION_ERROR_BUDGET,
  backoffDelayMs,
  batchSize,
  isClosingReply,
  isTooManyRecipients,
} from './politeness.js';

/** What the scheduler needs to know about an address that needs an SMTP conversation. */
export interface PlannedAddress {
  /** The address for `RCPT TO`. */
  readonly recipient: string;
  /** The A-label domain (catch-all probes are per domain). */
  readonly domain: string;
  /** MX hosts to try in order, each with one address. */
  readonly targets: readonly ProbeTarget[];
  /** The address needs SMTPUTF8 (RFC 6531). */
  readonly smtputf8: boolean;
  /** The domain's catch-all status is not known yet: a random address must be asked too. */
  readonly needsCatchAll: boolean;
}

/** A result before its timing fields. */
export type ResultBody = Omit<VerifyResult, 'durationMs' | 'checkedAt'>;

/** The first half of a verification: finished already, or a plan for the SMTP conversation. */
export type Preparation<P extends PlannedAddress> =
  { readonly kind: 'done'; readonly body: ResultBody } | { readonly kind: 'probe'; readonly plan: P };

/** The per-address logic, supplied by the verifier. */
export interface SchedulerPorts<P extends PlannedAddress> {
  /** Syntax, facts, DNS, targets. Never rejects for what DNS said. */
  prepare(input: string, signal: AbortSignal): Promise<Preparation<P>>;
  /**
   * Reads one address's share of a conversation (as a one-address `ProbeResult`) into a result body;
   * `waitMs` is set when a greylisting retry may give an answer.
   */
  conclude(
    plan: P,
    probe: ProbeResult,
    attempts: number,
    timedOut: boolean,
  ): { readonly body: ResultBody; readonly waitMs: number | null };
  /** Adds the timing fields (and publishes the result). */
  finish(body: ResultBody, startedAt: number, checkedAt: string): VerifyResult;
  /**
   * The verifier's ledger of refused RCPTs at gateways that count them per hour (IronPort DHAP), the
   * one `verify()` uses: every RCPT of a batch at such a host is reserved in it before it is sent.
   */
  readonly allowance: HarvestAllowance;
  /**
   * The answer for an address not asked because the hour's allowance at host address `ip` is spent:
   * `unknown/rate_limited` with `retryAt`, as `verify()` gives it.
   */
  harvestLimited(plan: P, ip: string): ResultBody;
}

/** How sessions are opened: the prober's settings. */
export interface SessionSettings {
  readonly port: number;
  readonly helo: string;
  readonly mailFrom: string;
  readonly localAddress: string | null;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly commandTimeoutMs: number;
  readonly startTls: boolean;
  readonly transcript: boolean;
}

/** The scheduler's limits; `verifyMany()` validates them and supplies the defaults. */
export interface SchedulerSettings {
  /** Addresses read from the input and not yet yielded, at most. */
  readonly window: number;
  /** Sessions open at once per MX host address, at most (a provider rule may lower it). */
  readonly hostConcurrency: number;
  /** Commands per second sent to one MX host over all its sessions; `0` for no pace. */
  readonly hostCommandsPerSecond: number;
  /** Sessions an address may take part in without getting its own reply before it is given up. */
  readonly hostTries: number;
  /** First backoff after a host pushes back, in milliseconds; it doubles on each further failure. */
  readonly backoffMs: number;
  /** Longest backoff, in milliseconds. */
  readonly maxBackoffMs: number;
  /** Greylisting retries per address after the first attempt. */
  readonly greylistRetries: number;
  /** SMTP sessions open at once over all hosts, at most (each is a socket and a file descriptor). */
  readonly maxSessions: number;
  /** Per SMTP transaction, in milliseconds (the verifier's `timeoutMs`); DNS has its own timeouts. */
  readonly timeoutMs: number;
  readonly session: SessionSettings;
  /** A random local part for catch-all probes. */
  readonly randomLocalPart: () => string;
}

/** Lookups resolving at once (the resolver shares in-flight queries per domain; this bounds sockets). */
const PREPARE_CONCURRENCY = 256;
/**
 * How long an idle session waits for more work before QUIT: long enough to pick up the addresses DNS
 * is still resolving, far below any server's idle timeout (RFC 5321 §4.5.3.2.7: 5 minutes).
 */
const SESSION_IDLE_MS = 300;
/** A second session is opened for a host only when this many addresses are waiting for it. */
const EXTRA_SESSION_MIN_QUEUE = 4;
/** Pause between a session's close and the next session on its slot (see `runSession`). */
const SLOT_RELEASE_MS = 2;
/** A session whose error budget is this low is replaced rather than fed one RCPT per round trip. */
const MIN_USEFUL_BUDGET = 4;
/**
 * Longest the run keeps the event loop to itself, in milliseconds. Answers from DNS caches and job
 * stores settle as promise jobs only; without a turn now and then, timers (progress, flushes, session
 * idles) and signals (Ctrl-C) would wait for the whole list (measured: 33 s on 1,000,000 addresses).
 */
const MAX_TURN_MS = 20;

interface SessionView {
  readonly host: string;
  readonly ip: string;
  readonly tls: boolean;
  readonly tlsCertificateError: string | null;
  readonly banner: string | null;
  readonly extensions: readonly string[];
}

interface DomainState {
  readonly name: string;
  /** `idle`: no probe queued; `queued`: a probe is queued or in a session; `done`/`failed`: settled. */
  catchAll: 'idle' | 'queued' | 'done' | 'failed';
  reply: SmtpReplyInfo | null;
  /** Addresses that have their RCPT reply and wait for the domain's catch-all reply. */
  readonly waiting: {
    job: Job;
    reply: SmtpReplyInfo;
    view: SessionView;
    transcript: TranscriptEntry[] | null;
  }[];
  /** Jobs alive for this domain; the state is dropped at zero. */
  refs: number;
}

interface Job {
  readonly id: number;
  /** `address`: a verification; `catchAll`: the domain's random-address probe. */
  readonly kind: 'address' | 'catchAll';
  readonly recipient: string;
  readonly smtputf8: boolean;
  readonly targets: readonly ProbeTarget[];
  readonly domain: DomainState;
  readonly plan: PlannedAddress | null;
  readonly startedAt: number;
  readonly checkedAt: string;
  targetIndex: number;
  /** Sessions that ended without a reply for this address. */
  tries: number;
  greylists: number;
  /** Sessions this address took part in. */
  sessions: number;
  /**
   * Milliseconds of server time charged to this address against `timeoutMs`: failed session opens
   * while it waited for them, and the transactions it was in (see `chargeTransaction`).
   */
  spentMs: number;
  lastSession: number;
  lastFailure: ProbeFailure | null;
  /** A deferral (421, 4.7.x, rate limit) that was not a verdict, kept in case the address is given up. */
  lastReply: SmtpReplyInfo | null;
  lastView: SessionView | null;
  done: boolean;
}

interface Host {
  readonly ip: string;
  readonly queue: Job[];
  cap: number;
  active: number;
  readonly idle: (() => void)[];
  failures: number;
  backoffUntil: number;
  backoffTimer: NodeJS.Timeout | null;
  /** The last session failed to connect at all: addresses with another MX go there meanwhile. */
  unreachable: boolean;
  recipientLimit: number;
  errorBudget: number;
  /** RCPT replies read from this host, and how many refused (for batch sizing). */
  replies: number;
  refusals: number;
  oneRecipient: boolean;
  nextSendAt: number;
}

/**
 * Verifies `inputs` through per-host sessions, yielding each result as it completes. Reads the input
 * lazily: at most `settings.window` addresses are read and not yet yielded. Never throws for what
 * servers do; an input that throws ends the run with that error.
 */
/** A 5xx reply that refuses our sender (blocklist, reputation, policy): final within one run. */
function isPermanentSenderBlock(reply: SmtpReplyInfo): boolean {
  return reply.code >= 500 && reply.code < 600 && classifyReply(reply).reason === 'sender_blocked';
}

export async function* schedule<P extends PlannedAddress>(
  inputs: Iterable<string> | AsyncIterable<string>,
  ports: SchedulerPorts<P>,
  settings: SchedulerSettings,
  signal?: AbortSignal,
): AsyncGenerator<VerifyResult> {
  const iterator =
    Symbol.asyncIterator in inputs ? inputs[Symbol.asyncIterator]() : inputs[Symbol.iterator]();
  const stop = new AbortController();
  // Every open session listens on it: hundreds at once are expected, not a leak.
  setMaxListeners(0, stop.signal);
  const hosts = new Map<string, Host>();
  const domains = new Map<string, DomainState>();
  const live = new Set<Job>();
  const timers = new Set<NodeJS.Timeout>();
  const output: VerifyResult[] = [];
  let wake: (() => void) | null = null;
  let inFlight = 0;
  let preparing = 0;
  /** Shared with callbacks, hence one object (flow analysis cannot see them change it). */
  const run: {
    reading: boolean;
    exhausted: boolean;
    stopped: boolean;
    /** The caller's signal fired (as opposed to the consumer leaving). */
    aborted: boolean;
    failure: { readonly error: unknown } | null;
  } = { reading: false, exhausted: false, stopped: false, aborted: false, failure: null };
  /** For checks after an `await`, where the run may have stopped meanwhile. */
  const isStopped = (): boolean => run.stopped;
  let nextJobId = 0;
  let nextSessionId = 0;
  /** Sessions open now over all hosts, against `settings.maxSessions`. */
  let openSessions = 0;

  const notify = (): void => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };

  const later = (ms: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!run.stopped) action();
    }, ms);
    timers.add(timer);
  };

  // ---------------------------------------------------------------------------------------------
  // Input, preparation, output

  const emit = (result: VerifyResult): void => {
    output.push(result);
    notify();
  };

  const readMore = (): void => {
    if (run.reading || run.exhausted || run.stopped) return;
    run.reading = true;
    void (async () => {
      try {
        while (
          !run.exhausted &&
          !run.stopped &&
          inFlight < settings.window &&
          preparing < PREPARE_CONCURRENCY
        ) {
          const step = await iterator.next();
          if (step.done === true) {
            run.exhausted = true;
            break;
          }
          inFlight += 1;
          start(step.value);
        }
      } catch (error) {
        run.failure = { error };
        run.exhausted = true;
      } finally {
        run.reading = false;
        notify();
      }
    })();
  };

  const start = (input: string): void => {
    const startedAt = performance.now();
    const checkedAt = new Date().toISOString();
    preparing += 1;
    // The resolver bounds each query (dnsTimeoutMs × dnsTries); the run's signal ends them all at once.
    // One signal for the run instead of a timer and a signal per address: a 2-million-line list must
    // not cost 4 million timers.
    void ports
      .prepare(input, stop.signal)
      .then(
        (prepared) => {
          if (prepared.kind === 'done') {
            if (!run.stopped || run.aborted) emit(ports.finish(prepared.body, startedAt, checkedAt));
          } else if (!run.stopped) admit(prepared.plan, startedAt, checkedAt);
          else if (run.aborted) emit(abortedResult(prepared.plan, 0, startedAt, checkedAt));
        },
        (error: unknown) => {
          run.failure ??= { error };
          notify();
        },
      )
      .finally(() => {
        preparing -= 1;
        readMore();
      });
  };

  const domainOf = (name: string): DomainState => {
    let state = domains.get(name);
    if (state === undefined) {
      state = { name, catchAll: 'idle', reply: null, waiting: [], refs: 0 };
      domains.set(name, state);
    }
    return state;
  };

  const newJob = (
    kind: Job['kind'],
    recipient: string,
    plan: PlannedAddress | null,
    targets: readonly ProbeTarget[],
    smtputf8: boolean,
    domain: DomainState,
    startedAt: number,
    checkedAt: string,
  ): Job => {
    domain.refs += 1;
    const job: Job = {
      id: nextJobId++,
      kind,
      recipient,
      smtputf8,
      targets,
      domain,
      plan,
      startedAt,
      checkedAt,
      targetIndex: 0,
      tries: 0,
      greylists: 0,
      sessions: 0,
      spentMs: 0,
      lastSession: -1,
      lastFailure: null,
      lastReply: null,
      lastView: null,
      done: false,
    };
    live.add(job);
    return job;
  };

  const admit = (plan: P, startedAt: number, checkedAt: string): void => {
    const domain = domainOf(plan.domain);
    if (plan.needsCatchAll && domain.catchAll === 'idle') {
      // Once per domain per run, in the same queue as the domain's first address (docs/verdicts.md, "Catch-all domains").
      domain.catchAll = 'queued';
      const probe = newJob(
        'catchAll',
        `${settings.randomLocalPart()}@${plan.domain}`,
        null,
        plan.targets,
        false,
        domain,
        startedAt,
        checkedAt,
      );
      enqueue(probe);
    }
    enqueue(
      newJob('address', plan.recipient, plan, plan.targets, plan.smtputf8, domain, startedAt, checkedAt),
    );
  };

  const release = (job: Job): void => {
    job.done = true;
    live.delete(job);
    job.domain.refs -= 1;
    if (job.domain.refs === 0) domains.delete(job.domain.name);
  };

  /** Ends an address with what it got: its RCPT reply, or why it has none. */
  const finalize = (
    job: Job,
    reply: SmtpReplyInfo | null,
    failureOfJob: ProbeFailure | null,
    view: SessionView | null,
    transcript: TranscriptEntry[] | null,
    timedOut = false,
  ): void => {
    if (job.done) return;
    if (job.kind === 'catchAll') {
      release(job);
      settleCatchAll(job.domain, reply);
      return;
    }
    const plan = job.plan as P;
    const target = job.targets[job.targetIndex] ?? job.targets[0];
    const catchAllReply = plan.needsCatchAll && job.domain.catchAll === 'done' ? job.domain.reply : null;
    const probe: ProbeResult = {
      host: view === null ? null : (target?.host ?? view.host),
      ip: view?.ip ?? null,
      port: settings.session.port,
      tls: view?.tls ?? false,
      tlsCertificateError: view?.tlsCertificateError ?? null,
      banner: view?.banner ?? null,
      extensions: view?.extensions ?? [],
      attempts: job.sessions,
      replies: reply === null ? [] : [{ recipient: job.recipient, reply }],
      catchAll: catchAllReply,
      failure: reply === null ? failureOfJob : null,
      transcript,
    };
    const concluded = ports.conclude(plan, probe, job.sessions, timedOut);
    if (concluded.waitMs !== null && job.greylists < settings.greylistRetries && !run.stopped) {
      // RFC 6647 §2.1: the same (client IP, MAIL FROM, RCPT) triplet passes after the window; the
      // address goes back to the same host address, the MAIL FROM never changes.
      job.greylists += 1;
      job.tries = 0;
      later(concluded.waitMs, () => {
        enqueue(job);
      });
      return;
    }
    release(job);
    emit(ports.finish(concluded.body, job.startedAt, job.checkedAt));
  };

  /** Gives an address up after `hostTries` sessions without its own reply. */
  const giveUp = (job: Job): void => {
    const view = job.lastView;
    if (job.lastReply !== null && job.lastReply.stage === 'rcpt')
      finalize(job, job.lastReply, null, view, null);
    else {
      finalize(
        job,
        null,
        job.lastFailure ?? {
          kind: 'connection_failed',
          stage: 'connect',
          message: 'no session could be completed',
          reply: job.lastReply,
        },
        view,
        null,
        job.lastFailure?.kind === 'timeout',
      );
    }
  };

  /**
   * Ends a job that cannot be asked within the hour's allowance of refusals at `ip`: an address gets
   * `unknown/rate_limited` with `retryAt`; a catch-all probe settles as unanswered (its domain's
   * addresses are concluded without it).
   */
  const endUnasked = (job: Job, ip: string): void => {
    if (job.done) return;
    if (job.kind === 'catchAll') {
      finalize(job, null, null, null, null);
      return;
    }
    release(job);
    emit(ports.finish(ports.harvestLimited(job.plan as P, ip), job.startedAt, job.checkedAt));
  };

  const settleCatchAll = (domain: DomainState, reply: SmtpReplyInfo | null): void => {
    domain.catchAll = reply === null ? 'failed' : 'done';
    domain.reply = reply;
    const waiting = domain.waiting.splice(0);
    for (const entry of waiting) finalize(entry.job, entry.reply, null, entry.view, entry.transcript);
  };

  /** An address has its RCPT reply: conclude it, or park it until its domain's catch-all reply. */
  const deliver = (
    job: Job,
    reply: SmtpReplyInfo,
    view: SessionView,
    transcript: TranscriptEntry[] | null,
  ) => {
    if (job.kind === 'catchAll') {
      finalize(job, reply, null, view, transcript);
      return;
    }
    const domain = job.domain;
    if (job.plan?.needsCatchAll === true && (domain.catchAll === 'queued' || domain.catchAll === 'idle')) {
      domain.waiting.push({ job, reply, view, transcript });
      return;
    }
    finalize(job, reply, null, view, transcript);
  };

  // ---------------------------------------------------------------------------------------------
  // Hosts

  const hostOf = (ip: string): Host => {
    let host = hosts.get(ip);
    if (host === undefined) {
      host = {
        ip,
        queue: [],
        cap: settings.hostConcurrency,
        active: 0,
        idle: [],
        failures: 0,
        backoffUntil: 0,
        backoffTimer: null,
        unreachable: false,
        recipientLimit: DEFAULT_RECIPIENT_LIMIT,
        errorBudget: SESSION_ERROR_BUDGET,
        replies: 0,
        refusals: 0,
        oneRecipient: false,
        nextSendAt: 0,
      };
      hosts.set(ip, host);
    }
    return host;
  };

  /** Forgets a host with nothing to do and nothing learned beyond the defaults (bounded memory). */
  const dropIfIdle = (host: Host): void => {
    if (
      host.queue.length === 0 &&
      host.active === 0 &&
      host.backoffTimer === null &&
      host.failures === 0 &&
      !host.unreachable &&
      host.recipientLimit === DEFAULT_RECIPIENT_LIMIT &&
      host.errorBudget === SESSION_ERROR_BUDGET &&
      !host.oneRecipient &&
      host.cap === settings.hostConcurrency
    ) {
      hosts.delete(host.ip);
    }
  };

  const enqueue = (job: Job, front = false): void => {
    if (run.stopped || job.done) return;
    let target = job.targets[job.targetIndex];
    // A host that could not be reached is skipped while it backs off, as RFC 5321 §5.1 skips it.
    while (target !== undefined && job.targetIndex + 1 < job.targets.length) {
      const known = hosts.get(target.ip);
      if (known === undefined || !known.unreachable || known.backoffUntil <= Date.now()) break;
      job.targetIndex += 1;
      target = job.targets[job.targetIndex];
    }
    if (target === undefined) {
      giveUp(job);
      return;
    }
    if (ports.allowance.isSpent(target.ip)) {
      // The gateway's hour of refusals is used up: asking would prove nothing (no connection at all).
      endUnasked(job, target.ip);
      return;
    }
    const host = hostOf(target.ip);
    if (front) host.queue.unshift(job);
    else host.queue.push(job);
    const waiter = host.idle.shift();
    if (waiter !== undefined) waiter();
    else pump(host);
  };

  const pump = (host: Host): void => {
    if (run.stopped) return;
    const now = Date.now();
    if (host.backoffUntil > now) {
      if (host.backoffTimer === null) {
        host.backoffTimer = setTimeout(() => {
          host.backoffTimer = null;
          pump(host);
        }, host.backoffUntil - now);
      }
      return;
    }
    while (
      host.active < host.cap &&
      openSessions < settings.maxSessions &&
      host.queue.length >= (host.active === 0 ? 1 : EXTRA_SESSION_MIN_QUEUE * host.active)
    ) {
      void runSession(host);
    }
  };

  const backOff = (host: Host): void => {
    host.failures += 1;
    host.backoffUntil = Date.now() + backoffDelayMs(host.failures, settings.backoffMs, settings.maxBackoffMs);
  };

  const pace = async (host: Host, commands: number): Promise<void> => {
    if (settings.hostCommandsPerSecond <= 0) return;
    const now = performance.now();
    const at = Math.max(now, host.nextSendAt);
    host.nextSendAt = at + (commands * 1000) / settings.hostCommandsPerSecond;
    if (at > now) await sleep(at - now, undefined, { signal: stop.signal }).catch(() => undefined);
  };

  const waitForWork = (host: Host): Promise<boolean> => {
    if (host.queue.length > 0) return Promise.resolve(true);
    // Nothing more can arrive once the input is read and no address is being prepared.
    if (run.exhausted && preparing === 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        const index = host.idle.indexOf(onWork);
        if (index !== -1) host.idle.splice(index, 1);
        resolve(false);
      }, SESSION_IDLE_MS);
      const onWork = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      host.idle.push(onWork);
    });
  };

  /** Takes up to `count` addresses, keeping UTF-8 ones out when the server cannot take them. */
  const takeBatch = (host: Host, count: number): Job[] => {
    const batch: Job[] = [];
    while (batch.length < count) {
      const job = host.queue.shift();
      if (job === undefined) break;
      if (!job.done) batch.push(job);
    }
    return batch;
  };

  const requeue = (host: Host, jobs: readonly Job[], counted: boolean): void => {
    // Back at the front, in order: a pushed-back address must not wait behind the whole list again.
    for (const job of [...jobs].reverse()) {
      if (job.done) continue;
      if (counted) job.tries += 1;
      if (job.tries >= settings.hostTries) giveUp(job);
      else host.queue.unshift(job);
    }
  };

  async function runSession(host: Host): Promise<void> {
    host.active += 1;
    openSessions += 1;
    const sessionId = nextSessionId++;
    const name = host.queue[0]?.targets[host.queue[0].targetIndex]?.host ?? host.ip;
    const transcript: TranscriptEntry[] | null = settings.session.transcript ? [] : null;
    // The run's stop or an address's deadline ends the session: a signal reaches every phase, the TCP
    // connect and the TLS handshake included (a closed socket would not stop a connect in progress).
    const cut = new AbortController();
    const onStop = (): void => {
      cut.abort();
    };
    stop.signal.addEventListener('abort', onStop, { once: true });
    const session = new SmtpSession({
      ...settings.session,
      host: name,
      ip: host.ip,
      signal: cut.signal,
      transcript,
    });
    /** The RCPTs of the batch in flight, reserved in the harvest allowance. */
    let held: Reservation | null = null;
    try {
      await pace(host, 2);
      // The session is opened for the address at the front of the queue, within what is left of its
      // deadline: a tarpit, a trickled greeting or a hung STARTTLS cost it `timeoutMs`, not
      // `hostTries` × the greeting and command timeouts.
      const front = host.queue[0];
      const openedAt = performance.now();
      const openDeadline = setTimeout(
        () => {
          cut.abort();
        },
        front === undefined ? settings.timeoutMs : remainingMs(front),
      );
      const opened = await session.open();
      clearTimeout(openDeadline);
      if (run.stopped) return;
      const view: SessionView = {
        host: name,
        ip: host.ip,
        tls: session.tls !== null,
        tlsCertificateError: session.tls?.certificateError ?? null,
        banner: session.banner,
        extensions: session.extensions,
      };
      if (opened !== null) {
        onOpenFailure(host, opened, view, performance.now() - openedAt);
        return;
      }
      host.unreachable = false;
      const provider = matchProvider({ mxHost: name, banner: session.banner });
      const harvestLimit = provider?.maxInvalidRecipientsPerHour ?? null;
      if (provider?.oneRecipientPerTransaction === true) host.oneRecipient = true;
      if (provider?.maxConnections !== undefined) host.cap = Math.min(host.cap, provider.maxConnections);
      const utf8 = session.extensions.includes('SMTPUTF8');
      let transactions = 0;
      let errors = 0;
      for (;;) {
        if (isStopped()) return;
        const left = host.errorBudget - errors;
        if (left < Math.min(MIN_USEFUL_BUDGET, host.errorBudget)) break;
        const size = batchSize({
          recipientLimit: host.recipientLimit,
          oneRecipient: host.oneRecipient,
          errorBudgetLeft: left,
          // Laplace-style estimate with a pessimistic prior (2 refused of 4): small first batches.
          refusalRate: (host.refusals + 2) / (host.replies + 4),
        });
        let batch = takeBatch(host, size);
        if (batch.length === 0) {
          if (await waitForWork(host)) continue;
          break;
        }
        if (!utf8) {
          // RFC 6531 §3.4: without SMTPUTF8 a UTF-8 address cannot be sent at all.
          for (const job of batch.filter((j) => j.smtputf8)) {
            job.sessions += job.lastSession === sessionId ? 0 : 1;
            job.lastSession = sessionId;
            finalize(
              job,
              null,
              {
                kind: 'smtputf8_unsupported',
                stage: 'mail',
                message: `${name} does not advertise SMTPUTF8, needed for a UTF-8 address (RFC 6531)`,
                reply: null,
              },
              view,
              null,
            );
          }
          batch = batch.filter((j) => !j.smtputf8);
          if (batch.length === 0) continue;
        }
        // A gateway counting refused RCPTs per hour (IronPort DHAP): no more RCPTs than the hour has
        // left, each reserved until its reply is counted, whoever else (verify(), other sessions, other
        // runs) is asking the same host.
        held = ports.allowance.reserve(host.ip, harvestLimit, batch.length);
        if (held.count < batch.length) {
          host.queue.unshift(...batch.slice(held.count));
          batch = batch.slice(0, held.count);
        }
        if (batch.length === 0) {
          // What is left is reserved by RCPTs in flight: they may come back unrefused.
          if (ports.allowance.inFlight(host.ip) > 0) {
            await ports.allowance.released(host.ip, stop.signal);
            continue;
          }
          // Spent for the hour: every address waiting here gets its answer now, without an RCPT.
          for (const job of host.queue.splice(0)) endUnasked(job, host.ip);
          break;
        }
        for (const job of batch) {
          if (job.lastSession !== sessionId) job.sessions += 1;
          job.lastSession = sessionId;
          job.lastView = view;
        }
        await pace(host, batch.length + (transactions > 0 ? 2 : 1));
        if (isStopped()) return;
        const mark = transcript?.length ?? 0;
        let timedOut = false;
        // The per-address deadline (docs/library.md): the transaction ends when the address with the least time left
        // runs out of it.
        const sentAt = performance.now();
        const deadline = setTimeout(
          () => {
            timedOut = true;
            cut.abort();
          },
          Math.min(...batch.map(remainingMs)),
        );
        const outcome = await session.transaction({
          mailFrom: settings.session.mailFrom,
          recipients: batch.map((job) => job.recipient),
          smtputf8: batch.some((job) => job.smtputf8),
          reset: transactions > 0,
        });
        clearTimeout(deadline);
        transactions += 1;
        const refused = outcome.recipients.slice(0, batch.length).filter((reply) => reply.code >= 500);
        ports.allowance.record(host.ip, harvestLimit, refused.length);
        held.release();
        if (isStopped()) return;
        const lines = transcript === null ? null : transcript.slice(transactions === 1 ? 0 : mark);
        const handled = handleTransaction(host, batch, outcome, view, lines, timedOut);
        chargeTransaction(host, batch, outcome.recipients.length, performance.now() - sentAt, timedOut, view);
        errors += handled.errors;
        if (handled.progress) host.failures = 0;
        if (handled.endSession) break;
      }
    } finally {
      stop.signal.removeEventListener('abort', onStop);
      held?.release();
      if (!run.stopped) await session.quit();
      else session.close();
      // The slot is free once the server has seen the connection go: its FIN is processed on the next
      // turn of its event loop, and a new connection before that would exceed the cap as it counts.
      if (!isStopped()) await sleep(SLOT_RELEASE_MS);
      host.active -= 1;
      openSessions -= 1;
      if (!isStopped()) {
        pump(host);
        dropIfIdle(host);
        // A slot freed under the global cap: hosts kept waiting by it may start a session now.
        if (openSessions < settings.maxSessions) {
          for (const other of hosts.values()) if (other !== host && other.queue.length > 0) pump(other);
        }
      }
    }
  }

  /** Milliseconds left of `job`'s deadline (at least 1: a job with none left is finalized). */
  function remainingMs(job: Job): number {
    return Math.max(1, settings.timeoutMs - job.spentMs);
  }

  /**
   * Charges `ms` of server time to `job`; one whose deadline is spent ends now as `unknown/timeout`
   * with `failed` (taken out of its host's queue). Returns whether it ended.
   */
  function charge(host: Host, job: Job, ms: number, failed: ProbeFailure, view: SessionView | null): boolean {
    if (job.done) return true;
    job.spentMs += ms;
    if (job.spentMs < settings.timeoutMs) return false;
    const index = host.queue.indexOf(job);
    if (index !== -1) host.queue.splice(index, 1);
    const message = `no answer within the deadline of ${settings.timeoutMs} ms (${failed.message})`;
    finalize(job, null, { ...failed, kind: 'timeout', message }, view, null, true);
    return true;
  }

  /**
   * A transaction's time goes to the addresses it left without an answer. When the deadline cut it,
   * only to the address the server was stuck on (replies come in order, RFC 2920 §3): the others of
   * the batch are asked again in another session, unharmed, their try counted.
   */
  function chargeTransaction(
    host: Host,
    batch: readonly Job[],
    replies: number,
    ms: number,
    timedOut: boolean,
    view: SessionView,
  ): void {
    const failed: ProbeFailure = {
      kind: 'timeout',
      stage: replies === 0 ? 'mail' : 'rcpt',
      message: 'the transaction was cut at the deadline',
      reply: null,
    };
    // Asked again means back in the host's queue (an address waiting for its domain's catch-all reply
    // has its answer and is not).
    const waiting = (job: Job | undefined): job is Job =>
      job !== undefined && !job.done && host.queue.includes(job);
    if (timedOut) {
      const stuck = batch[replies];
      if (waiting(stuck)) charge(host, stuck, ms, failed, view);
      return;
    }
    for (const job of batch) if (waiting(job)) charge(host, job, ms, job.lastFailure ?? failed, view);
  }

  /** The session never became ready: next MX for addresses that have one, backoff, bounded tries. */
  function onOpenFailure(host: Host, failed: ProbeFailure, view: SessionView, ms: number): void {
    const unreachable =
      failed.stage === 'connect' && (failed.kind === 'connection_failed' || failed.kind === 'timeout');
    const deferred =
      failed.kind === 'reply' &&
      failed.reply !== null &&
      (isClosingReply(failed.reply) || classifyReply(failed.reply).backOff);
    if (failed.kind === 'reply' && !deferred) {
      // A definite refusal (554 at the greeting, EHLO and HELO refused): every queued address gets it,
      // as verify() would give it to each.
      for (const job of host.queue.splice(0)) finalize(job, null, failed, view, null);
      return;
    }
    if (deferred && host.active > 1) {
      // "421 Too many connections from your IP" while our other sessions work: that is the cap.
      host.cap = Math.max(1, host.active - 1);
      return;
    }
    // The time the open took is charged to every address that waited for it.
    for (const job of [...host.queue]) charge(host, job, ms, failed, unreachable ? null : view);
    host.unreachable = unreachable;
    backOff(host);
    const jobs = host.queue.splice(0);
    const stay: Job[] = [];
    for (const job of jobs) {
      job.lastFailure = failed;
      job.lastView = unreachable ? null : view;
      if ((unreachable || deferred) && job.targetIndex + 1 < job.targets.length) {
        // RFC 5321 §5.1: the next MX host, at once.
        job.targetIndex += 1;
        enqueue(job);
      } else {
        stay.push(job);
      }
    }
    requeue(host, stay, true);
  }

  /** Reads a transaction's replies into verdicts, deferrals and addresses to ask again. */
  function handleTransaction(
    host: Host,
    batch: readonly Job[],
    outcome: Awaited<ReturnType<SmtpSession['transaction']>>,
    view: SessionView,
    transcript: TranscriptEntry[] | null,
    timedOut: boolean,
  ): { errors: number; progress: boolean; endSession: boolean } {
    const failed = outcome.failure;
    if (failed !== null && failed.kind === 'reply' && (failed.stage === 'mail' || failed.stage === 'rset')) {
      const reply = failed.reply;
      if (reply !== null && isPermanentSenderBlock(reply)) {
        // A 5xx block of our sender (blocklisted IP, policy) does not lift within a run: each address
        // gets it now, as verify() gives it, and the host is left alone for a while.
        for (const job of batch) finalize(job, null, failed, view, transcript);
        backOff(host);
        return { errors: 1, progress: true, endSession: true };
      }
      if (reply !== null && (isClosingReply(reply) || classifyReply(reply).backOff)) {
        for (const job of batch) {
          job.lastFailure = failed;
          job.lastReply = reply;
        }
        requeue(host, batch, true);
        backOff(host);
        return { errors: 1, progress: false, endSession: true };
      }
      // MAIL FROM refused for good (sender policy): each address gets it, as verify() gives it.
      for (const job of batch) finalize(job, null, failed, view, transcript);
      return { errors: 1, progress: true, endSession: true };
    }
    let errors = 0;
    let progress = false;
    let endSession = failed !== null;
    let deferred = false;
    const replies = outcome.recipients;
    let answered = 0;
    for (const [index, reply] of replies.entries()) {
      const job = batch[index];
      if (job === undefined) break;
      answered = index + 1;
      if (isTooManyRecipients(reply)) {
        // The server's per-transaction limit: the rest go in the next transaction, not a verdict.
        host.recipientLimit = Math.max(1, index);
        requeue(host, batch.slice(index), false);
        answered = batch.length;
        break;
      }
      const provider = matchProvider({
        mxHost: job.targets[job.targetIndex]?.host ?? view.host,
        banner: view.banner,
      });
      const classification = classifyReply(reply, { provider });
      if (reply.code >= 400) errors += 1;
      host.replies += 1;
      if (reply.code >= 400) host.refusals += 1;
      const permanentBlock = isPermanentSenderBlock(reply);
      if (
        isClosingReply(reply) ||
        (classification.backOff && classification.reason !== 'greylisted' && !permanentBlock)
      ) {
        // Postfix `421 4.7.0 Error: too many errors`, rate limits, blocks: about us, not the address.
        job.lastReply = reply;
        job.lastFailure = null;
        requeue(host, [job], true);
        deferred = true;
        endSession = true;
        if (isClosingReply(reply) && /too many errors/i.test(reply.text)) {
          // The server told us its hard error limit; Postfix's soft limit (the sleeps) is about half
          // of it (smtpd_soft_error_limit 10, smtpd_hard_error_limit 20): stay below that from now on.
          host.errorBudget = Math.min(host.errorBudget, Math.max(1, Math.floor((errors - 1) / 2)));
        }
        continue;
      }
      // A permanent block of our sender is this address's answer (unknown/sender_blocked, as verify()
      // says at once); asking again after a backoff would only repeat it. The host still slows down.
      if (permanentBlock) deferred = true;
      progress = true;
      deliver(job, reply, view, transcript);
    }
    const unanswered = batch.slice(answered);
    if (unanswered.length > 0) {
      const why: ProbeFailure = failed ?? {
        kind: 'protocol_error',
        stage: 'rcpt',
        message: 'the session ended before every RCPT was answered',
        reply: null,
      };
      const effective: ProbeFailure = timedOut ? { ...why, kind: 'timeout' } : why;
      for (const job of unanswered) {
        job.lastFailure = effective;
        job.lastReply = null;
      }
      // A disconnect is never a verdict about the addresses that did not get their own reply.
      requeue(host, unanswered, true);
      endSession = true;
      if (!progress) deferred = true;
    }
    if (deferred) backOff(host);
    return { errors, progress, endSession };
  }

  // ---------------------------------------------------------------------------------------------
  // Stopping

  const shutdown = (): void => {
    if (run.stopped) return;
    run.stopped = true;
    stop.abort();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    for (const host of hosts.values()) {
      if (host.backoffTimer !== null) clearTimeout(host.backoffTimer);
      host.backoffTimer = null;
      for (const waiter of host.idle.splice(0)) waiter();
    }
    notify();
  };

  function abortedResult(plan: P, attempts: number, startedAt: number, checkedAt: string): VerifyResult {
    const concluded = ports.conclude(
      plan,
      {
        host: null,
        ip: null,
        port: settings.session.port,
        tls: false,
        tlsCertificateError: null,
        banner: null,
        extensions: [],
        attempts,
        replies: [],
        catchAll: null,
        failure: { kind: 'timeout', stage: 'connect', message: 'verification run.aborted', reply: null },
        transcript: null,
      },
      attempts,
      true,
    );
    return ports.finish(concluded.body, startedAt, checkedAt);
  }

  /** The caller's signal: nothing new starts, and every address in flight ends as `unknown/timeout`. */
  const onAbort = (): void => {
    run.aborted = true;
    run.exhausted = true;
    const abandoned = [...live].filter((job) => job.kind === 'address' && !job.done);
    shutdown();
    for (const job of abandoned) {
      job.done = true;
      output.push(abortedResult(job.plan as P, job.sessions, job.startedAt, job.checkedAt));
    }
    live.clear();
    notify();
  };

  if (signal?.aborted === true) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });

  try {
    readMore();
    let turnStartedAt = performance.now();
    for (;;) {
      if (performance.now() - turnStartedAt > MAX_TURN_MS) {
        await nextTurn();
        turnStartedAt = performance.now();
      }
      const next = output.shift();
      if (next !== undefined) {
        yield next;
        // Counted out only once the consumer has it: the window bounds read-but-unconsumed addresses.
        inFlight -= 1;
        readMore();
        continue;
      }
      if (run.failure !== null) throw run.failure.error;
      if (run.exhausted && !run.reading && inFlight === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    shutdown();
    if (!run.exhausted || run.reading) await iterator.return?.();
  }
}
