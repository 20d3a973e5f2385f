/** The three facts about an address that need no network (docs/verdicts.md, "Flags"). */
import { isDisposableDomain } from './disposable.js';
import { isFreeProvider } from './free-provider.js';
import { isRoleLocalPart } from './role.js';

export interface DomainFacts {
  /** The local part names a function, not a person (RFC 2142 and common role names). */
  readonly role: boolean;
  /** The domain is a free mail provider's (and not disposable). */
  readonly free: boolean;
  /** The domain, or a parent of it, hands out throw-away mailboxes. */
  readonly disposable: boolean;
}

/**
 * Role, free-provider and disposable facts for a parsed address: pass `localPart` and `asciiDomain`
 * from `parseAddress()`. The lists load on the first call (a few milliseconds), not at import.
 *
 * `ofDomain`: the domain's part, when the caller keeps it (`domainOnlyFacts()`).
 *
 * @example
 * domainFacts('info', 'gmail.com') // { role: true, free: true, disposable: false }
 */
export function domainFacts(
  localPart: string,
  asciiDomain: string,
  ofDomain: DomainOnlyFacts = domainOnlyFacts(asciiDomain),
): DomainFacts {
  return { role: isRoleLocalPart(localPart), free: ofDomain.free, disposable: ofDomain.disposable };
}

/** The facts the domain alone decides. */
export type DomainOnlyFacts = Pick<DomainFacts, 'free' | 'disposable'>;

/**
 * The facts of `asciiDomain` alone, for a caller that keeps them per domain and passes them to
 * `domainFacts()` (a bulk run asks the same domains thousands of times).
 */
export function domainOnlyFacts(asciiDomain: string): DomainOnlyFacts {
  return { free: isFreeProvider(asciiDomain), disposable: isDisposableDomain(asciiDomain) };
}
