/** Provider rules as data and the matcher that picks one for a host (docs/verdicts.md). Pure. */
export type { ProviderRule } from './provider-rule.js';
export { PROVIDER_RULES, providerById, type ProviderId } from './provider-rules.js';
export { matchProvider, hasDomainSuffix, greetingHost, type ProviderEvidence } from './match-provider.js';
