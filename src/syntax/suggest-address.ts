/**
 * `suggestAddress()`: "did you mean gmail.com?" for likely typos of well-known mail domains and
 * top-level domains. Tuned for precision: a domain that is itself known to be real is never
 * corrected, fuzzy matching only targets distinctive provider names, and ambiguous typos get no
 * suggestion. The rules are listed in `src/syntax/README.md`.
 */
import { delegatedTopLevelDomains, emailProviderDomainSet } from '../domain/package-data.js';
import { KNOWN_TYPO_DOMAINS } from '../domain/known-typo-domains.js';
import { editDistance, isKeyNeighbour, keyboardDistance } from './edit-distance.js';
import { parseAddress } from './parse-address.js';
import type { SyntaxResult } from '../types.js';
import {
  COMMON_SUFFIXES,
  LOOSE_START_NAMES,
  PROTECTED_DOMAINS,
  SPECIAL_USE_TLDS,
  TARGET_TLD_FIXES,
  TWO_LABEL_SUFFIXES,
  TYPO_TARGETS,
} from './popular-domains.js';

interface Target {
  readonly domain: string;
  /** The label before the suffix: `gmail` in `gmail.com`, `yahoo` in `yahoo.co.uk`. */
  readonly name: string;
  readonly suffix: string;
  /** The name is in `LOOSE_START_NAMES`: its first letter may be the slip. */
  readonly loose: boolean;
}

interface Split {
  /** Everything before the suffix (may contain dots for subdomains). */
  readonly name: string;
  readonly suffix: string;
}

let targets: readonly Target[] | null = null;
let targetDomains: ReadonlySet<string> | null = null;
let targetsByHead: ReadonlyMap<number, readonly string[]> | null = null;
/** What `isKnownReal()` reads besides the provider list, built on first use. */
let knownReal: { readonly curated: ReadonlySet<string>; readonly typos: ReadonlySet<string> } | null = null;

function getTargets(): readonly Target[] {
  targets ??= TYPO_TARGETS.flatMap((domain) => {
    const split = splitDomain(domain);
    return split === null
      ? []
      : [{ domain, name: split.name, suffix: split.suffix, loose: LOOSE_START_NAMES.has(split.name) }];
  });
  return targets;
}

let targetsBySuffix: ReadonlyMap<string, readonly Target[]> | null = null;

function targetsUnder(suffix: string): readonly Target[] {
  if (targetsBySuffix === null) {
    const map = new Map<string, Target[]>();
    for (const target of getTargets()) map.set(target.suffix, [...(map.get(target.suffix) ?? []), target]);
    targetsBySuffix = map;
  }
  return targetsBySuffix.get(suffix) ?? [];
}

function isTarget(domain: string): boolean {
  targetDomains ??= new Set(TYPO_TARGETS);
  return targetDomains.has(domain);
}

let targetNames: ReadonlySet<string> | null = null;

function isTargetName(name: string): boolean {
  targetNames ??= new Set(getTargets().map((target) => target.name));
  return targetNames.has(name);
}

function countDots(domain: string): number {
  let dots = 0;
  for (let index = domain.indexOf('.'); index !== -1; index = domain.indexOf('.', index + 1)) dots++;
  return dots;
}

/** The first four characters of `text` as one number (ASCII domains: 7 bits each), or -1. */
function headKey(text: string): number {
  if (text.length < 4) return -1;
  return (
    (text.charCodeAt(0) << 21) | (text.charCodeAt(1) << 14) | (text.charCodeAt(2) << 7) | text.charCodeAt(3)
  );
}

/**
 * The target whose letters `domain` has, in the same order, with its dots moved or dropped
 * (`gmai.lcom`, `hotmailc.om`, `hotmail.couk`), else `null`. A domain with more dots than the target is
 * left alone: `g.mail.com` is a host under mail.com, not a slip. Every target name has 5 or more
 * letters, so a dot one place off leaves the first four characters as they are: those pick the
 * candidates, and a domain that starts like no target costs one lookup.
 */
function targetWithDotsMoved(domain: string): string | null {
  if (targetsByHead === null) {
    const map = new Map<number, string[]>();
    for (const target of TYPO_TARGETS) {
      const key = headKey(target);
      map.set(key, [...(map.get(key) ?? []), target]);
    }
    targetsByHead = map;
  }
  const candidates = targetsByHead.get(headKey(domain));
  if (candidates === undefined) return null;
  const letters = domain.replaceAll('.', '');
  for (const target of candidates) {
    if (target !== domain && target.replaceAll('.', '') === letters && countDots(domain) <= countDots(target))
      return target;
  }
  return null;
}

/**
 * True when `tld` is certainly not in the root zone, so no domain under it can receive mail. IDN
 * top-level labels (`xn--p1ai`) count as delegated: the package lists them as U-labels.
 */
function isUndelegated(tld: string): boolean {
  return !delegatedTopLevelDomains().has(tld) && !tld.startsWith('xn--') && !SPECIAL_USE_TLDS.has(tld);
}

/** The one entry of `candidates` nearest to `typed` within `max`, or `undefined` when none is or two tie. */
function nearest(
  typed: string,
  candidates: readonly string[],
  distance: (a: string, b: string) => number,
  max: number,
): string | undefined {
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const candidate of candidates) {
    const score = distance(typed, candidate);
    if (score > max) continue;
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
      tie = false;
    } else if (score === bestScore) {
      tie = true;
    }
  }
  return tie ? undefined : best;
}

/** A slipped top-level label that is not in the root zone, fixed to a common suffix (`nry` → `net`). */
function fixUndelegatedTld(tld: string): string | undefined {
  return nearest(tld, COMMON_SUFFIXES, keyboardDistance, 1);
}

/**
 * A target's exact name under a suffix that is not in the root zone (`yahoo.co.um`, `hotmail.couk`,
 * `btinternet.couk`): the same provider's suffix nearest to what was typed, within 2 edits, unless two
 * are equally near (`hotmail.ed`: `.de` or `.es`?).
 */
function ownSuffix(domain: string): string | null {
  const dot = domain.indexOf('.');
  const name = domain.slice(0, dot);
  const suffixes = getTargets()
    .filter((target) => target.name === name)
    .map((target) => target.suffix);
  const suffix = nearest(domain.slice(dot + 1), suffixes, (a, b) => editDistance(a, b, 2), 2);
  return suffix === undefined ? null : `${name}.${suffix}`;
}

/**
 * A target's exact name under a top-level label that is not in the root zone: `gmail.c` and
 * `comcast.nt` (the `TARGET_TLD_FIXES`), then the provider's nearest suffix (`yahoo.co.um`,
 * `yahoo.com.brr`), then the provider's domain with a stray label after it (`gmail.com.con`).
 */
function fixOwnSuffix(domain: string): string | null {
  const lastDot = domain.lastIndexOf('.');
  const head = domain.slice(0, lastDot);
  const targetFix = TARGET_TLD_FIXES.get(domain.slice(lastDot + 1));
  if (targetFix !== undefined && isTarget(`${head}.${targetFix}`)) return `${head}.${targetFix}`;
  return ownSuffix(domain) ?? (isTarget(head) ? head : null);
}

/**
 * Domains never corrected: the targets, the curated protected list, and every domain of the
 * `email-providers` list (about 8,700 real provider domains) except the typo domains it also holds.
 */
function isKnownReal(domain: string): boolean {
  knownReal ??= {
    curated: new Set([...TYPO_TARGETS, ...PROTECTED_DOMAINS]),
    typos: new Set(KNOWN_TYPO_DOMAINS),
  };
  if (knownReal.curated.has(domain)) return true;
  return emailProviderDomainSet().has(domain) && !knownReal.typos.has(domain);
}

function splitDomain(domain: string): Split | null {
  const lastDot = domain.lastIndexOf('.');
  if (lastDot <= 0) return null;
  const secondDot = domain.lastIndexOf('.', lastDot - 1);
  if (secondDot > 0 && TWO_LABEL_SUFFIXES.has(domain.slice(secondDot + 1))) {
    return { name: domain.slice(0, secondDot), suffix: domain.slice(secondDot + 1) };
  }
  return { name: domain.slice(0, lastDot), suffix: domain.slice(lastDot + 1) };
}

/**
 * How many edits a name may be from a target name. Short names have too many real neighbours one
 * edit away; 10+ letters (`googlemail`, `protonmail`) leave room for two slips.
 */
function maxNameDistance(length: number): number {
  if (length < 5) return 0;
  return length < 10 ? 1 : 2;
}

/**
 * The first letter must match (or be swapped with the second): slips rarely hit the first key, while
 * real names one edit from a target usually differ there (`wahoo`/`yahoo`, `email`/`gmail`,
 * `cloud`/`icloud`, `pocketmail`/`rocketmail`).
 */
function sameStart(typed: string, target: string): boolean {
  const a0 = typed.charCodeAt(0);
  const b0 = target.charCodeAt(0);
  return a0 === b0 || (a0 === target.charCodeAt(1) && typed.charCodeAt(1) === b0);
}

/**
 * True when `typed` is `target` with its first letter dropped (`otmail`) or hit on a neighbouring key
 * (`jotmail`).
 */
function isFirstLetterSlip(typed: string, target: string): boolean {
  if (typed.length === target.length - 1) return target.endsWith(typed);
  return (
    typed.length === target.length &&
    isKeyNeighbour(target.charAt(0), typed.charAt(0)) &&
    typed.endsWith(target.slice(1))
  );
}

/** How far `name` is from `target`'s name, or `null` when it is not a likely slip of it. */
function nameScore(name: string, target: Target): number | null {
  if (name === target.name) return 0;
  const max = maxNameDistance(target.name.length);
  if (max === 0) return null;
  if (sameStart(name, target.name)) {
    const score = editDistance(name, target.name, max);
    return score > max ? null : score;
  }
  return target.loose && isFirstLetterSlip(name, target.name) ? 1 : null;
}

/**
 * The closest target to `name` + `suffix`, or `null` when none is close enough or two tie. Only the
 * targets under `suffix` are compared by name; those under the `TARGET_TLD_FIXES` fix of the typed
 * suffix (`gmail.cm` → `.com`) must have the exact name.
 */
function closestTarget(name: string, suffix: string, originalSuffix: string): string | null {
  const scored: [domain: string, score: number][] = [];
  for (const target of targetsUnder(suffix)) {
    const score = nameScore(name, target);
    if (score !== null) scored.push([target.domain, score]);
  }
  const fixed = TARGET_TLD_FIXES.get(originalSuffix);
  if (fixed !== undefined && fixed !== suffix) {
    for (const target of targetsUnder(fixed)) if (target.name === name) scored.push([target.domain, 1]);
  }
  let best: string | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const [domain, score] of scored) {
    if (score < bestScore) {
      best = domain;
      bestScore = score;
      tie = false;
    } else if (score === bestScore && domain !== best) {
      tie = true;
    }
  }
  return tie ? null : best;
}

/**
 * The corrected form of a lowercased ASCII domain, or `null` when it looks right or the fix is
 * uncertain. Exported for the tests and for callers that hold a parsed domain already.
 */
export function suggestDomain(domain: string): string | null {
  if (isKnownReal(domain)) return null;
  const split = splitDomain(domain);
  if (split === null) return null;
  const lastDot = domain.lastIndexOf('.');
  const tld = domain.slice(lastDot + 1);
  const head = domain.slice(0, lastDot);
  const undelegated = isUndelegated(tld);
  // A provider's exact name under a suffix that cannot exist: one of that provider's domains or
  // nothing (`gmail.nry` is not `gmail.net`, which is not Google's).
  if (undelegated && isTargetName(domain.slice(0, domain.indexOf('.')))) return fixOwnSuffix(domain);
  // `gmail.com.com`: a target with a stray top-level label after it.
  if ((tld === 'com' || tld === 'net' || tld === 'org' || undelegated) && isTarget(head)) return head;
  const moved = targetWithDotsMoved(domain);
  if (moved !== null) return moved;
  const fixedTld = undelegated ? fixUndelegatedTld(tld) : undefined;
  const suffix = fixedTld ?? split.suffix;
  if (!split.name.includes('.')) {
    const target = closestTarget(split.name, suffix, split.suffix);
    if (target !== null && target !== domain) return target;
  }
  return fixedTld === undefined ? null : `${head}.${fixedTld}`;
}

/**
 * Repairs a domain that failed to parse only because of a slip around its dots (`gmail,com`, `gmail`)
 * or a stray symbol or space before it (`@.gmail.com`, `@,gmail.com`, `@-gmail.com`, `@ gmail.com`).
 */
function repairDomain(typed: string): string | null {
  const repaired = typed
    .toLowerCase()
    .replace(/^[\s!-/:-@[-`{-~]+/, '')
    .replace(/[,;]/g, '.')
    .replace(/\.{2,}/g, '.')
    .replace(/^\.|\.$/g, '');
  if (!/^[a-z0-9-]+(?:\.[a-z0-9-]+)*$/.test(repaired)) return null;
  if (!repaired.includes('.')) {
    // `bob@gmail` or `bob@gmailcom`: only a target name (or name + suffix without its dots) qualifies.
    const matches = getTargets().filter(
      (target) =>
        target.name.length >= 5 &&
        (target.name === repaired || `${target.name}${target.suffix.replace(/\./g, '')}` === repaired),
    );
    const dotCom = matches.find(
      (target) => target.suffix === 'com' || target.domain.replace(/\./g, '') === repaired,
    );
    return dotCom?.domain ?? (matches.length === 1 ? (matches[0]?.domain ?? null) : null);
  }
  if (isTarget(repaired)) return repaired;
  const suggestion = suggestDomain(repaired);
  return suggestion !== null && isTarget(suggestion) ? suggestion : null;
}

const REPAIRABLE = new Set([
  'DOMAIN_DOTLESS',
  'DOMAIN_TRAILING_DOT',
  'LABEL_EMPTY',
  'DOMAIN_INVALID_CHAR',
  'LABEL_HYPHEN',
  'WHITESPACE',
]);

/**
 * The corrected address when `input` looks like a typo of a well-known mail domain or of a top-level
 * domain, else `null`. The local part is kept as typed; only the domain changes.
 *
 * @example
 * suggestAddress('alice@gmial.com')   // 'alice@gmail.com'
 * suggestAddress('bob@example.con')   // 'bob@example.com'
 * suggestAddress('dan@hotmail.couk')  // 'dan@hotmail.co.uk'
 * suggestAddress('carol@gmx.com')     // null (a real provider)
 *
 * `parsed` is `parseAddress(input)` when the caller has it already (the verifier does), so the address
 * is not parsed twice.
 */
export function suggestAddress(input: string, parsed: SyntaxResult = parseAddress(input)): string | null {
  return suggestionFor(input, parsed, suggestDomain);
}

/**
 * `suggestAddress()` with the domain's suggestion taken from `domainSuggestion` (`suggestDomain()` or
 * a caller's memo of it: a bulk run asks the same domains thousands of times).
 */
export function suggestionFor(
  input: string,
  parsed: SyntaxResult,
  domainSuggestion: (asciiDomain: string) => string | null,
): string | null {
  if (parsed.valid) {
    const { localPart, asciiDomain } = parsed;
    if (localPart === null || asciiDomain === null || asciiDomain.startsWith('[')) return null;
    const domain = domainSuggestion(asciiDomain);
    return domain === null ? null : `${localPart}@${domain}`;
  }
  if (parsed.error === null || !REPAIRABLE.has(parsed.error.code)) return null;
  const at = input.lastIndexOf('@');
  // `alice@@gmail.com`: the local part ends where the run of `@` starts.
  let end = at;
  while (end > 0 && input.charCodeAt(end - 1) === 0x40) end--;
  const localPart = input.slice(0, end);
  if (end <= 0 || !parseAddress(`${localPart}@example.com`).valid) return null;
  const domain = repairDomain(input.slice(at + 1));
  return domain === null ? null : `${localPart}@${domain}`;
}
