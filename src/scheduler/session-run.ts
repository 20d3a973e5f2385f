/**
 * One SMTP session with one MX host address, feeding it batches of the host's queued jobs: open (within
 * the deadline of the address it is opened for), then `RSET`/`MAIL FROM`/RCPT… transactions sized by the
 * host's politeness, until the queue is empty, the error budget is spent or the server pushes back.
 * What each reply means for its address is left to the run (`SessionOwner`); this class reads what a
 * reply means for the *session* and the *host*.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { readRcptReply, readSessionRefusal } from '../decide/index.js';
import { publishHostRateWait } from '../diagnostics.js';
import { isNegativeReply, isPermanentNegativeReply, isPositiveReply } from '../smtp/reply-parser.js';
import type {
  HostRateLimiter,
  ProbeFailure,
  RateGrant,
  SessionOpenOptions,
  SmtpReplyInfo,
  TranscriptEntry,
} from '../types.js';
import type { HarvestAllowance, Reservation } from './harvest-allowance.js';
import type { Host } from './host.js';
import { rateCeiling } from './host-rate.js';
import { failed as noReply, providerAt, replied, type Answer, type Job, type SessionView } from './job.js';
import {
  NO_BUDGET_AFTER,
  PER_REPLY_MS,
  SELDOM_REFUSED,
  SLOW_REPLY_MS,
  judgeReply,
} from './learned-limits.js';
import { MAX_POISONED_ASKS, readCheckReply, type AfterRefusal } from './poisoning.js';
import { loopStalls } from './loop-stall.js';
import type { SchedulerSettings } from './ports.js';
import type { ProbeSession, SessionTransactionResult } from './session-port.js';

/** Pause between a session's close and the next session on its slot (see `SessionRun.run`). */
const SLOT_RELEASE_MS = 2;
/**
 * Longest a session stays open, idle, waiting for room in its host's window of RCPTs per minute; a
 * longer wait closes it and a new one is opened when the window has room. Postfix under stress drops
 * a client idle for 10 s (`smtpd_timeout = ${stress?{10}:{300}}s`): stay well below.
 */
export const MAX_RATE_WAIT_IN_SESSION_MS = 5_000;
/**
 * Longest a session held below a guessed error budget (`Host.isHeld`) waits for the explorer's answer
 * before it ends: a proof comes within a round trip; a slowdown's answer takes a delayed reply (1 s at
 * Postfix).
 */
export const HELD_WAIT_MS = 2_000;

/** What a session needs from the run it belongs to. */
export interface SessionOwner {
  readonly settings: SchedulerSettings;
  readonly allowance: HarvestAllowance;
  /** The per-host ceiling on RCPTs per minute (`hostRate`). */
  readonly rate: HostRateLimiter;
  /** Fires when the run stops; every session listens on it. */
  readonly stopSignal: AbortSignal;
  /** A method, not a field: the run may stop during any `await` (flow analysis cannot see that). */
  isStopped(): boolean;
  /** False once the input is read and no address is being prepared: no more work can arrive. */
  readonly mayGetWork: boolean;
  /** Ends a job with its RCPT reply, or with why it has none. */
  finalize(job: Job, answer: Answer): void;
  /** A job has its RCPT reply: conclude it, or park it until its domain's catch-all reply. */
  deliver(job: Job, answer: Answer): void;
  /** Puts jobs back at the front of `host`'s queue (`counted`: the session is one of their tries). */
  requeue(host: Host, jobs: readonly Job[], counted: boolean): void;
  /** Queues a job at the host of its current target. */
  enqueue(job: Job): void;
  /**
   * A climber (`JobKind`): a random address at the domain of `like`, for the host `like` is queued
   * at; it ends with its reply, or is dropped unasked (`requeue`, `finalize`).
   */
  climber(like: Job): Job;
  /** Ends a job that the hour's allowance of refusals at `ip` does not let us ask. */
  endUnasked(job: Job, ip: string): void;
  /** Charges server time to a job; ends it as a timeout when its deadline is spent. */
  charge(host: Host, job: Job, ms: number, failed: ProbeFailure, view: SessionView | null): boolean;
  /** Milliseconds left of a job's deadline (at least 1). */
  remainingMs(job: Job): number;
  /** The session's slot is free again. */
  sessionClosed(host: Host): void;
  /** Tells what was learned of `host`'s limits to whoever shares them (scale-out workers). */
  shareLimits(host: Host): void;
  /**
   * Settles once what was told of hosts' limits so far is stored (`HostLimitsFacts.flush`): false when
   * the last of it could not be.
   */
  limitsStored(): Promise<boolean>;
}

/**
 * Addresses waiting at a host below which its explorer climbs with its own addresses, not climbers
 * (`SessionRun.#climber`): each climber is an RCPT no address needed, up to `NO_BUDGET_AFTER` of them,
 * so at most a tenth of the RCPTs of what waits.
 */
const CLIMB_MIN_QUEUED = 10 * NO_BUDGET_AFTER;

/** Why a refusal after another one of its session proves nothing (see `SessionRun.#read`). */
const POISONED: Omit<ProbeFailure, 'reply'> = {
  kind: 'protocol_error',
  stage: 'rcpt',
  message: 'refused after an earlier refusal of the session, at a host that may refuse every RCPT after one',
};

/**
 * True when `replies` show the host accepting an RCPT after refusing one for good (5xx) in the same
 * session (`refusedBefore` such refusals came before them): it does not refuse everything after an
 * unknown recipient. (A `452` or another 4xx is no unknown recipient, and proves nothing.)
 */
function answersAfterRefusal(refusedBefore: number, replies: readonly { readonly code: number }[]): boolean {
  let refused = refusedBefore;
  for (const reply of replies) {
    if (isPermanentNegativeReply(reply)) refused += 1;
    else if (isPositiveReply(reply) && refused > 0) return true;
  }
  return false;
}

/**
 * True when `job` is to be asked again, back in `host`'s queue (an address waiting for its domain's
 * catch-all reply has its answer and is not).
 */
function isWaiting(host: Host, job: Job | undefined): job is Job {
  return job !== undefined && !job.done && host.has(job);
}

/** Why a transaction cut at the deadline after `replies` replies left an address without its own. */
/**
 * How a session that failed to connect is read (docs/proxies.md, "When the proxy fails"): `route` when
 * the way out is not working (the proxy cannot be reached, is no SOCKS5 server, refuses our credentials:
 * its pool has already tried each member it has, so asking again per MX address and address would only
 * repeat that, 2 + 4 + 8 s of backoff later); `refused` when the proxy's ruleset refused this MX
 * address; `unreachable` when no connection reached it (directly, or the proxy could not reach it: the
 * next MX host, RFC 5321 §5.1); `null` for anything else.
 */
function connectFailure(failed: ProbeFailure): 'route' | 'refused' | 'unreachable' | null {
  if (failed.stage !== 'connect') return null;
  switch (failed.kind) {
    case 'proxy_unreachable':
    case 'proxy_auth_failed':
      return 'route';
    case 'proxy_refused':
      return 'refused';
    case 'connection_failed':
    case 'timeout':
    case 'proxy_target_unreachable':
      return 'unreachable';
    default:
      return null;
  }
}

function cutAtDeadline(replies: number): ProbeFailure {
  return {
    kind: 'timeout',
    stage: replies === 0 ? 'mail' : 'rcpt',
    message: 'the transaction was cut at the deadline',
    reply: null,
  };
}

/** How long a transaction took, and how much of it our own event loop was stalled (while exploring). */
interface RoundTrip {
  readonly ms: number;
  readonly stalledMs: number;
}

/** What a transaction's replies did to the session. */
interface TransactionEffect {
  readonly errors: number;
  /** RCPTs accepted (2xx). */
  readonly accepted: number;
  readonly progress: boolean;
  readonly endSession: boolean;
  /** The batch's last reply was a refusal (it came after every refusal of the batch but its own). */
  readonly lastRefused: boolean;
  /**
   * Addresses refused after another refusal of the session at a host that may refuse everything after
   * one (poisoning.ts), with the answer each had (`null`: none, at a host known to poison).
   */
  readonly suspects: readonly Suspect[];
}

/** An address whose refusal may be the host's poisoning, and the answer it had. */
interface Suspect {
  readonly job: Job;
  readonly answer: Answer | null;
}

export class SessionRun {
  readonly #owner: SessionOwner;
  readonly #host: Host;
  readonly #id: number;
  /** The host name sessions are opened with (the front job's MX name). */
  readonly #name: string;
  readonly #transcript: TranscriptEntry[] | null;
  /**
   * The run's stop or an address's deadline ends the session: a signal reaches every phase, the TCP
   * connect and the TLS handshake included (a closed socket would not stop a connect in progress).
   */
  readonly #cut = new AbortController();
  readonly #session: ProbeSession;
  /** The RCPTs of the batch in flight, reserved in the harvest allowance. */
  #held: Reservation | null = null;
  /** The RCPTs of the batch in flight, granted in the host's window of RCPTs per minute. */
  #granted: RateGrant | null = null;
  /**
   * Of `#granted`, the RCPT kept for the check (`#check`), granted with the batch so that the
   * check never waits for room in a window the batch filled; 0 when none was kept.
   */
  #spare = 0;
  /** RCPTs of `#granted` sent so far, while it stays open for its spare. */
  #grantSent = 0;
  /**
   * Refusals of this session kept aside until the host is known to answer after a refusal or not
   * (poisoning.ts): a later batch of the session that has an RCPT accepted after a refusal proves it,
   * else one check RCPT tells before the session ends (`#askCheck`).
   */
  #suspects: Suspect[] = [];
  /** The check RCPT was asked (or waited for) in this session: not again. */
  #checked = false;
  #transactions = 0;
  /** Refused commands in this session so far (against the host's error budget). */
  #errors = 0;
  /** RCPTs refused for good (5xx) in this session so far: a catch-all probe after one may be poisoned. */
  #refusedRcpts = 0;
  /** Recipients accepted in the transaction open now (against the host's recipient limit). */
  #openRecipients = 0;
  /**
   * A transaction is open: its MAIL FROM was accepted, and refused RCPTs do not end it (RFC 5321
   * §3.3), so more RCPTs may join it without RSET and MAIL FROM, which past a soft error limit would be
   * delayed replies of their own.
   */
  #transactionOpen = false;
  /** Recipients already in the transaction when the RCPTs being read were sent (`more`). */
  #openBefore = 0;
  /** The session's quickest transaction, in milliseconds: its round trip, against which slowness shows. */
  #fastestMs = Infinity;
  /** The host held the last transaction's replies back (a rate limit): the session ends after it. */
  #heldBack = false;
  /** The last transaction's timing, from its commands sent to its replies read. */
  #lastTiming: RoundTrip | null = null;
  /** `performance.now()` when the session became ready (greeted, EHLO answered). */
  #readySince = Infinity;
  /** How long the session took to open (at least two round trips): its first batch is judged by it. */
  #openMs = Infinity;
  /** The last transaction's last reply was a refusal (`TransactionEffect.lastRefused`). */
  #lastRefused = false;
  /** The batch in flight is sized to owe at most one reply past any limit (`Host.shallowBatch`). */
  #shallow = false;
  /** The session goes past the host's error budget, a shallow batch a round trip (`#explore`). */
  #pastBudget = false;
  /** Until when the session may wait for a guessed budget's explorer (`#hold`), once it began to. */
  #heldUntil = Infinity;
  /**
   * The explorer's last transaction was cut at a reply that came late after a refusal no reply had
   * proven yet (`#cutAtLate`): the session's refusals before that reply, and whether the reply came
   * right after one of them; `null` when it was not cut.
   */
  #cutLate: { readonly refusals: number; readonly afterRefusal: boolean } | null = null;

  constructor(owner: SessionOwner, host: Host, id: number) {
    this.#owner = owner;
    this.#host = host;
    this.#id = id;
    const front = host.front;
    this.#name = front?.target?.host ?? host.ip;
    const session = owner.settings.session;
    this.#transcript = session.transcript ? [] : null;
    // Written out, the same fields in the same order as `{ ...session, …, transcript }` gave (a caller's
    // factory may read them): a spread whose copied `transcript` (a boolean) was set again to a list or
    // null generalized a hidden class at every session (`node --trace-generalization`).
    const options: SessionOpenOptions & { readonly mailFrom: string } = {
      port: session.port,
      helo: session.helo,
      mailFrom: session.mailFrom,
      localAddress: session.localAddress,
      connectTimeoutMs: session.connectTimeoutMs,
      greetingTimeoutMs: session.greetingTimeoutMs,
      commandTimeoutMs: session.commandTimeoutMs,
      startTls: session.startTls,
      transcript: this.#transcript,
      host: this.#name,
      ip: host.ip,
      connector: host.via,
      signal: this.#cut.signal,
    };
    this.#session = owner.settings.openSession(options);
  }

  readonly #onStop = (): void => {
    this.#cut.abort();
  };

  /** Runs the session to its end; the caller has counted it in `host.active` already. */
  async run(): Promise<void> {
    const owner = this.#owner;
    owner.stopSignal.addEventListener('abort', this.#onStop, { once: true });
    try {
      const view = await this.#open();
      if (view !== null) await this.#feed(view);
    } finally {
      owner.stopSignal.removeEventListener('abort', this.#onStop);
      // Kept aside and never settled (the session ended on a penalty, a failure): asked again.
      if (this.#suspects.length > 0 && !owner.isStopped()) this.#settleSuspects(this.#known() ?? 'unknown');
      this.#held?.release();
      // Sent or not, they may have reached the server: counted as sent.
      this.#granted?.settle(this.#granted.count);
      // Cut when the run was stopped before its end; a run that completed lets its sessions QUIT.
      if (!owner.stopSignal.aborted) await this.#session.quit();
      else this.#session.close();
      // The slot is free once the server has seen the connection go: its FIN is processed on the next
      // turn of its event loop, and a new connection before that would exceed the cap as it counts.
      if (!owner.isStopped()) await sleep(SLOT_RELEASE_MS);
      owner.sessionClosed(this.#host);
    }
  }

  /**
   * Opens the session for the address at the front of the queue, within what is left of its deadline:
   * a tarpit, a trickled greeting or a hung STARTTLS cost it `timeoutMs`, not `hostTries` × the
   * greeting and command timeouts. Returns the session's view when ready, `null` when not.
   */
  async #open(): Promise<SessionView | null> {
    const owner = this.#owner;
    const host = this.#host;
    await host.pace(2, owner.stopSignal);
    const front = host.front;
    const openedAt = performance.now();
    const openDeadline = setTimeout(
      () => {
        this.#cut.abort();
      },
      front === undefined ? owner.settings.timeoutMs : owner.remainingMs(front),
    );
    const opened = await this.#session.open();
    clearTimeout(openDeadline);
    if (owner.isStopped()) return null;
    const session = this.#session;
    const view: SessionView = {
      host: this.#name,
      ip: host.ip,
      proxy: session.proxy ?? null,
      tls: session.tls !== null,
      tlsCertificateError: session.tls?.certificateError ?? null,
      banner: session.banner,
      extensions: session.extensions,
      providers: new Map(),
    };
    if (opened !== null) {
      this.#onOpenFailure(opened, view, performance.now() - openedAt);
      return null;
    }
    host.unreachable = false;
    this.#readySince = performance.now();
    this.#openMs = this.#readySince - openedAt;
    return view;
  }

  /**
   * Transactions until the queue is empty, the budget is spent or the server ends the session. The
   * host's catch-all probes go in the session's last transaction, after every address it asks; where
   * the host's error budget is not known, the session may first go on past it one RCPT at a time, to
   * learn it (`LearnedLimits`).
   */
  async #feed(view: SessionView): Promise<void> {
    const owner = this.#owner;
    const host = this.#host;
    const learned = host.learned;
    const provider = providerAt(view, this.#name);
    const harvestLimit = provider?.maxInvalidRecipientsPerHour ?? null;
    host.applyProvider(provider);
    learned.greeted(view.banner);
    const utf8 = view.extensions.includes('SMTPUTF8');
    const id = this.#id;
    try {
      for (;;) {
        owner.shareLimits(host);
        if (owner.isStopped()) return;
        // Nothing known of the host but the cautious guess: one session at a time may use it.
        if (learned.guessing && !this.#pastBudget && !host.poisons) learned.startExploring(id);
        const probes = host.probesQueued;
        // A session held below a guessed budget keeps none of it for the probes and never ends early to
        // send them: the explorer, with the whole guess, sends them (most are refused).
        const capped = host.isCapped(id);
        // The explorer asks addresses first while its reach still grows, or while it sends the probes
        // one a batch (`#climb`): a probe goes last and ends the session, which would end with what
        // little it had proven (its last refusal unproven), so would the next one (a host serving many
        // domains, whose probes wait from the start, stayed at the guess for a third of a run, a
        // session after another ending there). Elsewhere probes are not held back: the addresses of
        // their domains wait for them.
        const later =
          host.addressesQueued > 0 &&
          (host.isReaching(id) || (host.answersAfterRefusal && learned.isExploring(id)));
        const flushProbes = !capped && !later && host.probesDueIn(this.#readySince) === 0;
        const reserve = capped || later ? 0 : Math.min(probes, host.budgetLeft(this.#errors, id));
        if (!this.#pastBudget && !flushProbes && host.hasUsefulBudget(this.#errors + reserve, id)) {
          // Until the host is known to answer after a refusal (or not to), one refusal of the budget is
          // kept for the check RCPT that tells (`#askCheck`), where the budget has room.
          const check = host.answersAfterRefusal || host.poisons ? 0 : 1;
          let size =
            host.batchSize(this.#errors, reserve + check, id) || host.batchSize(this.#errors, reserve, id);
          // After a refusal no reply has proven yet, the explorer's next batch proves it first: were it
          // the host's limit, every command after it is owed a delayed reply (a batch sized by the
          // step past the proof owed 3 at a soft limit of 3).
          const shallow = this.#lastRefused && learned.guessing && learned.isExploring(id);
          if (shallow) size = Math.min(size, Math.max(1, host.shallowBatch(this.#errors) - check));
          const climb = this.#climb();
          this.#shallow = shallow || climb !== null;
          const batch = climb ?? host.take(size);
          if (batch.length === 0) {
            // Probes due are the explorer's to send: a capped session waits for it (or to become it).
            const probesOnly = capped && host.probesDueIn(this.#readySince) === 0;
            if (probesOnly ? await this.#hold() : await host.waitForWork(owner.mayGetWork, this.#readySince))
              continue;
            if (await this.#resolveSuspects(view, harvestLimit)) await this.#last(view, harvestLimit, utf8);
            return;
          }
          const effect = await this.#ask(batch, view, harvestLimit, utf8, this.#continues(batch.length));
          if (effect === 'end') return;
          continue;
        }
        // Held below a guessed budget while another session explores it: its answer (a proof, a
        // penalty) comes within a round trip or two, and is cheaper to wait for than a new session.
        if (
          !flushProbes &&
          host.queued > 0 &&
          host.isHeld(this.#errors + reserve, id) &&
          (await this.#hold())
        )
          continue;
        // The budget is about spent (or probes wait): learn how far it goes, a shallow batch a round
        // trip, where nothing fixes it yet; else the last transaction, with the probes.
        if (
          !flushProbes &&
          // Past a first refusal at a host that poisons, nothing has an answer to learn from.
          !host.poisons &&
          this.#openRecipients < host.transactionLimit &&
          (learned.isExploring(id) || learned.startExploring(id))
        ) {
          this.#pastBudget = true;
          if (host.addressesQueued === 0) {
            if (await host.waitForWork(owner.mayGetWork, this.#readySince)) continue;
          } else {
            const effect = await this.#explore(view, harvestLimit, utf8);
            if (effect === 'end') return;
            continue;
          }
        }
        // The last transaction of a guessed budget's explorer is sent with the whole guess (and its
        // timing judged); any other explorer lets another session go on exploring meanwhile.
        if (!learned.guessing) learned.stopExploring(id);
        host.limitsMayHaveChanged();
        if ((await this.#resolveSuspects(view, harvestLimit)) && (await this.#last(view, harvestLimit, utf8)))
          continue;
        return;
      }
    } finally {
      learned.explored(id);
      learned.stopExploring(id);
      host.limitsMayHaveChanged();
      owner.shareLimits(host);
    }
  }

  /**
   * Waits for what the explorer learns of a guessed budget (a proof, a penalty, its session's end),
   * `HELD_WAIT_MS` at most over the session's life; true when woken in time.
   */
  async #hold(): Promise<boolean> {
    const now = performance.now();
    if (this.#heldUntil === Infinity) this.#heldUntil = now + HELD_WAIT_MS;
    const left = this.#heldUntil - now;
    return left > 0 && (await this.#host.waitForLimits(left, this.#owner.stopSignal));
  }

  /**
   * The session's last transaction(s): the addresses the budget still allows and the host's catch-all
   * probes after them, then no more (some hosts refuse everything after an unknown recipient; a
   * random address asked last costs no real address its answer). True when the session may go on
   * after all: at a host that has refused nothing in the run (an accept-all provider), a session
   * without a refusal sends its probes without QUIT, and goes on once they too were accepted, where
   * each probe ended a session (bench:bulk's yahoodns: 22 connections for its 20 domains).
   */
  async #last(view: SessionView, harvestLimit: number | null, utf8: boolean): Promise<boolean> {
    const host = this.#host;
    this.#shallow = false;
    let goOn = false;
    for (;;) {
      if (this.#owner.isStopped()) return false;
      const left = Math.min(host.budgetLeft(this.#errors, this.#id), host.reachLeft(this.#errors, this.#id));
      if (left <= 0 || host.probesQueued === 0) return goOn;
      // Until the host is seen to accept after a refusal, only the first refused probe of a session
      // is believed (it may refuse everything after one): one probe, after the addresses (whose
      // replies may prove the host meanwhile), and the session ends.
      const most = host.answersAfterRefusal ? Math.min(left, host.transactionLimit) : 1;
      const probes = host.takeProbes(most);
      if (probes.length === 0) return goOn;
      const room = host.transactionLimit - probes.length;
      const addresses =
        room > 0 ? host.take(Math.min(room, host.batchSize(this.#errors, probes.length, this.#id))) : [];
      // Likely accepted (nothing refused yet in the run), the probes spoil nothing: the session may go on.
      goOn = this.#errors === 0 && host.refusedNothing;
      // Nothing follows the last probes: QUIT goes with them, and the slot is free a round trip sooner.
      const quit = !goOn && (host.probesQueued === 0 || !host.answersAfterRefusal);
      const jobs = [...addresses, ...probes];
      const effect = await this.#ask(jobs, view, harvestLimit, utf8, this.#continues(jobs.length), quit);
      if (effect === 'end' || quit || this.#errors > 0) return false;
    }
  }

  /**
   * The explorer's next batch where a catch-all probe waits at a host known to answer after a refusal
   * (so a probe's refusal spoils nothing after it): as many commands as leave at most one after
   * whichever refusal is the host's limit (`Host.shallowBatch`), the probe last; `null` otherwise. A
   * probe is a random address, refused at most domains: each batch draws a refusal that the next one
   * proves, so a host serving many domains is learned in about a round trip a refusal, where its
   * addresses, most of them accepted, drew one every four or five (hosting5 of bench:bulk, whose
   * budget of 9 went unproven for a third of the run, its other session held to one refusal); and its
   * probes are answered as they come, not held for a session's end.
   */
  #climb(): Job[] | null {
    const host = this.#host;
    if (!host.answersAfterRefusal || host.probesQueued === 0 || !host.learned.isExploring(this.#id))
      return null;
    const room = host.transactionLimit - (this.#transactionOpen ? this.#openRecipients : 0);
    const addresses = host.take(Math.min(room, host.shallowBatch(this.#errors)) - 1);
    return [...addresses, ...host.takeProbes(1)];
  }

  /**
   * Past the guess, where no catch-all probe waits (a host of one big domain), the explorer's shallow
   * batch ends with a climber, a random address as a probe is: refused at almost any domain, it draws a
   * refusal each round trip, which the next one proves (or finds to be the limit, a command at most
   * after it). The host's own addresses, most of them accepted, drew one every four or five round trips
   * two RCPTs at a time: bench:bulk's big2, big4 and big5 took 38-48 round trips from 9 refusals to the
   * 24 that tell a host without a budget, where their other session carried 7-9 addresses a round
   * trip. Only at a host known to answer after a refusal (nothing after it is spoiled) and not
   * counting refusals against a harvest allowance. `null` otherwise.
   */
  #climber(size: number, harvestLimit: number | null): Job[] | null {
    const host = this.#host;
    const like = host.front;
    if (!host.answersAfterRefusal || harvestLimit !== null || like === undefined) return null;
    // What it learns pays back over a long list only: a climb of 24 costs as many RCPTs.
    if (host.addressesQueued < CLIMB_MIN_QUEUED) return null;
    const addresses = host.take(size - 1);
    return [...addresses, this.#owner.climber(like)];
  }

  /** Jobs back at the front of the host's queue, a climber dropped (it is never asked again). */
  #putBack(jobs: readonly Job[]): void {
    const back: Job[] = [];
    for (const job of jobs) {
      if (job.kind === 'climb') this.#owner.requeue(this.#host, [job], false);
      else back.push(job);
    }
    this.#host.putBack(back);
  }

  /**
   * True when the next `count` RCPTs join the transaction open now rather than start one: while the
   * session explores a guessed budget and its last batch ended with a refusal (not proven safe: no reply
   * came after it), as long as the host's recipient limit has room. Were that refusal the host's limit,
   * a `RSET` and a `MAIL FROM` would be two more delayed replies.
   */
  #continues(count: number): boolean {
    return (
      this.#lastRefused &&
      this.#transactionOpen &&
      !this.#pastBudget &&
      this.#host.learned.guessing &&
      this.#host.learned.isExploring(this.#id) &&
      this.#openRecipients + count <= this.#host.transactionLimit
    );
  }

  /**
   * RCPTs added to the open transaction past the error budget as known so far, as many as leave at
   * most one command after whichever refusal is the host's limit (`Host.shallowBatch`: two after a
   * reply that proved the session's refusals, one after a refusal no reply has proven yet, more
   * where another session proved more). A reply on time proves the refusals before it; a reply
   * `SLOW_REPLY_MS` late by the server's doing means the host slows down from there (its budget is
   * one less), and the session ends at once (a reply before the batch's last is read as it comes,
   * and the batch cut at it: `#cutAtLate`). A reply that looks late only because our own event loop was
   * stalled meanwhile (`judgeReply`) proves nothing: the session ends too (were the host slowing
   * down, its next reply would be late again), and a later session asks again.
   */
  async #explore(view: SessionView, harvestLimit: number | null, utf8: boolean): Promise<'end' | 'more'> {
    const host = this.#host;
    const learned = host.learned;
    const check = host.answersAfterRefusal || host.poisons ? 0 : 1;
    const room = host.transactionLimit - this.#openRecipients;
    const size = Math.min(room, Math.max(1, host.shallowBatch(this.#errors) - check));
    const batch = this.#climb() ?? this.#climber(size, harvestLimit) ?? host.take(size);
    if (batch.length === 0) return 'more';
    this.#lastTiming = null;
    const effect = await this.#ask(batch, view, harvestLimit, utf8, this.#transactionOpen);
    const timing = this.#lastTiming as RoundTrip | null;
    if (effect === 'skipped' || timing === null) return effect === 'end' ? 'end' : 'more';
    // Cut at a late reply right after a refusal: the budget is fixed by it already (`#ask`).
    if (this.#cutLate !== null) return 'end';
    switch (judgeReply(timing.ms - PER_REPLY_MS * (batch.length - 1), this.#fastestMs, timing.stalledMs)) {
      case 'late':
        // Late at its last reply (the cut reads every other one as it comes: an earlier one late after
        // a refusal would have cut it): the refusals before that reply are the limit. Taking those
        // before the batch fixed the budget one too low at a soft limit of 12 (10, not 11).
        learned.slowedAfter(this.#errors - (this.#lastRefused ? 1 : 0));
        host.limitsMayHaveChanged();
        return 'end';
      case 'inconclusive':
        return 'end';
      default:
        // Every reply on time: the refusals before the last one are proven (the last, if refused,
        // by the next batch).
        learned.survived(this.#errors - (this.#lastRefused ? 1 : 0));
        host.limitsMayHaveChanged();
        return effect;
    }
  }

  /**
   * Sends `batch` (addresses without SMTPUTF8 support filtered out, within the harvest allowance) as a
   * transaction, or as more RCPTs of the open one; `end` when the session should end.
   */
  async #ask(
    jobs: readonly Job[],
    view: SessionView,
    harvestLimit: number | null,
    utf8: boolean,
    more: boolean,
    quit = false,
  ): Promise<'end' | 'more' | 'skipped'> {
    const owner = this.#owner;
    const host = this.#host;
    let batch = utf8 ? [...jobs] : this.#refuseUtf8(jobs, view);
    if (batch.length === 0) return 'skipped';
    const ceiling = rateCeiling(owner.settings.hostRate, providerAt(view, this.#name));
    if (ceiling !== null) {
      // Until the host is known to answer after a refusal (or not to), a batch may need the check RCPT
      // that tells: granted with it.
      const spare = this.#known() === null ? 1 : 0;
      const granted = await this.#withinRate(batch, ceiling, spare);
      if (granted === null || owner.isStopped()) return 'end';
      if (granted.length === 0) return 'skipped';
      batch = granted;
    }
    // A gateway counting refused RCPTs per hour (IronPort DHAP): no more RCPTs than the hour has
    // left, each reserved until its reply is counted, whoever else (verify(), other sessions, other
    // runs) is asking the same host.
    const held = owner.allowance.reserve(host.ip, harvestLimit, batch.length);
    this.#held = held;
    if (held.count < batch.length) {
      this.#putBack(batch.slice(held.count));
      batch = batch.slice(0, held.count);
    }
    if (batch.length === 0) {
      this.#settleGrant();
      // What is left is reserved by RCPTs in flight: they may come back unrefused.
      if (owner.allowance.inFlight(host.ip) > 0) {
        await owner.allowance.released(host.ip, owner.stopSignal);
        return 'skipped';
      }
      // Spent for the hour: every address waiting here gets its answer now, without an RCPT.
      for (const job of host.takeAll()) owner.endUnasked(job, host.ip);
      return 'end';
    }
    const startedAt = performance.now();
    this.#lastTiming = null;
    const effect = await this.#send(batch, view, harvestLimit, held, more, quit);
    if (effect === null) return 'end';
    const ms = performance.now() - startedAt;
    const usualMs = Math.min(this.#fastestMs, this.#openMs);
    const slow = ms - this.#fastestMs >= SLOW_REPLY_MS;
    this.#fastestMs = Math.min(this.#fastestMs, ms);
    const errorsBefore = this.#errors;
    this.#errors += effect.errors;
    // The session's last refusal before this batch had no reply after it: unproven until this one.
    const unprovenBefore = this.#lastRefused;
    this.#lastRefused = effect.lastRefused;
    // A batch past the budget is judged by `#explore`; any other, late after refusals, ends the session.
    const judged = !more || !this.#pastBudget;
    const cut = this.#cutLate;
    if (cut !== null) {
      // Each reply before the late one came on time: right after a refusal, that refusal is the
      // host's limit (as one RCPT a round trip past the budget finds it); else what was proven stands.
      if (cut.afterRefusal) host.learned.slowedAfter(cut.refusals);
      else host.learned.slowedWhileGuessing();
      host.limitsMayHaveChanged();
    } else if (!this.#pastBudget && host.learned.guessing)
      this.#judgeGuess(batch.length, usualMs, errorsBefore > 0 && unprovenBefore, effect, errorsBefore);
    this.#openRecipients = (more ? this.#openRecipients : 0) + effect.accepted;
    if (effect.progress) host.recovered();
    this.#suspects.push(...effect.suspects);
    // At a host taken to poison that has since accepted an address, a refusal is a chance to prove it.
    const mayProve = this.#refusedRcpts > 0 && this.#host.mayProveAnswers && !this.#checked;
    if (this.#suspects.length > 0 || mayProve) {
      // Refused after a refusal at a host that may refuse all after one. Most hosts prove themselves
      // in their next mixed batch, so the check waits while the session goes on with addresses to ask
      // and budget for them and the check; else the check RCPT tells now, in the transaction still
      // open (not after QUIT, nor in a session that is ending: then they are asked again).
      const ending = effect.endSession || this.#heldBack || quit || (slow && this.#errors > 0 && judged);
      const known = this.#known();
      const later =
        known === null &&
        !ending &&
        host.addressesQueued > 0 &&
        host.hasUsefulBudget(this.#errors + 1, this.#id);
      if (!later) {
        const after = known ?? (ending ? 'unknown' : await this.#askCheck(view, harvestLimit));
        this.#settleSuspects(after);
        if (after !== 'answers') {
          this.#settleGrant();
          return 'end';
        }
      }
    }
    // The spare not needed: the batch's RCPTs count from now.
    this.#settleGrant();
    if (effect.endSession || this.#heldBack) return 'end';
    this.#transactionOpen = true;
    // A transaction far slower than the session's quickest: the host may be slowing us down (a soft
    // error limit, a tarpit). A fresh session costs less than seconds per reply.
    if (slow && this.#errors > 0 && judged) return 'end';
    return 'more';
  }

  /**
   * Reads each reply of the explorer's batch as it comes (`SessionTransaction.cutAt`): the first that
   * comes late (as `#judgeGuess` judges a batch, against the session's usual round trip, a few
   * milliseconds a reply and our own stalls allowed) after a refusal no reply had proven yet (one of
   * the batch's, or the last batch's final one) cuts the transaction there. Past a soft error limit
   * every reply is as late (Postfix sleeps before each), so waiting for the rest of the batch would
   * cost a delayed reply each; what they would have said is asked again in another session. `undefined`
   * where the batch is not `armed` (not the explorer's, or past the budget one RCPT at a time).
   */
  #cutAtLate(sentAt: number, armed: boolean): ((code: number) => boolean) | undefined {
    this.#cutLate = null;
    if (!armed) return undefined;
    const usualMs = Math.min(this.#fastestMs, this.#openMs);
    let refusals = this.#errors;
    // A refusal before the next reply that no reply on time has proven yet.
    let unproven = this.#lastRefused && refusals > 0;
    let afterRefusal = unproven;
    let read = 0;
    return (code: number): boolean => {
      read += 1;
      if (unproven) {
        const now = performance.now();
        const timing = judgeReply(
          now - sentAt - PER_REPLY_MS * read,
          usualMs,
          loopStalls.stalledSince(sentAt, now),
        );
        if (timing === 'late') {
          this.#cutLate = { refusals, afterRefusal };
          return true;
        }
        // On time, it proves what came before it; inconclusive, the batch is judged whole.
        if (timing === 'on_time') unproven = false;
      }
      afterRefusal = isNegativeReply({ code });
      if (afterRefusal) {
        refusals += 1;
        unproven = true;
      }
      return false;
    };
  }

  /**
   * While the host's error budget is only the guess, a batch's timing tells about it: on time (a few
   * milliseconds a reply allowed, our own stalls taken off, against the session's quickest round trip
   * or, for its first batch, its opening), its last reply after the session's refusals but its own
   * proves them safe; late after drawing refusals (or after the last batch's final refusal, which no
   * reply had yet proven), the host's limit is below the guess.
   */
  #judgeGuess(
    replies: number,
    usualMs: number,
    unprovenBefore: boolean,
    effect: TransactionEffect,
    errorsBefore: number,
  ): void {
    const timing = this.#lastTiming;
    if (timing === null) return;
    const learned = this.#host.learned;
    switch (judgeReply(timing.ms - PER_REPLY_MS * replies, usualMs, timing.stalledMs)) {
      case 'on_time':
        // A shallow batch (`#shallow`) proves without growing the explorer's step: the step is what a
        // batch sized by it may draw, and growing it a refusal at a time made the next such batch
        // 5 RCPTs deep at a soft limit of 5 (3 replies owed).
        learned.provedByBatch(
          this.#errors - (effect.lastRefused ? 1 : 0),
          this.#shallow ? null : this.#id,
          effect.errors === 0 && this.#host.refusalRate < SELDOM_REFUSED,
        );
        break;
      case 'late':
        // After refusals of its own, or a refusal the last batch ended with (no reply after it yet).
        if (this.#errors > errorsBefore || unprovenBefore) learned.slowedWhileGuessing();
        break;
      default:
        return;
    }
    this.#host.limitsMayHaveChanged();
  }

  /**
   * One check RCPT added to the open transaction after the session's refusals: an address the host
   * accepted in this run where there is one (asked again, it is accepted by a host that answers after
   * a refusal), else `postmaster` at the first suspect's domain (RFC 5321 §4.5.1: a server that
   * delivers mail accepts it). Accepted, the host answers after a refusal; refused, it poisons. Within
   * the session's error budget, the host's RCPTs per minute and the harvest allowance like any RCPT;
   * `unknown` when none of them has room now, or when no reply came (the session then ends).
   */
  async #askCheck(view: SessionView, harvestLimit: number | null): Promise<AfterRefusal> {
    const host = this.#host;
    this.#checked = true;
    // Another session is asking already: its answer is the host's (one RCPT, not one per session).
    if (host.afterRefusalCheck !== null) return host.afterRefusalCheck;
    const check = this.#check(view, harvestLimit);
    host.afterRefusalCheck = check;
    try {
      return await check;
    } finally {
      host.afterRefusalCheck = null;
    }
  }

  /** The check RCPT itself (`#askCheck`). */
  async #check(view: SessionView, harvestLimit: number | null): Promise<AfterRefusal> {
    const owner = this.#owner;
    const host = this.#host;
    const first = this.#suspects[0]?.job;
    const accepted = host.acceptedRecipient;
    if ((first === undefined && accepted === null) || !host.hasRoomForCheck(this.#errors, this.#id))
      return 'unknown';
    const ceiling = rateCeiling(owner.settings.hostRate, providerAt(view, this.#name));
    // Under a ceiling: the RCPT kept with the batch's grant (`#withinRate`), else one of its own.
    const own = ceiling === null || this.#spare > 0 ? null : await this.#checkGrant(ceiling);
    if (ceiling !== null && this.#spare < 1 && own === null) return 'unknown';
    const held = owner.allowance.reserve(host.ip, harvestLimit, 1);
    if (held.count < 1 || owner.isStopped()) {
      own?.settle(0);
      held.release();
      return 'unknown';
    }
    // At the deadline the session is cut, and the transaction ends without a reply (`code` null).
    const deadline = setTimeout(
      () => {
        this.#cut.abort();
      },
      first === undefined ? owner.settings.timeoutMs : owner.remainingMs(first),
    );
    let code: number | null = null;
    try {
      await host.pace(1, owner.stopSignal);
      const outcome = await this.#session.transaction({
        mailFrom: owner.settings.session.mailFrom,
        recipients: [host.checkRecipient(first?.recipient ?? '')],
        smtputf8: accepted === null && first?.smtputf8 === true,
        reset: false,
        more: true,
        quit: false,
      });
      code = outcome.failure === null ? (outcome.recipients[0]?.code ?? null) : null;
    } finally {
      clearTimeout(deadline);
      // Sent or not, it may have reached the server: counted (with the batch, under its spare).
      if (own !== null) own.settle(1);
      else if (ceiling !== null) this.#settleGrant(1);
      owner.allowance.record(
        host.ip,
        harvestLimit,
        code !== null && isPermanentNegativeReply({ code }) ? 1 : 0,
      );
      held.release();
    }
    if (code === null) return 'unknown';
    if (isNegativeReply({ code })) this.#errors += 1;
    if (isPermanentNegativeReply({ code })) this.#refusedRcpts += 1;
    if (isPositiveReply({ code })) this.#openRecipients += 1;
    const after = readCheckReply(code);
    // An address it accepted, refused after a refusal: no longer only `postmaster`'s word (when this
    // run saw it accepted: `Host.checkRefused`).
    if (after === 'poisons' && accepted !== null) host.checkRefused(accepted);
    return after;
  }

  /**
   * A grant of one RCPT for the check under `ceiling`, waiting for room as a batch does (up to
   * `MAX_RATE_WAIT_IN_SESSION_MS`, the transaction kept open); `null` when none comes in that time.
   */
  async #checkGrant(ceiling: number): Promise<RateGrant | null> {
    const owner = this.#owner;
    const grant = await owner.rate.reserve(this.#host.ip, ceiling, 1);
    if (grant.count > 0) return grant;
    if (grant.waitMs > MAX_RATE_WAIT_IN_SESSION_MS) return null;
    await sleep(grant.waitMs, undefined, { signal: owner.stopSignal }).catch(() => undefined);
    if (owner.isStopped()) return null;
    const again = await owner.rate.reserve(this.#host.ip, ceiling, 1);
    if (again.count > 0) return again;
    return null;
  }

  /**
   * What the host is known to do after a refusal, `null` while unknown, or while it is taken to poison
   * on `postmaster`'s word alone and an address it accepted could say otherwise, not yet asked in
   * this session (`Host.mayProveAnswers`).
   */
  #known(): 'answers' | 'poisons' | null {
    const host = this.#host;
    if (host.answersAfterRefusal) return 'answers';
    if (!host.poisons) return null;
    return host.mayProveAnswers && !this.#checked ? null : 'poisons';
  }

  /**
   * Before the session's last transaction: refusals kept aside are settled, by what the host is known
   * to do after a refusal or else by the check RCPT, asked now. False when the session should end.
   */
  async #resolveSuspects(view: SessionView, harvestLimit: number | null): Promise<boolean> {
    if (this.#suspects.length === 0) return true;
    const after = this.#known() ?? (await this.#askCheck(view, harvestLimit));
    this.#settleSuspects(after);
    return after === 'answers';
  }

  /**
   * What the check said settles the suspects: the host answers after a refusal, so each keeps the
   * answer it had; else each is asked again at the front of the queue, first in a later session, where
   * nothing comes before it to spoil it (not counted as a try: every session answers its first RCPT
   * truly), and ends unanswered after `MAX_POISONED_ASKS`.
   */
  #settleSuspects(after: AfterRefusal): void {
    const owner = this.#owner;
    const host = this.#host;
    const suspects = this.#suspects;
    this.#suspects = [];
    if (after !== 'unknown') {
      host.learned.sawAfterRefusal(after);
      owner.shareLimits(host);
    }
    const again: Job[] = [];
    for (const { job, answer } of suspects) {
      if (after === 'answers' && answer !== null) {
        owner.deliver(job, answer);
        continue;
      }
      job.poisoned += 1;
      if (job.poisoned <= MAX_POISONED_ASKS) again.push(job);
      else owner.finalize(job, noReply(job.lastFailure, job.lastView));
    }
    if (again.length > 0) owner.requeue(host, again, false);
  }

  /** RFC 6531 §3.4: without SMTPUTF8 a UTF-8 address cannot be sent at all. Returns the others. */
  #refuseUtf8(batch: readonly Job[], view: SessionView): Job[] {
    for (const job of batch.filter((j) => j.smtputf8)) {
      job.joinSession(this.#id);
      const failure: ProbeFailure = {
        kind: 'smtputf8_unsupported',
        stage: 'mail',
        message: `${this.#name} does not advertise SMTPUTF8, needed for a UTF-8 address (RFC 6531)`,
        reply: null,
      };
      this.#owner.finalize(job, noReply(failure, view));
    }
    return batch.filter((j) => !j.smtputf8);
  }

  /**
   * The politeness ceiling (`hostRate`): `batch` cut to what the host's window of RCPTs per minute
   * grants now (the rest back at the front of the queue), the grant kept until the transaction is
   * answered. With nothing granted, waits for room while the wait is short (and returns no job); a
   * longer one pauses the host and returns `null`: the session ends, and a new one opens when the
   * window has room.
   */
  async #withinRate(batch: Job[], ceiling: number, spare: number): Promise<Job[] | null> {
    const owner = this.#owner;
    const host = this.#host;
    const grant = await owner.rate.reserve(host.ip, ceiling, batch.length + spare);
    // The spare is the grant's last RCPT, kept only while at least one address goes with it.
    this.#spare = grant.count > 1 ? spare : 0;
    const count = grant.count - this.#spare;
    if (count < batch.length) this.#putBack(batch.slice(count));
    if (grant.count === 0) {
      publishHostRateWait({ ip: host.ip, perMinute: ceiling, waitMs: grant.waitMs });
      if (grant.waitMs > MAX_RATE_WAIT_IN_SESSION_MS) {
        host.waitForRate(grant.waitMs);
        return null;
      }
      await sleep(grant.waitMs, undefined, { signal: owner.stopSignal }).catch(() => undefined);
      return [];
    }
    this.#granted = grant;
    this.#grantSent = 0;
    return batch.slice(0, count);
  }

  /** Settles the open grant with the RCPTs sent under it (`sent` more than counted so far). */
  #settleGrant(sent = 0): void {
    this.#granted?.settle(this.#grantSent + sent);
    this.#granted = null;
    this.#grantSent = 0;
    this.#spare = 0;
  }

  /** One transaction for `batch`; `null` when the run stopped meanwhile. */
  async #send(
    batch: readonly Job[],
    view: SessionView,
    harvestLimit: number | null,
    held: Reservation,
    more: boolean,
    quit: boolean,
  ): Promise<TransactionEffect | null> {
    const owner = this.#owner;
    const host = this.#host;
    // The explorer's batch is told, and stored, before it goes out: a run killed before reading its
    // replies leaves it told, and the next run at the host takes it to have crossed
    // (`LearnedLimits.takeOver`). Waited for before the batch's clock starts: a slow write of the
    // store (PostgreSQL under load) is no late reply of the host's, where it was judged as one.
    if (host.learned.sending(this.#id)) {
      owner.shareLimits(host);
      const stored = await owner.limitsStored();
      if (owner.isStopped()) return null;
      if (!stored) {
        // Not told, the batch does not go out (were the run killed meanwhile, nobody would know it
        // may have crossed): its addresses go back, their try not counted, and the session ends.
        host.learned.unstored(this.#id);
        host.limitsMayHaveChanged();
        held.release();
        this.#settleGrant();
        this.#putBack(batch);
        return null;
      }
    }
    // RCPTs, and RSET and MAIL FROM before them: the commands sent, and the replies the host gives.
    const commands = batch.length + (more ? 0 : this.#transactions > 0 ? 2 : 1);
    // One pass over the batch, without a closure or an array per step (a transaction per round trip).
    const recipients: string[] = [];
    let smtputf8 = false;
    for (const job of batch) {
      job.joinSession(this.#id);
      job.lastView = view;
      recipients.push(job.recipient);
      if (job.smtputf8) smtputf8 = true;
    }
    await host.pace(commands, owner.stopSignal);
    if (owner.isStopped()) return null;
    const mark = this.#transcript?.length ?? 0;
    this.#openBefore = more ? this.#openRecipients : 0;
    let timedOut = false;
    // A heartbeat tells our own stalls from the server's delays (the error budget, the reply rate).
    const exploring = this.#pastBudget;
    const sentAt = loopStalls.watch();
    host.sent(sentAt, commands);
    // The explorer's batch past what is proven may cross the host's limit: cut at the first late reply.
    const cutAt = this.#cutAtLate(
      sentAt,
      host.learned.isExploring(this.#id) && (exploring ? batch.length > 1 : host.learned.guessing),
    );
    // The per-address deadline (docs/library.md): the transaction ends when the address with the least
    // time left runs out of it.
    let leastMs = Infinity;
    for (const job of batch) leastMs = Math.min(leastMs, owner.remainingMs(job));
    const deadline = setTimeout(() => {
      timedOut = true;
      this.#cut.abort();
    }, leastMs);
    let outcome: SessionTransactionResult;
    try {
      outcome = await this.#session.transaction({
        mailFrom: owner.settings.session.mailFrom,
        recipients,
        smtputf8,
        reset: this.#transactions > 0 && !more,
        more,
        quit,
        ...(cutAt === undefined ? {} : { cutAt }),
      });
      const readAt = performance.now();
      const stalledMs = loopStalls.stalledSince(sentAt, readAt);
      this.#lastTiming = { ms: readAt - sentAt, stalledMs };
      // A transaction past the error budget is judged by its own rules (`#explore`), its replies
      // counted in the rate pushed at the host; so is one that, while the budget is a guess, follows
      // refusals no reply has proven yet (its own, or its session's last one): late, it is the
      // budget's crossing (`#judgeGuess`), not a sign of the host's rate; a failed (or cut) one not at
      // all.
      if (outcome.failure === null) {
        const refused = countAtLeast(outcome.recipients, outcome.recipients.length, 400);
        const crossing = host.learned.guessing && (refused > 0 || this.#lastRefused);
        this.#heldBack = !host.answered(
          outcome.recipients.length + (commands - batch.length),
          sentAt,
          stalledMs,
          readAt,
          this.#errors === 0 && refused === 0,
          !exploring && !crossing,
        );
      }
    } finally {
      // Cut by the run's stop, its replies unread: it stays told (`LearnedLimits.takeOver`).
      if (owner.stopSignal.aborted) host.learned.abandoned(this.#id);
      clearTimeout(deadline);
      loopStalls.unwatch();
      host.settled(sentAt);
    }
    // Answered: the server has every RCPT of the batch; they count from now for a window (with the
    // check RCPT, if it follows, once it is answered).
    this.#grantSent = batch.length;
    if (this.#spare === 0) this.#settleGrant();
    this.#transactions += 1;
    // A cut transaction's RCPTs after the cut reached the server unanswered: counted as refused.
    const unread = this.#cutLate === null ? 0 : batch.length - outcome.recipients.length;
    owner.allowance.record(
      host.ip,
      harvestLimit,
      countAtLeast(outcome.recipients, batch.length, 500) + unread,
    );
    held.release();
    if (owner.isStopped()) return null;
    const transcript = this.#transcript;
    const lines = transcript === null ? null : transcript.slice(this.#transactions === 1 ? 0 : mark);
    const effect = this.#read(batch, outcome, view, lines, timedOut);
    this.#chargeTransaction(batch, outcome.recipients.length, performance.now() - sentAt, timedOut, view);
    return effect;
  }

  /**
   * A transaction's time goes to the addresses it left without an answer. When the deadline cut it,
   * only to the address the server was stuck on (replies come in order, RFC 2920 §3): the others of
   * the batch are asked again in another session, unharmed, their try counted.
   */
  #chargeTransaction(
    batch: readonly Job[],
    replies: number,
    ms: number,
    timedOut: boolean,
    view: SessionView,
  ): void {
    const host = this.#host;
    if (timedOut) {
      const stuck = batch[replies];
      if (isWaiting(host, stuck)) this.#owner.charge(host, stuck, ms, cutAtDeadline(replies), view);
      return;
    }
    for (const job of batch)
      if (isWaiting(host, job))
        this.#owner.charge(host, job, ms, job.lastFailure ?? cutAtDeadline(replies), view);
  }

  /** The session never became ready: next MX for addresses that have one, backoff, bounded tries. */
  #onOpenFailure(failed: ProbeFailure, view: SessionView, ms: number): void {
    const owner = this.#owner;
    const host = this.#host;
    const connect = connectFailure(failed);
    const unreachable = connect === 'unreachable';
    // A push-back (421, 4.7.x, a block of our sender) is asked again later, as any other reply is not.
    const deferred =
      failed.kind === 'reply' &&
      failed.reply !== null &&
      readSessionRefusal(failed.reply, providerAt(view, this.#name)) !== 'refused';
    if ((failed.kind === 'reply' && !deferred) || connect === 'route' || connect === 'refused') {
      // A definite refusal (554 at the greeting, EHLO and HELO refused), a proxy that cannot be used or
      // whose ruleset refuses this MX address: every queued address gets it, as verify() would give it
      // to each, at once (no backoff: the host did not push back). A ruleset's refusal is about this MX
      // address: an address with another MX goes there first, as in verify().
      for (const job of host.takeAll()) {
        if (connect === 'refused' && job.hasNextTarget) {
          job.lastFailure = failed;
          job.lastView = view;
          job.targetIndex += 1;
          owner.enqueue(job);
        } else {
          owner.finalize(job, noReply(failed, view));
        }
      }
      return;
    }
    if (deferred && host.active > 1) {
      host.lowerCapBelowActive();
      return;
    }
    // The time the open took is charged to every address that waited for it.
    // A host never reached is shown as none, unless a proxy tried it: the result names the proxy.
    const shown = unreachable && view.proxy === null ? null : view;
    for (const job of host.snapshot()) owner.charge(host, job, ms, failed, shown);
    host.unreachable = unreachable;
    host.backOff();
    const stay: Job[] = [];
    for (const job of host.takeAll()) {
      job.lastFailure = failed;
      job.lastView = shown;
      if ((unreachable || deferred) && job.hasNextTarget) {
        // RFC 5321 §5.1: the next MX host, at once.
        job.targetIndex += 1;
        owner.enqueue(job);
      } else {
        stay.push(job);
      }
    }
    owner.requeue(host, stay, true);
  }

  /** Reads a transaction's replies into verdicts, deferrals and addresses to ask again. */
  #read(
    batch: readonly Job[],
    outcome: SessionTransactionResult,
    view: SessionView,
    transcript: TranscriptEntry[] | null,
    timedOut: boolean,
  ): TransactionEffect {
    const failed = outcome.failure;
    if (failed !== null && failed.kind === 'reply' && (failed.stage === 'mail' || failed.stage === 'rset')) {
      return this.#readMailRefusal(batch, failed, view, transcript);
    }
    const owner = this.#owner;
    const host = this.#host;
    let errors = 0;
    let accepted = 0;
    let progress = false;
    let endSession = failed !== null;
    let deferred = false;
    let answered = 0;
    let refusedBefore = this.#refusedRcpts;
    if (!host.answersAfterRefusal && answersAfterRefusal(refusedBefore, outcome.recipients)) {
      host.learned.sawAfterRefusal('answers');
      owner.shareLimits(host);
    }
    const suspects: Suspect[] = [];
    const replies = outcome.recipients;
    for (let index = 0; index < replies.length; index++) {
      const reply = replies[index] as SmtpReplyInfo;
      const job = batch[index];
      if (job === undefined) break;
      answered = index + 1;
      if (host.poisons && refusedBefore > 0) {
        // After the session's first refusal at a host that refuses everything after one: no answer.
        if (isNegativeReply(reply)) errors += 1;
        if (isPermanentNegativeReply(reply)) refusedBefore += 1;
        job.lastReply = null;
        job.lastFailure = { ...POISONED, reply };
        suspects.push({ job, answer: null });
        continue;
      }
      // Read once: what the reply means for the session and the host here, for the address later.
      const provider = providerAt(view, job.target?.host ?? view.host);
      const reading = readRcptReply(reply, provider);
      if (
        job.kind === 'catchAll' &&
        reading.classification?.verdict === 'undeliverable' &&
        refusedBefore > 0 &&
        !host.answersAfterRefusal
      ) {
        // "No such mailbox" after an earlier refusal, at a host not yet seen to accept anything after
        // one: it may refuse every RCPT after a first unknown one, so this says nothing about the
        // domain. Asked again in another session; after `hostTries`, unanswered. (Any other refusal,
        // a block, says nothing about the domain anyway, and is taken as it is.)
        errors += 1;
        refusedBefore += 1;
        host.countReply(reply.code, job);
        job.lastReply = null;
        job.lastFailure = { ...POISONED, reply };
        owner.requeue(host, [job], true);
        continue;
      }
      if (
        isPermanentNegativeReply(reply) &&
        refusedBefore > 0 &&
        !host.answersAfterRefusal &&
        reading.classification?.verdict === 'undeliverable'
      ) {
        // "No such mailbox" after an earlier refusal, at a host not yet seen to accept anything after
        // one: true, or the host's refusal of everything after a first unknown recipient. Kept aside
        // until the check RCPT tells (`#askCheck`).
        errors += 1;
        refusedBefore += 1;
        host.countReply(reply.code, job);
        job.lastReply = null;
        job.lastFailure = { ...POISONED, reply };
        suspects.push({ job, answer: replied(reply, reading.classification, view, transcript) });
        continue;
      }
      if (reading.action === 'next_transaction') {
        // The server's per-transaction limit: the rest go in the next transaction, not a verdict.
        host.learnRecipientLimit(this.#openBefore + index);
        owner.requeue(host, batch.slice(index), false);
        answered = batch.length;
        break;
      }
      if (isNegativeReply(reply)) errors += 1;
      else if (isPositiveReply(reply)) {
        accepted += 1;
        // Asked again after a refusal, it tells what the host does after one (`#check`).
        if (host.acceptedRecipient === null && job.kind === 'address' && !job.smtputf8)
          host.accepted(job.recipient);
      }
      if (isPermanentNegativeReply(reply)) refusedBefore += 1;
      host.countReply(reply.code, job);
      if (reading.backOff) deferred = true;
      if (reading.endSession) endSession = true;
      if (reading.action === 'ask_again') {
        job.lastReply = reply;
        job.lastFailure = null;
        owner.requeue(host, [job], true);
        if (reading.errorLimit) host.learnErrorLimit(errors);
        continue;
      }
      progress = true;
      owner.deliver(job, replied(reply, reading.classification, view, transcript));
    }
    this.#refusedRcpts = refusedBefore;
    const unanswered = batch.slice(answered);
    if (unanswered.length > 0) {
      // Cut at a late reply by us: no try of theirs, and no sign of a host to back off from.
      const cut = this.#cutLate !== null;
      this.#requeueUnanswered(unanswered, failed, timedOut, !cut);
      endSession = true;
      if (!progress && !cut) deferred = true;
    }
    if (deferred) host.backOff();
    const last = outcome.recipients[answered - 1];
    const lastRefused = last !== undefined && isNegativeReply(last);
    return { errors, accepted, progress, endSession, lastRefused, suspects };
  }

  /** MAIL FROM (or RSET) refused: about our sender, so about every address of the batch alike. */
  #readMailRefusal(
    batch: readonly Job[],
    failed: ProbeFailure,
    view: SessionView,
    transcript: TranscriptEntry[] | null,
  ): TransactionEffect {
    const owner = this.#owner;
    const host = this.#host;
    const reply = failed.reply;
    const refusal = reply === null ? 'refused' : readSessionRefusal(reply, providerAt(view, this.#name));
    if (refusal === 'blocked') {
      // A 5xx block of our sender (blocklisted IP, policy) does not lift within a run: each address
      // gets it now, as verify() gives it, and the host is left alone for a while.
      for (const job of batch) owner.finalize(job, noReply(failed, view, transcript));
      host.backOff();
      return { errors: 1, accepted: 0, progress: true, endSession: true, lastRefused: true, suspects: [] };
    }
    if (reply !== null && refusal === 'deferred') {
      for (const job of batch) {
        job.lastFailure = failed;
        job.lastReply = reply;
      }
      owner.requeue(host, batch, true);
      host.backOff();
      return { errors: 1, accepted: 0, progress: false, endSession: true, lastRefused: true, suspects: [] };
    }
    // MAIL FROM refused for good (sender policy): each address gets it, as verify() gives it.
    for (const job of batch) owner.finalize(job, noReply(failed, view, transcript));
    return { errors: 1, accepted: 0, progress: true, endSession: true, lastRefused: true, suspects: [] };
  }

  /**
   * A disconnect (or a cut) is never a verdict about the addresses that did not get their own reply
   * (`counted`: the session is one of their tries).
   */
  #requeueUnanswered(
    unanswered: readonly Job[],
    failed: ProbeFailure | null,
    timedOut: boolean,
    counted: boolean,
  ): void {
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
    this.#owner.requeue(this.#host, unanswered, counted);
  }
}

/** How many of the first `end` replies (at most all) have a code of `least` or more. */
function countAtLeast(replies: readonly SmtpReplyInfo[], end: number, least: number): number {
  const last = Math.min(end, replies.length);
  let count = 0;
  for (let i = 0; i < last; i++) if ((replies[i] as SmtpReplyInfo).code >= least) count += 1;
  return count;
}
