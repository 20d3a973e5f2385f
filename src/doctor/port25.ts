/**
 * Can this machine open SMTP connections at all? Cloud providers block outbound port 25 by default
 * (AWS, GCP, Azure, Heroku: Reacher #1124, #1303, #1566), and then every verification ends
 * "unknown". The doctor connects to the first MX host of a few well-known providers, reads the
 * greeting and says QUIT: no EHLO, no MAIL, nothing a receiver could count as probing.
 */
import { performance } from 'node:perf_hooks';
import { classifyTarget } from '../dns/target-filter.js';
import { ProxyError, SmtpConnectError, SmtpTimeoutError } from '../errors.js';
import { SmtpConnection } from '../smtp/connection.js';
import { isPositiveReply } from '../smtp/reply-parser.js';
import { QUIT_TIMEOUT_MS } from '../smtp/session.js';
import type { Connector } from '../types.js';
import type { DoctorDns } from './doctor-dns.js';

/** What reaching one provider's MX produced. */
export type Port25Outcome =
  /** A 2xx greeting: port 25 works towards this host. */
  | 'open'
  /** Connected, but the greeting was 4xx/5xx: the host refuses this client (often its reputation). */
  | 'rejected'
  /** Connected, but no greeting in time: a tarpit, or a middlebox that accepts and stays silent. */
  | 'silent'
  /** Connection refused, reset or unreachable. */
  | 'refused'
  /** No answer to the TCP connect in time: the usual sign of a provider's port-25 filter. */
  | 'timeout'
  /** The provider's MX hosts could not be found. */
  | 'dns_error'
  /** The MX address is private/loopback and `allowPrivateTargets` is off. */
  | 'not_allowed'
  /** The SOCKS5 proxy failed before the MX was reached (see `proxyError`). */
  | 'proxy_error';

export interface Port25Result {
  readonly domain: string;
  readonly outcome: Port25Outcome;
  readonly host: string | null;
  readonly ip: string | null;
  /** The greeting's first line, when one came. */
  readonly greeting: string | null;
  readonly ms: number;
  /** One line for the report. */
  readonly line: string;
  /** Through a proxy: how it failed (`ProxyError`'s kind), `null` when it did not. */
  readonly proxyError: ProxyError['kind'] | null;
  /**
   * The client address the server echoed in its EHLO reply (`250-mx.google.com at your service,
   * [203.0.113.9]`): what receivers see, behind a proxy or NAT. `null` when not asked or not echoed.
   */
  readonly echoedAddress: string | null;
}

export interface Port25Options {
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly localAddress: string | null;
  readonly allowPrivateTargets: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Connect through this (a SOCKS5 proxy), `null` for directly. */
  readonly connector?: Connector | null;
  /** Say EHLO with this name after the greeting, to read the client address the server echoes. */
  readonly ehlo?: string | null;
}

/** `[203.0.113.9]` or `[IPv6:2001:db8::9]` in the first line of an EHLO reply (RFC 5321 §4.1.3 literal). */
export function echoedAddressOf(line: string): string | null {
  const match = /\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]/.exec(line);
  return match?.[1] ?? null;
}

async function firstAddress(dns: DoctorDns, host: string): Promise<string | { error: string }> {
  for (const type of ['A', 'AAAA'] as const) {
    const answer = await dns.lookup(host, type);
    if (answer.kind === 'records' && answer.values[0] !== undefined) return answer.values[0];
    if (answer.kind === 'error') return { error: answer.message };
  }
  return { error: `${host} has no A or AAAA record` };
}

/** Connects to the most preferred MX host of `domain`, reads the greeting, says QUIT. Never rejects. */
export async function checkProvider(
  domain: string,
  dns: DoctorDns,
  options: Port25Options,
): Promise<Port25Result> {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const result = (
    outcome: Port25Outcome,
    line: string,
    extra: {
      host?: string;
      ip?: string;
      greeting?: string;
      proxyError?: ProxyError['kind'];
      echoed?: string | null;
    } = {},
  ): Port25Result => ({
    domain,
    outcome,
    host: extra.host ?? null,
    ip: extra.ip ?? null,
    greeting: extra.greeting ?? null,
    ms: elapsed(),
    line: `${domain}: ${line}`,
    proxyError: extra.proxyError ?? null,
    echoedAddress: extra.echoed ?? null,
  });

  const mx = await dns.mx(domain);
  if (mx.kind === 'error') return result('dns_error', `cannot find its MX hosts (${mx.message})`);
  if (mx.kind === 'nxdomain') return result('dns_error', 'the domain does not exist (NXDOMAIN)');
  // RFC 5321 §5.1: no MX records means the domain itself is the mail host.
  const host = mx.kind === 'records' ? mx.values[0] : domain;
  if (host === undefined || host === '.') return result('dns_error', 'publishes no mail host');
  const address = await firstAddress(dns, host);
  if (typeof address !== 'string') return result('dns_error', address.error, { host });
  const where = { host, ip: address };
  const target = `${host} [${address}]:${options.port}`;
  const cls = classifyTarget(address);
  if (cls !== 'public' && !options.allowPrivateTargets) {
    return result(
      'not_allowed',
      `${target} is a ${cls} address; not connecting (allowPrivateTargets is off)`,
      where,
    );
  }

  let connection: SmtpConnection | null = null;
  try {
    connection = await SmtpConnection.connect({
      host,
      ip: address,
      port: options.port,
      localAddress: options.localAddress,
      connector: options.connector ?? null,
      connectTimeoutMs: options.connectTimeoutMs,
      greetingTimeoutMs: options.greetingTimeoutMs,
      commandTimeoutMs: QUIT_TIMEOUT_MS,
      signal: options.signal,
      transcript: null,
      startedAt: started,
    });
    const greeting = await connection.greeting();
    const first = greeting.lines[0] ?? String(greeting.code);
    const ms = elapsed();
    let echoed: string | null = null;
    const via = connection.proxy === null ? '' : ` through ${connection.proxy}`;
    if (options.ehlo !== undefined && options.ehlo !== null && isPositiveReply(greeting)) {
      try {
        const reply = await connection.command(`EHLO ${options.ehlo}`);
        if (isPositiveReply(reply)) echoed = echoedAddressOf(reply.lines[0] ?? '');
      } catch {
        // The greeting answered the question; the echo is a bonus.
      }
    }
    try {
      // RFC 5321 §4.1.1.10: end politely; the answer changes nothing.
      await connection.command('QUIT');
    } catch {
      // A server that drops the connection at QUIT has already told us what we needed.
    }
    if (isPositiveReply(greeting)) {
      const saw = echoed === null ? '' : `; it saw us as ${echoed}`;
      return result('open', `${target} greeted "${first}" in ${ms} ms${via}${saw}`, {
        ...where,
        greeting: first,
        echoed,
      });
    }
    return result('rejected', `${target} connected${via} but refused us at the greeting: "${first}"`, {
      ...where,
      greeting: first,
    });
  } catch (error) {
    if (error instanceof ProxyError) {
      // The proxy could not reach the MX: port 25 is blocked or refused from the proxy's host.
      if (error.kind === 'target_unreachable') return result('refused', `${target}: ${error.message}`, where);
      return result('proxy_error', `${target}: ${error.message}`, { ...where, proxyError: error.kind });
    }
    if (error instanceof SmtpTimeoutError && error.phase === 'greeting') {
      return result(
        'silent',
        `${target} accepted the connection but sent no greeting within ${error.timeoutMs} ms`,
        where,
      );
    }
    if (error instanceof SmtpTimeoutError) {
      return result(
        'timeout',
        `${target} did not answer the TCP connect within ${error.timeoutMs} ms`,
        where,
      );
    }
    if (error instanceof SmtpConnectError) {
      return result('refused', `${target}: ${error.message}`, where);
    }
    return result('refused', `${target}: ${error instanceof Error ? error.message : String(error)}`, where);
  } finally {
    connection?.close();
  }
}
