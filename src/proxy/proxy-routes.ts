/**
 * Which way a probe goes: through which proxy pool, or direct (docs/proxies.md). The operator names
 * routes with `--proxy-for MATCH=URL|direct`; the first rule that matches wins, and an address no rule
 * matches goes through the default pool (`--proxy`), or direct when there is none. A pure module.
 *
 * MATCH is a provider id (`microsoft365`, `google`: the MX host name's provider, src/providers), a
 * domain (`example.com`: the recipient's domain or an MX host name, on a label boundary), or an MX
 * suffix (`.protection.outlook.com`: the MX host name only).
 */
import { PROVIDER_RULES, hasDomainSuffix } from '../providers/index.js';

/** Every provider id a rule may name. */
export const PROVIDER_IDS: ReadonlySet<string> = new Set(PROVIDER_RULES.map((rule) => rule.id));

/** One `--proxy-for` rule, as written: `match` and where it goes (`direct`, or a proxy URL). */
export interface ProxyRoute {
  readonly match: string;
  readonly via: string;
}

/** What a rule is matched against: known before connecting. */
export interface RouteSubject {
  /** The recipient's domain (A-label). */
  readonly domain: string;
  /** The MX host name being connected to. */
  readonly mxHost: string;
  /** The provider id that the MX host name matches, `null` when none. */
  readonly provider: string | null;
}

/** Parses `MATCH=URL|direct`; `reason` when it is not that shape (the URL itself is checked apart). */
export function parseProxyRoute(
  text: string,
): { readonly ok: true; readonly route: ProxyRoute } | { readonly ok: false; readonly reason: string } {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) {
    return { ok: false, reason: `"${text}" is not MATCH=URL or MATCH=direct` };
  }
  const match = text.slice(0, eq).trim().toLowerCase();
  const via = text.slice(eq + 1).trim();
  if (!PROVIDER_IDS.has(match) && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(match)) {
    return {
      ok: false,
      reason: `"${match}" is not a provider id (${[...PROVIDER_IDS].join(', ')}), a domain or an MX suffix (.example.com)`,
    };
  }
  return { ok: true, route: { match, via } };
}

/** True when `route.match` matches the subject: a provider id, an MX suffix (`.x`) or a domain. */
export function routeMatches(
  route: ProxyRoute,
  subject: RouteSubject,
  providerIds: ReadonlySet<string>,
): boolean {
  const match = route.match;
  if (providerIds.has(match)) return subject.provider === match;
  if (match.startsWith('.')) return hasDomainSuffix(subject.mxHost, match);
  return hasDomainSuffix(subject.domain, match) || hasDomainSuffix(subject.mxHost, match);
}

/** The index of the first rule matching the subject, or -1 when none does. */
export function selectRoute(
  routes: readonly ProxyRoute[],
  subject: RouteSubject,
  providerIds: ReadonlySet<string>,
): number {
  return routes.findIndex((route) => routeMatches(route, subject, providerIds));
}
