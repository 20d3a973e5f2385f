/**
 * Planning (`rcpt-plan`): a job's pending addresses are assigned to the MX host *address* their domain
 * reaches first (as the scheduler groups them), written as `work` rows, and each host with work is
 * announced on `rcpt-host`, page by page, so workers start on the first hosts while the rest is
 * planned. A planner holds the job's plan lease; killed mid-plan, the sweep submits the job again.
 */
import { JobError } from '../errors.js';
import { PLAN_QUEUE, queueDb, type PlanEntry } from './scale-out.js';
import { NO_SMTP_HOST } from './worker-domains.js';
import { planLease, type Leases } from './worker-leases.js';
import type { JobProfiles, ProfileRun } from './worker-profiles.js';
import {
  completeEntries,
  domainOfKey,
  finishIfDone,
  isAborted,
  nap,
  type WorkerContext,
} from './worker-shared.js';

/** Addresses planned per page. */
const PLAN_PAGE = 2_000;
/** Failed plans of one job before the job is marked failed; the next try waits this long. */
const PLAN_ATTEMPTS = 20;
const PLAN_RETRY_MS = 1_000;

export class Planner {
  readonly #context: WorkerContext;
  readonly #leases: Leases;
  readonly #profiles: JobProfiles;

  constructor(context: WorkerContext, leases: Leases, profiles: JobProfiles) {
    this.#context = context;
    this.#leases = leases;
    this.#profiles = profiles;
  }

  /**
   * Takes plan entries one at a time until the worker stops. The entry and the job's plan lease change
   * hands in one transaction; from then on the lease is the claim, renewed while planning, so a planner
   * killed mid-plan is replaced by the sweep within a lease.
   */
  async loop(): Promise<void> {
    const { stopping, pollMs, report } = this.#context;
    while (!isAborted(stopping)) {
      let taken: { entry: PlanEntry; leased: boolean } | null = null;
      try {
        taken = await this.#take();
      } catch (error) {
        report({ type: 'error', error, where: 'fetch plan' });
      }
      if (taken === null) {
        await nap(this.#context, pollMs);
        continue;
      }
      if (taken.leased) await this.planUnderLease(taken.entry);
    }
  }

  /** One plan entry and its job's plan lease, in one transaction; `null` when none is queued. */
  #take(): Promise<{ entry: PlanEntry; leased: boolean } | null> {
    const { store, cluster } = this.#context;
    return store.transaction(async (tx) => {
      const db = queueDb(tx);
      const [entry] = await cluster.boss.fetch<PlanEntry>(PLAN_QUEUE, { batchSize: 1, db });
      if (entry === undefined) return null;
      // Held by a live planner (the job was submitted twice): that one plans it; its input was
      // complete before either submission.
      const leased = await this.#leases.take(planLease(entry.data.jobId), tx);
      await completeEntries(cluster.boss, PLAN_QUEUE, [entry.id], db);
      return { entry: entry.data, leased };
    });
  }

  /** Plans the entry's job under its plan lease (taken), renewed meanwhile; hands it on on failure. */
  async planUnderLease(entry: PlanEntry): Promise<void> {
    const key = planLease(entry.jobId);
    const lease = new AbortController();
    const heartbeat = this.#leases.keep(key, lease);
    try {
      await this.plan(entry.jobId, AbortSignal.any([lease.signal, this.#context.stopping]));
      // A plan that found nothing to do still holds its lease.
      await this.#leases.release(key);
    } catch (error) {
      // Lost lease: the sweep found it expired and submitted the job again.
      if (lease.signal.aborted) return;
      await this.#handOn(entry, error);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** A stop hands the plan on at once; a failure is tried again shortly, up to PLAN_ATTEMPTS times. */
  async #handOn(entry: PlanEntry, error: unknown): Promise<void> {
    const { store, cluster, report } = this.#context;
    const s = store.schema;
    const stopped = isAborted(this.#context.stopping);
    if (!stopped) report({ type: 'error', error, where: `plan ${entry.jobId}` });
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
        await this.#leases.release(planLease(entry.jobId), tx);
      })
      .catch((handOff: unknown) => {
        // The lease stays and runs out; the sweep submits the job again.
        report({ type: 'error', error: handOff, where: `hand on plan ${entry.jobId}` });
      });
  }

  /**
   * Plans the job while `signal` is not aborted (a stop, or its plan lease lost). A job planned already
   * (submitted twice) is left alone: its work is the hosts' now, and planning it again could put back
   * as work an address whose result a host's holder wrote meanwhile, to be verified a second time.
   */
  async plan(jobId: string, signal: AbortSignal): Promise<void> {
    const { store, report } = this.#context;
    const s = store.schema;
    const job = await store.getJob(jobId);
    if (job === null || !job.ingested || ['done', 'cancelled', 'failed'].includes(job.status)) return;
    const { rows: planned } = await store.pool.query<{ planned: boolean }>(
      `SELECT planned FROM ${s}.jobs WHERE id = $1`,
      [jobId],
    );
    if (planned[0]?.planned !== false) return;
    // Not over a cancel that landed since the read above: a cancelled job is not planned.
    const started = await store.setStatus(jobId, 'running', null, ['queued', 'running']);
    if (started.status !== 'running') return;
    const written = await this.#writeWork(jobId, signal);
    // Cancelled (or failed) while planned: no more of its work was written, and what was went with
    // the cancel. Its plan lease is let go by the caller.
    if (written === null) return;
    const { addresses, hosts } = written;
    // Planned and the plan lease let go together: a kill between the two would plan the job again.
    await store.transaction(async (tx) => {
      await tx.query(`UPDATE ${s}.jobs SET planned = true, updated_at = $2 WHERE id = $1`, [
        jobId,
        new Date().toISOString(),
      ]);
      await this.#leases.release(planLease(jobId), tx);
    });
    report({ type: 'planned', job: jobId, addresses, hosts });
    await finishIfDone(this.#context, jobId);
  }

  /**
   * Writes the job's pending addresses as work, page by page; resolves with the counts, or `null` when
   * the job stopped running meanwhile (a cancel).
   */
  async #writeWork(jobId: string, signal: AbortSignal): Promise<{ addresses: number; hosts: number } | null> {
    // Routed as the job is verified: its DNS servers, its private-target allowance (job-profile.ts).
    const run = await this.#profiles.ofJob(jobId);
    try {
      return await this.#writePages(jobId, run, signal);
    } finally {
      this.#profiles.release(run);
    }
  }

  /** `#writeWork()` with the job's profile held. */
  async #writePages(
    jobId: string,
    { dns, domains: cache, profile }: ProfileRun,
    signal: AbortSignal,
  ): Promise<{ addresses: number; hosts: number } | null> {
    const { store, cluster } = this.#context;
    const s = store.schema;
    const allowPrivateTargets = profile.verify.allowPrivateTargets === true;
    let after: string | null = null;
    let addresses = 0;
    const allHosts = new Set<string>();
    for (;;) {
      if (isAborted(signal)) {
        const why = isAborted(this.#context.stopping) ? 'worker stopping' : 'plan lease lost';
        throw new JobError('interrupted', jobId, why);
      }
      const page = await store.pendingAddresses(jobId, after, PLAN_PAGE);
      if (page.length === 0) break;
      const domains = [...new Set(page.map((p) => domainOfKey(p.key)).filter((d) => d !== null))];
      const hostOf = await cache.route(domains, dns, allowPrivateTargets);
      const hosts = page.map((p) => {
        const domain = domainOfKey(p.key);
        return domain === null ? NO_SMTP_HOST : (hostOf.get(domain) ?? NO_SMTP_HOST);
      });
      // Written only while the job runs, its row held meanwhile: a cancel (setStatus, which deletes
      // the job's work) waits for a page being written and deletes it too, and no page follows it.
      // Before, a job cancelled mid-plan got its later pages as work, never verified nor deleted.
      const running = await store.transaction(async (tx) => {
        const { rows } = await tx.query<{ status: string }>(
          `SELECT status FROM ${s}.jobs WHERE id = $1 FOR SHARE`,
          [jobId],
        );
        if (rows[0]?.status !== 'running') return false;
        await tx.query(
          `INSERT INTO ${s}.work (job_id, key, input, host)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
           ON CONFLICT (job_id, key) DO NOTHING`,
          [jobId, page.map((p) => p.key), page.map((p) => p.input), hosts],
        );
        return true;
      });
      if (!running) return null;
      // Announced page by page: workers start on the first hosts while the rest is planned.
      await cluster.announceHosts(hosts);
      for (const host of hosts) allHosts.add(host);
      addresses += page.length;
      const last = page.at(-1);
      if (last === undefined || page.length < PLAN_PAGE) break;
      after = last.key;
    }
    return { addresses, hosts: allHosts.size };
  }
}
