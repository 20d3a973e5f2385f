/**
 * What a server without API keys trusts (issue 14). Such a server listens on loopback and takes every
 * local request as its operator's, but a web browser on the same machine is a local client too, and
 * any page it shows may send requests to loopback:
 *
 * - DNS rebinding: a page whose own name resolves to 127.0.0.1 reads this server's answers as
 *   same-origin. Its requests carry that name in `Host`, so only the names this server is reached by
 *   are answered: loopback names and addresses, plus the operator's `allowedHosts` (421 otherwise,
 *   RFC 9110 §15.5.20).
 * - Cross-site requests: a page cannot read the answers (no CORS headers are sent), but a "simple"
 *   POST (`text/plain`, a form) is sent without asking first and would create a job. A state-changing
 *   request whose `Origin` is not this server, or that the browser marks `Sec-Fetch-Site: cross-site`
 *   or `same-site`, is refused with 403 (the OWASP CSRF cheat sheet's "verifying origin with standard
 *   headers" and "Fetch Metadata" defences). The web page is same-origin and unaffected; clients
 *   that are not browsers send neither header.
 *
 * With API keys, a browser cannot attach a key to a cross-site request without a CORS preflight,
 * which this server never grants; the `Host` check then applies only to the `allowedHosts` given.
 */
import type { MiddlewareHandler } from 'hono';

import { HttpError } from './http-error.js';

export interface OriginGuardOptions {
  /** True when the server runs without API keys: both checks apply. */
  readonly keyless: boolean;
  /** Further host names (or addresses) this server is reached by, without ports. */
  readonly allowedHosts: readonly string[];
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The host name of a `Host` header or URL authority, lower case, without port or IPv6 brackets. */
export function hostNameOf(authority: string): string {
  const host = authority.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']') === -1 ? undefined : host.indexOf(']'));
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** A loopback name or address: `localhost`, `*.localhost` (RFC 6761 §6.3), 127.0.0.0/8, `::1`. */
export function isLoopbackName(name: string): boolean {
  return (
    name === 'localhost' ||
    name.endsWith('.localhost') ||
    /^127(\.\d{1,3}){3}$/.test(name) ||
    name === '::1' ||
    name === '0:0:0:0:0:0:0:1'
  );
}

export function guardOrigin(options: OriginGuardOptions): MiddlewareHandler {
  const allowed = new Set(options.allowedHosts.map((name) => hostNameOf(name)));
  const checkHost = options.keyless || allowed.size > 0;
  const served = (name: string): boolean => allowed.has(name) || (options.keyless && isLoopbackName(name));
  return async (c, next) => {
    const authority = c.req.header('host') ?? new URL(c.req.url).host;
    if (checkHost && !served(hostNameOf(authority))) {
      throw new HttpError(
        421,
        'misdirected_request',
        `This server does not answer for the host name "${hostNameOf(authority)}"; its operator can allow it with --allowed-host`,
      );
    }
    if (options.keyless && STATE_CHANGING.has(c.req.method)) {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      let crossOrigin = site === 'cross-site' || site === 'same-site';
      if (origin !== undefined) {
        // `Origin: null` (sandboxed frames, file: pages) is never this server.
        try {
          crossOrigin ||= new URL(origin).host !== authority.trim().toLowerCase();
        } catch {
          crossOrigin = true;
        }
      }
      if (crossOrigin) {
        throw new HttpError(
          403,
          'forbidden',
          'Cross-origin requests may not change anything on a server without API keys',
        );
      }
    }
    return next();
  };
}
