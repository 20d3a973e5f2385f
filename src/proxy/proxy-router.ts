/**
 * The operator's proxies as the verifier uses them: the default pool (`proxy`) and the routing rules
 * (`proxyRoutes`), parsed and checked once, when the verifier is created (a bad URL is an
 * `OptionsError` naming the option and saying what is wrong).
 */
import { OptionsError } from '../errors.js';
import type { ProxyRouteOption } from '../options.js';
import type { Connector } from '../types.js';
import { ProxyPool } from './proxy-pool.js';
import {
  PROVIDER_IDS,
  parseProxyRoute,
  selectRoute,
  type ProxyRoute,
  type RouteSubject,
} from './proxy-routes.js';
import { parseProxyUrl, redact, type ProxyEndpoint } from './proxy-url.js';

export interface ProxyRouter {
  /** The connector for one MX host of one recipient domain; `null` to connect directly. */
  route(subject: RouteSubject): Connector | null;
  /** Every pool, the default one first when there is one (for `rcpt doctor`). */
  readonly pools: readonly ProxyPool[];
  /**
   * A pool of one configured proxy, named by its URL (same host, port, user name and password), or
   * `null` when no configured proxy is that one.
   */
  named(url: string): ProxyPool | null;
}

/** Parses one URL, or a comma-separated pool of them; throws `OptionsError` naming `option`. */
export function parseProxyPool(option: string, text: string): ProxyEndpoint[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((url) => {
      const parsed = parseProxyUrl(url);
      if (!parsed.ok) throw new OptionsError(option, `${redact(url)}: ${parsed.reason}`);
      return parsed.endpoint;
    });
}

/** Builds the router, or `null` when no proxy is configured and no rule names one. */
export function createProxyRouter(
  proxy: readonly string[],
  routes: readonly ProxyRouteOption[],
): ProxyRouter | null {
  const pools = new Map<string, ProxyPool>();
  const poolOf = (endpoints: readonly ProxyEndpoint[]): ProxyPool => {
    const key = endpoints.map((endpoint) => `${endpoint.name}\0${endpoint.password ?? ''}`).join('\n');
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = new ProxyPool(endpoints);
      pools.set(key, pool);
    }
    return pool;
  };
  const defaultEndpoints = proxy.flatMap((text) => parseProxyPool('proxy', text));
  const fallback = defaultEndpoints.length === 0 ? null : poolOf(defaultEndpoints);
  const rules: { readonly route: ProxyRoute; readonly via: ProxyPool | null }[] = routes.map((route) => {
    const parsed = parseProxyRoute(`${route.match}=${route.via}`);
    if (!parsed.ok) throw new OptionsError('proxyRoutes', parsed.reason);
    const { match, via } = parsed.route;
    if (via.toLowerCase() === 'direct') return { route: { match, via: 'direct' }, via: null };
    const endpoints = parseProxyPool('proxyRoutes', via);
    if (endpoints.length === 0) throw new OptionsError('proxyRoutes', `"${route.match}": no proxy URL`);
    return { route: { match, via }, via: poolOf(endpoints) };
  });
  if (pools.size === 0) return null;
  const configured = [...pools.values()].flatMap((pool) => pool.endpoints);
  const same = (a: ProxyEndpoint, b: ProxyEndpoint): boolean =>
    a.host.toLowerCase() === b.host.toLowerCase() &&
    a.port === b.port &&
    a.username === b.username &&
    a.password === b.password;
  const ruleRoutes = rules.map((rule) => rule.route);
  return {
    route(subject) {
      const index = selectRoute(ruleRoutes, subject, PROVIDER_IDS);
      return index === -1 ? fallback : (rules[index]?.via ?? null);
    },
    pools: [
      ...(fallback === null ? [] : [fallback]),
      ...[...pools.values()].filter((pool) => pool !== fallback),
    ],
    named(url) {
      const parsed = parseProxyUrl(url);
      if (!parsed.ok) return null;
      const endpoint = configured.find((candidate) => same(candidate, parsed.endpoint));
      return endpoint === undefined ? null : poolOf([endpoint]);
    },
  };
}
