/**
 * `socks5://[user:pass@]host:port`: the one proxy URL form rcpt accepts (docs/proxies.md). A pure,
 * total parser: it returns the endpoint or why the text is not one, and never throws.
 *
 * Only `socks5://` is taken. `socks5h://` (the proxy resolves names) is refused on purpose: rcpt resolves
 * the MX itself and hands the proxy an address that its private-target filter has passed, so a proxy
 * never gets a name to resolve. SOCKS4 has no IPv6 and no password (RFC 1929 is SOCKS5's).
 */

/** A SOCKS5 proxy as configured by the operator. */
export interface ProxyEndpoint {
  /** `socks5://host:port`, with the user name but never the password: safe for logs and results. */
  readonly name: string;
  /** A host name or IP address (IPv6 without brackets). The operator's: loopback and private are fine. */
  readonly host: string;
  readonly port: number;
  /** RFC 1929 user name and password, both or neither. */
  readonly username: string | null;
  readonly password: string | null;
}

export type ProxyUrlResult =
  { readonly ok: true; readonly endpoint: ProxyEndpoint } | { readonly ok: false; readonly reason: string };

/** RFC 1929 §2: ULEN and PLEN are one octet each. */
const MAX_CREDENTIAL_OCTETS = 255;

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

function octets(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Parses a proxy URL; `reason` says what is wrong in words an operator can act on. */
export function parseProxyUrl(text: string): ProxyUrlResult {
  const fail = (reason: string): ProxyUrlResult => ({ ok: false, reason });
  if (typeof (text as unknown) !== 'string' || text.trim() === '') return fail('empty proxy URL');
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(.*)$/.exec(text.trim());
  if (match === null) return fail(`"${redact(text)}" is not a URL: expected socks5://[user:pass@]host:port`);
  const scheme = (match[1] ?? '').toLowerCase();
  let rest = match[2] ?? '';
  if (scheme === 'socks5h') {
    return fail('socks5h:// lets the proxy resolve names; rcpt resolves the MX itself: use socks5://');
  }
  if (scheme !== 'socks5') return fail(`unsupported scheme "${scheme}://": only socks5:// is supported`);
  if (/[/?#]/.test(rest.replace(/\/$/, ''))) {
    return fail('a proxy URL has no path, query or fragment: expected socks5://[user:pass@]host:port');
  }
  rest = rest.replace(/\/$/, '');
  let username: string | null = null;
  let password: string | null = null;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    if (colon < 0) return fail('credentials must be user:password (RFC 1929 sends both)');
    username = decode(credentials.slice(0, colon));
    password = decode(credentials.slice(colon + 1));
    if (username === null || password === null) return fail('credentials contain a malformed %-escape');
    if (username === '' || password === '') return fail('user name and password must both be non-empty');
    if (octets(username) > MAX_CREDENTIAL_OCTETS || octets(password) > MAX_CREDENTIAL_OCTETS) {
      return fail(`user name and password are at most ${MAX_CREDENTIAL_OCTETS} octets each (RFC 1929)`);
    }
  }
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (!IPV6.test(host) || !host.includes(':')) return fail(`"[${host}]" is not an IPv6 address`);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return fail('missing port: expected socks5://host:port (SOCKS has no default port here)');
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 proxy address goes in brackets: socks5://[::1]:1080');
    if (!IPV4.test(host) && !HOST_NAME.test(host)) return fail(`"${host}" is not a host name or IP address`);
  }
  if (portText === '') return fail('missing port: expected socks5://host:port');
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < 1 || port > 65_535) {
    return fail(`port "${portText}" is not an integer from 1 to 65535`);
  }
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const user = username === null ? '' : `${encodeURIComponent(username)}@`;
  return {
    ok: true,
    endpoint: { name: `socks5://${user}${shownHost.toLowerCase()}:${port}`, host, port, username, password },
  };
}

/** The text with any password replaced by `***`, for messages about a URL that did not parse. */
export function redact(text: string): string {
  return text.replace(/^([^:]*:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
