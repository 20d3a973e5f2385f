/**
 * Free mail providers: domains where anyone can open a mailbox at no cost (gmail.com, gmx.de,
 * yandex.ru). The list is `email-providers/all.json` (github.com/derhuerst/email-providers, about
 * 8,700 domains), minus what that list holds which is not a free provider:
 *   - disposable domains (about a third of it): those get the `disposable` flag instead;
 *   - typos of big providers (`gmial.com`), see `known-typo-domains.ts`;
 *   - placeholders: RFC 2606 `example.*` and `test.com`, `test.de`, `yourdomain.com`, `mydomain.com`.
 */
import { isDisposableDomain } from './disposable.js';
import { KNOWN_TYPO_DOMAINS } from './known-typo-domains.js';
import { emailProviderDomainSet } from './package-data.js';

const NOT_PROVIDERS: readonly string[] = [
  'example.com',
  'example.net',
  'example.org',
  'test.com',
  'test.de',
  'yourdomain.com',
  'mydomain.com',
];

let excluded: ReadonlySet<string> | null = null;

/** A domain of the list that is neither excluded nor disposable (the list's domains are lower case). */
function isFreeDomain(domain: string): boolean {
  if (!emailProviderDomainSet().has(domain)) return false;
  excluded ??= new Set([...KNOWN_TYPO_DOMAINS, ...NOT_PROVIDERS]);
  return !excluded.has(domain) && !isDisposableDomain(domain);
}

/**
 * True when `asciiDomain` is a free mail provider's domain. Exact match only: `mail.yahoo.com` is
 * not a domain anyone gets a mailbox on. Case-insensitive; a non-string input is `false`.
 *
 * @example
 * isFreeProvider('gmail.com')       // true
 * isFreeProvider('mailinator.com')  // false (disposable, not free)
 * isFreeProvider('example.com')     // false
 */
export function isFreeProvider(asciiDomain: string): boolean {
  const value: unknown = asciiDomain;
  return typeof value === 'string' && isFreeDomain(value.toLowerCase());
}
