/**
 * The lists behind the domain facts, read from their npm packages on first use. Nothing is loaded
 * when rcpt is imported: the lists are 140–170 kB of JSON each, and a CLI that only parses addresses
 * should not pay for them. `createRequire` gives a synchronous, cached load, so the fact functions stay
 * synchronous and total.
 */
import { createRequire } from 'node:module';

import { disposableEmailBlocklist } from 'disposable-email-domains-js';

const require = createRequire(import.meta.url);

/** Keeps the strings of a JSON array, lowercased; anything else in the file is ignored. */
function toDomainList(data: unknown): readonly string[] {
  if (!Array.isArray(data)) return [];
  const domains: string[] = [];
  for (const entry of data as unknown[]) {
    if (typeof entry === 'string' && entry !== '') domains.push(entry.toLowerCase());
  }
  return domains;
}

let disposable: ReadonlySet<string> | null = null;
let providers: readonly string[] | null = null;

/**
 * The disposable-email-domains list (github.com/disposable-email-domains/disposable-email-domains,
 * republished by `disposable-email-domains-js`), as a Set built on first call. The package's own
 * `isDisposableEmailDomain()` builds a new Set on every call, so it is not used.
 */
export function disposableDomains(): ReadonlySet<string> {
  disposable ??= new Set(toDomainList(disposableEmailBlocklist()));
  return disposable;
}

/** `email-providers/all.json` (github.com/derhuerst/email-providers), read on first call. */
export function emailProviderDomains(): readonly string[] {
  providers ??= toDomainList(require('email-providers/all.json'));
  return providers;
}

let providerSet: ReadonlySet<string> | null = null;

/**
 * `emailProviderDomains()` as a Set, built once and shared: the free-provider fact and the typo
 * suggestion's known domains are each that list less a few exclusions, checked per domain asked about
 * rather than filtered into a Set of their own at first use (the free filter read all 8,700 domains
 * against the disposable list: the two cost a process about 13 ms of CPU more on its first address).
 */
export function emailProviderDomainSet(): ReadonlySet<string> {
  providerSet ??= new Set(emailProviderDomains());
  return providerSet;
}

let topLevel: ReadonlySet<string> | null = null;

/**
 * The top-level domains in the root zone (the `tlds` package, from ICANN's list), ASCII ones only:
 * the list holds IDN TLDs as U-labels, so callers treat any `xn--` label as delegated themselves.
 */
export function delegatedTopLevelDomains(): ReadonlySet<string> {
  topLevel ??= new Set(toDomainList(require('tlds')));
  return topLevel;
}
