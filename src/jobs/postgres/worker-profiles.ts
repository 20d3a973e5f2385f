/**
 * A worker's verifiers, one per job profile (job-profile.ts): jobs recorded with the same settings
 * share one (its DNS cache, its sessions, and an address in two such jobs is verified once); a job
 * recorded with other settings gets its own, with its own part of the shared domain cache.
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
  readonly #runs = new Map<string, ProfileRun>();
  readonly #reported = new Set<string>();

  constructor(context: WorkerContext, worker: VerifyOptions, hostConcurrency: number, domainTtlMs: number) {
    this.#context = context;
    this.#worker = worker;
    this.#hostConcurrency = hostConcurrency;
    this.#domainTtlMs = domainTtlMs;
  }

  /** How the job is verified here; a job that is gone is verified with the worker's options. */
  async ofJob(jobId: string): Promise<ProfileRun> {
    const job = await this.#context.store.getJob(jobId);
    return this.#runOf(jobId, job?.options ?? {});
  }

  /** The jobs with work due at `host`, grouped by how they are verified here. */
  async atHost(host: string): Promise<{ run: ProfileRun; jobs: string[] }[]> {
    const s = this.#context.store.schema;
    const { rows } = await this.#context.store.pool.query<{ id: string; options: string }>(
      `SELECT j.id, j.options FROM ${s}.jobs j WHERE j.status IN ('queued', 'running')
         AND EXISTS (SELECT 1 FROM ${s}.work w WHERE w.job_id = j.id AND w.host = $1 AND w.not_before <= now())
       ORDER BY j.id`,
      [host],
    );
    const groups = new Map<ProfileRun, string[]>();
    for (const row of rows) {
      const run = this.#runOf(row.id, JSON.parse(row.options) as Record<string, unknown>);
      const jobs = groups.get(run);
      if (jobs === undefined) groups.set(run, [row.id]);
      else jobs.push(row.id);
    }
    return [...groups].map(([run, jobs]) => ({ run, jobs }));
  }

  /** Closes every verifier and resolver. */
  async close(): Promise<void> {
    const runs = [...this.#runs.values()];
    this.#runs.clear();
    for (const run of runs) {
      await run.verifier.close();
      run.dns.close();
      await run.hostLimits?.flush();
    }
  }

  #runOf(jobId: string, options: Readonly<Record<string, unknown>>): ProfileRun {
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
    let run = this.#runs.get(profile.key);
    if (run === undefined) {
      run = this.#start(profile);
      this.#runs.set(profile.key, run);
    }
    return run;
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
