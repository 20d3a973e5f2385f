/**
 * A scale-out worker: takes jobs and MX hosts from the PostgreSQL queue and verifies their addresses.
 *
 * - **Planning** (`rcpt-plan`, worker-planner.ts): a job's pending addresses are assigned to the MX host
 *   *address* their domain reaches first (as the scheduler groups them), written as `work` rows, and
 *   each host with work is announced on `rcpt-host`. MX answers go to the shared domain cache
 *   (worker-domains.ts), and catch-all verdicts join them as they are learned, so the next holder of a
 *   host neither looks up nor probes again.
 * - **Hosts** (`rcpt-host`, worker-hosts.ts): a worker leases the host (one holder cluster-wide, renewed
 *   every third of the lease; a dead holder's lease runs out: worker-leases.ts), streams the host's due
 *   work through `verifyMany()` with the per-host connection cap, writes results (idempotent: keyed by
 *   job and address), and hands the host back. Greylisted addresses get a `not_before` and a delayed
 *   `rcpt-host` entry instead of a result, and are tried again then, with the same MAIL FROM (RFC 6647
 *   §2.1).
 * - **Sweeping** (here): expired leases (a worker killed with `kill -9`) are removed and their hosts
 *   announced again (a plan lease: the job submitted again), so what the dead worker held is finished by
 *   others; a job whose last results were written by a worker killed before it marked the job done is
 *   marked; RCPT grants past their window and learned host limits past their TTL are deleted.
 *
 * Crash safety: every hand-over from one record to another (a queue entry taken and its lease taken, a
 * lease released or swept and its host announced) is one transaction with pg-boss's statements in it,
 * so a worker killed at any point leaves either the entry or the lease, and so someone to finish.
 *
 * Stopping (`stop()`, SIGTERM in `rcpt worker`): no new host is taken, addresses in flight are left as
 * work (the verifications cut short are not written), results in hand are written, leases are released
 * and the hosts announced, so other workers carry on at once.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

import { resolveOptions, type VerifyOptions } from '../../options.js';
import { retrying } from './conflicts.js';
import { pgHostRate, sweepHostRcpts } from './host-rate.js';
import { openScaleOut, queueDb, type ScaleOut, type ScaleOutOptions } from './scale-out.js';
import { HostWorker } from './worker-hosts.js';
import { Leases, PLAN_LEASE_PREFIX } from './worker-leases.js';
import { Planner } from './worker-planner.js';
import { JobProfiles } from './worker-profiles.js';
import { isAborted, nap, type WorkerContext, type WorkerEvent } from './worker-shared.js';

export type { WorkerEvent } from './worker-shared.js';

/** Hosts one worker works on at once unless told otherwise. */
export const DEFAULT_WORKER_CONCURRENCY = 8;
/** Sessions per MX host address, cluster-wide (the scheduler's default). */
export const DEFAULT_CLUSTER_HOST_CONCURRENCY = 2;
/** A host lease: long enough that a busy database never makes a live worker lose it (renewed at ⅓). */
export const DEFAULT_LEASE_MS = 30_000;
/** How often an idle worker asks the queue for work. */
export const DEFAULT_POLL_MS = 500;
/** Greylisting retries per address (each a delayed queue entry), as `verifyMany()` does in-process. */
export const DEFAULT_CLUSTER_GREYLIST_RETRIES = 2;
/** How long MX answers stay in the shared domain cache. */
export const DEFAULT_DOMAIN_CACHE_TTL_MS = 600_000;
/** Beyond the deadline of a batch, how long a grant of RCPTs may stay in flight (its pace, its reads). */
const RATE_HOLD_MARGIN_MS = 60_000;

export interface WorkerOptions extends ScaleOutOptions {
  /** `postgres://…` */
  readonly url: string;
  /**
   * How to verify; `localAddress` is the source IP this worker probes from. A job that recorded its
   * settings (`rcpt bulk`, `rcpt serve`) is verified with those where it set them, and these fill in
   * what it left at its defaults (job-profile.ts; docs/scale-out.md, "Whose settings").
   */
  readonly verify?: VerifyOptions;
  /** Hosts worked on at once. Default 8. */
  readonly concurrency?: number;
  /** Sessions per MX host address, held cluster-wide by the lease. Default 2. */
  readonly hostConcurrency?: number;
  /** Host lease, in milliseconds. Default 30000. */
  readonly leaseMs?: number;
  /** Queue polling interval when idle, in milliseconds. Default 500. */
  readonly pollMs?: number;
  /** Greylisting retries per address. Default 2. */
  readonly greylistRetries?: number;
  /** How long MX answers are shared, in milliseconds. Default 600000. */
  readonly domainCacheTtlMs?: number;
  /**
   * Job profiles (distinct sets of recorded settings) kept with a verifier of their own, least
   * recently used first out; a verifier in use is never closed. Default 8.
   */
  readonly maxProfiles?: number;
  /**
   * The window of the ceiling on RCPTs per minute (`verify.hostRate`), kept in PostgreSQL for the
   * cluster, in milliseconds. Default 60000; tests shorten it.
   */
  readonly hostRateWindowMs?: number;
  /** What the worker does, for logs. */
  readonly onEvent?: (event: WorkerEvent) => void;
}

export interface RunningWorker {
  readonly id: string;
  /** Verifications written by this worker. */
  readonly verified: number;
  /** Stops gracefully: hands back what is in flight, then closes everything. */
  stop(): Promise<void>;
  /** Settles when the worker has stopped (after `stop()`, or a fatal error). */
  readonly done: Promise<void>;
}

/**
 * Removes leases that ran out (their holder died) and, in the same transaction, announces their hosts
 * again and submits their plans again; resolves with the keys removed.
 */
async function sweepLeases(context: WorkerContext): Promise<string[]> {
  const { store, cluster } = context;
  const s = store.schema;
  return store.transaction(async (tx) => {
    // In one order, skipping a lease that a fetch is taking over right now.
    const { rows } = await tx.query<{ host: string }>(
      `DELETE FROM ${s}.host_leases WHERE host IN (
         SELECT host FROM ${s}.host_leases WHERE expires_at < now() ORDER BY host FOR UPDATE SKIP LOCKED)
       RETURNING host`,
    );
    const keys = rows.map((r) => r.host);
    const db = queueDb(tx);
    await cluster.announceHosts(
      keys.filter((key) => !key.startsWith(PLAN_LEASE_PREFIX)),
      undefined,
      { db },
    );
    for (const key of keys.filter((k) => k.startsWith(PLAN_LEASE_PREFIX))) {
      await cluster.submit(key.slice(PLAN_LEASE_PREFIX.length), { db });
    }
    return keys;
  });
}

/**
 * Deletes what no longer counts and nobody else deletes: RCPT grants past their window (`host_rcpts`)
 * and learned host limits past their TTL (`host_limits`). Resolves with how many rows of each. Two
 * statements, no transaction: each is atomic and deletes only expired rows, so a crash between them
 * leaves the second table's for the next sweep, and nothing is lost or counted twice (`sweepHostRcpts`).
 */
export async function sweepExpired(
  context: Pick<WorkerContext, 'store'>,
): Promise<{ hostRcpts: number; hostLimits: number }> {
  const hostRcpts = await sweepHostRcpts(context.store);
  const hostLimits = await context.store.purgeHostLimits();
  return { hostRcpts, hostLimits };
}

/** One worker: its parts, its lanes (plan, sweep, hosts), and how it stops. */
class Worker {
  readonly #context: WorkerContext;
  readonly #stopping: AbortController;
  readonly #profiles: JobProfiles;
  readonly #planner: Planner;
  readonly #hosts: HostWorker;
  readonly done: Promise<void>;
  #stopped: Promise<void> | null = null;

  constructor(options: WorkerOptions, cluster: ScaleOut, id: string) {
    const report = (event: WorkerEvent) => {
      options.onEvent?.(event);
    };
    this.#stopping = new AbortController();
    this.#context = {
      id,
      cluster,
      store: cluster.store,
      leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      pollMs: options.pollMs ?? DEFAULT_POLL_MS,
      stopping: this.#stopping.signal,
      report,
    };
    const verify = options.verify ?? {};
    // One ceiling on RCPTs per minute per MX address for the whole cluster, kept in PostgreSQL. A grant
    // is settled once its transaction is answered, within the deadline (and its pace) of the batch.
    const hostRateLimiter =
      verify.hostRateLimiter ??
      pgHostRate(cluster.store, {
        holdMs: resolveOptions(verify).timeoutMs + RATE_HOLD_MARGIN_MS,
        ...(options.hostRateWindowMs === undefined ? {} : { windowMs: options.hostRateWindowMs }),
        onError: (error) => {
          report({ type: 'error', error, where: 'host rate' });
        },
      });
    const leases = new Leases(this.#context);
    this.#profiles = new JobProfiles(
      this.#context,
      { ...verify, hostRateLimiter },
      options.hostConcurrency ?? DEFAULT_CLUSTER_HOST_CONCURRENCY,
      options.domainCacheTtlMs ?? DEFAULT_DOMAIN_CACHE_TTL_MS,
      options.maxProfiles,
    );
    this.#planner = new Planner(this.#context, leases, this.#profiles);
    this.#hosts = new HostWorker(
      this.#context,
      leases,
      this.#profiles,
      options.greylistRetries ?? DEFAULT_CLUSTER_GREYLIST_RETRIES,
    );
    const lanes = [
      this.#planner.loop(),
      this.#sweepLoop(),
      this.#hosts.loop(options.concurrency ?? DEFAULT_WORKER_CONCURRENCY),
    ];
    this.done = this.#finish(lanes);
  }

  get id(): string {
    return this.#context.id;
  }

  /** Verifications written by this worker. */
  get verified(): number {
    return this.#hosts.verified;
  }

  /** Stops gracefully: hands back what is in flight, then closes everything. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#context.report({ type: 'stopping', worker: this.id });
      this.#stopping.abort();
      await this.done;
    })();
    return this.#stopped;
  }

  /** When every lane has ended: the worker's row marked stopped, then everything closed. */
  async #finish(lanes: readonly Promise<void>[]): Promise<void> {
    const { store, cluster, report } = this.#context;
    await Promise.allSettled(lanes);
    await store.pool
      .query(
        `UPDATE ${store.schema}.workers SET stopped_at = now(), seen_at = now(), verified = $2 WHERE id = $1`,
        [this.id, this.verified],
      )
      .catch(() => undefined);
    await this.#profiles.close();
    await cluster.close();
    report({ type: 'stopped', worker: this.id, verified: this.verified });
  }

  /**
   * Every half lease until the worker stops: sweeps expired leases (`sweepLeases`), then marks done the
   * jobs whose last results a worker wrote but did not get to mark (killed between the two), deletes
   * expired RCPT grants and host limits (`sweepExpired`), and says this worker is alive.
   */
  async #sweepLoop(): Promise<void> {
    const context = this.#context;
    const { store, report, stopping, leaseMs } = context;
    const s = store.schema;
    while (!isAborted(stopping)) {
      await nap(context, Math.max(200, Math.floor(leaseMs / 2)));
      if (isAborted(stopping)) return;
      try {
        const swept = await sweepLeases(context);
        if (swept.length > 0) report({ type: 'swept', hosts: swept });
        const { rows: finished } = await retrying(() =>
          store.pool.query<{ id: string }>(
            `UPDATE ${s}.jobs SET status = 'done', updated_at = $1
             WHERE status = 'running' AND planned AND done_addresses >= total_addresses RETURNING id`,
            [new Date().toISOString()],
          ),
        );
        for (const job of finished) report({ type: 'job-done', job: job.id });
        await sweepExpired(context);
        await store.pool.query(`UPDATE ${s}.workers SET seen_at = now(), verified = $2 WHERE id = $1`, [
          this.id,
          this.verified,
        ]);
      } catch (error) {
        report({ type: 'error', error, where: 'sweep' });
      }
    }
  }
}

/**
 * Starts a worker: connects, migrates, registers itself in `workers`, and works until `stop()`.
 *
 * @example
 * const worker = await startWorker({ url: 'postgres://rcpt@db/rcpt', verify: { localAddress: '192.0.2.7' } });
 * process.once('SIGTERM', () => void worker.stop());
 * await worker.done;
 */
export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  // Validated before connecting (a bad option throws OptionsError, nothing to clean up).
  resolveOptions(options.verify ?? {});
  // Opening migrates and creates the queues if missing, alongside other processes doing the same: a
  // retriable error there (a deadlock victim) is tried again, never the end of the worker.
  const cluster: ScaleOut = await retrying(() =>
    openScaleOut(options.url, {
      ...options,
      onError: (error) => {
        options.onEvent?.({ type: 'error', error, where: 'queue' });
      },
    }),
  );
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  try {
    await cluster.store.pool.query(
      `INSERT INTO ${cluster.store.schema}.workers (id, hostname, pid, source_ip) VALUES ($1, $2, $3, $4)`,
      [id, hostname(), process.pid, options.verify?.localAddress ?? null],
    );
  } catch (error) {
    await cluster.close().catch(() => undefined);
    throw error;
  }
  options.onEvent?.({ type: 'started', worker: id });
  const worker = new Worker(options, cluster, id);
  return {
    id,
    get verified() {
      return worker.verified;
    },
    stop: () => worker.stop(),
    done: worker.done,
  };
}
