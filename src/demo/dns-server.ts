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
import {
  decode,
  encode,
  AUTHORITATIVE_ANSWER,
  RECURSION_DESIRED,
  TRUNCATED_RESPONSE,
  type Answer,
  type DecodedPacket,
  type Packet,
  type Question,
} from 'dns-packet';

/** How a name misbehaves instead of answering from its records. */
export const DNS_BEHAVIOURS = [
  /** Answer NXDOMAIN although the name is in the table. */
  'nxdomain',
  /** RCODE 2, as a resolver says when the authoritative servers fail. */
  'servfail',
  /** RCODE 5, as Knot says for names outside its zones. */
  'refused',
  /** Never answer: the client must time out. */
  'silent',
  /** Over UDP, answer with TC set and no records, forcing TCP (RFC 7766 §5). TCP answers normally. */
  'truncate',
  /** Answer with the query's ID and then bytes that are not a DNS message. */
  'malformed',
  /** First a forged answer with a wrong ID and a bogus address, then the real answer (RFC 5452 §9.1). */
  'spoofed',
] as const;
export type DnsBehaviour = (typeof DNS_BEHAVIOURS)[number];

export interface DnsMxRecord {
  readonly priority: number;
  /** A host name, or `.` for a null MX (RFC 7505). */
  readonly exchange: string;
}

/** The records of one name. Absent types are NODATA; an absent name is NXDOMAIN. */
export interface DnsZoneEntry {
  readonly MX?: readonly DnsMxRecord[];
  readonly A?: readonly string[];
  readonly AAAA?: readonly string[];
  /** The name is an alias: every query type but CNAME follows it. Excludes other records (RFC 1034 §3.6.2). */
  readonly CNAME?: string;
  readonly TXT?: readonly string[];
  /** Host names, for reverse names (`25.2.0.192.in-addr.arpa`, RFC 1035 §3.5). */
  readonly PTR?: readonly string[];
  /** TTL of this name's records, in seconds. Default 300. */
  readonly ttl?: number;
  /** Misbehave for every query of this name instead of answering from the records above. */
  readonly behaviour?: DnsBehaviour;
}

/** Names (case-insensitive, trailing dot optional) to their records. */
export type DnsZones = Readonly<Record<string, DnsZoneEntry>>;

/** One query as the server saw it. */
export interface DnsQueryLogEntry {
  readonly name: string;
  readonly type: string;
  readonly transport: 'udp' | 'tcp';
}

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

/** Seconds; a typical zone default. */
const DEFAULT_TTL = 300;
/** Seconds; short, so test worlds recover quickly from a negative answer. */
const DEFAULT_NEGATIVE_TTL = 60;
/** RFC 1035 §4.2.1: the UDP limit for a client that sent no EDNS0 OPT record. */
const CLASSIC_UDP_SIZE = 512;
/** The EDNS0 buffer this server advertises (DNS Flag Day 2020's 1232 bytes). */
const SERVER_EDNS_SIZE = 1232;
/** RFC 1034 §5.3.3 leaves the CNAME chain limit to implementations; BIND stops at 16. */
const MAX_CNAME_CHAIN = 16;
/** An idle TCP client is dropped after this long (RFC 7766 §6.2.3 suggests seconds). */
const TCP_IDLE_MS = 10_000;
const MAX_LOG = 10_000;
/** Attempts to find a port free for both UDP and TCP when `port` is 0. */
const PORT_ATTEMPTS = 20;

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const QR = 1 << 15;

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Validates the table once, so a typo in a test world fails at start-up with the name at fault. */
function indexZones(zones: DnsZones): Map<string, DnsZoneEntry> {
  if (typeof (zones as unknown) !== 'object' || (zones as unknown) === null) {
    throw new TypeError('startDnsServer: `zones` must be an object of name → records');
  }
  const index = new Map<string, DnsZoneEntry>();
  for (const [rawName, entry] of Object.entries(zones)) {
    const name = normaliseName(rawName);
    const fail = (what: string): never => {
      throw new TypeError(`startDnsServer: zone entry ${JSON.stringify(rawName)}: ${what}`);
    };
    if (index.has(name)) fail('listed twice (names are case-insensitive)');
    for (const ip of entry.A ?? []) if (!isIPv4(ip)) fail(`A ${JSON.stringify(ip)} is not an IPv4 address`);
    for (const ip of entry.AAAA ?? [])
      if (!isIPv6(ip)) fail(`AAAA ${JSON.stringify(ip)} is not an IPv6 address`);
    for (const mx of entry.MX ?? []) {
      if (!Number.isInteger(mx.priority) || mx.priority < 0 || mx.priority > 65_535) {
        fail(`MX priority ${String(mx.priority)} is not 0-65535`);
      }
    }
    if (
      entry.CNAME !== undefined &&
      (entry.MX !== undefined ||
        entry.A !== undefined ||
        entry.AAAA !== undefined ||
        entry.TXT !== undefined ||
        entry.PTR !== undefined)
    ) {
      fail('a CNAME cannot have other records (RFC 1034 §3.6.2)');
    }
    if (entry.behaviour !== undefined && !(DNS_BEHAVIOURS as readonly string[]).includes(entry.behaviour)) {
      fail(`unknown behaviour ${JSON.stringify(entry.behaviour)}`);
    }
    if (
      entry.ttl !== undefined &&
      (!Number.isInteger(entry.ttl) || entry.ttl < 0 || entry.ttl > 2 ** 31 - 1)
    ) {
      fail(`ttl ${String(entry.ttl)} is not a whole number of seconds`);
    }
    index.set(name, entry);
  }
  return index;
}

interface Reply {
  /** The messages to send, in order (more than one only for `spoofed`). */
  readonly messages: readonly Buffer[];
}

interface Handled {
  readonly reply: Reply | null;
  /** The decoded question, for the delay function; `null` for undecodable queries. */
  readonly question: DnsQueryLogEntry | null;
}

interface Context {
  readonly transport: 'udp' | 'tcp';
}

function recordsOf(name: string, entry: DnsZoneEntry, type: string): Answer[] {
  const ttl = entry.ttl ?? DEFAULT_TTL;
  switch (type) {
    case 'A':
      return (entry.A ?? []).map((data) => ({ type: 'A', name, ttl, data }));
    case 'AAAA':
      return (entry.AAAA ?? []).map((data) => ({ type: 'AAAA', name, ttl, data }));
    case 'MX':
      return (entry.MX ?? []).map((mx) => ({
        type: 'MX',
        name,
        ttl,
        data: { preference: mx.priority, exchange: mx.exchange },
      }));
    case 'TXT':
      return (entry.TXT ?? []).map((data) => ({ type: 'TXT', name, ttl, data }));
    case 'PTR':
      return (entry.PTR ?? []).map((data) => ({ type: 'PTR', name, ttl, data }));
    case 'CNAME':
      return entry.CNAME === undefined ? [] : [{ type: 'CNAME', name, ttl, data: entry.CNAME }];
    default:
      return [];
  }
}

/** Starts the server; resolves once both UDP and TCP listen on the same port. */
export async function startDnsServer(options: DnsServerOptions): Promise<DnsServer> {
  const host = options.host ?? '127.0.0.1';
  const family = isIPv6(host) ? 6 : 4;
  if (!isIPv4(host) && !isIPv6(host))
    throw new TypeError(`startDnsServer: host must be an IP address, got ${host}`);
  const negativeTtl = options.negativeTtl ?? DEFAULT_NEGATIVE_TTL;
  let zones = indexZones(options.zones);
  let queries = 0;
  const log: DnsQueryLogEntry[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const connections = new Set<Socket>();
  let closed = false;

  /** SOA for negative answers, owned by the closest name above `name` with records, else its parent. */
  function soaFor(name: string): Answer {
    const labels = name.split('.');
    let apex = labels.length > 1 ? labels.slice(-2).join('.') : name;
    for (let i = 1; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join('.');
      if (zones.has(candidate)) {
        apex = candidate;
        break;
      }
    }
    return {
      type: 'SOA',
      name: apex,
      ttl: negativeTtl,
      data: {
        mname: `ns.${apex}`,
        rname: `hostmaster.${apex}`,
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86_400,
        minimum: negativeTtl,
      },
    };
  }

  /** An empty non-terminal: absent itself but with names below it (RFC 8020 §2: not NXDOMAIN). */
  function hasDescendants(name: string): boolean {
    const suffix = `.${name}`;
    for (const key of zones.keys()) if (key.endsWith(suffix)) return true;
    return false;
  }

  function header(query: DecodedPacket, rcode: number, extra = 0): Packet {
    return {
      id: query.id ?? 0,
      type: 'response',
      flags: AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & RECURSION_DESIRED) | rcode | extra,
      questions: query.questions ?? [],
    };
  }

  /** A response header only: the ID and flags of `query`, for messages that could not be decoded. */
  function bareReply(id: number, rcode: number): Buffer {
    const buffer = Buffer.alloc(12);
    buffer.writeUInt16BE(id, 0);
    buffer.writeUInt16BE(QR | rcode, 2);
    return buffer;
  }

  function answer(query: DecodedPacket, question: Question, context: Context): Reply | null {
    const asked = question.name;
    const name = normaliseName(asked);
    const entry = zones.get(name);
    const edns = (query.additionals ?? []).find((record) => record.type === 'OPT');
    const withEdns = (packet: Packet): Packet =>
      edns === undefined
        ? packet
        : {
            ...packet,
            additionals: [
              {
                type: 'OPT',
                name: '.',
                udpPayloadSize: SERVER_EDNS_SIZE,
                extendedRcode: 0,
                ednsVersion: 0,
                flags: 0,
                flag_do: false,
                options: [],
              },
            ],
          };
    const send = (packet: Packet): Reply => ({ messages: [encode(withEdns(packet))] });

    switch (entry?.behaviour) {
      case 'silent':
        return null;
      case 'nxdomain':
        return send({ ...header(query, RCODE.NXDOMAIN), authorities: [soaFor(name)] });
      case 'servfail':
        return send(header(query, RCODE.SERVFAIL));
      case 'refused':
        return send(header(query, RCODE.REFUSED));
      case 'malformed': {
        // A valid header claiming one answer, followed by a name whose label runs past the end.
        const head = bareReply(query.id ?? 0, RCODE.NOERROR);
        head.writeUInt16BE(1, 6);
        return { messages: [Buffer.concat([head, Buffer.from([0x3f, 0x61, 0x62])])] };
      }
      case 'truncate':
        if (context.transport === 'udp') return send(header(query, RCODE.NOERROR, TRUNCATED_RESPONSE));
        break;
      default:
        break;
    }

    // Follow CNAMEs inside the table (RFC 1034 §4.3.2 step 3a), collecting the chain.
    const answers: Answer[] = [];
    let current = name;
    let currentEntry = entry;
    let owner = asked;
    for (let hops = 0; currentEntry?.CNAME !== undefined && question.type !== 'CNAME'; hops++) {
      if (hops >= MAX_CNAME_CHAIN) return send(header(query, RCODE.SERVFAIL));
      answers.push(...recordsOf(owner, currentEntry, 'CNAME'));
      owner = currentEntry.CNAME;
      current = normaliseName(owner);
      currentEntry = zones.get(current);
      if (currentEntry?.behaviour === 'servfail') return send(header(query, RCODE.SERVFAIL));
    }
    if (currentEntry === undefined && !hasDescendants(current)) {
      // RFC 6604 §3: after a CNAME the RCODE describes the last name of the chain.
      return send({ ...header(query, RCODE.NXDOMAIN), answers, authorities: [soaFor(current)] });
    }
    const records = currentEntry === undefined ? [] : recordsOf(owner, currentEntry, question.type);
    answers.push(...records);
    const packet: Packet = { ...header(query, RCODE.NOERROR), answers };
    if (records.length === 0) packet.authorities = [soaFor(current)];
    const full = send(packet);

    if (context.transport === 'udp') {
      const limit =
        edns?.type === 'OPT'
          ? Math.max(CLASSIC_UDP_SIZE, Math.min(edns.udpPayloadSize, 4096))
          : CLASSIC_UDP_SIZE;
      const [message] = full.messages;
      if (message !== undefined && message.length > limit) {
        return send(header(query, RCODE.NOERROR, TRUNCATED_RESPONSE));
      }
    }
    if (entry?.behaviour === 'spoofed') {
      const bogus: Answer =
        question.type === 'MX'
          ? { type: 'MX', name: asked, ttl: 86_400, data: { preference: 0, exchange: 'attacker.invalid' } }
          : { type: 'A', name: asked, ttl: 86_400, data: '127.6.6.6' };
      const forged = encode({
        ...header(query, RCODE.NOERROR),
        id: ((query.id ?? 0) + 1) % 65_536,
        answers: [bogus],
      });
      return { messages: [forged, ...full.messages] };
    }
    return full;
  }

  /** Turns raw bytes into the messages to send back; never throws. */
  function handle(message: Buffer, transport: 'udp' | 'tcp'): Handled {
    const ignored: Handled = { reply: null, question: null };
    if (closed || message.length < 12) return ignored;
    const id = message.readUInt16BE(0);
    const flags = message.readUInt16BE(2);
    // Never answer a response: two servers must not echo each other forever.
    if ((flags & QR) !== 0) return ignored;
    queries++;
    let query: DecodedPacket;
    try {
      query = decode(message);
    } catch {
      return { reply: { messages: [bareReply(id, RCODE.FORMERR)] }, question: null };
    }
    const [question, ...more] = query.questions ?? [];
    if (question === undefined || more.length > 0) {
      return { reply: { messages: [bareReply(id, RCODE.FORMERR)] }, question: null };
    }
    const seen: DnsQueryLogEntry = { name: question.name, type: question.type, transport };
    if (log.length >= MAX_LOG) log.shift();
    log.push(seen);
    const opcode = (flags >> 11) & 0x0f;
    try {
      if (opcode !== 0) return { reply: { messages: [encode(header(query, RCODE.NOTIMP))] }, question: seen };
      if (question.class !== undefined && question.class !== 'IN') {
        return { reply: { messages: [encode(header(query, RCODE.REFUSED))] }, question: seen };
      }
      return { reply: answer(query, question, { transport }), question: seen };
    } catch {
      // A record the encoder cannot write (a label over 63 octets, say): fail like a broken server.
      return { reply: { messages: [bareReply(id, RCODE.SERVFAIL)] }, question: seen };
    }
  }

  function later(question: DnsQueryLogEntry | null, action: () => void): void {
    const delay =
      typeof options.delayMs === 'function'
        ? question === null
          ? 0
          : options.delayMs(question)
        : (options.delayMs ?? 0);
    if (delay <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!closed) action();
    }, delay);
    timers.add(timer);
  }

  function onUdp(udp: UdpSocket, message: Buffer, remote: RemoteInfo): void {
    const { reply, question } = handle(message, 'udp');
    if (reply === null) return;
    later(question, () => {
      for (const out of reply.messages) {
        udp.send(out, remote.port, remote.address, () => {
          /* a client that went away is not our problem */
        });
      }
    });
  }

  function onTcp(socket: Socket): void {
    connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => connections.delete(socket));
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) break;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        const { reply, question } = handle(Buffer.from(message), 'tcp');
        if (reply === null) continue;
        later(question, () => {
          for (const out of reply.messages) {
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(out.length, 0);
            if (!socket.destroyed) socket.write(Buffer.concat([prefix, out]));
          }
        });
      }
    });
  }

  const [udp, tcp] = await bindBoth(host, family, options.port ?? 0);
  udp.on('message', (message, remote) => {
    onUdp(udp, message, remote);
  });
  udp.on('error', () => {
    /* ICMP errors for departed clients surface here; the server carries on */
  });
  tcp.on('connection', onTcp);
  tcp.on('error', () => {
    /* accept errors (EMFILE) must not crash the test process */
  });
  const port = udp.address().port;

  return {
    host,
    port,
    address: family === 6 ? `[${host}]:${port}` : `${host}:${port}`,
    get queries() {
      return queries;
    },
    get log() {
      return log;
    },
    setZones(next: DnsZones) {
      zones = indexZones(next);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const socket of connections) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => {
          udp.close(() => {
            resolve();
          });
        }),
        new Promise<void>((resolve) => {
          tcp.close(() => {
            resolve();
          });
        }),
      ]);
    },
  };
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
