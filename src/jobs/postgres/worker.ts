/**
 * A scale-out worker: takes jobs and MX hosts from the PostgreSQL queue and verifies their addresses.
 *
 * - **Planning** (`rcpt-plan`): a job's pending addresses are assigned to the MX host *address* their
 *   domain reaches first (as the scheduler groups them), written as `work` rows, and each host with
 *   work is announced on `rcpt-host`. MX answers go to the shared domain cache, and catch-all verdicts
 *   join them as they are learned, so the next holder of a host neither looks up nor probes again.
 * - **Hosts** (`rcpt-host`): a worker leases the host (one holder cluster-wide, renewed every third of
 *   the lease; a dead holder's lease runs out), streams the host's due work through `verifyMany()` with
 *   the per-host connection cap, writes results (idempotent: keyed by job and address), and hands the
 *   host back. Greylisted addresses get a `not_before` and a delayed `rcpt-host` entry instead of a
 *   result, and are tried again then, with the same MAIL FROM (RFC 6647 §2.1).
 * - **Sweeping**: expired leases (a worker killed with `kill -9`) are removed and their hosts announced
 *   again (a plan lease: the job submitted again), so what the dead worker held is finished by others;
 *   a job whose last results were written by a worker killed before it marked the job done is marked.
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
import { setTimeout as sleep } from 'node:timers/promises';

import type pg from 'pg';
import type PgBoss from 'pg-boss';

import { createResolver, type Resolver } from '../../dns/resolver.js';
import { isAllowedTarget } from '../../dns/target-filter.js';
import { resolveOptions, type VerifyOptions } from '../../options.js';
import type { CatchAllFacts, MailResolver, MailRoute, VerifyResult } from '../../types.js';
import { createVerifier } from '../../verifier.js';
import type { KeyedResult } from '../job-store.js';
import { pgHostRate } from './host-rate.js';
import type { PgJobStore } from './pg-job-store.js';
import {
  HOST_QUEUE,
  PLAN_QUEUE,
  openScaleOut,
  queueDb,
  type HostEntry,
  type PlanEntry,
  type ScaleOut,
  type ScaleOutOptions,
} from './scale-out.js';

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
/** Addresses read from `work` per query while streaming a host. */
const WORK_PAGE = 500;
/** Addresses planned per page. */
const PLAN_PAGE = 2_000;
/** Domains resolved at once while planning: a burst of hundreds of UDP queries loses some to drops. */
const PLAN_DNS_CONCURRENCY = 16;
/** Longest a planning lookup may take (the resolver's tries and timeouts end it sooner). */
const PLAN_DNS_TIMEOUT_MS = 30_000;
/** Results written per transaction at most, and the longest they wait in memory. */
const WRITE_BATCH = 200;
const WRITE_INTERVAL_MS = 250;
/** Domains kept in a worker's memory in front of the shared cache. */
const LOCAL_DOMAIN_CACHE = 20_000;
/**
 * Pause after a `verifyMany()` run before the host is handed on (or a new run starts): the run's last
 * sessions close as it ends, and the server must see their FIN before the next holder connects, or it
 * counts one connection too many for a moment (the scheduler's own slot pause, for the same reason).
 */
const RUN_SETTLE_MS = 100;
/** Beyond the deadline of a batch, how long a grant of RCPTs may stay in flight (its pace, its reads). */
const RATE_HOLD_MARGIN_MS = 60_000;
/** The host group of addresses that need no SMTP conversation (bad syntax, no usable MX). */
export const NO_SMTP_HOST = '-';
/**
 * Planning holds a lease too, named after the job in `host_leases` (no host address starts so): a
 * planner killed mid-plan is found by the sweep within a lease, instead of its queue entry staying
 * active until pg-boss expires it (10 minutes).
 */
const PLAN_LEASE_PREFIX = 'plan:';
/** Failed plans of one job before the job is marked failed; the next try waits this long. */
const PLAN_ATTEMPTS = 20;
const PLAN_RETRY_MS = 1_000;

export interface WorkerOptions extends ScaleOutOptions {
  /** `postgres://…` */
  readonly url: string;
  /** How to verify; `localAddress` is the source IP this worker probes from. */
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
   * The window of the ceiling on RCPTs per minute (`verify.hostRate`), kept in PostgreSQL for the
   * cluster, in milliseconds. Default 60000; tests shorten it.
   */
  readonly hostRateWindowMs?: number;
  /** What the worker does, for logs. */
  readonly onEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { readonly type: 'started'; readonly worker: string }
  | { readonly type: 'planned'; readonly job: string; readonly addresses: number; readonly hosts: number }
  | { readonly type: 'host'; readonly host: string; readonly verified: number; readonly ms: number }
  | { readonly type: 'lease-lost'; readonly host: string }
  | { readonly type: 'swept'; readonly hosts: readonly string[] }
  | { readonly type: 'job-done'; readonly job: string }
  | { readonly type: 'error'; readonly error: unknown; readonly where: string }
  | { readonly type: 'stopping'; readonly worker: string }
  | { readonly type: 'stopped'; readonly worker: string; readonly verified: number };

export interface RunningWorker {
  readonly id: string;
  /** Verifications written by this worker. */
  readonly verified: number;
  /** Stops gracefully: hands back what is in flight, then closes everything. */
  stop(): Promise<void>;
  /** Settles when the worker has stopped (after `stop()`, or a fatal error). */
  readonly done: Promise<void>;
}

interface WorkRow {
  job_id: string;
  key: string;
  input: string;
  attempts: number;
}

/** The host group of a domain's route: the first MX address the verifier would connect to. */
export function hostOfRoute(route: MailRoute, allowPrivateTargets: boolean): string {
  if (route.kind !== 'hosts') return NO_SMTP_HOST;
  for (const host of route.hosts) {
    for (const ip of host.addresses) if (isAllowedTarget(ip, allowPrivateTargets)) return ip;
  }
  return NO_SMTP_HOST;
}

/** Read through a call, so checks after an `await` are not judged constant by flow analysis. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** The A-label domain of an address key, or `null` for a key that is not an address. */
function domainOfKey(key: string): string | null {
  if (key.startsWith('!') || key.startsWith('#')) return null;
  const at = key.lastIndexOf('@');
  return at === -1 ? null : key.slice(at + 1);
}

/** The lease key of a job's planning. */
function planLease(jobId: string): string {
  return `${PLAN_LEASE_PREFIX}${jobId}`;
}

/**
 * Completes queue entries, on `db` (a transaction). pg-boss 10 takes `(name, ids, data, options)`,
 * whatever its type declarations say for a list of ids.
 */
function completeEntries(boss: PgBoss, name: string, ids: string[], db: PgBoss.Db): Promise<unknown> {
  const complete = boss.complete.bind(boss) as unknown as (
    name: string,
    ids: string[],
    data: null,
    options: PgBoss.ConnectionOptions,
  ) => Promise<unknown>;
  return complete(name, ids, null, { db });
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      out[index] = await task(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}

/**
 * A resolver in front of the shared domain cache: a worker's memory, then PostgreSQL, then DNS (whose
 * answer is shared with every worker). DNS failures are not shared: the next asker tries again.
 */
function sharedResolver(store: PgJobStore, dns: Resolver, ttlMs: number): MailResolver {
  const local = new Map<string, { route: MailRoute; expiresAt: number }>();
  const inflight = new Map<string, Promise<MailRoute>>();
  const s = store.schema;
  async function lookup(domain: string, signal?: AbortSignal): Promise<MailRoute> {
    const { rows } = await store.pool.query<{ mx: string; expires_at: string }>(
      `SELECT mx, expires_at FROM ${s}.domain_cache WHERE domain = $1 AND expires_at > $2 AND mx IS NOT NULL`,
      [domain, Date.now()],
    );
    const row = rows[0];
    if (row !== undefined) {
      const route = JSON.parse(row.mx) as MailRoute;
      local.set(domain, { route, expiresAt: Number(row.expires_at) });
      return route;
    }
    const route = await dns.resolveMail(domain, signal);
    if (route.kind !== 'error') {
      const expiresAt = Date.now() + ttlMs;
      await store.pool.query(
        `INSERT INTO ${s}.domain_cache (domain, mx, expires_at, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, expires_at = excluded.expires_at,
           updated_at = excluded.updated_at`,
        [domain, JSON.stringify(route), expiresAt, Date.now()],
      );
      if (local.size >= LOCAL_DOMAIN_CACHE) local.clear();
      local.set(domain, { route, expiresAt });
    }
    return route;
  }
  return {
    resolveMail(domain, signal) {
      const hit = local.get(domain);
      if (hit !== undefined && hit.expiresAt > Date.now()) return Promise.resolve(hit.route);
      let flight = inflight.get(domain);
      if (flight === undefined) {
        flight = lookup(domain, signal).finally(() => inflight.delete(domain));
        inflight.set(domain, flight);
      }
      return flight;
    },
  };
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
  const report = (event: WorkerEvent) => {
    options.onEvent?.(event);
  };
  // Validated before connecting (a bad option throws OptionsError, nothing to clean up); the DNS
  // settings are the ones the verifier's own resolver would get.
  const resolved = resolveOptions(options.verify ?? {});
  const cluster: ScaleOut = await openScaleOut(options.url, {
    ...options,
    onError: (error) => {
      report({ type: 'error', error, where: 'queue' });
    },
  });
  const { store, boss } = cluster;
  const s = store.schema;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const hostConcurrency = options.hostConcurrency ?? DEFAULT_CLUSTER_HOST_CONCURRENCY;
  const greylistRetries = options.greylistRetries ?? DEFAULT_CLUSTER_GREYLIST_RETRIES;
  const verifyOptions = options.verify ?? {};
  const allowPrivate = verifyOptions.allowPrivateTargets === true;
  const dns = createResolver({
    servers: resolved.dnsServers,
    timeoutMs: resolved.dnsTimeoutMs,
    tries: resolved.dnsTries,
    maxCacheTtlMs: resolved.dnsCacheMaxTtlMs,
  });
  const domainTtlMs = options.domainCacheTtlMs ?? DEFAULT_DOMAIN_CACHE_TTL_MS;
  const resolver = sharedResolver(store, dns, domainTtlMs);
  // Catch-all verdicts from the shared cache, filled a page ahead of the addresses that need them, so a
  // domain probed by one worker is not probed again by the next holder of its host.
  const catchAllKnown = new Map<string, { value: boolean; expiresAt: number }>();
  const catchAllFacts: CatchAllFacts = {
    known(domain) {
      const hit = catchAllKnown.get(domain);
      return hit !== undefined && hit.expiresAt > Date.now() ? hit.value : null;
    },
    learned(domain, value) {
      if (catchAllKnown.size >= LOCAL_DOMAIN_CACHE) catchAllKnown.clear();
      catchAllKnown.set(domain, { value, expiresAt: Date.now() + domainTtlMs });
    },
  };
  // One ceiling on RCPTs per minute per MX address for the whole cluster, kept in PostgreSQL. A grant
  // is settled once its transaction is answered, within the deadline (and its pace) of the batch.
  const hostRateLimiter =
    verifyOptions.hostRateLimiter ??
    pgHostRate(store, {
      holdMs: resolved.timeoutMs + RATE_HOLD_MARGIN_MS,
      ...(options.hostRateWindowMs === undefined ? {} : { windowMs: options.hostRateWindowMs }),
      onError: (error) => {
        report({ type: 'error', error, where: 'host rate' });
      },
    });
  const verifier = createVerifier({ ...verifyOptions, resolver, catchAllFacts, hostRateLimiter });
  const stopping = new AbortController();
  const held = new Set<string>();
  let verified = 0;

  await store.pool.query(`INSERT INTO ${s}.workers (id, hostname, pid, source_ip) VALUES ($1, $2, $3, $4)`, [
    id,
    hostname(),
    process.pid,
    verifyOptions.localAddress ?? null,
  ]);
  report({ type: 'started', worker: id });

  /** For checks after an `await`, where a stop may have come meanwhile. */
  const isStopping = (): boolean => stopping.signal.aborted;
  const nap = (ms: number) => sleep(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  async function finishIfDone(jobId: string): Promise<void> {
    const { rowCount } = await store.pool.query(
      `UPDATE ${s}.jobs SET status = 'done', updated_at = $2
       WHERE id = $1 AND status = 'running' AND planned AND done_addresses >= total_addresses`,
      [jobId, new Date().toISOString()],
    );
    if ((rowCount ?? 0) > 0) report({ type: 'job-done', job: jobId });
  }

  // ---------------------------------------------------------------------------------------------
  // Planning

  /**
   * The host group of each domain: the shared cache in one query, DNS for the rest (whose answers the
   * shared resolver stores for every worker).
   */
  async function routeDomains(domains: readonly string[]): Promise<Map<string, string>> {
    const hostOf = new Map<string, string>();
    const { rows } = await store.pool.query<{ domain: string; mx: string }>(
      `SELECT domain, mx FROM ${s}.domain_cache WHERE domain = ANY($1::text[]) AND expires_at > $2 AND mx IS NOT NULL`,
      [domains, Date.now()],
    );
    for (const row of rows)
      hostOf.set(row.domain, hostOfRoute(JSON.parse(row.mx) as MailRoute, allowPrivate));
    const missing = domains.filter((domain) => !hostOf.has(domain));
    const answers = await mapLimit(missing, PLAN_DNS_CONCURRENCY, async (domain) => {
      const route = await dns.resolveMail(domain, AbortSignal.timeout(PLAN_DNS_TIMEOUT_MS));
      hostOf.set(domain, hostOfRoute(route, allowPrivate));
      return [domain, route] as const;
    });
    // DNS failures are not shared: the verifier asks again when it gets to the address.
    const shared = answers.filter(([, route]) => route.kind !== 'error');
    if (shared.length > 0) {
      await store.pool.query(
        `INSERT INTO ${s}.domain_cache (domain, mx, expires_at, updated_at)
         SELECT domain, mx, $3, $4 FROM unnest($1::text[], $2::text[]) AS t(domain, mx)
         ON CONFLICT (domain) DO UPDATE SET mx = excluded.mx, expires_at = excluded.expires_at,
           updated_at = excluded.updated_at`,
        [
          shared.map(([domain]) => domain),
          shared.map(([, route]) => JSON.stringify(route)),
          Date.now() + domainTtlMs,
          Date.now(),
        ],
      );
    }
    return hostOf;
  }

  /**
   * Plans the job while `signal` is not aborted (a stop, or its plan lease lost). A job planned already
   * (submitted twice) is left alone: its work is the hosts' now, and planning it again could put back
   * as work an address whose result a host's holder wrote meanwhile, to be verified a second time.
   */
  async function plan(jobId: string, signal: AbortSignal): Promise<void> {
    const job = await store.getJob(jobId);
    if (job === null || !job.ingested || ['done', 'cancelled', 'failed'].includes(job.status)) return;
    const { rows: planned } = await store.pool.query<{ planned: boolean }>(
      `SELECT planned FROM ${s}.jobs WHERE id = $1`,
      [jobId],
    );
    if (planned[0]?.planned !== false) return;
    if (job.status !== 'running') await store.setStatus(jobId, 'running');
    let after: string | null = null;
    let addresses = 0;
    const allHosts = new Set<string>();
    for (;;) {
      if (isAborted(signal)) throw new Error(isStopping() ? 'worker stopping' : 'plan lease lost');
      const page = await store.pendingAddresses(jobId, after, PLAN_PAGE);
      if (page.length === 0) break;
      const domains = [...new Set(page.map((p) => domainOfKey(p.key)).filter((d) => d !== null))];
      const hostOf = await routeDomains(domains);
      const hosts = page.map((p) => {
        const domain = domainOfKey(p.key);
        return domain === null ? NO_SMTP_HOST : (hostOf.get(domain) ?? NO_SMTP_HOST);
      });
      await store.pool.query(
        `INSERT INTO ${s}.work (job_id, key, input, host)
         SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
         ON CONFLICT (job_id, key) DO NOTHING`,
        [jobId, page.map((p) => p.key), page.map((p) => p.input), hosts],
      );
      // Announced page by page: workers start on the first hosts while the rest is planned.
      await cluster.announceHosts(hosts);
      for (const host of hosts) allHosts.add(host);
      addresses += page.length;
      const last = page.at(-1);
      if (last === undefined || page.length < PLAN_PAGE) break;
      after = last.key;
    }
    // Planned and the plan lease let go together: a kill between the two would plan the job again.
    await store.transaction(async (tx) => {
      await tx.query(`UPDATE ${s}.jobs SET planned = true, updated_at = $2 WHERE id = $1`, [
        jobId,
        new Date().toISOString(),
      ]);
      await tx.query(`DELETE FROM ${s}.host_leases WHERE host = $1 AND worker = $2`, [planLease(jobId), id]);
    });
    report({ type: 'planned', job: jobId, addresses, hosts: allHosts.size });
    await finishIfDone(jobId);
  }

  /**
   * Takes plan entries one at a time. The entry and the job's plan lease change hands in one
   * transaction; from then on the lease is the claim, renewed while planning, so a planner killed
   * mid-plan is replaced by the sweep within a lease.
   */
  async function planLoop(): Promise<void> {
    while (!isStopping()) {
      let taken: { entry: PlanEntry; leased: boolean } | null = null;
      try {
        taken = await store.transaction(async (tx) => {
          const db = queueDb(tx);
          const [entry] = await boss.fetch<PlanEntry>(PLAN_QUEUE, { batchSize: 1, db });
          if (entry === undefined) return null;
          // Held by a live planner (the job was submitted twice): that one plans it; its input was
          // complete before either submission.
          const leased = await tryLease(planLease(entry.data.jobId), tx);
          await completeEntries(boss, PLAN_QUEUE, [entry.id], db);
          return { entry: entry.data, leased };
        });
      } catch (error) {
        report({ type: 'error', error, where: 'fetch plan' });
      }
      if (taken === null) {
        await nap(pollMs);
        continue;
      }
      if (taken.leased) await planUnderLease(taken.entry);
    }
  }

  async function planUnderLease(entry: PlanEntry): Promise<void> {
    const key = planLease(entry.jobId);
    const lease = new AbortController();
    const heartbeat = keepLease(key, lease);
    try {
      await plan(entry.jobId, AbortSignal.any([lease.signal, stopping.signal]));
      // A plan that found nothing to do still holds its lease.
      await store.pool.query(`DELETE FROM ${s}.host_leases WHERE host = $1 AND worker = $2`, [key, id]);
    } catch (error) {
      // Lost lease: the sweep found it expired and submitted the job again.
      if (lease.signal.aborted) return;
      const stopped = isStopping();
      if (!stopped) report({ type: 'error', error, where: `plan ${entry.jobId}` });
      // A stop hands the plan on at once; a failure is tried again shortly, up to PLAN_ATTEMPTS times.
      const attempt = (entry.attempt ?? 0) + (stopped ? 0 : 1);
      const message = error instanceof Error ? error.message : String(error);
      await store
        .transaction(async (tx) => {
          if (attempt >= PLAN_ATTEMPTS) {
            await tx.query(
              `UPDATE ${s}.jobs SET status = 'failed', error = $2, updated_at = $3
               WHERE id = $1 AND status IN ('queued', 'running')`,
              [entry.jobId, `planning failed ${attempt} times: ${message}`, new Date().toISOString()],
            );
            await tx.query(`DELETE FROM ${s}.work WHERE job_id = $1`, [entry.jobId]);
          } else {
            await cluster.submit(entry.jobId, {
              db: queueDb(tx),
              attempt,
              ...(stopped ? {} : { startAfter: new Date(Date.now() + PLAN_RETRY_MS) }),
            });
          }
          await tx.query(`DELETE FROM ${s}.host_leases WHERE host = $1 AND worker = $2`, [key, id]);
        })
        .catch((handOff: unknown) => {
          // The lease stays and runs out; the sweep submits the job again.
          report({ type: 'error', error: handOff, where: `hand on plan ${entry.jobId}` });
        });
    } finally {
      clearInterval(heartbeat);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Hosts

  /** Takes the lease of `host` (or of a plan) unless a live holder has it; on `client` when given. */
  async function tryLease(host: string, client: pg.Pool | pg.PoolClient = store.pool): Promise<boolean> {
    const { rowCount } = await client.query(
      `INSERT INTO ${s}.host_leases (host, worker, expires_at)
       VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (host) DO UPDATE SET worker = excluded.worker, expires_at = excluded.expires_at
       WHERE ${s}.host_leases.expires_at < now()`,
      [host, id, leaseMs],
    );
    return (rowCount ?? 0) > 0;
  }

  async function renewLease(host: string): Promise<boolean> {
    const { rowCount } = await store.pool.query(
      `UPDATE ${s}.host_leases SET expires_at = now() + $3 * interval '1 millisecond'
       WHERE host = $1 AND worker = $2`,
      [host, id, leaseMs],
    );
    return (rowCount ?? 0) > 0;
  }

  /**
   * Renews `key`'s lease every third of the lease until cleared; aborts `lease` when it was lost (it ran
   * out and was swept or taken).
   */
  function keepLease(key: string, lease: AbortController): NodeJS.Timeout {
    return setInterval(
      () => {
        renewLease(key).then(
          (kept) => {
            if (!kept && !lease.signal.aborted) {
              report({ type: 'lease-lost', host: key });
              lease.abort();
            }
          },
          (error: unknown) => {
            report({ type: 'error', error, where: `renew ${key}` });
          },
        );
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
  }

  /**
   * Releases the lease and announces what is left (due now, or the next greylisting retry), in one
   * transaction: killed half-way, the lease stays, runs out, and the sweep announces the host.
   */
  async function handBack(host: string): Promise<void> {
    await store.transaction(async (tx) => {
      await tx.query(`DELETE FROM ${s}.host_leases WHERE host = $1 AND worker = $2`, [host, id]);
      const { rows } = await tx.query<{ due: boolean | null; next: Date | null }>(
        `SELECT bool_or(w.not_before <= now()) AS due, min(w.not_before) AS next
         FROM ${s}.work w JOIN ${s}.jobs j ON j.id = w.job_id
         WHERE w.host = $1 AND j.status IN ('queued', 'running')`,
        [host],
      );
      const row = rows[0];
      const db = queueDb(tx);
      if (row?.due === true) await cluster.announceHosts([host], undefined, { db });
      else if (row?.next != null) await cluster.announceHosts([host], row.next, { db });
    });
  }

  /** Reads the shared catch-all verdicts of these domains that this worker does not know yet. */
  async function loadCatchAll(domains: readonly (string | null)[]): Promise<void> {
    const unknown = [...new Set(domains)].filter(
      (domain): domain is string => domain !== null && catchAllFacts.known(domain) === null,
    );
    if (unknown.length === 0) return;
    const { rows } = await store.pool.query<{ domain: string; catch_all: boolean; expires_at: string }>(
      `SELECT domain, catch_all, expires_at FROM ${s}.domain_cache
       WHERE domain = ANY($1::text[]) AND catch_all IS NOT NULL AND expires_at > $2`,
      [unknown, Date.now()],
    );
    for (const row of rows) {
      catchAllKnown.set(row.domain, { value: row.catch_all, expiresAt: Number(row.expires_at) });
    }
  }

  /** One pass over the host's due work; resolves with how many addresses it read. */
  async function streamHost(host: string, signal: AbortSignal, tally: { written: number }): Promise<number> {
    const waiting = new Map<string, WorkRow[]>();
    let read = 0;
    async function* inputs(): AsyncGenerator<string> {
      let cursor: { job: string; key: string } = { job: '', key: '' };
      while (!signal.aborted) {
        const { rows } = await store.pool.query<WorkRow>(
          `SELECT w.job_id, w.key, w.input, w.attempts FROM ${s}.work w JOIN ${s}.jobs j ON j.id = w.job_id
           WHERE w.host = $1 AND w.not_before <= now() AND j.status IN ('queued', 'running')
             AND (w.job_id, w.key) > ($2, $3)
           ORDER BY w.job_id, w.key LIMIT $4`,
          [host, cursor.job, cursor.key, WORK_PAGE],
        );
        await loadCatchAll(rows.map((row) => domainOfKey(row.key)));
        for (const row of rows) {
          read += 1;
          // The same address in two jobs is verified once and written to both.
          const entries = waiting.get(row.input);
          if (entries !== undefined) {
            entries.push(row);
            continue;
          }
          waiting.set(row.input, [row]);
          yield row.input;
          if (isAborted(signal)) return;
        }
        const last = rows.at(-1);
        if (last === undefined || rows.length < WORK_PAGE) return;
        cursor = { job: last.job_id, key: last.key };
      }
    }

    let buffer: { row: WorkRow; result: VerifyResult }[] = [];
    let retries: { row: WorkRow; at: Date }[] = [];
    let writing: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> => {
      const batch = buffer;
      const again = retries;
      buffer = [];
      retries = [];
      if (batch.length === 0 && again.length === 0) return writing;
      writing = writing.then(() => write(batch, again, tally));
      return writing;
    };
    // A failed write surfaces at the next awaited flush (and ends this pass); the timer only starts them.
    const timer = setInterval(() => {
      flush().catch(() => undefined);
    }, WRITE_INTERVAL_MS);
    try {
      for await (const result of verifier.verifyMany(inputs(), {
        hostConcurrency,
        greylistRetries: 0,
        signal,
      })) {
        const rows = waiting.get(result.input) ?? [];
        waiting.delete(result.input);
        // Cut short by a stop or a lost lease: not an answer about the address; it stays as work.
        if (signal.aborted && result.reason === 'timeout') continue;
        for (const row of rows) {
          if (result.reason === 'greylisted' && result.retryAt !== null && row.attempts < greylistRetries) {
            retries.push({ row, at: new Date(result.retryAt) });
          } else {
            buffer.push({ row, result });
          }
        }
        if (buffer.length >= WRITE_BATCH) await flush();
      }
    } finally {
      clearInterval(timer);
      await flush();
      await sleep(RUN_SETTLE_MS);
    }
    return read;
  }

  async function write(
    batch: readonly { row: WorkRow; result: VerifyResult }[],
    again: readonly { row: WorkRow; at: Date }[],
    tally: { written: number },
  ): Promise<void> {
    const byJob = new Map<string, KeyedResult[]>();
    for (const { row, result } of batch) {
      let list = byJob.get(row.job_id);
      if (list === undefined) byJob.set(row.job_id, (list = []));
      list.push({ key: row.key, result });
    }
    for (const [jobId, results] of byJob) {
      await store.putResults(jobId, results);
      verified += results.length;
      tally.written += results.length;
      await finishIfDone(jobId);
    }
    await recordDomainFacts(batch.map((b) => b.result));
    if (again.length > 0) {
      await store.pool.query(
        `UPDATE ${s}.work w SET not_before = t.at, attempts = w.attempts + 1
         FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS t(job_id, key, at)
         WHERE w.job_id = t.job_id AND w.key = t.key`,
        [again.map((a) => a.row.job_id), again.map((a) => a.row.key), again.map((a) => a.at)],
      );
      // The retry is a delayed queue entry: whichever worker holds the host then will ask again.
      const first = new Date(Math.min(...again.map((a) => a.at.getTime())));
      const hosts = await store.pool.query<{ host: string }>(
        `SELECT DISTINCT host FROM ${s}.work WHERE job_id = ANY($1::text[]) AND key = ANY($2::text[])`,
        [again.map((a) => a.row.job_id), again.map((a) => a.row.key)],
      );
      await cluster.announceHosts(
        hosts.rows.map((r) => r.host),
        first,
      );
    }
  }

  /** Shares what the conversations taught about each domain: catch-all and provider. */
  async function recordDomainFacts(results: readonly VerifyResult[]): Promise<void> {
    const facts = new Map<string, { catchAll: boolean; provider: string | null }>();
    for (const result of results) {
      const domain = result.syntax.asciiDomain;
      const catchAll = result.smtp?.catchAll ?? null;
      if (domain !== null && catchAll !== null) {
        facts.set(domain, { catchAll, provider: result.smtp?.provider ?? null });
      }
    }
    if (facts.size === 0) return;
    await store.pool.query(
      `UPDATE ${s}.domain_cache d SET catch_all = t.catch_all, provider = t.provider, updated_at = $4
       FROM unnest($1::text[], $2::boolean[], $3::text[]) AS t(domain, catch_all, provider)
       WHERE d.domain = t.domain`,
      [
        [...facts.keys()],
        [...facts.values()].map((f) => f.catchAll),
        [...facts.values()].map((f) => f.provider),
        Date.now(),
      ],
    );
  }

  async function workHost(host: string): Promise<void> {
    const lease = new AbortController();
    const started = performance.now();
    const heartbeat = keepLease(host, lease);
    const signal = AbortSignal.any([lease.signal, stopping.signal]);
    const tally = { written: 0 };
    try {
      while (!signal.aborted && (await streamHost(host, signal, tally)) > 0);
    } finally {
      clearInterval(heartbeat);
      await handBack(host);
      report({ type: 'host', host, verified: tally.written, ms: Math.round(performance.now() - started) });
    }
  }

  /** Works a host whose lease this worker took, then hands it back. */
  async function runHost(host: string): Promise<void> {
    held.add(host);
    try {
      await workHost(host);
    } catch (error) {
      report({ type: 'error', error, where: `host ${host}` });
    } finally {
      held.delete(host);
    }
  }

  /**
   * Takes up to `count` host entries and the leases of their hosts in one transaction (hosts in one
   * order, so two workers wait for each other rather than deadlock): a worker killed here leaves the
   * entries in the queue, never entries gone and no lease. Resolves with the entries taken and the
   * hosts leased; a host held by another lane here or by another live worker is left to its holder,
   * who announces it again when it lets go (or the sweep does if the holder dies).
   */
  async function takeHosts(count: number): Promise<{ entries: number; leased: string[] }> {
    return store.transaction(async (tx) => {
      const db = queueDb(tx);
      const entries = await boss.fetch<HostEntry>(HOST_QUEUE, { batchSize: count, db });
      const leased: string[] = [];
      for (const host of [...new Set(entries.map((entry) => entry.data.host))].sort()) {
        if (!held.has(host) && (await tryLease(host, tx))) leased.push(host);
      }
      // The lease is the claim from here on; the entry was only the news.
      if (entries.length > 0)
        await completeEntries(
          boss,
          HOST_QUEUE,
          entries.map((entry) => entry.id),
          db,
        );
      return { entries: entries.length, leased };
    });
  }

  /**
   * One fetch loop for all lanes: as many entries as lanes are free, in one query, so an idle worker
   * asks the queue once per poll interval rather than once per lane.
   */
  async function hostLoop(lanes: number): Promise<void> {
    const running = new Set<Promise<void>>();
    while (!isStopping()) {
      if (running.size >= lanes) {
        await Promise.race(running);
        continue;
      }
      let taken = { entries: 0, leased: [] as string[] };
      try {
        taken = await takeHosts(lanes - running.size);
      } catch (error) {
        report({ type: 'error', error, where: 'fetch host' });
      }
      if (taken.entries === 0) {
        // Nothing announced: ask again after the poll interval.
        await nap(pollMs);
        continue;
      }
      for (const host of taken.leased) {
        const lane: Promise<void> = runHost(host).finally(() => running.delete(lane));
        running.add(lane);
      }
    }
    await Promise.allSettled(running);
  }

  /**
   * Removes leases that ran out (their holder died) and, in the same transaction, announces their hosts
   * again and submits their plans again; then marks done the jobs whose last results a worker wrote
   * but did not get to mark (killed between the two).
   */
  async function sweepLoop(): Promise<void> {
    while (!stopping.signal.aborted) {
      await nap(Math.max(200, Math.floor(leaseMs / 2)));
      if (isStopping()) return;
      try {
        const swept = await store.transaction(async (tx) => {
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
        if (swept.length > 0) report({ type: 'swept', hosts: swept });
        const { rows: finished } = await store.pool.query<{ id: string }>(
          `UPDATE ${s}.jobs SET status = 'done', updated_at = $1
           WHERE status = 'running' AND planned AND done_addresses >= total_addresses RETURNING id`,
          [new Date().toISOString()],
        );
        for (const job of finished) report({ type: 'job-done', job: job.id });
        await store.pool.query(`UPDATE ${s}.workers SET seen_at = now(), verified = $2 WHERE id = $1`, [
          id,
          verified,
        ]);
      } catch (error) {
        report({ type: 'error', error, where: 'sweep' });
      }
    }
  }

  const lanes = [planLoop(), sweepLoop(), hostLoop(options.concurrency ?? DEFAULT_WORKER_CONCURRENCY)];
  let stopped: Promise<void> | null = null;
  const done = (async () => {
    await Promise.allSettled(lanes);
    await store.pool
      .query(`UPDATE ${s}.workers SET stopped_at = now(), seen_at = now(), verified = $2 WHERE id = $1`, [
        id,
        verified,
      ])
      .catch(() => undefined);
    await verifier.close();
    dns.close();
    await cluster.close();
    report({ type: 'stopped', worker: id, verified });
  })();

  return {
    id,
    get verified() {
      return verified;
    },
    stop() {
      stopped ??= (async () => {
        report({ type: 'stopping', worker: id });
        stopping.abort();
        await done;
      })();
      return stopped;
    },
    done,
  };
}
