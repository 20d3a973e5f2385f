/** Domain facts (docs/verdicts.md, "Flags"): pure lookups in lists from maintained npm packages. */
export { domainFacts, domainOnlyFacts, type DomainFacts, type DomainOnlyFacts } from './domain-facts.js';
export { isDisposableDomain } from './disposable.js';
export { isFreeProvider } from './free-provider.js';
export { isRoleLocalPart } from './role.js';
