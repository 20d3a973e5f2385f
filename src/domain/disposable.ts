/**
 * Disposable (throw-away) mail domains. The list is disposable-email-domains
 * (github.com/disposable-email-domains/disposable-email-domains, republished on npm as
 * `disposable-email-domains-js`), chosen over `mailchecker` for precision; see `src/domain/README.md`.
 */
import { disposableDomains } from './package-data.js';

/**
 * True when `asciiDomain` or one of its parent domains is on the disposable list: services hand out
 * subdomains (`x.guerrillamail.com`) as freely as the domain itself. A bare top-level label is never
 * looked up. Case-insensitive; a non-string or empty input is `false`.
 *
 * @example
 * isDisposableDomain('mailinator.com')      // true
 * isDisposableDomain('inbox.mailinator.com') // true
 * isDisposableDomain('gmail.com')           // false
 */
export function isDisposableDomain(asciiDomain: string): boolean {
  const value: unknown = asciiDomain;
  if (typeof value !== 'string' || value === '') return false;
  const list = disposableDomains();
  let domain = value.toLowerCase();
  for (;;) {
    if (list.has(domain)) return true;
    const dot = domain.indexOf('.');
    if (dot === -1) return false;
    domain = domain.slice(dot + 1);
    if (!domain.includes('.')) return false;
  }
}
