/**
 * How a scale-out worker verifies one job: with the settings recorded with the job (src/jobs/
 * job-settings.ts) where the job set them, so that every worker verifies a job alike and as it was
 * asked; what the job left at its default is the worker's flags' to decide, as the cluster's operator
 * configured the workers (docs/scale-out.md, "Whose settings"). A pure module.
 *
 * - The job decides, where it set them: `--dns-server`, `--smtp-port`, `--helo`, `--mail-from`,
 *   `--timeout`, `--greylist-wait`, `--allow-private-targets`, `--no-catch-all`, `--transcript`, and
 *   `--host-concurrency` (never more than the worker's).
 * - The worker's own: where connections leave from and through what (`--source-ip`, `--proxy`,
 *   `--proxy-for`, `--proxy-distinct-egress`: a proxy's password is not recorded with a job), and the
 *   per-step timeouts no flag sets.
 *
 * A worker flag that contradicts a job's setting is not used for that job, and is reported
 * (`differences`), as is a job recorded with other proxies than the worker's.
 */
import type { VerifyOptions } from '../../options.js';
import {
  compareSettings,
  optionsOfSettings,
  settingsOfOptions,
  type JobSettings,
  type SettingDifference,
} from '../job-settings.js';

/** The settings a job decides for every worker that verifies it. */
const FROM_THE_JOB = [
  '--dns-server',
  '--smtp-port',
  '--helo',
  '--mail-from',
  '--timeout',
  '--greylist-wait',
  '--allow-private-targets',
  '--no-catch-all',
  '--transcript',
] as const;
/** The library options those settings stand for (`optionsOfSettings`): the job's, not the worker's. */
const JOB_OPTIONS: ReadonlySet<string> = new Set([
  'dnsServers',
  'smtpPort',
  'helo',
  'mailFrom',
  'timeoutMs',
  'greylistWaitMs',
  'allowPrivateTargets',
  'catchAll',
  'transcript',
  'hostRate',
]);
/** The worker's own, compared with the job's only to say that they differ. */
const THE_WORKERS = ['--proxy', '--proxy-for', '--proxy-distinct-egress'] as const;

/** How one job is verified by one worker. */
export interface JobProfile {
  /** The options to verify the job with (the worker adds its resolver and catch-all facts). */
  readonly verify: VerifyOptions;
  /** Sessions per MX host for the job: the job's `--host-concurrency`, at most the worker's. */
  readonly hostConcurrency: number;
  /** Equal for jobs verified alike: they share a verifier, and an address in both is verified once. */
  readonly key: string;
  /**
   * The part of the shared domain cache the job's answers go to: `''` when the job asks the worker's
   * DNS servers and SMTP port (as every job did before settings were recorded), else named after its
   * own, so that jobs asking other servers do not share answers.
   */
  readonly namespace: string;
  /** The worker's settings that differ from the job's: not used for the job, reported. */
  readonly differences: readonly SettingDifference[];
}

function pick(settings: JobSettings, names: readonly string[]): JobSettings {
  const picked: Record<string, JobSettings[string]> = {};
  for (const name of names) {
    const value = settings[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked;
}

/** A ceiling asked by the job, at most the worker's (`0` is none: the other one holds). */
function atMost(job: number | undefined, worker: number | undefined): number | undefined {
  if (job === undefined || job === 0) return worker;
  if (worker === undefined || worker === 0) return job;
  return Math.min(job, worker);
}

/**
 * The profile of a job that recorded `recorded` (`null`: nothing recorded, as a job made through the
 * library or by an older rcpt), for a worker started with `worker` options and `workerHostConcurrency`
 * sessions per host.
 *
 * @example
 * jobProfile({ '--smtp-port': 2525 }, { smtpPort: 25, helo: 'probe1.example.net' }, 2).verify
 * // { helo: 'probe1.example.net', smtpPort: 2525 }
 */
export function jobProfile(
  recorded: JobSettings | null,
  worker: VerifyOptions,
  workerHostConcurrency: number,
): JobProfile {
  const own = settingsOfOptions(worker);
  const asked = recorded ?? {};
  // In one order whatever the sources, so that jobs verified alike have one key.
  const job: Record<string, JobSettings[string]> = {
    ...pick({ ...own, ...pick(asked, FROM_THE_JOB) }, FROM_THE_JOB),
  };
  const rate = (settings: JobSettings) => {
    const value = settings['--host-rate'];
    return typeof value === 'number' ? value : undefined;
  };
  const hostRate = atMost(rate(asked), rate(own));
  if (hostRate !== undefined) job['--host-rate'] = hostRate;
  const local = Object.fromEntries(
    Object.entries(worker).filter(([option]) => !JOB_OPTIONS.has(option)),
  ) as VerifyOptions;
  const concurrency = asked['--host-concurrency'];
  const hostConcurrency =
    typeof concurrency === 'number'
      ? Math.max(1, Math.min(concurrency, workerHostConcurrency))
      : workerHostConcurrency;
  // The worker's flags the job set otherwise; then where connections leave from, which stays the
  // worker's whatever the job was submitted with.
  const both = FROM_THE_JOB.filter((name) => name in own && name in asked);
  const differences = [
    ...compareSettings(pick(asked, both), pick(own, both)),
    ...(recorded === null
      ? []
      : compareSettings(pick(asked, THE_WORKERS), pick(own, THE_WORKERS), { complete: true })),
  ];
  const place = (settings: JobSettings) =>
    JSON.stringify([settings['--dns-server'] ?? null, settings['--smtp-port'] ?? null]);
  const namespace = place(job) === place(own) ? '' : place(job);
  return {
    verify: { ...local, ...optionsOfSettings(job) },
    hostConcurrency,
    key: JSON.stringify([job, hostConcurrency]),
    namespace,
    differences,
  };
}
