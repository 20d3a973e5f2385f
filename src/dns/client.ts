/**
 * A stub resolver client: asks the configured recursive servers, with a timeout per attempt and a
 * number of tries, moving to the next server on any failure (the glibc `res_send` loop:
 * `for try in tries: for server in servers`).
 */
import { getServers } from 'node:dns';
import { isIP } from 'node:net';
import { OptionsError } from '../errors.js';
import { checkInteger } from '../options.js';
import type { DnsErrorKind } from '../types.js';
import {
  abortReason,
  exchange,
  type AbortWatch,
  type DnsQuestion,
  type DnsServerAddress,
  type ExchangeResult,
  type ExchangeStats,
  UdpSockets,
} from './transport.js';

/** RFC 1035 §4.2: name servers listen on port 53. */
const DNS_PORT = 53;
/** c-ares (and so `node:dns`) asks 127.0.0.1 when the system names no server; so do we. */
const FALLBACK_SERVER = '127.0.0.1';
/**
 * Queries outstanding at once, at most; the others wait their turn. A bulk run starts hundreds of
 * lookups at once, and a burst like that overflows a resolver's UDP receive buffer (212 992 bytes by
 * default on Linux): the dropped queries then cost a whole timeout each (measured on the bench world:
 * 395 domains took 2.4 s instead of 0.1 s, 345 datagrams dropped).
 */
export const DEFAULT_MAX_QUERIES_IN_FLIGHT = 64;

/**
 * Parses `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare IPv6 address (as `dns.getServers()`
 * returns it). The host must be an IP address: a server given by name would need DNS to find DNS.
 * Returns `null` for anything else.
 */
export function parseServerAddress(text: string): DnsServerAddress | null {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
    if (isIP(host) !== 6) return null;
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const match = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
    if (match === null) return null;
    host = match[1] ?? '';
    portText = match[2];
    if (isIP(host) !== 4) return null;
  }
  const port = portText === undefined ? DNS_PORT : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return null;
  return { host, port, family: isIP(host) === 6 ? 6 : 4, label: text };
}

export interface DnsClientOptions {
  /** `HOST[:PORT]` strings; `null` for the system's servers (`dns.getServers()`). */
  readonly servers: readonly string[] | null;
  /** Per attempt, in milliseconds. */
  readonly timeoutMs: number;
  /** Rounds over the server list. */
  readonly tries: number;
  /** Queries outstanding at once, at most. Default `DEFAULT_MAX_QUERIES_IN_FLIGHT`. */
  readonly maxInFlight?: number;
}

/** Counters of what the client sent. */
export interface DnsClientStats {
  /** Queries sent: UDP datagrams plus TCP retries. */
  readonly queries: number;
  /** Of those, over TCP after a truncated UDP answer. */
  readonly tcpQueries: number;
  /** Attempts that got no answer in time. */
  readonly timeouts: number;
}

export interface DnsClient {
  readonly servers: readonly DnsServerAddress[];
  readonly stats: DnsClientStats;
  /**
   * Asks the question until a server answers NOERROR or NXDOMAIN (the two answers that are facts
   * about the name), or every try of every server failed. Rejects only when `signal` aborts.
   */
  query(question: DnsQuestion, signal?: AbortWatch): Promise<ExchangeResult>;
}

/** RFC 1035 §4.1.1 RCODEs that say the server could not answer, as rcpt's error kinds. */
function rcodeError(rcode: number): DnsErrorKind {
  switch (rcode) {
    case 1:
      return 'FORMERR';
    case 2:
      return 'SERVFAIL';
    case 5:
      return 'REFUSED';
    default:
      return 'BAD_RESPONSE';
  }
}

const RCODE_NAMES: Readonly<Record<number, string>> = {
  1: 'FORMERR',
  2: 'SERVFAIL',
  4: 'NOTIMP',
  5: 'REFUSED',
};

/**
 * Which failure to report when all attempts failed: a server's own answer says more than our
 * inability to hear one (a SERVFAIL from one server beats a timeout from another).
 */
const ERROR_RANK: Readonly<Record<DnsErrorKind, number>> = {
  SERVFAIL: 3,
  REFUSED: 3,
  FORMERR: 3,
  BAD_RESPONSE: 2,
  NETWORK: 1,
  TIMEOUT: 0,
};

/** Builds a client; throws `OptionsError` for a server that is not an IP address with an optional port. */
export function createDnsClient(options: DnsClientOptions): DnsClient {
  const timeoutMs = checkInteger('dnsTimeoutMs', options.timeoutMs);
  const tries = checkInteger('dnsTries', options.tries);
  const given = options.servers ?? getServers();
  const servers = (given.length > 0 ? given : [FALLBACK_SERVER]).map((text) => {
    const server = parseServerAddress(text);
    if (server === null) {
      throw new OptionsError(
        'dnsServers',
        `not an IP address with an optional port: ${JSON.stringify(text)}`,
      );
    }
    return server;
  });
  const counters: ExchangeStats & { timeouts: number } = { udp: 0, tcp: 0, timeouts: 0 };
  /** The server that answered last: later queries start there, so a dead first server costs one timeout, not one per query. */
  let preferred = 0;
  const sockets = new UdpSockets();

  const maxInFlight = checkInteger('maxInFlight', options.maxInFlight ?? DEFAULT_MAX_QUERIES_IN_FLIGHT);
  let inFlight = 0;
  const waiting: (() => void)[] = [];

  /** Waits for a free slot; rejects with the signal's reason if it aborts first. */
  function acquire(signal: AbortWatch | undefined): Promise<void> {
    if (inFlight < maxInFlight) {
      inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(abortReason(signal));
        return;
      }
      const onAbort = (): void => {
        waiting.splice(waiting.indexOf(turn), 1);
        if (signal) reject(abortReason(signal));
      };
      // The slot is handed over by `release`: `inFlight` stays as it is.
      const turn = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      waiting.push(turn);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  function release(): void {
    const next = waiting.shift();
    if (next === undefined) inFlight--;
    else next();
  }

  async function query(question: DnsQuestion, signal?: AbortWatch): Promise<ExchangeResult> {
    await acquire(signal);
    try {
      return await ask(question, signal);
    } finally {
      release();
    }
  }

  async function ask(question: DnsQuestion, signal?: AbortWatch): Promise<ExchangeResult> {
    let worst: ExchangeResult & { kind: 'failure' } = {
      kind: 'failure',
      error: 'TIMEOUT',
      message: 'no attempt made',
    };
    for (let attempt = 0; attempt < tries; attempt++) {
      for (let offset = 0; offset < servers.length; offset++) {
        const index = (preferred + offset) % servers.length;
        const server = servers[index] as DnsServerAddress;
        const result = await exchange(server, question, timeoutMs, signal, counters, sockets);
        let failed: ExchangeResult & { kind: 'failure' };
        if (result.kind === 'answer') {
          if (result.rcode === 0 || result.rcode === 3) {
            preferred = index;
            return result;
          }
          failed = {
            kind: 'failure',
            error: rcodeError(result.rcode),
            message: `${server.label} answered ${RCODE_NAMES[result.rcode] ?? `RCODE ${result.rcode}`} for ${question.name} ${question.type}`,
          };
        } else {
          failed = result;
          if (result.error === 'TIMEOUT') counters.timeouts++;
        }
        if (ERROR_RANK[failed.error] >= ERROR_RANK[worst.error]) worst = failed;
      }
    }
    return worst;
  }

  return {
    servers,
    get stats() {
      return { queries: counters.udp + counters.tcp, tcpQueries: counters.tcp, timeouts: counters.timeouts };
    },
    query,
  };
}
