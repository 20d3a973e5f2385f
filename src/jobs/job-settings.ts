/**
 * A job's settings: what decided its verdicts (DNS servers, HELO, MAIL FROM, ports, timeouts, …),
 * recorded with the job so that a resumed job is verified as it began, and a resume that asks for
 * something else is noticed instead of mixing two configurations in one output. Keyed by the name the
 * user set each one by (`--dns-server`), so a difference is reported in the user's own words.
 * A proxy's password is never recorded (`recordedProxy`).
 */
import type { VerifyOptions } from '../options.js';
import { parseProxyUrl, redact } from '../proxy/proxy-url.js';

/** One setting's value; a setting left at its default is not recorded. */
export type SettingValue = string | number | boolean | readonly string[];

/** Settings by the flag that sets each, e.g. `{ '--dns-server': ['127.0.0.1:5353'], '--timeout': 500 }`. */
export type JobSettings = Readonly<Record<string, SettingValue>>;

/** A setting whose value on a resume differs from the job's; `null` means "the default". */
export interface SettingDifference {
  readonly name: string;
  readonly recorded: SettingValue | null;
  readonly given: SettingValue | null;
}

function isSettingValue(value: unknown): value is SettingValue {
  return (
    typeof value === 'string' ||
    typeof value === 'number' ||
    typeof value === 'boolean' ||
    (Array.isArray(value) && value.every((item) => typeof item === 'string'))
  );
}

/**
 * The settings recorded in a job's options (`options.settings`), or `null` for a job made before rcpt
 * recorded them (such a job is resumed with the settings given now).
 */
export function recordedSettings(options: Readonly<Record<string, unknown>>): JobSettings | null {
  const settings = options.settings;
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) return null;
  return Object.fromEntries(
    Object.entries(settings as Record<string, unknown>).filter(([, value]) => isSettingValue(value)),
  ) as JobSettings;
}

const same = (a: SettingValue | null, b: SettingValue | null) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The settings in `given` that contradict `recorded`. With `complete`, `given` is a whole configuration
 * (a restarted server verifies with its own), so a setting recorded but not given differs too;
 * without it, what is not given is taken from the job and only what is given is compared.
 *
 * @example
 * compareSettings({ '--helo': 'a.test' }, { '--helo': 'b.test' }) // [{ name: '--helo', recorded: 'a.test', given: 'b.test' }]
 */
export function compareSettings(
  recorded: JobSettings,
  given: JobSettings,
  options: { readonly complete?: boolean } = {},
): SettingDifference[] {
  const names = new Set(Object.keys(given));
  if (options.complete === true) for (const name of Object.keys(recorded)) names.add(name);
  const differences: SettingDifference[] = [];
  for (const name of [...names].sort()) {
    const before = recorded[name] ?? null;
    const now = given[name] ?? null;
    if (!same(before, now)) differences.push({ name, recorded: before, given: now });
  }
  return differences;
}

function show(value: SettingValue | null): string {
  if (value === null) return 'not set (the default)';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/**
 * "--dns-server: the job used 127.0.0.1:5353, now 10.0.0.1; --helo: …"; `words` names the two sides
 * otherwise (a scale-out worker says "the job has …, this worker …").
 */
export function describeDifferences(
  differences: readonly SettingDifference[],
  words: { readonly recorded: string; readonly given: string } = { recorded: 'the job used', given: 'now' },
): string {
  return differences
    .map(
      ({ name, recorded, given }) =>
        `${name}: ${words.recorded} ${show(recorded)}, ${words.given} ${show(given)}`,
    )
    .join('; ');
}

/** What stands for a proxy's password in a recorded URL: the password itself is never stored. */
export const HIDDEN_PASSWORD = '***';

/**
 * A proxy URL as a job records it: `socks5://user:***@host:port`, without its password (a job store
 * is no place for it); a URL without credentials is recorded whole, and `direct` as it is.
 *
 * @example
 * recordedProxy('socks5://probe:secret@192.0.2.7:1080') // 'socks5://probe:***@192.0.2.7:1080'
 */
export function recordedProxy(url: string): string {
  if (url.trim().toLowerCase() === 'direct') return 'direct';
  const parsed = parseProxyUrl(url);
  if (!parsed.ok) return redact(url);
  const { name, password } = parsed.endpoint;
  return password === null ? name : name.replace(/@(?=[^@]*$)/, `:${HIDDEN_PASSWORD}@`);
}

/**
 * The settings that verification options stand for, by the flag that sets each: what the CLI records
 * with a job (src/cli/common-options.ts builds the same from its flags), and what a scale-out worker
 * compares with a job's. Options at their defaults, and those no flag sets, are left out; proxy URLs
 * without their passwords.
 *
 * @example
 * settingsOfOptions({ dnsServers: ['127.0.0.1:5353'], greylistWaitMs: 60_000 })
 * // { '--dns-server': ['127.0.0.1:5353'], '--greylist-wait': 60 }
 */
export function settingsOfOptions(options: VerifyOptions): JobSettings {
  const settings: Record<string, SettingValue> = {};
  if (options.dnsServers !== undefined && options.dnsServers.length > 0) {
    settings['--dns-server'] = [...options.dnsServers];
  }
  if (options.smtpPort !== undefined) settings['--smtp-port'] = options.smtpPort;
  if (options.helo !== undefined) settings['--helo'] = options.helo;
  if (options.mailFrom !== undefined) settings['--mail-from'] = options.mailFrom;
  if (options.timeoutMs !== undefined) settings['--timeout'] = options.timeoutMs;
  if (options.greylistWaitMs !== undefined) settings['--greylist-wait'] = options.greylistWaitMs / 1000;
  if (options.allowPrivateTargets === true) settings['--allow-private-targets'] = true;
  if (options.catchAll === false) settings['--no-catch-all'] = true;
  if (options.transcript === true) settings['--transcript'] = true;
  if (options.hostRate !== undefined) settings['--host-rate'] = options.hostRate;
  const proxies = options.proxy === undefined ? [] : [options.proxy].flat();
  if (proxies.length > 0) settings['--proxy'] = proxies.map(recordedProxy);
  if (options.proxyRoutes !== undefined && options.proxyRoutes.length > 0) {
    settings['--proxy-for'] = options.proxyRoutes.map(
      ({ match, via }) =>
        `${match}=${via
          .split(/[\s,]+/)
          .filter(Boolean)
          .map(recordedProxy)
          .join(',')}`,
    );
  }
  if (options.proxyDistinctEgress === true) settings['--proxy-distinct-egress'] = true;
  return settings;
}

/**
 * The verification options that recorded settings stand for (the inverse of `settingsOfOptions`),
 * proxies excepted: their passwords are not recorded, so whoever verifies gives its own.
 *
 * @example
 * optionsOfSettings({ '--smtp-port': 2525, '--greylist-wait': 60 }) // { smtpPort: 2525, greylistWaitMs: 60000 }
 */
export function optionsOfSettings(settings: JobSettings): VerifyOptions {
  const text = (name: string) => (typeof settings[name] === 'string' ? settings[name] : undefined);
  const number = (name: string) => (typeof settings[name] === 'number' ? settings[name] : undefined);
  const dns = settings['--dns-server'];
  const port = number('--smtp-port');
  const helo = text('--helo');
  const mailFrom = text('--mail-from');
  const timeout = number('--timeout');
  const greylistWait = number('--greylist-wait');
  const hostRate = number('--host-rate');
  return {
    ...(Array.isArray(dns) && dns.length > 0 ? { dnsServers: [...(dns as readonly string[])] } : {}),
    ...(port === undefined ? {} : { smtpPort: port }),
    ...(helo === undefined ? {} : { helo }),
    ...(mailFrom === undefined ? {} : { mailFrom }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    ...(greylistWait === undefined ? {} : { greylistWaitMs: greylistWait * 1000 }),
    ...(settings['--allow-private-targets'] === true ? { allowPrivateTargets: true } : {}),
    ...(settings['--no-catch-all'] === true ? { catchAll: false } : {}),
    ...(settings['--transcript'] === true ? { transcript: true } : {}),
    ...(hostRate === undefined ? {} : { hostRate }),
  };
}
