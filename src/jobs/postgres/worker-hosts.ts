/**
 * Hosts (`rcpt-host`): a worker leases an MX host address (one holder cluster-wide), streams the host's
 * due work through `verifyMany()` with the per-host connection cap, writes results (idempotent: keyed
 * by job and address), and hands the host back. Greylisted addresses get a `not_before` and a delayed
 * `rcpt-host` entry instead of a result, and are tried again then, with the same MAIL FROM (RFC 6647
 * §2.1).
 */
import { setTimeout as sleep } from 'node:timers/promises';

import type { VerifyResult } from '../../types.js';
import type { KeyedResult } from '../job-store.js';
import { retrying } from './conflicts.js';
import { HOST_QUEUE, queueDb, type HostEntry } from './scale-out.js';
import type { Leases } from './worker-leases.js';
import type { DueJob, JobProfiles, ProfileRun } from './worker-profiles.js';
import {
  completeEntries,
  domainOfKey,
  finishIfDone,
  isAborted,
  nap,
  type WorkerContext,
} from './worker-shared.js';

/** Addresses read from `work` per query while streaming a host whose work is one API key's. */
const WORK_PAGE = 500;
/**
 * Addresses of one API key's jobs read in a turn while another key's wait at the same host: a key's
 * big job holds another's small one for a turn, not until it is through (docs/api.md, "Whose job runs").
 */
const TURN_ADDRESSES = 100;
/**
 * Addresses a pass reads ahead of their answers at most (the verifier's window, 2,000 by default): a job
 * that joins a pass waits behind as many of the others' there. A host needs far fewer at once (its
 * sessions times their batches).
 */
const PASS_WINDOW = 500;
/** Results written per transaction at most, and the longest they wait in memory. */
const WRITE_BATCH = 200;
const WRITE_INTERVAL_MS = 250;
/**
 * Pause after a `verifyMany()` run before the host is handed on (or a new run starts): the run's last
 * sessions close as it ends, and the server must see their FIN before the next holder connects, or it
 * counts one connection too many for a moment (the scheduler's own slot pause, for the same reason).
 */
const RUN_SETTLE_MS = 100;

/** One address of a job waiting at a host. */
export interface WorkRow {
  job_id: string;
  key: string;
  input: string;
  attempts: number;
}

export class HostWorker {
  readonly #context: WorkerContext;
  readonly #leases: Leases;
  readonly #profiles: JobProfiles;
  /** Greylisting retries per address, each a delayed queue entry. */
  readonly #greylistRetries: number;
  /** Hosts this worker holds now. */
  readonly #held = new Set<string>();
  #verified = 0;

  constructor(context: WorkerContext, leases: Leases, profiles: JobProfiles, greylistRetries: number) {
    this.#context = context;
    this.#leases = leases;
    this.#profiles = profiles;
    this.#greylistRetries = greylistRetries;
  }

  /** Verifications written by this worker. */
  get verified(): number {
    return this.#verified;
  }

  /**
   * One fetch loop for all lanes, until the worker stops: as many entries as lanes are free, in one
   * query, so an idle worker asks the queue once per poll interval rather than once per lane.
   */
  async loop(lanes: number): Promise<void> {
    const { stopping, pollMs, report } = this.#context;
    const running = new Set<Promise<void>>();
    while (!isAborted(stopping)) {
      if (running.size >= lanes) {
        await Promise.race(running);
        continue;
      }
      let taken = { entries: 0, leased: [] as string[] };
      try {
        taken = await this.takeHosts(lanes - running.size);
      } catch (error) {
        report({ type: 'error', error, where: 'fetch host' });
      }
      if (taken.entries === 0) {
        // Nothing announced: ask again after the poll interval.
        await nap(this.#context, pollMs);
        continue;
      }
      for (const host of taken.leased) {
        const lane: Promise<void> = this.runHost(host).finally(() => running.delete(lane));
        running.add(lane);
      }
    }
    await Promise.allSettled(running);
  }

  /**
   * Takes up to `count` host entries and the leases of their hosts in one transaction (hosts in one
   * order, so two workers wait for each other rather than deadlock): a worker killed here leaves the
   * entries in the queue, never entries gone and no lease. Resolves with the entries taken and the
   * hosts leased; a host held by another lane here or by another live worker is left to its holder,
   * who announces it again when it lets go (or the sweep does if the holder dies).
   */
  takeHosts(count: number): Promise<{ entries: number; leased: string[] }> {
    const { store, cluster } = this.#context;
    return store.transaction(async (tx) => {
      const db = queueDb(tx);
      const entries = await cluster.boss.fetch<HostEntry>(HOST_QUEUE, { batchSize: count, db });
      const leased: string[] = [];
      for (const host of [...new Set(entries.map((entry) => entry.data.host))].sort()) {
        if (!this.#held.has(host) && (await this.#leases.take(host, tx))) leased.push(host);
      }
      // The lease is the claim from here on; the entry was only the news.
      if (entries.length > 0) {
        const ids = entries.map((entry) => entry.id);
        await completeEntries(cluster.boss, HOST_QUEUE, ids, db);
      }
      return { entries: entries.length, leased };
    });
  }

  /** Works a host whose lease this worker took, then hands it back; errors are reported. */
  async runHost(host: string): Promise<void> {
    this.#held.add(host);
    try {
      await this.#workHost(host);
    } catch (error) {
      this.#context.report({ type: 'error', error, where: `host ${host}` });
    } finally {
      this.#held.delete(host);
    }
  }

  async #workHost(host: string): Promise<void> {
    const lease = new AbortController();
    const started = performance.now();
    const heartbeat = this.#leases.keep(host, lease);
    const signal = AbortSignal.any([lease.signal, this.#context.stopping]);
    const tally = { written: 0 };
    try {
      while (!signal.aborted && (await this.#pass(host, signal, tally)) > 0);
    } finally {
      clearInterval(heartbeat);
      await this.#leases.handBack(host);
      const ms = Math.round(performance.now() - started);
      this.#context.report({ type: 'host', host, verified: tally.written, ms });
    }
  }

  /**
   * One pass over the host's due work, a run per job profile (jobs recorded with other settings are
   * verified apart, each with its own); resolves with how many addresses it read.
   */
  async #pass(host: string, signal: AbortSignal, tally: { written: number }): Promise<number> {
    let read = 0;
    const groups = await this.#profiles.atHost(host);
    try {
      for (const { run, jobs } of groups) {
        if (signal.aborted) break;
        const jobsNow = (known: (job: string) => boolean) => this.#profiles.jobsLike(host, run, known);
        const pass = new HostPass(this.#context, run, { host, jobs, jobsNow, signal }, (written) => {
          this.#verified += written;
          tally.written += written;
        });
        read += await pass.run(this.#greylistRetries);
      }
    } finally {
      // Held by atHost() so that no other profile's arrival closes a verifier mid-pass.
      for (const { run } of groups) this.#profiles.release(run);
    }
    return read;
  }
}

/** Which work a pass takes: the host's due addresses of these jobs, until `signal`. */
export interface PassScope {
  readonly host: string;
  readonly jobs: readonly DueJob[];
  /**
   * The jobs verified alike with work due at the host now but those `known` to the pass, asked before
   * each turn: they join the pass.
   */
  readonly jobsNow?: (known: (job: string) => boolean) => Promise<readonly DueJob[]>;
  readonly signal: AbortSignal;
}

/**
 * One pass over a host's due work of some jobs verified alike: reads it a page at a time (the same
 * address in two jobs is verified once and written to both), verifies it with the jobs' profile, and
 * writes results and greylisting retries in batches.
 */
export class HostPass {
  readonly #context: WorkerContext;
  readonly #run: ProfileRun;
  readonly #host: string;
  readonly #jobs: readonly DueJob[];
  readonly #jobsNow: ((known: (job: string) => boolean) => Promise<readonly DueJob[]>) | undefined;
  readonly #signal: AbortSignal;
  readonly #onWritten: (count: number) => void;
  /** Rows read and not yet answered, by input. */
  readonly #waiting = new Map<string, WorkRow[]>();
  #read = 0;
  #buffer: { row: WorkRow; result: VerifyResult }[] = [];
  #retries: { row: WorkRow; at: Date }[] = [];
  #writing: Promise<void> = Promise.resolve();

  constructor(context: WorkerContext, run: ProfileRun, scope: PassScope, onWritten: (count: number) => void) {
    this.#context = context;
    this.#run = run;
    this.#host = scope.host;
    this.#jobs = scope.jobs;
    this.#jobsNow = scope.jobsNow;
    this.#signal = scope.signal;
    this.#onWritten = onWritten;
  }

  /** Verifies the work; resolves with how many addresses were read. */
  async run(greylistRetries: number): Promise<number> {
    const signal = this.#signal;
    // A failed write surfaces at the next awaited flush (and ends this pass); the timer only starts them.
    // What other workers learned of this host's limits is where this pass starts (VerifyOptions.hostLimits).
    await this.#run.hostLimits?.load([this.#host]);
    const timer = setInterval(() => {
      this.#flush().catch(() => undefined);
    }, WRITE_INTERVAL_MS);
    try {
      const results = this.#run.verifier.verifyMany(this.#inputs(), {
        concurrency: PASS_WINDOW,
        hostConcurrency: this.#run.profile.hostConcurrency,
        greylistRetries: 0,
        signal,
      });
      for await (const result of results) {
        const rows = this.#waiting.get(result.input) ?? [];
        this.#waiting.delete(result.input);
        // Cut short by a stop or a lost lease: not an answer about the address; it stays as work.
        if (signal.aborted && result.reason === 'timeout') continue;
        for (const row of rows) {
          const retry =
            result.reason === 'greylisted' && result.retryAt !== null && row.attempts < greylistRetries;
          if (retry) this.#retries.push({ row, at: new Date(result.retryAt) });
          else this.#buffer.push({ row, result });
        }
        if (this.#buffer.length >= WRITE_BATCH) await this.#flush();
      }
    } finally {
      clearInterval(timer);
      await this.#flush();
      await sleep(RUN_SETTLE_MS);
      // What the run learned of the host's limits is in the store before the host is handed on: a
      // penalty written after the next holder read the host would be paid again there.
      await this.#run.hostLimits?.flush();
    }
    return this.#read;
  }

  /**
   * The host's due addresses, each input once, in turns between the API keys whose jobs have work here
   * (a job of no key, `rcpt bulk`'s, counts as one more key): a key's jobs oldest first, up to a turn of
   * addresses, then the next key's, a key new to the pass first. The jobs are asked again before each
   * turn, so one that came meanwhile joins the pass rather than wait for its end.
   */
  async *#inputs(): AsyncGenerator<string> {
    const turns = new KeyTurns();
    const known = (job: string): boolean => turns.has(job);
    turns.add(this.#jobs);
    while (!this.#signal.aborted) {
      const turn = turns.next();
      if (turn === null) return;
      const size = turns.keys > 1 ? TURN_ADDRESSES : WORK_PAGE;
      const rows = await this.#due(turn.job, turn.after, size);
      await this.#run.domains.loadCatchAll(rows.map((row) => domainOfKey(row.key)));
      for (const row of rows) {
        this.#read += 1;
        // The same address in two jobs is verified once and written to both.
        const entries = this.#waiting.get(row.input);
        if (entries !== undefined) {
          entries.push(row);
          continue;
        }
        this.#waiting.set(row.input, [row]);
        yield row.input;
        if (isAborted(this.#signal)) return;
      }
      turns.taken(rows.length < size ? null : (rows.at(-1)?.key ?? null));
      if (this.#jobsNow !== undefined) turns.add(await this.#jobsNow(known));
    }
  }

  /** Up to `limit` of the job's due addresses at the host, in key order after `after`. */
  async #due(job: string, after: string, limit: number): Promise<WorkRow[]> {
    const s = this.#context.store.schema;
    const { rows } = await this.#context.store.pool.query<WorkRow>(
      `SELECT w.job_id, w.key, w.input, w.attempts FROM ${s}.work w JOIN ${s}.jobs j ON j.id = w.job_id
       WHERE w.host = $1 AND w.job_id = $2 AND w.key > $3 AND w.not_before <= now()
         AND j.status IN ('queued', 'running')
       ORDER BY w.key LIMIT $4`,
      [this.#host, job, after, limit],
    );
    return rows;
  }

  /** Starts writing what is in hand, after the writes before it. */
  #flush(): Promise<void> {
    const batch = this.#buffer;
    const again = this.#retries;
    this.#buffer = [];
    this.#retries = [];
    if (batch.length === 0 && again.length === 0) return this.#writing;
    this.#writing = this.#writing.then(() => this.#write(batch, again));
    return this.#writing;
  }

  async #write(
    batch: readonly { row: WorkRow; result: VerifyResult }[],
    again: readonly { row: WorkRow; at: Date }[],
  ): Promise<void> {
    const byJob = new Map<string, KeyedResult[]>();
    for (const { row, result } of batch) {
      let list = byJob.get(row.job_id);
      if (list === undefined) byJob.set(row.job_id, (list = []));
      list.push({ key: row.key, result });
    }
    for (const [jobId, results] of byJob) {
      await this.#context.store.putResults(jobId, results);
      this.#onWritten(results.length);
      await finishIfDone(this.#context, jobId);
    }
    await this.#run.domains.recordFacts(batch.map((b) => b.result));
    if (again.length > 0) await this.#retryLater(again);
  }

  /** Greylisted addresses: due again at their retry time, as a delayed queue entry for the host. */
  async #retryLater(again: readonly { row: WorkRow; at: Date }[]): Promise<void> {
    const { store, cluster } = this.#context;
    const s = store.schema;
    const jobs = again.map((a) => a.row.job_id);
    const keys = again.map((a) => a.row.key);
    await retrying(() =>
      store.pool.query(
        `UPDATE ${s}.work w SET not_before = t.at, attempts = w.attempts + 1
         FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(job_id, key, at)
         WHERE w.job_id = t.job_id AND w.key = t.key`,
        [jobs, keys, again.map((a) => a.at)],
      ),
    );
    // The retry is a delayed queue entry: whichever worker holds the host then will ask again.
    const first = new Date(Math.min(...again.map((a) => a.at.getTime())));
    const hosts = await store.pool.query<{ host: string }>(
      `SELECT DISTINCT host FROM ${s}.work WHERE job_id = ANY($1::text[]) AND key = ANY($2::text[])`,
      [jobs, keys],
    );
    await cluster.announceHosts(
      hosts.rows.map((r) => r.host),
      first,
    );
  }
}

/**
 * Whose work a pass reads next: the API keys in turn, the one whose last turn began longest ago first
 * (a key new to the pass before all), each key's jobs oldest first, each job from where it was left.
 * A key whose jobs here ran out and that comes back with a new one is not new: it takes the place its
 * last turn gives it, behind the keys waiting since before that turn. Exported for its unit test.
 */
export class KeyTurns {
  /** Keys with work left, the next turn's first: by when their last turn began, none first. */
  readonly #order: string[] = [];
  readonly #jobs = new Map<string, { jobs: string[]; after: string }>();
  /** Every job ever added: one read through in this pass is not read again. */
  readonly #seen = new Set<string>();
  /** When each key's last turn in this pass began (turns counted), kept while it has no work here. */
  readonly #lastTurn = new Map<string, number>();
  #turns = 0;

  /** Keys with work left. */
  get keys(): number {
    return this.#order.length;
  }

  has(job: string): boolean {
    return this.#seen.has(job);
  }

  /**
   * Adds jobs, oldest first, each once: a key new to the pass has its turn before the others, a key
   * back with work after its jobs ran out goes where its last turn puts it. Before, it counted as new:
   * a key sending a small job each time its last one ended had every other turn at the host.
   */
  add(jobs: readonly DueJob[]): void {
    const fresh: string[] = [];
    for (const { key, job } of jobs) {
      if (this.#seen.has(job)) continue;
      this.#seen.add(job);
      const queue = this.#jobs.get(key);
      if (queue !== undefined) {
        queue.jobs.push(job);
        continue;
      }
      this.#jobs.set(key, { jobs: [job], after: '' });
      const last = this.#lastTurn.get(key);
      if (last === undefined) {
        fresh.push(key);
        continue;
      }
      const behind = this.#order.findIndex((other) => (this.#lastTurn.get(other) ?? -1) > last);
      this.#order.splice(behind === -1 ? this.#order.length : behind, 0, key);
    }
    this.#order.unshift(...fresh);
  }

  /** The job whose turn it is and the last address key read of it, or `null` when no work is left. */
  next(): { job: string; after: string } | null {
    const key = this.#order[0];
    const queue = key === undefined ? undefined : this.#jobs.get(key);
    const job = queue?.jobs[0];
    return queue === undefined || job === undefined ? null : { job, after: queue.after };
  }

  /** Ends the turn of `next()`: its job read up to `last`, or through (`null`); the key goes last. */
  taken(last: string | null): void {
    const key = this.#order.shift();
    const queue = key === undefined ? undefined : this.#jobs.get(key);
    if (key === undefined || queue === undefined) return;
    this.#lastTurn.set(key, this.#turns++);
    if (last === null) {
      queue.jobs.shift();
      queue.after = '';
    } else {
      queue.after = last;
    }
    if (queue.jobs.length > 0) this.#order.push(key);
    else this.#jobs.delete(key);
  }
}
