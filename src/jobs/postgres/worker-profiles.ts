/**
 * A worker's verifiers, one per job profile (job-profile.ts): jobs recorded with the same settings
 * share one (its DNS cache, its sessions, and an address in two such jobs is verified once); a job
 * recorded with other settings gets its own, with its own part of the shared domain cache.
 *
 * A long-lived worker meets many profiles (each `rcpt bulk` with its own `--helo`, say), so it keeps
 * at most `maxProfiles` of them, least recently used first out. A run is held while a pass or a plan
 * uses it (`atHost()`, `ofJob()`, then `release()`), and only a run nobody holds is closed: while more
 * are held than the bound, the cache is over it until they are let go.
 */
import { resolveOptions, type VerifyOptions } from '../../options.js';
import { createMailResolver, createVerifier, type Resolver, type Verifier } from '../../verifier.js';
import { describeDifferences, recordedSettings } from '../job-settings.js';
import { jobProfile, type JobProfile } from './job-profile.js';
import { StoredHostLimitsFacts } from '../host-limits.js';
import { DomainCache } from './worker-domains.js';
import type { WorkerContext } from './worker-shared.js';

/** Jobs whose differences were reported, kept to report each once (cleared past this many). */
const REPORTED_JOBS = 10_000;
/** Job profiles a worker keeps a verifier for unless told otherwise. */
export const DEFAULT_MAX_PROFILES = 8;

/** A job with work due at a host, and its API key (`''`: a job of none, `rcpt bulk`'s). */
export interface DueJob {
  readonly key: string;
  readonly job: string;
}

/** What verifies the jobs of one profile. */
export interface ProfileRun {
  readonly profile: JobProfile;
  readonly verifier: Verifier;
  readonly dns: Resolver;
  readonly domains: DomainCache;
  /**
   * The limits learned at MX hosts, shared through `host_limits` (loaded for a host as it is taken);
   * `null` when the worker's caller gave its own `hostLimits`.
   */
  readonly hostLimits: StoredHostLimitsFacts | null;
}

export class JobProfiles {
  readonly #context: WorkerContext;
  readonly #worker: VerifyOptions;
  readonly #hostConcurrency: number;
  readonly #domainTtlMs: number;
  readonly #maxProfiles: number;
  /** By profile key, least recently used first. */
  readonly #runs = new Map<string, ProfileRun>();
  /** How many users hold each run; a run missing here is held by none. */
  readonly #holds = new Map<ProfileRun, number>();
  /** Evicted runs being closed: `close()` waits for them. */
  readonly #closing = new Set<Promise<void>>();
  readonly #reported = new Set<string>();

  constructor(
    context: WorkerContext,
    worker: VerifyOptions,
    hostConcurrency: number,
    domainTtlMs: number,
    maxProfiles = DEFAULT_MAX_PROFILES,
  ) {
    this.#context = context;
    this.#worker = worker;
    this.#hostConcurrency = hostConcurrency;
    this.#domainTtlMs = domainTtlMs;
    this.#maxProfiles = Math.max(1, maxProfiles);
  }

  /** Runs kept now, held or not. */
  get size(): number {
    return this.#runs.size;
  }

  /**
   * How the job is verified here; a job that is gone is verified with the worker's options. The run is
   * held: `release()` it when done.
   */
  async ofJob(jobId: string): Promise<ProfileRun> {
    const job = await this.#context.store.getJob(jobId);
    return this.#acquire(jobId, job?.options ?? {});
  }

  /**
   * The jobs with work due at `host`, grouped by how they are verified here, oldest job first. Each
   * group's run is held once: `release()` every one when done, those not used included.
   */
  async atHost(host: string): Promise<{ run: ProfileRun; jobs: DueJob[] }[]> {
    const groups = new Map<ProfileRun, DueJob[]>();
    for (const row of await this.#dueAt(host)) {
      // Held as it is found, so making the next group's run never closes this one.
      const run = this.#acquire(row.id, parseOptions(row.options));
      const jobs = groups.get(run);
      const due = { key: row.owner, job: row.id };
      if (jobs === undefined) {
        groups.set(run, [due]);
      } else {
        jobs.push(due);
        this.release(run);
      }
    }
    return [...groups].map(([run, jobs]) => ({ run, jobs }));
  }

  /**
   * The jobs with work due at `host` that `run` verifies (its profile's), oldest first, but those the
   * pass has (`known`, whose profile it knows): a pass asks between turns, so that a job that came
   * meanwhile joins it. Holds nothing.
   */
  async jobsLike(host: string, run: ProfileRun, known: (job: string) => boolean): Promise<DueJob[]> {
    const jobs: DueJob[] = [];
    for (const row of await this.#dueAt(host)) {
      if (known(row.id)) continue;
      if (this.#profileOf(row.id, parseOptions(row.options)).key !== run.profile.key) continue;
      jobs.push({ key: row.owner, job: row.id });
    }
    return jobs;
  }

  /** Lets go of a run held by `ofJob()` or `atHost()`; past the bound, idle runs are closed. */
  release(run: ProfileRun): void {
    const holds = this.#holds.get(run) ?? 0;
    if (holds <= 1) this.#holds.delete(run);
    else this.#holds.set(run, holds - 1);
    this.#evict();
  }

  /** Closes every verifier and resolver. */
  async close(): Promise<void> {
    const runs = [...this.#runs.values()];
    this.#runs.clear();
    this.#holds.clear();
    for (const run of runs) await closeRun(run);
    await Promise.all(this.#closing);
  }

  /** The queued or running jobs with work due at `host`, oldest first, with their key and options (JSON). */
  async #dueAt(host: string): Promise<{ id: string; owner: string; options: string }[]> {
    const s = this.#context.store.schema;
    const { rows } = await this.#context.store.pool.query<{ id: string; owner: string; options: string }>(
      `SELECT j.id, coalesce(j.owner, '') AS owner, j.options FROM ${s}.jobs j
       WHERE j.status IN ('queued', 'running')
         AND EXISTS (SELECT 1 FROM ${s}.work w WHERE w.job_id = j.id AND w.host = $1 AND w.not_before <= now())
       ORDER BY j.seq`,
      [host],
    );
    return rows;
  }

  /** The run of a job's profile, held, made when there is none (and the least recently used idle ones closed past the bound). */
  #acquire(jobId: string, options: Readonly<Record<string, unknown>>): ProfileRun {
    const profile = this.#profileOf(jobId, options);
    const run = this.#runs.get(profile.key) ?? this.#start(profile);
    // Most recently used last.
    this.#runs.delete(profile.key);
    this.#runs.set(profile.key, run);
    this.#holds.set(run, (this.#holds.get(run) ?? 0) + 1);
    this.#evict();
    return run;
  }

  /** How the job is verified here; where this worker's flags differ from its settings, said once per job. */
  #profileOf(jobId: string, options: Readonly<Record<string, unknown>>): JobProfile {
    const profile = jobProfile(recordedSettings(options), this.#worker, this.#hostConcurrency);
    if (profile.differences.length > 0 && !this.#reported.has(jobId)) {
      if (this.#reported.size >= REPORTED_JOBS) this.#reported.clear();
      this.#reported.add(jobId);
      this.#context.report({
        type: 'settings',
        job: jobId,
        message: `job ${jobId} is verified with its own settings, not this worker's where they differ (${describeDifferences(profile.differences, { recorded: 'the job has', given: 'this worker' })})`,
        differences: profile.differences,
      });
    }
    return profile;
  }

  /** Closes the least recently used runs nobody holds while there are more than the bound. */
  #evict(): void {
    for (const [key, run] of this.#runs) {
      if (this.#runs.size <= this.#maxProfiles) return;
      if (this.#holds.has(run)) continue;
      this.#runs.delete(key);
      const closing = closeRun(run).catch((error: unknown) => {
        this.#context.report({ type: 'error', error, where: 'closing a job profile verifier' });
      });
      this.#closing.add(closing);
      void closing.finally(() => this.#closing.delete(closing));
    }
  }

  /** A verifier for the profile, in front of its part of the shared domain cache. */
  #start(profile: JobProfile): ProfileRun {
    // The DNS settings are the ones the verifier's own resolver would get.
    const resolved = resolveOptions(profile.verify);
    const dns = createMailResolver(resolved);
    const domains = new DomainCache(this.#context.store, this.#domainTtlMs, profile.namespace);
    // Kept apart per namespace too: another SMTP port at the same address is another server.
    const hostLimits =
      profile.verify.hostLimits === undefined
        ? new StoredHostLimitsFacts(this.#context.store, {
            namespace: profile.namespace,
            onError: (error) => {
              this.#context.report({ type: 'error', error, where: 'host limits' });
            },
          })
        : null;
    const verifier = createVerifier({
      ...profile.verify,
      resolver: domains.resolver(dns),
      catchAllFacts: domains.catchAllFacts,
      ...(hostLimits === null ? {} : { hostLimits }),
    });
    return { profile, verifier, dns, domains, hostLimits };
  }
}

function parseOptions(options: string): Record<string, unknown> {
  return JSON.parse(options) as Record<string, unknown>;
}

/** Closes a run's verifier and its resolver, and writes the host limits it learned. */
async function closeRun(run: ProfileRun): Promise<void> {
  await run.verifier.close();
  run.dns.close();
  await run.hostLimits?.flush();
}
