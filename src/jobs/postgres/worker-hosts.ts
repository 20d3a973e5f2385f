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
import type { JobProfiles, ProfileRun } from './worker-profiles.js';
import {
  completeEntries,
  domainOfKey,
  finishIfDone,
  isAborted,
  nap,
  type WorkerContext,
} from './worker-shared.js';

/** Addresses read from `work` per query while streaming a host. */
const WORK_PAGE = 500;
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
        const pass = new HostPass(this.#context, run, { host, jobs, signal }, (written) => {
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
  readonly jobs: readonly string[];
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
  readonly #jobs: readonly string[];
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

  /** The host's due addresses, a page at a time, each input once. */
  async *#inputs(): AsyncGenerator<string> {
    const { store } = this.#context;
    const s = store.schema;
    let cursor: { job: string; key: string } = { job: '', key: '' };
    while (!this.#signal.aborted) {
      const { rows } = await store.pool.query<WorkRow>(
        `SELECT w.job_id, w.key, w.input, w.attempts FROM ${s}.work w JOIN ${s}.jobs j ON j.id = w.job_id
         WHERE w.host = $1 AND w.not_before <= now() AND j.status IN ('queued', 'running')
           AND (w.job_id, w.key) > ($2, $3) AND w.job_id = ANY($5::text[])
         ORDER BY w.job_id, w.key LIMIT $4`,
        [this.#host, cursor.job, cursor.key, WORK_PAGE, this.#jobs],
      );
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
      const last = rows.at(-1);
      if (last === undefined || rows.length < WORK_PAGE) return;
      cursor = { job: last.job_id, key: last.key };
    }
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
