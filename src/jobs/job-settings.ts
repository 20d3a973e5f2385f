/**
 * A job's settings: what decided its verdicts (DNS servers, HELO, MAIL FROM, ports, timeouts, …),
 * recorded with the job so that a resumed job is verified as it began, and a resume that asks for
 * something else is noticed instead of mixing two configurations in one output. Keyed by the name the
 * user set each one by (`--dns-server`), so a difference is reported in the user's own words.
 */

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

/** "--dns-server: the job used 127.0.0.1:5353, now 10.0.0.1; --helo: …" */
export function describeDifferences(differences: readonly SettingDifference[]): string {
  return differences
    .map(({ name, recorded, given }) => `${name}: the job used ${show(recorded)}, now ${show(given)}`)
    .join('; ');
}
