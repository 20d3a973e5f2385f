/**
 * A small authoritative DNS server for tests and the `rcpt demo` world: UDP and TCP on one loopback
 * port, answers from an in-memory table, and scripted misbehaviour (SERVFAIL, silence, truncation, …)
 * per name. A standalone utility: it imports nothing from the rest of `src/`.
 *
 * It behaves like an authoritative server (Knot, NSD) where that matters to a mail resolver: names are
 * case-insensitive (RFC 4343) and the question is echoed as asked; a missing name is NXDOMAIN and a
 * missing type NODATA, both with an SOA in the authority section for negative caching (RFC 2308 §3);
 * a name that only has names below it is an empty non-terminal, so NODATA (RFC 8020 §2); CNAMEs are
 * followed inside the table (RFC 1034 §4.3.2); UDP answers larger than the client's buffer (512 bytes,
 * or the EDNS0 size it advertised) are truncated with TC so the client retries over TCP (RFC 1035
 * §4.2.1, RFC 6891 §6.2.5); TCP connections carry any number of length-prefixed queries (RFC 7766).
 */
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { createServer, isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import { DnsResponder, type DnsQueryLogEntry, type DnsZones } from './dns-responder.js';

export {
  DNS_BEHAVIOURS,
  type DnsBehaviour,
  type DnsMxRecord,
  type DnsQueryLogEntry,
  type DnsZoneEntry,
  type DnsZones,
} from './dns-responder.js';

export interface DnsServerOptions {
  /** Loopback address to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Port for both UDP and TCP; 0 picks a free one. Default 0. */
  readonly port?: number;
  readonly zones: DnsZones;
  /**
   * Delay before each answer, in milliseconds, or a function of the question (to model a slow
   * resolver). Default 0.
   */
  readonly delayMs?: number | ((question: DnsQueryLogEntry) => number);
  /** SOA MINIMUM and SOA TTL in negative answers, in seconds (RFC 2308 §5). Default 60. */
  readonly negativeTtl?: number;
}

export interface DnsServer {
  readonly host: string;
  readonly port: number;
  /** `HOST:PORT` (`[HOST]:PORT` for IPv6), the form rcpt's `dnsServers` option takes. */
  readonly address: string;
  /** Queries received (UDP and TCP), including ones left unanswered. */
  readonly queries: number;
  /** The last queries received, oldest first (at most 10 000). */
  readonly log: readonly DnsQueryLogEntry[];
  /** Replaces the table; later queries see the new records. */
  setZones(zones: DnsZones): void;
  /** Stops answering, closes both sockets and every TCP connection, cancels pending answers. */
  close(): Promise<void>;
}

/** An idle TCP client is dropped after this long (RFC 7766 §6.2.3 suggests seconds). */
const TCP_IDLE_MS = 10_000;
/** Attempts to find a port free for both UDP and TCP when `port` is 0. */
const PORT_ATTEMPTS = 20;

/** Starts the server; resolves once both UDP and TCP listen on the same port. */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const host = options.host ?? '127.0.0.1';
  const family = isIPv6(host) ? 6 : 4;
  if (!isIPv4(host) && !isIPv6(host))
    throw new TypeError(`startDnsServer: host must be an IP address, got ${host}`);
  const responder = new DnsResponder(options.zones, options.negativeTtl);
  const [udp, tcp] = await bindBoth(host, family, options.port ?? 0);
  return new LoopbackDnsServer(host, family, udp, tcp, responder, options.delayMs);
}

/** The sockets, the TCP connections and the delayed answers of one server; the answers are the responder's. */
class LoopbackDnsServer implements DnsServer {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  readonly #udp: UdpSocket;
  readonly #tcp: Server;
  readonly #responder: DnsResponder;
  readonly #delayMs: DnsServerOptions['delayMs'];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #connections = new Set<Socket>();
  #closed = false;

  constructor(
    host: string,
    family: 4 | 6,
    udp: UdpSocket,
    tcp: Server,
    responder: DnsResponder,
    delayMs: DnsServerOptions['delayMs'],
  ) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.#responder = responder;
    this.#delayMs = delayMs;
    udp.on('message', (message, remote) => {
      this.#onUdp(message, remote);
    });
    udp.on('error', () => {
      /* ICMP errors for departed clients surface here; the server carries on */
    });
    tcp.on('connection', (socket) => {
      this.#onTcp(socket);
    });
    tcp.on('error', () => {
      /* accept errors (EMFILE) must not crash the test process */
    });
    this.host = host;
    this.port = udp.address().port;
    this.address = family === 6 ? `[${host}]:${this.port}` : `${host}:${this.port}`;
  }

  get queries(): number {
    return this.#responder.queries;
  }

  get log(): readonly DnsQueryLogEntry[] {
    return this.#responder.log;
  }

  setZones(zones: DnsZones): void {
    this.#responder.setZones(zones);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const socket of this.#connections) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => {
        this.#udp.close(() => {
          resolve();
        });
      }),
      new Promise<void>((resolve) => {
        this.#tcp.close(() => {
          resolve();
        });
      }),
    ]);
  }

  /** Runs `action` after the configured delay for `question` (at once when there is none). */
  #later(question: DnsQueryLogEntry | null, action: () => void): void {
    const delayMs = this.#delayMs;
    const delay =
      typeof delayMs === 'function' ? (question === null ? 0 : delayMs(question)) : (delayMs ?? 0);
    if (delay <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) action();
    }, delay);
    this.#timers.add(timer);
  }

  #onUdp(message: Buffer, remote: RemoteInfo): void {
    if (this.#closed) return;
    const { messages, question } = this.#responder.handle(message, 'udp');
    if (messages === null) return;
    this.#later(question, () => {
      for (const out of messages) {
        this.#udp.send(out, remote.port, remote.address, () => {
          /* a client that went away is not our problem */
        });
      }
    });
  }

  /** RFC 7766: any number of queries on one connection, each prefixed by its length. */
  #onTcp(socket: Socket): void {
    this.#connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#connections.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        if (this.#closed) continue;
        const { messages, question } = this.#responder.handle(Buffer.from(message), 'tcp');
        if (messages === null) continue;
        this.#later(question, () => {
          for (const out of messages) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length, 0);
            if (!socket.destroyed) socket.write(Buffer.concat([prefix, out]));
          }
        });
      }
    });
  }
}

/** Binds UDP, then TCP on the same port; with port 0, retries until a port is free for both. */
async function bindBoth(host: string, family: 4 | 6, port: number): Promise<[UdpSocket, Server]> {
  let lastError: unknown = null;
  for (let attempt = 0; attempt < (port === 0 ? PORT_ATTEMPTS : 1); attempt++) {
    const udp = createSocket(family === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      throw error;
    }
    const tcp = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(udp.address().port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
      return [udp, tcp];
    } catch (error) {
      lastError = error;
      udp.close();
    }
  }
  throw lastError instanceof Error ? lastError : new Error('startDnsServer: no free port');
}
