/**
 * `suggestAddress()`: "did you mean gmail.com?" for likely typos of well-known mail domains and
 * top-level domains. Tuned for precision: a domain that is itself known to be real is never
 * corrected, fuzzy matching only targets distinctive provider names, and ambiguous typos get no
 * suggestion. The rules are listed in `src/syntax/README.md`.
 */
import { emailProviderDomains } from '../domain/package-data.js';
import { KNOWN_TYPO_DOMAINS } from '../domain/known-typo-domains.js';
import { editDistance } from './edit-distance.js';
import { parseAddress } from './parse-address.js';
import {
  CERTAIN_TLD_FIXES,
  PROTECTED_DOMAINS,
  TARGET_TLD_FIXES,
  TWO_LABEL_SUFFIXES,
  TYPO_TARGETS,
} from './popular-domains.js';

interface Target {
  readonly domain: string;
  /** The label before the suffix: `gmail` in `gmail.com`, `yahoo` in `yahoo.co.uk`. */
  readonly name: string;
  readonly suffix: string;
}

interface Split {
  /** Everything before the suffix (may contain dots for subdomains). */
  readonly name: string;
  readonly suffix: string;
}

let targets: readonly Target[] | null = null;
let targetDomains: ReadonlySet<string> | null = null;
let knownReal: ReadonlySet<string> | null = null;

function getTargets(): readonly Target[] {
  targets ??= TYPO_TARGETS.flatMap((domain) => {
    const split = splitDomain(domain);
    return split === null ? [] : [{ domain, name: split.name, suffix: split.suffix }];
  });
  return targets;
}

function isTarget(domain: string): boolean {
  targetDomains ??= new Set(TYPO_TARGETS);
  return targetDomains.has(domain);
}

/**
 * Domains never corrected: the targets, the curated protected list, and every domain of the
 * `email-providers` list (about 8,700 real provider domains) except the typo domains it also holds.
 */
function isKnownReal(domain: string): boolean {
  if (knownReal === null) {
    const typos = new Set(KNOWN_TYPO_DOMAINS);
    const known = new Set([...TYPO_TARGETS, ...PROTECTED_DOMAINS]);
    for (const provider of emailProviderDomains()) if (!typos.has(provider)) known.add(provider);
    knownReal = known;
  }
  return knownReal.has(domain);
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

/** The closest target to `name` + `suffix`, or `null` when none is close enough or two tie. */
function closestTarget(name: string, suffix: string, originalSuffix: string): string | null {
  let best: string | null = null;
  let bestScore = Number.POSITIVE_INFINITY;
  let tie = false;
  for (const target of getTargets()) {
    let score: number;
    if (target.suffix === suffix) {
      if (name === target.name) {
        score = 0;
      } else {
        const max = maxNameDistance(target.name.length);
        if (max === 0 || !sameStart(name, target.name)) continue;
        score = editDistance(name, target.name, max);
        if (score > max) continue;
      }
    } else if (TARGET_TLD_FIXES.get(originalSuffix) === target.suffix && name === target.name) {
      score = 1;
    } else {
      continue;
    }
    if (score < bestScore) {
      best = target.domain;
      bestScore = score;
      tie = false;
    } else if (score === bestScore && target.domain !== best) {
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
  const certainTld = CERTAIN_TLD_FIXES.get(tld);
  // `gmail.com.com`, `gmail.com.con`: a target with a stray top-level label after it.
  const head = domain.slice(0, lastDot);
  if ((tld === 'com' || tld === 'net' || tld === 'org' || certainTld !== undefined) && isTarget(head))
    return head;
  const suffix = certainTld ?? split.suffix;
  if (!split.name.includes('.')) {
    const target = closestTarget(split.name, suffix, split.suffix);
    if (target !== null && target !== domain) return target;
  }
  return certainTld === undefined ? null : `${head}.${certainTld}`;
}

/** Repairs a domain that failed to parse only because of a slip around its dots (`gmail,com`, `gmail`). */
function repairDomain(typed: string): string | null {
  const repaired = typed
    .toLowerCase()
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

const REPAIRABLE = new Set(['DOMAIN_DOTLESS', 'DOMAIN_TRAILING_DOT', 'LABEL_EMPTY', 'DOMAIN_INVALID_CHAR']);

/**
 * The corrected address when `input` looks like a typo of a well-known mail domain or of a top-level
 * domain, else `null`. The local part is kept as typed; only the domain changes.
 *
 * @example
 * suggestAddress('alice@gmial.com')   // 'alice@gmail.com'
 * suggestAddress('bob@example.con')   // 'bob@example.com'
 * suggestAddress('carol@gmx.com')     // null (a real provider)
 */
export function suggestAddress(input: string): string | null {
  const parsed = parseAddress(input);
  if (parsed.valid) {
    const { localPart, asciiDomain } = parsed;
    if (localPart === null || asciiDomain === null || asciiDomain.startsWith('[')) return null;
    const domain = suggestDomain(asciiDomain);
    return domain === null ? null : `${localPart}@${domain}`;
  }
  if (parsed.error === null || !REPAIRABLE.has(parsed.error.code)) return null;
  const at = input.lastIndexOf('@');
  const localPart = input.slice(0, at);
  if (at <= 0 || !parseAddress(`${localPart}@example.com`).valid) return null;
  const domain = repairDomain(input.slice(at + 1));
  return domain === null ? null : `${localPart}@${domain}`;
}
