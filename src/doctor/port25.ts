/**
 * Can this machine open SMTP connections at all? Cloud providers block outbound port 25 by default
 * (AWS, GCP, Azure, Heroku: Reacher #1124, #1303, #1566), and then every verification ends
 * "unknown". The doctor connects to the first MX host of a few well-known providers, reads the
 * greeting and says QUIT: no EHLO, no MAIL, nothing a receiver could count as probing.
 */
import { performance } from 'node:perf_hooks';
import { classifyTarget } from '../dns/target-filter.js';
import { SmtpConnectError, SmtpTimeoutError } from '../errors.js';
import { SmtpConnection } from '../smtp/connection.js';
import { QUIT_TIMEOUT_MS } from '../smtp/session.js';
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
  | 'not_allowed';

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
}

export interface Port25Options {
  readonly port: number;
  readonly connectTimeoutMs: number;
  readonly greetingTimeoutMs: number;
  readonly localAddress: string | null;
  readonly allowPrivateTargets: boolean;
  readonly signal?: AbortSignal | undefined;
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
    extra: { host?: string; ip?: string; greeting?: string } = {},
  ): Port25Result => ({
    domain,
    outcome,
    host: extra.host ?? null,
    ip: extra.ip ?? null,
    greeting: extra.greeting ?? null,
    ms: elapsed(),
    line: `${domain}: ${line}`,
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
    try {
      // RFC 5321 §4.1.1.10: end politely; the answer changes nothing.
      await connection.command('QUIT');
    } catch {
      // A server that drops the connection at QUIT has already told us what we needed.
    }
    if (greeting.code >= 200 && greeting.code < 300) {
      return result('open', `${target} greeted "${first}" in ${ms} ms`, { ...where, greeting: first });
    }
    return result('rejected', `${target} connected but refused us at the greeting: "${first}"`, {
      ...where,
      greeting: first,
    });
  } catch (error) {
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
