/**
 * One DNS exchange with one server: a query over UDP, repeated over TCP when the answer comes back
 * truncated (RFC 1035 §4.2.1, RFC 7766 §5). Every timer is cleared before the promise settles, a TCP
 * socket closed, and a UDP socket closed once no query is waiting on it (`UdpSockets`), so nothing
 * keeps the process alive.
 */
import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
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

/** RFC 1035 §3.2.2 and RFC 3596 §2.1: the TYPE codes of the questions a bulk run asks. */
const ROUTE_TYPES: Partial<Record<RecordType, number>> = { A: 1, MX: 15, AAAA: 28 };
/** The OPT record after the question (RFC 6891 §6.1.2): root name, TYPE 41, CLASS the UDP size, TTL 0, no options. */
const OPT_LENGTH = 11;

/**
 * The query `encode()` builds for an A, MX or AAAA question, written directly: a bulk run asks about
 * a thousand, and dns-packet's encoder measures and writes every section of a general packet
 * (test/unit/dns/query.test.ts compares the bytes for every name shape). `null` for other types.
 */
function routeQuery(id: number, question: DnsQuestion): Buffer | null {
  const type = ROUTE_TYPES[question.type];
  if (type === undefined) return null;
  // As dns-packet's `name.encode`: one leading and one trailing dot dropped, each label as UTF-8.
  const name = question.name.replace(/^\.|\.$/gm, '');
  const nameLength = name.length === 0 ? 1 : Buffer.byteLength(name) + 2;
  const query = Buffer.alloc(12 + nameLength + 4 + OPT_LENGTH);
  query.writeUInt16BE(id, 0);
  query.writeUInt16BE(RECURSION_DESIRED, 2);
  query.writeUInt16BE(1, 4); // QDCOUNT
  query.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  let offset = 12;
  if (name.length > 0) {
    const labels = name.split('.');
    for (let index = 0; index < labels.length; index++) {
      const length = query.write(labels[index] as string, offset + 1);
      query[offset] = length;
      offset += length + 1;
    }
  }
  offset += 1; // the root label
  query.writeUInt16BE(type, offset);
  query.writeUInt16BE(1, offset + 2); // CLASS IN
  offset += 4;
  // The OPT record: root name (0), TYPE 41, the UDP payload size; extended RCODE, version, flags 0.
  query.writeUInt16BE(41, offset + 1);
  query.writeUInt16BE(EDNS_UDP_SIZE, offset + 3);
  return query;
}

/** The query for `question` under `id`: one question, recursion desired, EDNS0 with our UDP size. */
export function buildQuery(id: number, question: DnsQuestion): Buffer {
  const direct = routeQuery(id, question);
  if (direct !== null) return direct;
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

/** What the DNS layer's listeners to a signal are: a function, or an object with `handleEvent`. */
export type AbortListener = (() => void) | { handleEvent(): void };

/**
 * What the DNS layer reads of a signal: an `AbortSignal`, or a shared query's own (`QueryAbort`,
 * in-flight-queries.ts), which is no `EventTarget`.
 */
export interface AbortWatch {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: AbortListener, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: AbortListener): void;
}

/** The signal's reason, as `AbortSignal.timeout()` and `controller.abort(error)` set it. */
export function abortReason(signal: AbortWatch): Error {
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
  signal: AbortWatch | undefined,
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

/**
 * Queries one UDP socket carries at most. A socket per query gives every query a fresh random source
 * port (RFC 5452 §9.2: an off-path forger must guess the port as well as the 16-bit ID), but costs a
 * socket, a bind, a connect and a close per query: in a bulk run the system calls of hundreds of
 * queries in flight. A socket is shared instead by at most this many queries, and only while one of
 * them is waiting: it is closed as soon as none is (see `UdpSockets`), so a port stays open for no
 * longer than the queries sent through it. Each socket's port is the kernel's random ephemeral one,
 * IDs are random and unique among the socket's waiting queries, the socket is connected (the kernel
 * drops datagrams from any other address and port), and an answer must match its query's ID and
 * question. Node's own resolver (c-ares) keeps one socket per server for as long as it likes.
 */
export const UDP_QUERIES_PER_SOCKET = 16;

/** What a query waiting on a shared socket is told. */
interface UdpWaiter {
  /** A datagram carrying its ID. */
  readonly message: (message: Buffer) => void;
  /** The socket failed (an ICMP port unreachable on a connected socket, a send error). */
  readonly failed: (message: string) => void;
}

/** One connected UDP socket to one server, shared by up to `UDP_QUERIES_PER_SOCKET` queries. */
class UdpChannel {
  readonly #server: DnsServerAddress;
  readonly #socket: UdpSocket;
  readonly #waiting = new Map<number, UdpWaiter>();
  readonly #onClosed: (channel: UdpChannel) => void;
  /** Queries sent before the socket was connected, sent when it is. */
  #unsent: (readonly [number, Buffer])[] | null = [];
  #carried = 0;
  #failed = false;
  #closed = false;

  constructor(server: DnsServerAddress, onClosed: (channel: UdpChannel) => void) {
    this.#server = server;
    this.#onClosed = onClosed;
    const socket = createSocket(server.family === 6 ? 'udp6' : 'udp4');
    this.#socket = socket;
    socket.on('error', (error) => {
      // A connected UDP socket reports ICMP port unreachable as ECONNREFUSED; it concerns the server,
      // so every query waiting on the socket has it.
      this.#failAll(`${server.label} over UDP: ${error.message}`);
    });
    socket.on('message', (message: Buffer) => {
      if (message.length < 2) return;
      this.#waiting.get(message.readUInt16BE(0))?.message(message);
    });
    // connect() makes the kernel drop datagrams from any other address and port. A connect the kernel
    // refuses at once (no route: ENETUNREACH; a firewall: EACCES) comes to this callback, not to 'error'.
    socket.connect(server.port, server.host, (error?: Error) => {
      if (error !== undefined) {
        this.#unsent = null;
        this.#failAll(`${server.label} over UDP: ${error.message}`);
        return;
      }
      const unsent = this.#unsent ?? [];
      this.#unsent = null;
      for (const [id, query] of unsent) this.#send(id, query);
    });
  }

  /** True when the socket takes no more queries: it carried its share, or it failed. */
  get spent(): boolean {
    return this.#failed || this.#closed || this.#carried >= UDP_QUERIES_PER_SOCKET;
  }

  /** Sends `query` (built with `id`, from `freeId()`); `waiter` hears its answers until `leave(id)`. */
  ask(id: number, query: Buffer, waiter: UdpWaiter): void {
    this.#carried += 1;
    this.#waiting.set(id, waiter);
    if (this.#unsent === null) this.#send(id, query);
    else this.#unsent.push([id, query]);
  }

  /** A random ID no query waiting on this socket has. */
  freeId(): number {
    let id = randomInt(0, 65_536);
    while (this.#waiting.has(id)) id = randomInt(0, 65_536);
    return id;
  }

  /** The query under `id` stops waiting; the socket closes when no query waits on it any more. */
  leave(id: number): void {
    this.#waiting.delete(id);
    if (this.#waiting.size === 0) this.#close();
  }

  #send(id: number, query: Buffer): void {
    const waiter = this.#waiting.get(id);
    if (waiter === undefined || this.#closed) return;
    this.#socket.send(query, (error) => {
      if (error && this.#waiting.get(id) === waiter)
        waiter.failed(`sending to ${this.#server.label}: ${error.message}`);
    });
  }

  #failAll(message: string): void {
    this.#failed = true;
    // Each waiter leaves as it settles; the last one closes the socket.
    for (const waiter of [...this.#waiting.values()]) waiter.failed(message);
    this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClosed(this);
    this.#socket.removeAllListeners('message');
    // Errors after close (a late ICMP) must not become uncaught exceptions.
    this.#socket.removeAllListeners('error');
    this.#socket.on('error', () => undefined);
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * The UDP sockets of one DNS client: per server, the socket new queries go out on, replaced when it
 * has carried `UDP_QUERIES_PER_SOCKET` queries or failed; each socket closes once no query waits on
 * it. `exchange()` without one uses a socket per query.
 */
export class UdpSockets {
  /** Keyed by the server's object: a client parses its servers once, so no key string per query. */
  readonly #current = new Map<DnsServerAddress, UdpChannel>();

  /** The socket a new query to `server` goes out on. */
  channel(server: DnsServerAddress): UdpChannel {
    const open = this.#current.get(server);
    if (open !== undefined && !open.spent) return open;
    const channel = new UdpChannel(server, (closed) => {
      if (this.#current.get(server) === closed) this.#current.delete(server);
    });
    this.#current.set(server, channel);
    return channel;
  }
}

function udpExchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal: AbortWatch | undefined,
  sockets: UdpSockets,
): Promise<Attempt> {
  return new Promise<Attempt>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    new UdpQuery(server, question, timeoutMs, signal, resolve, reject).ask(sockets);
  });
}

/** `setTimeout`'s callback for every UDP query: no closure per query. */
function udpTimedOut(query: UdpQuery): void {
  query.timedOut();
}

/**
 * One question over a shared UDP socket, settled once: by a matching answer, a socket failure, its
 * deadline or the caller's signal, whichever comes first; the timer is cleared, the abort listener
 * removed and the socket left before it settles. An object of its own, not a dozen closures per query
 * (a bulk run asks about a thousand).
 */
class UdpQuery implements UdpWaiter {
  readonly #server: DnsServerAddress;
  readonly #question: DnsQuestion;
  readonly #timeoutMs: number;
  readonly #signal: AbortWatch | undefined;
  readonly #resolve: (attempt: Attempt) => void;
  readonly #reject: (error: Error) => void;
  #timer: NodeJS.Timeout | null = null;
  #channel: UdpChannel | null = null;
  #id = 0;
  #done = false;

  constructor(
    server: DnsServerAddress,
    question: DnsQuestion,
    timeoutMs: number,
    signal: AbortWatch | undefined,
    resolve: (attempt: Attempt) => void,
    reject: (error: Error) => void,
  ) {
    this.#server = server;
    this.#question = question;
    this.#timeoutMs = timeoutMs;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  /** Starts the deadline, listens to the signal and sends the query on a socket of `sockets`. */
  ask(sockets: UdpSockets): void {
    this.#timer = setTimeout(udpTimedOut, this.#timeoutMs, this);
    this.#signal?.addEventListener('abort', this, { once: true });
    const channel = sockets.channel(this.#server);
    const id = channel.freeId();
    this.#channel = channel;
    this.#id = id;
    channel.ask(id, buildQuery(id, this.#question), this);
  }

  /** A datagram carrying the query's ID (`UdpWaiter`). */
  message(message: Buffer): void {
    const verdict = check(message, this.#id, this.#question);
    if (verdict.kind === 'stray') return;
    if (verdict.kind === 'truncated') this.#settle({ kind: 'truncated' });
    else if (verdict.kind === 'bad')
      this.#settle(failure('BAD_RESPONSE', `${this.#server.label}: ${verdict.message}`));
    else this.#settle({ kind: 'answer', packet: verdict.packet, rcode: rcodeOf(verdict.packet), tcp: false });
  }

  /** The socket failed (`UdpWaiter`). */
  failed(message: string): void {
    this.#settle(failure('NETWORK', message));
  }

  timedOut(): void {
    if (this.#finish())
      this.#resolve(
        failure('TIMEOUT', `no answer from ${this.#server.label} over UDP within ${this.#timeoutMs} ms`),
      );
  }

  /** The caller's signal aborted (the query is its `EventListenerObject`). */
  handleEvent(): void {
    const signal = this.#signal;
    if (this.#finish() && signal !== undefined) this.#reject(abortReason(signal));
  }

  #settle(attempt: Attempt): void {
    if (this.#finish()) this.#resolve(attempt);
  }

  /** True the first time: the timer cleared, the listener removed, the socket left. */
  #finish(): boolean {
    if (this.#done) return false;
    this.#done = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this);
    this.#channel?.leave(this.#id);
    return true;
  }
}

function tcpExchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal: AbortWatch | undefined,
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
 * Asks `server` one question: UDP first (on a socket of `sockets`, else one of its own), TCP when the
 * UDP answer is truncated. Each transport gets `timeoutMs`. Resolves with the answer (whatever its RCODE) or a failure; rejects only when `signal`
 * aborts, with its reason.
 */
export async function exchange(
  server: DnsServerAddress,
  question: DnsQuestion,
  timeoutMs: number,
  signal?: AbortWatch,
  stats?: ExchangeStats,
  sockets: UdpSockets = new UdpSockets(),
): Promise<ExchangeResult> {
  if (stats) stats.udp++;
  const first = await udpExchange(server, question, timeoutMs, signal, sockets);
  if (first.kind !== 'truncated') return first;
  if (stats) stats.tcp++;
  return tcpExchange(server, question, timeoutMs, signal);
}
