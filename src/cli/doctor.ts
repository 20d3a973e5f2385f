/**
 * `rcpt doctor`: a checklist of whether this machine can verify addresses without burning its
 * reputation. A thin wrapper over `runDoctor()`: flags and `RCPT_*` variables in, a report out.
 * Exit status (set by main.ts): 0 when no check failed (warnings included), 1 when one did, 64 on a
 * usage error, so `rcpt doctor && rcpt serve` starts only a machine that can verify.
 */
import { styleText } from 'node:util';

import { Option, type Command } from 'commander';

import {
  DEFAULT_BLOCKLISTS,
  DEFAULT_DOCTOR_PROVIDERS,
  DEFAULT_SMTP_PORT,
  DOCTOR_GREETING_TIMEOUT_MS,
  runDoctor,
  type DoctorCheck,
  type DoctorOptions,
  type DoctorReport,
  type DoctorStatus,
  type VerifyOptions,
} from '../index.js';
import { parseApiKeys } from '../server/auth.js';
import { doctorOptionsThrough, routeName, type DoctorRoute } from '../server/doctor-route.js';
import { useColour, type CliIo } from './run-verify.js';
import { escapeControl, wrap } from './terminal-text.js';
import {
  collect,
  integer,
  proxyUrls,
  toVerifyOptions,
  UsageError,
  type SharedFlags,
} from './common-options.js';

export interface DoctorFlags {
  helo?: string;
  mailFrom?: string;
  sourceIp?: string;
  dnsServer?: string[];
  smtpPort?: number;
  allowPrivateTargets?: boolean;
  provider?: string[];
  blocklist?: string[];
  greetingTimeout?: number;
  proxy?: string[];
  json?: boolean;
  verbose?: boolean;
}

const LABELS: Readonly<Record<DoctorCheck['id'], string>> = {
  proxy: 'proxy',
  port25: 'port 25',
  source_address: 'source address',
  ptr: 'reverse DNS',
  fcrdns: 'FCrDNS',
  helo_name: 'HELO name',
  helo_dns: 'HELO DNS',
  mail_from: 'MAIL FROM',
  spf: 'SPF',
  blocklist: 'blocklist',
};

const STATUS_STYLE = { pass: 'green', warn: 'yellow', fail: 'red' } as const satisfies Record<
  DoctorStatus,
  string
>;

/** Adds the doctor's flags to its command. */
export function addDoctorOptions(command: Command): Command {
  return command
    .description('check that this machine can verify: port 25, reverse DNS, HELO, SPF, blocklists')
    .addOption(
      new Option('--helo <name>', 'the HELO name rcpt will use (env RCPT_HELO; default: the host name)'),
    )
    .addOption(
      new Option('--mail-from <address>', 'the MAIL FROM rcpt will use (env RCPT_MAIL_FROM; default: <>)'),
    )
    .addOption(
      new Option(
        '--source-ip <address>',
        'the public address probes leave from, as receivers see it (env RCPT_SOURCE_IP; default: an interface address)',
      ),
    )
    .addOption(
      new Option(
        '--dns-server <host[:port]>',
        'DNS server to ask, repeatable (env RCPT_DNS_SERVER)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--provider <domain>',
        `greet the first MX host of this domain on port 25, repeatable (default: ${DEFAULT_DOCTOR_PROVIDERS.join(', ')})`,
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--blocklist <zone>',
        `DNS blocklist zone to check, repeatable (default: ${DEFAULT_BLOCKLISTS.join(', ')})`,
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--smtp-port <n>',
        `port to greet MX hosts on (env RCPT_SMTP_PORT; default ${DEFAULT_SMTP_PORT})`,
      ).argParser(integer('--smtp-port', 1, 65535)),
    )
    .addOption(
      new Option(
        '--greeting-timeout <ms>',
        `wait this long for a greeting (default ${DOCTOR_GREETING_TIMEOUT_MS})`,
      ).argParser(integer('--greeting-timeout', 1, 600_000)),
    )
    .addOption(
      new Option(
        '--allow-private-targets',
        'greet MX hosts on private/loopback addresses (test worlds only)',
      ),
    )
    .addOption(
      new Option(
        '--proxy <url>',
        'check through this SOCKS5 proxy, socks5://[user:pass@]host:port: it answers, port 25 works through it, and its egress address (env RCPT_PROXY; docs/proxies.md)',
      ).argParser(proxyUrls('--proxy')),
    )
    .option('--json', 'print the report as one JSON object')
    .option('--verbose', 'print the evidence of passing lines too');
}

/** Translates flags and `RCPT_*` variables into `runDoctor()` options; flags win. */
export function toDoctorOptions(flags: DoctorFlags, env: NodeJS.ProcessEnv): DoctorOptions {
  const shared: SharedFlags = {
    ...(flags.helo === undefined ? {} : { helo: flags.helo }),
    ...(flags.mailFrom === undefined ? {} : { mailFrom: flags.mailFrom }),
    ...(flags.dnsServer === undefined ? {} : { dnsServer: flags.dnsServer }),
    ...(flags.smtpPort === undefined ? {} : { smtpPort: flags.smtpPort }),
    ...(flags.allowPrivateTargets === true ? { allowPrivateTargets: true } : {}),
    ...(flags.proxy === undefined ? {} : { proxy: flags.proxy }),
  };
  const verify = toVerifyOptions(shared, env);
  const proxies =
    verify.proxy === undefined ? [] : typeof verify.proxy === 'string' ? [verify.proxy] : verify.proxy;
  if (proxies.length > 1) throw new UsageError('rcpt doctor checks one proxy at a time: give one --proxy');
  const sourceIp = flags.sourceIp ?? (env.RCPT_SOURCE_IP === '' ? undefined : env.RCPT_SOURCE_IP);
  return {
    ...(verify.dnsServers === undefined ? {} : { dnsServers: verify.dnsServers }),
    ...(verify.helo === undefined ? {} : { helo: verify.helo }),
    ...(verify.mailFrom === undefined ? {} : { mailFrom: verify.mailFrom }),
    ...(verify.smtpPort === undefined ? {} : { smtpPort: verify.smtpPort }),
    ...(verify.allowPrivateTargets === true ? { allowPrivateTargets: true } : {}),
    ...(sourceIp === undefined ? {} : { sourceIp }),
    ...(flags.provider === undefined ? {} : { providers: flags.provider }),
    ...(flags.blocklist === undefined ? {} : { blocklists: flags.blocklist }),
    ...(flags.greetingTimeout === undefined ? {} : { greetingTimeoutMs: flags.greetingTimeout }),
    ...(proxies[0] === undefined ? {} : { proxy: proxies[0] }),
  };
}

/** The report as a checklist: one line per check, then what to do and the evidence for those that did not pass. */
export function formatDoctorReport(
  report: DoctorReport,
  options: { readonly colour: boolean; readonly width: number; readonly verbose: boolean },
): string {
  const paint = (style: Parameters<typeof styleText>[0], text: string) =>
    options.colour ? styleText(style, text) : text;
  const width = Math.max(60, Math.min(options.width, 120));
  const labelWidth = Math.max(...report.checks.map((check) => LABELS[check.id].length)) + 2;
  const indent = ' '.repeat(6 + labelWidth);
  const mailFrom = report.mailFrom === '' ? '<>' : report.mailFrom;
  const out: string[] = [
    `rcpt doctor: probing address ${report.sourceIp ?? 'unknown'} · HELO ${report.helo} · MAIL FROM ${mailFrom}`,
    '',
  ];
  for (const check of report.checks) {
    const status = paint(STATUS_STYLE[check.status], check.status.toUpperCase().padEnd(4));
    // Summaries and evidence quote servers (banners, replies): escaped, never raw on the terminal.
    out.push(
      `${status}  ${LABELS[check.id].padEnd(labelWidth)}${wrap(escapeControl(check.summary), width, indent)}`,
    );
    if (check.advice !== null)
      out.push(`${indent}${paint('bold', wrap(`→ ${escapeControl(check.advice)}`, width, `${indent}  `))}`);
    if (check.status !== 'pass' || options.verbose) {
      for (const fact of check.evidence)
        out.push(`${indent}${paint('gray', wrap(`· ${escapeControl(fact)}`, width, `${indent}  `))}`);
    }
  }
  const { pass, warn, fail } = report.counts;
  out.push(
    '',
    `${pass} passed, ${warn} warning${warn === 1 ? '' : 's'}, ${fail} failed (${report.durationMs} ms)${
      fail > 0 ? ': fix the failures before verifying' : ''
    }`,
  );
  return `${out.join('\n')}\n`;
}

/** Runs the checks and prints the report; main.ts turns a failed check into exit status 1. */
export async function runDoctorCommand(flags: DoctorFlags, io: CliIo): Promise<DoctorReport> {
  const report = await runDoctor(toDoctorOptions(flags, io.env));
  if (flags.json === true) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    io.stdout.write(
      formatDoctorReport(report, {
        colour: useColour(io),
        width: io.stdout.columns ?? 100,
        verbose: flags.verbose === true,
      }),
    );
  }
  return report;
}

/**
 * The doctor's options for a server: its verify options (DNS servers, port, HELO, MAIL FROM, bind
 * address, private targets) and `RCPT_SOURCE_IP`, so `GET /v1/doctor` and the start-up check judge the
 * configuration the server really probes with. No proxy: each route (`doctorRoutes()`) adds its own.
 */
export function doctorOptionsFor(verify: VerifyOptions, env: NodeJS.ProcessEnv): DoctorOptions {
  const sourceIp = env.RCPT_SOURCE_IP === '' ? undefined : env.RCPT_SOURCE_IP;
  return {
    ...(verify.dnsServers === undefined ? {} : { dnsServers: verify.dnsServers }),
    ...(verify.smtpPort === undefined ? {} : { smtpPort: verify.smtpPort }),
    ...(verify.helo === undefined ? {} : { helo: verify.helo }),
    ...(verify.mailFrom === undefined ? {} : { mailFrom: verify.mailFrom }),
    ...(verify.localAddress === undefined ? {} : { localAddress: verify.localAddress }),
    ...(verify.allowPrivateTargets === true ? { allowPrivateTargets: true } : {}),
    ...(sourceIp === undefined ? {} : { sourceIp }),
  };
}

/** `RCPT_OPERATOR_KEYS`: API keys that may also read `GET /v1/doctor`. A bad key is a usage error. */
export function operatorKeysFrom(env: NodeJS.ProcessEnv): string[] {
  try {
    return parseApiKeys(env.RCPT_OPERATOR_KEYS);
  } catch (error) {
    throw new UsageError(`RCPT_OPERATOR_KEYS: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The one line a server logs at start-up when a doctor check failed, or `null` when none did. */
export function doctorWarning(report: DoctorReport): string | null {
  const failed = report.checks.filter((check) => check.status === 'fail');
  if (failed.length === 0) return null;
  const names = [
    ...new Set(
      failed.map((check) =>
        check.subject === null ? LABELS[check.id] : `${LABELS[check.id]} ${check.subject}`,
      ),
    ),
  ];
  return `rcpt doctor: ${failed.length} check(s) failed (${names.join(', ')}); run "rcpt doctor" for what to do`;
}

/** Read through a call, so a check after an `await` is not judged constant by flow analysis. */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/**
 * Runs the doctor in the background when a server starts, and calls `warn` with one line when a check
 * failed; the server does not wait for it. It runs once through each of `routes` (`doctorRoutes()`:
 * every configured proxy, and direct when some mail goes direct; each has its own egress address,
 * credentials and port 25), one after another, one line per route that fails a check, naming it when
 * there are several. `RCPT_DOCTOR=0` skips it. `stop()` abandons a run still going (at shutdown), so
 * it never holds the process open.
 */
export function startupDoctor(
  options: DoctorOptions,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
  routes: readonly DoctorRoute[] = [null],
): { readonly done: Promise<void>; stop(): void } {
  const controller = new AbortController();
  if (env.RCPT_DOCTOR === '0') return { done: Promise.resolve(), stop: () => undefined };
  const list = routes.length === 0 ? [null] : routes;
  const named = list.length > 1 || list[0] !== null;
  const done = (async () => {
    for (const route of list) {
      if (controller.signal.aborted) return;
      const through = routeName(route);
      const label = !named
        ? 'rcpt doctor'
        : `rcpt doctor (${through === null ? 'direct' : `through ${through}`})`;
      try {
        const line = doctorWarning(
          await runDoctor({ ...doctorOptionsThrough(options, route), signal: controller.signal }),
        );
        if (line !== null) warn(line.replace(/^rcpt doctor:/, `${label}:`));
      } catch (error) {
        // Stopped at shutdown: nothing to say.
        if (isAborted(controller.signal)) return;
        warn(`${label} could not run: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  })();
  return {
    done,
    stop: () => {
      controller.abort();
    },
  };
}
