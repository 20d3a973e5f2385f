/**
 * The options every verb shares (docs/cli.md), and their `RCPT_*` environment mirrors. The CLI is the
 * only place that reads the environment; the library takes plain options.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

import {
  DEFAULT_GREYLIST_WAIT_MS,
  DEFAULT_SMTP_PORT,
  DEFAULT_TIMEOUT_MS,
  MAX_HOST_RATE,
  OptionsError,
  parseProxyRoute,
  parseProxyUrl,
  type VerifyOptions,
} from '../index.js';
import type { JobSettings, SettingValue } from '../jobs/index.js';

export interface SharedFlags {
  dnsServer?: string[];
  smtpPort?: number;
  helo?: string;
  mailFrom?: string;
  timeout?: number;
  greylistWait?: number;
  allowPrivateTargets?: boolean;
  catchAll?: boolean;
  transcript?: boolean;
  proxy?: string[];
  proxyFor?: string[];
  proxyDistinctEgress?: boolean;
  hostRate?: number;
}

/** A commander argument parser for an integer from `min` to `max`; anything else is a usage error. */
export function integer(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const number = Number(value);
    if (!/^\d+$/.test(value) || number < min || number > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}.`);
    }
    return number;
  };
}

/**
 * The flags with `-o -` read as standard output (no `-o`), as `-` for the input is standard input;
 * before, it made a file named `-`.
 */
export function dashIsStdout<T extends { output?: string }>(flags: T): T {
  if (flags.output !== '-') return flags;
  const rest = { ...flags };
  delete rest.output;
  return rest;
}

/**
 * A commander argument parser for one of `choices`, in any case: `--format CSV`, `--command rcpt`,
 * `--fail-on Undeliverable` mean what they say (SMTP's own commands are case-insensitive, RFC 5321
 * §2.4). Commander's `.choices()` refused them; it is kept before this for the help's list.
 */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    const wanted = value.trim().toLowerCase();
    const found = choices.find((choice) => choice.toLowerCase() === wanted);
    if (found === undefined) throw new InvalidArgumentError(`must be one of ${choices.join(', ')}`);
    return found;
  };
}

/** A commander argument parser that collects a repeatable option's values. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * A commander argument parser for `--proxy`: one `socks5://` URL (or several, comma-separated), checked
 * at once so a malformed URL is a usage error (exit 64) with the reason, before anything starts.
 */
export function proxyUrls(name: string): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    const urls = value.split(/[\s,]+/).filter(Boolean);
    if (urls.length === 0) throw new InvalidArgumentError(`${name}: empty proxy URL.`);
    for (const url of urls) {
      const parsed = parseProxyUrl(url);
      if (!parsed.ok) throw new InvalidArgumentError(`${name}: ${parsed.reason}.`);
    }
    return [...(previous ?? []), ...urls];
  };
}

/** A commander argument parser for `--proxy-for MATCH=URL|direct`, checked like `--proxy`. */
export function proxyRoutes(name: string): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    const parsed = parseProxyRoute(value);
    if (!parsed.ok) throw new InvalidArgumentError(`${name}: ${parsed.reason}.`);
    if (parsed.route.via.toLowerCase() !== 'direct') proxyUrls(name)(parsed.route.via, []);
    return [...(previous ?? []), value];
  };
}

/** Adds the shared options to a command. */
export function addSharedOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--dns-server <host[:port]>',
        'DNS server to ask, repeatable (env RCPT_DNS_SERVER; default: the system resolver)',
      ).argParser(collect),
    )
    .addOption(
      new Option(
        '--smtp-port <n>',
        `port to probe MX hosts on (env RCPT_SMTP_PORT; default ${DEFAULT_SMTP_PORT})`,
      ).argParser(integer('--smtp-port', 1, 65535)),
    )
    .addOption(
      new Option('--helo <name>', "EHLO name: this host's FQDN, with matching reverse DNS (env RCPT_HELO)"),
    )
    .addOption(
      new Option(
        '--mail-from <address>',
        'MAIL FROM address on a domain you control (env RCPT_MAIL_FROM; default: <>)',
      ),
    )
    .addOption(
      new Option(
        '--timeout <ms>',
        `deadline per address, in milliseconds (env RCPT_TIMEOUT; default ${DEFAULT_TIMEOUT_MS})`,
      ).argParser(integer('--timeout', 1, 86_400_000)),
    )
    .addOption(
      new Option(
        '--greylist-wait <seconds>',
        `wait before retrying a greylisted address, 0 never (env RCPT_GREYLIST_WAIT; default ${DEFAULT_GREYLIST_WAIT_MS / 1000})`,
      ).argParser(integer('--greylist-wait', 0, 86_400)),
    )
    .addOption(
      new Option(
        '--allow-private-targets',
        'allow MX hosts on loopback/private/reserved addresses (env RCPT_ALLOW_PRIVATE_TARGETS=1)',
      ),
    )
    .addOption(new Option('--no-catch-all', 'do not probe a random address to detect catch-all domains'))
    .addOption(new Option('--transcript', 'keep the SMTP transcript in results'))
    .addOption(
      new Option(
        '--proxy <url>',
        'connect to MX hosts through this SOCKS5 proxy, socks5://[user:pass@]host:port; repeat for a pool (env RCPT_PROXY; docs/proxies.md)',
      ).argParser(proxyUrls('--proxy')),
    )
    .addOption(
      new Option(
        '--proxy-for <match=url|direct>',
        'route a provider id, domain or .mx-suffix through its own proxy or direct, repeatable, first match wins (env RCPT_PROXY_FOR)',
      ).argParser(proxyRoutes('--proxy-for')),
    )
    .addOption(
      new Option(
        '--proxy-distinct-egress',
        "the pool's proxies leave from distinct addresses: per-host caps count per proxy (env RCPT_PROXY_DISTINCT_EGRESS=1)",
      ),
    )
    .addOption(
      new Option(
        '--host-rate <n>',
        'most RCPTs per minute at one MX host address, 0 for none (env RCPT_HOST_RATE; default: 60 at Google, Microsoft and Yahoo, none elsewhere)',
      ).argParser(integer('--host-rate', 0, MAX_HOST_RATE)),
    );
}

/** The `RCPT_*` variables and the flag each mirrors; a flag given on the command line wins. */
const ENVIRONMENT = {
  RCPT_DNS_SERVER: 'dnsServer',
  RCPT_SMTP_PORT: 'smtpPort',
  RCPT_HELO: 'helo',
  RCPT_MAIL_FROM: 'mailFrom',
  RCPT_TIMEOUT: 'timeout',
  RCPT_GREYLIST_WAIT: 'greylistWait',
  RCPT_ALLOW_PRIVATE_TARGETS: 'allowPrivateTargets',
  RCPT_PROXY: 'proxy',
  RCPT_PROXY_FOR: 'proxyFor',
  RCPT_PROXY_DISTINCT_EGRESS: 'proxyDistinctEgress',
  RCPT_HOST_RATE: 'hostRate',
} as const satisfies Record<string, keyof SharedFlags>;

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/**
 * Reads the `RCPT_*` mirrors of the shared options from `env` (the CLI is the only place that reads the
 * environment). Values go through the same parsers as flags, so a bad value is a usage error.
 */
export function flagsFromEnvironment(env: NodeJS.ProcessEnv): SharedFlags {
  const flags: SharedFlags = {};
  for (const [variable, flag] of Object.entries(ENVIRONMENT)) {
    const value = env[variable];
    if (value === undefined || value === '') continue;
    try {
      switch (flag) {
        case 'dnsServer':
          flags.dnsServer = [value];
          break;
        case 'smtpPort':
          flags.smtpPort = integer('RCPT_SMTP_PORT', 1, 65535)(value);
          break;
        case 'timeout':
          flags.timeout = integer('RCPT_TIMEOUT', 1, 86_400_000)(value);
          break;
        case 'greylistWait':
          flags.greylistWait = integer('RCPT_GREYLIST_WAIT', 0, 86_400)(value);
          break;
        case 'hostRate':
          flags.hostRate = integer('RCPT_HOST_RATE', 0, MAX_HOST_RATE)(value);
          break;
        case 'allowPrivateTargets':
        case 'proxyDistinctEgress':
          // A word that is neither (`enabled`, `y`) is refused, not read as off.
          if (!TRUE_WORDS.has(value.toLowerCase()) && !FALSE_WORDS.has(value.toLowerCase())) {
            throw new UsageError(
              `${variable} must be 1, true, yes or on (0, false, no or off to leave it off).`,
            );
          }
          flags[flag] = TRUE_WORDS.has(value.toLowerCase());
          break;
        case 'helo':
        case 'mailFrom':
          flags[flag] = value;
          break;
        case 'proxy':
          // Several proxies (a pool) separated by commas or spaces.
          flags.proxy = proxyUrls('RCPT_PROXY')(value, []);
          break;
        case 'proxyFor':
          // Rules separated by spaces (a rule's own pool is comma-separated).
          flags.proxyFor = value
            .split(/\s+/)
            .filter(Boolean)
            .reduce<string[]>((routes, rule) => proxyRoutes('RCPT_PROXY_FOR')(rule, routes), []);
          break;
      }
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  return flags;
}

/** A bad value in the environment: reported like a bad flag (exit 64). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The flags in effect: those given on the command line over their `RCPT_*` mirrors. */
function mergeEnvironment<T extends SharedFlags>(cliFlags: T, env: NodeJS.ProcessEnv): T {
  const defined = Object.fromEntries(Object.entries(cliFlags).filter(([, value]) => value !== undefined));
  return { ...flagsFromEnvironment(env), ...defined } as T;
}

/** `--dns-server` values as servers: RCPT_DNS_SERVER may hold several separated by commas or spaces. */
function dnsServersOf(flags: SharedFlags): string[] | undefined {
  return flags.dnsServer?.flatMap((value) => value.split(/[\s,]+/).filter(Boolean));
}

/**
 * The shared flags that decide verdicts, in effect (command line over environment), as a job records
 * them: keyed by flag name, defaults left out (src/jobs/job-settings.ts).
 */
export function sharedSettings(cliFlags: SharedFlags, env: NodeJS.ProcessEnv = {}): JobSettings {
  const flags = mergeEnvironment(cliFlags, env);
  const dnsServers = dnsServersOf(flags);
  const settings: Record<string, SettingValue> = {};
  if (dnsServers !== undefined && dnsServers.length > 0) settings['--dns-server'] = dnsServers;
  if (flags.smtpPort !== undefined) settings['--smtp-port'] = flags.smtpPort;
  if (flags.helo !== undefined) settings['--helo'] = flags.helo;
  if (flags.mailFrom !== undefined) settings['--mail-from'] = flags.mailFrom;
  if (flags.timeout !== undefined) settings['--timeout'] = flags.timeout;
  if (flags.greylistWait !== undefined) settings['--greylist-wait'] = flags.greylistWait;
  if (flags.allowPrivateTargets === true) settings['--allow-private-targets'] = true;
  if (flags.catchAll === false) settings['--no-catch-all'] = true;
  if (flags.transcript === true) settings['--transcript'] = true;
  if (flags.hostRate !== undefined) settings['--host-rate'] = flags.hostRate;
  // Proxies without their passwords (src/jobs/job-settings.ts, settingsOfOptions does the same).
  if (flags.proxy !== undefined && flags.proxy.length > 0)
    settings['--proxy'] = flags.proxy.map(recordedProxy);
  if (flags.proxyFor !== undefined && flags.proxyFor.length > 0) {
    settings['--proxy-for'] = flags.proxyFor.map((rule) => {
      const eq = rule.indexOf('=');
      const pool = rule
        .slice(eq + 1)
        .split(/[\s,]+/)
        .filter(Boolean);
      return `${rule.slice(0, eq).trim()}=${pool.map(recordedProxy).join(',')}`;
    });
  }
  if (flags.proxyDistinctEgress === true) settings['--proxy-distinct-egress'] = true;
  return settings;
}

/** Stands for a proxy's password in a recorded URL: the password itself is never recorded. */
const HIDDEN_PASSWORD = '***';

/** A proxy URL as a job records it: `socks5://user:***@host:port`, never the password. */
export function recordedProxy(url: string): string {
  if (url.trim().toLowerCase() === 'direct') return 'direct';
  const parsed = parseProxyUrl(url);
  if (!parsed.ok) return url.replace(/^([^:]*:\/\/[^:@/]*):[^@/]*@/, `$1:${HIDDEN_PASSWORD}@`);
  const { name, password } = parsed.endpoint;
  return password === null ? name : name.replace(/@(?=[^@]*$)/, `:${HIDDEN_PASSWORD}@`);
}

/** The recorded proxy settings that lack a password, so cannot be used as recorded: by flag name. */
export function proxiesLackingPassword(settings: JobSettings): string[] {
  const lacking = (name: string) => {
    const value = settings[name];
    return Array.isArray(value) && value.some((url: string) => url.includes(`:${HIDDEN_PASSWORD}@`));
  };
  return ['--proxy', '--proxy-for'].filter(lacking);
}

/** The shared flags a job's recorded settings stand for (the inverse of `sharedSettings`). */
export function sharedFlagsOf(settings: JobSettings): SharedFlags {
  const text = (name: string) => {
    const value = settings[name];
    return typeof value === 'string' ? value : undefined;
  };
  const number = (name: string) => {
    const value = settings[name];
    return typeof value === 'number' ? value : undefined;
  };
  const list = (name: string) => {
    const value = settings[name];
    return Array.isArray(value) ? [...(value as readonly string[])] : undefined;
  };
  const dns = settings['--dns-server'];
  const flags: { [K in keyof SharedFlags]: SharedFlags[K] | undefined } = {
    dnsServer: Array.isArray(dns) ? [...(dns as readonly string[])] : undefined,
    smtpPort: number('--smtp-port'),
    helo: text('--helo'),
    mailFrom: text('--mail-from'),
    timeout: number('--timeout'),
    greylistWait: number('--greylist-wait'),
    allowPrivateTargets: settings['--allow-private-targets'] === true ? true : undefined,
    catchAll: settings['--no-catch-all'] === true ? false : undefined,
    transcript: settings['--transcript'] === true ? true : undefined,
    hostRate: number('--host-rate'),
    // Proxies only as recorded whole: a recorded password is `***` (proxiesLackingPassword).
    proxy: proxiesLackingPassword(settings).includes('--proxy') ? undefined : list('--proxy'),
    proxyFor: proxiesLackingPassword(settings).includes('--proxy-for') ? undefined : list('--proxy-for'),
    proxyDistinctEgress: settings['--proxy-distinct-egress'] === true ? true : undefined,
  };
  return Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
}

/** Translates parsed flags into library options; flags override the environment's values. */
export function toVerifyOptions(cliFlags: SharedFlags, env: NodeJS.ProcessEnv = {}): VerifyOptions {
  const flags = mergeEnvironment(cliFlags, env);
  const dnsServers = dnsServersOf(flags);
  return {
    ...(dnsServers !== undefined && dnsServers.length > 0 ? { dnsServers } : {}),
    ...(flags.smtpPort !== undefined ? { smtpPort: flags.smtpPort } : {}),
    ...(flags.helo !== undefined ? { helo: flags.helo } : {}),
    ...(flags.mailFrom !== undefined ? { mailFrom: flags.mailFrom } : {}),
    ...(flags.timeout !== undefined ? { timeoutMs: flags.timeout } : {}),
    ...(flags.greylistWait !== undefined ? { greylistWaitMs: flags.greylistWait * 1000 } : {}),
    ...(flags.allowPrivateTargets === true ? { allowPrivateTargets: true } : {}),
    ...(flags.catchAll === false ? { catchAll: false } : {}),
    ...(flags.transcript === true ? { transcript: true } : {}),
    ...(flags.hostRate !== undefined ? { hostRate: flags.hostRate } : {}),
    ...(flags.proxy !== undefined && flags.proxy.length > 0 ? { proxy: flags.proxy } : {}),
    ...(flags.proxyDistinctEgress === true ? { proxyDistinctEgress: true } : {}),
    ...(flags.proxyFor !== undefined && flags.proxyFor.length > 0
      ? {
          proxyRoutes: flags.proxyFor.map((rule) => {
            const eq = rule.indexOf('=');
            return { match: rule.slice(0, eq), via: rule.slice(eq + 1) };
          }),
        }
      : {}),
  };
}

/** The flag that sets each library option the CLI passes (`toVerifyOptions`), for error messages. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  dnsServers: '--dns-server',
  smtpPort: '--smtp-port',
  port: '--smtp-port',
  helo: '--helo',
  mailFrom: '--mail-from',
  timeoutMs: '--timeout',
  greylistWaitMs: '--greylist-wait',
  allowPrivateTargets: '--allow-private-targets',
  catchAll: '--no-catch-all',
  transcript: '--transcript',
  hostRate: '--host-rate',
};

/**
 * A library option error in the user's words: the flag they typed (`--dns-server`), not the option
 * it became (`dnsServers`). An option no flag sets keeps the library's message.
 *
 * @example
 * flagOfOption(new OptionsError('helo', 'expected a host name')) // '--helo: expected a host name'
 */
export function flagOfOption(
  error: OptionsError,
  given: { readonly argv: readonly string[]; readonly env: NodeJS.ProcessEnv } = { argv: [], env: {} },
): string {
  const flag = FLAG_OF_OPTION[error.option];
  if (flag === undefined) return error.message;
  const detail = error.message.replace(/^Invalid option `[^`]*`: /, '');
  // A value from the environment is named by its variable: the command line has no such flag to fix.
  const onCommandLine = given.argv.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
  const variable = Object.entries(ENVIRONMENT).find(([, name]) => `--${kebab(name)}` === flag)?.[0];
  if (!onCommandLine && variable !== undefined && (given.env[variable] ?? '') !== '') {
    return `${variable}: ${detail}`;
  }
  return `${flag}: ${detail}`;
}

/** `dnsServer` → `dns-server`. */
function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}
