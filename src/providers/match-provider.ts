/**
 * Which provider runs a mail host: by the MX host name first, by the greeting as a fallback. A pure,
 * total module: any input returns a rule or `null`, never throws.
 */
import type { ProviderRule } from './provider-rule.js';
import { PROVIDER_RULES } from './provider-rules.js';

/** Widened once, so optional fields read as optional whatever each literal rule declares. */
const RULES: readonly ProviderRule[] = PROVIDER_RULES;

/** What is known about the host being probed. */
export interface ProviderEvidence {
  /** The MX host name as published (`aspmx.l.google.com.`), or `null`. */
  readonly mxHost: string | null;
  /** The 220 greeting text (with or without its `220 ` code), or `null` before one was read. */
  readonly banner: string | null;
}

/** Hostnames are case-insensitive (RFC 4343); one trailing dot (an absolute name) is allowed. */
function normaliseName(name: string): string | null {
  let value = name.trim().toLowerCase();
  if (value.endsWith('.')) value = value.slice(0, -1);
  if (value === '' || value.length > 253) return null;
  // An empty label (`a..b`, `.a`) is not a host name: refuse rather than match something odd.
  if (value.split('.').some((label) => label === '')) return null;
  return value;
}

/**
 * True when `host` is `suffix` or ends with `.suffix`: a match on a label boundary, so `google.com`
 * matches `aspmx.l.google.com` but never `evilgoogle.com`.
 */
export function hasDomainSuffix(host: string, suffix: string): boolean {
  const name = normaliseName(host);
  const tail = normaliseName(suffix.startsWith('.') ? suffix.slice(1) : suffix);
  if (name === null || tail === null) return false;
  return name === tail || name.endsWith(`.${tail}`);
}

/** Every suffix, normalised once, longest first: the first hit is the most specific rule. */
const SUFFIXES: readonly { readonly tail: string; readonly rule: ProviderRule }[] = RULES.flatMap((rule) =>
  rule.mxSuffixes.flatMap((suffix) => {
    const tail = normaliseName(suffix.startsWith('.') ? suffix.slice(1) : suffix);
    return tail === null ? [] : [{ tail, rule }];
  }),
).sort((a, b) => b.tail.length - a.tail.length);

/** The rule whose longest suffix matches `host` (so a narrower rule beats a broader one), or `null`. */
function matchHost(host: string): ProviderRule | null {
  const name = normaliseName(host);
  if (name === null) return null;
  for (const { tail, rule } of SUFFIXES) {
    if (name === tail || name.endsWith(`.${tail}`)) return rule;
  }
  return null;
}

/**
 * The server's own name from a greeting: RFC 5321 §4.2 puts it first (`220 mx.google.com ESMTP …`).
 * Returns `null` when the first word does not look like a domain.
 */
export function greetingHost(banner: string): string | null {
  const firstLine = banner.split(/\r?\n/, 1)[0] ?? '';
  const withoutCode = firstLine.replace(/^\s*[2-5]\d\d(?:[ -]|$)/, '');
  const word = /^\s*([^\s()[\]<>]+)/.exec(withoutCode)?.[1];
  if (word === undefined || !word.includes('.') || !/^[a-z0-9.-]+\.?$/i.test(word)) return null;
  return word;
}

/**
 * Answers already given: a bulk run asks about the same few hosts for every address (three times
 * each), and matching walks every suffix. The MX host name decides when it matches a suffix, whatever
 * the greeting says; otherwise the greeting alone does. So each is kept under its own key: a vanity
 * MX name per domain with one provider's greeting is one walk per name and one per greeting, and no
 * key joins the two (a string built and hashed per reply, in a bulk run's sessions). Bounded: each
 * cleared when full; long banners are not kept.
 */
const byHost = new Map<string, ProviderRule | null>();
const byBanner = new Map<string, ProviderRule | null>();
const MAX_ANSWERS = 4_096;
const MAX_KEPT_BANNER = 512;

/**
 * The provider rule for a host, or `null` when none applies. The MX host name decides when it matches
 * a suffix; otherwise the greeting's server name is matched against the same suffixes, then the rules'
 * banner patterns are tried in order (a vanity MX name pointing at a provider's servers).
 *
 * @example matchProvider({ mxHost: 'alt1.aspmx.l.google.com.', banner: null })?.id // 'google'
 */
export function matchProvider(evidence: ProviderEvidence): ProviderRule | null {
  if (evidence.mxHost !== null) {
    const rule = remembered(byHost, evidence.mxHost, matchHost);
    if (rule !== null) return rule;
  }
  const banner = evidence.banner;
  if (banner === null) return null;
  if (banner.length > MAX_KEPT_BANNER) return matchBanner(banner);
  return remembered(byBanner, banner, matchBanner);
}

function remembered(
  answers: Map<string, ProviderRule | null>,
  key: string,
  find: (key: string) => ProviderRule | null,
): ProviderRule | null {
  const known = answers.get(key);
  if (known !== undefined) return known;
  const rule = find(key);
  if (answers.size >= MAX_ANSWERS) answers.clear();
  answers.set(key, rule);
  return rule;
}

/** The rule a greeting names: its server's name by suffix, else the first rule whose pattern it meets. */
function matchBanner(banner: string): ProviderRule | null {
  const host = greetingHost(banner);
  if (host !== null) {
    const byGreeting = matchHost(host);
    if (byGreeting !== null) return byGreeting;
  }
  const text = banner.slice(0, 4096);
  for (const rule of RULES) {
    if (rule.bannerPatterns?.some((pattern) => pattern.test(text)) === true) return rule;
  }
  return null;
}
