/**
 * One DNS exchange with one server: a query over UDP, repeated over TCP when the answer comes back
 * truncated (RFC 1035 §4.2.1, RFC 7766 §5). Every socket and timer is closed before the promise
 * settles, so nothing keeps the process alive.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import {
  decode,
  encode,
  RECURSION_DESIRED,
  type DecodedPacket,
  type Packet,
  type RecordType,
} from 'dns-packet';
import type { DnsErrorKind } from '../types.js';

/** A name server: an IP literal and a port. */
export interface DnsServerAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** As given, for messages. */
  readonly label: string;
}

/** The question asked. */
export interface DnsQuestion {
  readonly name: string;
  readonly type: RecordType;
}

/** The EDNS0 buffer size we advertise: DNS Flag Day 2020's 1232 bytes avoid IP fragmentation. */
const EDNS_UDP_SIZE = 1232;
/** RFC 1035 §4.2.2: TCP messages carry a two-octet length, so none exceeds 65 535 bytes. */
const MAX_TCP_MESSAGE = 65_535;

/** What one exchange produced. A server's RCODE is data here: the client decides what it means. */
export type ExchangeResult =
  | { readonly kind: 'answer'; readonly packet: DecodedPacket; readonly rcode: number; readonly tcp: boolean }
  | { readonly kind: 'failure'; readonly error: DnsErrorKind; readonly message: string };

/** RCODE from the header (RFC 1035 §4.1.1); extended RCODEs (RFC 6891) only matter with EDNS errors. */
export function rcodeOf(packet: DecodedPacket): number {
  return (packet.flags ?? 0) & 0x0f;
}

function buildQuery(id: number, question: DnsQuestion): Buffer {
  const packet: Packet = {
    type: 'query',
    id,
    flags: RECURSION_DESIRED,
    questions: [{ type: question.type, name: question.name, class: 'IN' }],
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: EDNS_UDP_SIZE,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      },
    ],
  };
  return encode(packet);
}

type Verdict =
  | { readonly kind: 'stray' }
  | { readonly kind: 'truncated' }
  | { readonly kind: 'bad'; readonly message: string }
  | { readonly kind: 'ok'; readonly packet: DecodedPacket };

/**
 * Matches a message to the query (RFC 5452 §9.1: ID, and question name, type and class). A message
 * that does not match is ignored, not an error: it may be a late answer to an earlier query or a
 * forgery, and the real answer may still come.
 */
function check(message: Buffer, id: number, question: DnsQuestion): Verdict {
  if (message.length < 12 || message.readUInt16BE(0) !== id) return { kind: 'stray' };
  if ((message.readUInt16BE(2) & 0x8000) === 0) return { kind: 'stray' };
  let packet: DecodedPacket;
  try {
    packet = decode(message);
  } catch (error) {
    return { kind: 'bad', message: `undecodable answer (${(error as Error).message})` };
  }
  const questions = packet.questions ?? [];
  const [asked] = questions;
  if (asked === undefined) {
    // Servers may leave the question out of an error reply (BIND's FORMERR, some REFUSED).
    return rcodeOf(packet) === 0
      ? { kind: 'bad', message: 'answer without a question' }
      : { kind: 'ok', packet };
  }
  if (
    questions.length !== 1 ||
    asked.name.toLowerCase() !== question.name.toLowerCase() ||
    asked.type !== question.type ||
    (asked.class !== undefined && asked.class !== 'IN')
  ) {
    return { kind: 'stray' };
  }
  if (packet.flag_tc) return { kind: 'truncated' };
  return { kind: 'ok', packet };
}

/** The signal's reason, as `AbortSignal.timeout()` and `controller.abort(error)` set it. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

/**
 * Runs `body` with a deadline and the caller's signal. `body` gets `settle`; `cleanup` runs exactly
 * once, whichever comes first. Rejects only with the signal's reason.
 */
function withDeadline<T>(
  timeoutMs: number,
  onTimeout: () => T,
  signal: AbortSignal | undefined,
  body: (settle: (value: T) => void) => () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    const state: { done: boolean; cleanup: () => void } = { done: false, cleanup: () => undefined };
    const finish = (action: () => void): void => {
      if (state.done) return;
      state.done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      state.cleanup();
      action();
    };
    const onAbort = (): void => {
      finish(() => {
        if (signal) reject(abortReason(signal));
      });
    };
    const timer = setTimeout(() => {
      finish(() => {
        resolve(onTimeout());
      });
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = body((value) => {
      finish(() => {
        resolve(value);
      });
    });
    // `body` may have settled synchronously, before its cleanup was known.
    if (state.done) cleanup();
    else state.cleanup = cleanup;
  });
}

type Attempt = ExchangeResult | { readonly kind: 'truncated' };

function failure(error: DnsErrorKind, message: string): ExchangeResult {
  return { kind: 'failure', error, message };
}

function udpExchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Attempt> {
  const id = randomInt(0, 65_536);
  const query = buildQuery(id, question);
  return withDeadline<Attempt>(
    timeoutMs,
    () => failure('TIMEOUT', `no answer from ${server.label} over UDP within ${timeoutMs} ms`),
    signal,
    (settle) => {
      const socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
      socket.on('error', (error) => {
        // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED.
        settle(failure('NETWORK', `${server.label} over UDP: ${error.message}`));
      });
      // connect() makes the kernel drop datagrams from any other address and port.
      socket.connect(server.port, server.host, () => {
        socket.send(query, (error) => {
          if (error) settle(failure('NETWORK', `sending to ${server.label}: ${error.message}`));
        });
      });
      socket.on('message', (message) => {
        const verdict = check(message, id, question);
        if (verdict.kind === 'stray') return;
        if (verdict.kind === 'truncated') settle({ kind: 'truncated' });
        else if (verdict.kind === 'bad')
          settle(failure('BAD_RESPONSE', `${server.label}: ${verdict.message}`));
        else settle({ kind: 'answer', packet: verdict.packet, rcode: rcodeOf(verdict.packet), tcp: false });
      });
      return () => {
        socket.removeAllListeners('message');
        // Errors after close (a late ICMP) must not become uncaught exceptions.
        socket.on('error', () => undefined);
        try {
          socket.close();
        } catch {
          // already closed
        }
      };
    },
  );
}

function tcpExchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<ExchangeResult> {
  const id = randomInt(0, 65_536);
  const query = buildQuery(id, question);
  const framed = Buffer.alloc(2 + query.length);
  framed.writeUInt16BE(query.length, 0);
  query.copy(framed, 2);
  return withDeadline<ExchangeResult>(
    timeoutMs,
    () => failure('TIMEOUT', `no answer from ${server.label} over TCP within ${timeoutMs} ms`),
    signal,
    (settle) => {
      const socket = connect({ host: server.host, port: server.port });
      let buffered = Buffer.alloc(0);
      socket.on('connect', () => socket.write(framed));
      socket.on('error', (error) => {
        settle(failure('NETWORK', `${server.label} over TCP: ${error.message}`));
      });
      socket.on('close', () => {
        settle(failure('NETWORK', `${server.label} closed the TCP connection without an answer`));
      });
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        while (buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (buffered.length < 2 + length) return;
          const message = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          const verdict = check(message, id, question);
          // A stream carries only our query's answer; anything else is a broken server.
          if (verdict.kind === 'stray')
            settle(failure('BAD_RESPONSE', `${server.label}: answer does not match the query`));
          else if (verdict.kind === 'truncated')
            settle(failure('BAD_RESPONSE', `${server.label}: truncated answer over TCP`));
          else if (verdict.kind === 'bad')
            settle(failure('BAD_RESPONSE', `${server.label}: ${verdict.message}`));
          else settle({ kind: 'answer', packet: verdict.packet, rcode: rcodeOf(verdict.packet), tcp: true });
          return;
        }
        if (buffered.length > MAX_TCP_MESSAGE + 2) settle(failure('BAD_RESPONSE', 'oversized TCP message'));
      });
      return () => {
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.destroy();
      };
    },
  );
}

/** Counters the caller can read after each exchange. */
export interface ExchangeStats {
  udp: number;
  tcp: number;
}

/**
 * Asks `server` one question: UDP first, TCP when the UDP answer is truncated. Each transport gets
 * `timeoutMs`. Resolves with the answer (whatever its RCODE) or a failure; rejects only when `signal`
 * aborts, with its reason.
 */
export async function exchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal?: AbortSignal,
  stats?: ExchangeStats,
): Promise<ExchangeResult> {
  if (stats) stats.udp++;
  const first = await udpExchange(server, question, timeoutMs, signal);
  if (first.kind !== 'truncated') return first;
  if (stats) stats.tcp++;
  return tcpExchange(server, question, timeoutMs, signal);
}
