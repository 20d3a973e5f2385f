/**
 * The answering half of the loopback DNS server (`dns-server.ts`): a query's bytes in, the messages to
 * send back out, from an in-memory table with each name's scripted misbehaviour. No sockets and no
 * timers: the rules are tested on bytes alone (test/unit/demo/dns-responder.test.ts).
 */
import { isIPv4, isIPv6 } from 'node:net';
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
const MAX_LOG = 10_000;

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

/** What to do with one message received. */
export interface Handled {
  /** The messages to send, in order (more than one only for `spoofed`); `null`: send nothing. */
  readonly messages: readonly Buffer[] | null;
  /** The decoded question, for the delay function; `null` for undecodable queries. */
  readonly question: DnsQueryLogEntry | null;
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

/** `packet` with this server's EDNS0 OPT record when the query had one (RFC 6891 §6.1.1). */
function withEdns(packet: Packet, edns: Answer | undefined): Packet {
  if (edns === undefined) return packet;
  return {
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
}

/** The records of the table and what the server has been asked; answers one message at a time. */
export class DnsResponder {
  #zones: Map<string, DnsZoneEntry>;
  readonly #negativeTtl: number;
  #queries = 0;
  readonly #log: DnsQueryLogEntry[] = [];

  constructor(zones: DnsZones, negativeTtl = DEFAULT_NEGATIVE_TTL) {
    this.#zones = indexZones(zones);
    this.#negativeTtl = negativeTtl;
  }

  /** Queries received, including ones left unanswered. */
  get queries(): number {
    return this.#queries;
  }

  /** The last queries received, oldest first (at most 10 000). */
  get log(): readonly DnsQueryLogEntry[] {
    return this.#log;
  }

  /** Replaces the table (validated first: a bad table leaves the old one). */
  setZones(zones: DnsZones): void {
    this.#zones = indexZones(zones);
  }

  /** Turns raw bytes into the messages to send back; never throws. */
  handle(message: Buffer, transport: 'udp' | 'tcp'): Handled {
    const ignored: Handled = { messages: null, question: null };
    if (message.length < 12) return ignored;
    const id = message.readUInt16BE(0);
    const flags = message.readUInt16BE(2);
    // Never answer a response: two servers must not echo each other forever.
    if ((flags & QR) !== 0) return ignored;
    this.#queries++;
    let query: DecodedPacket;
    try {
      query = decode(message);
    } catch {
      return { messages: [bareReply(id, RCODE.FORMERR)], question: null };
    }
    const [question, ...more] = query.questions ?? [];
    if (question === undefined || more.length > 0) {
      return { messages: [bareReply(id, RCODE.FORMERR)], question: null };
    }
    const seen: DnsQueryLogEntry = { name: question.name, type: question.type, transport };
    if (this.#log.length >= MAX_LOG) this.#log.shift();
    this.#log.push(seen);
    const opcode = (flags >> 11) & 0x0f;
    try {
      if (opcode !== 0) return { messages: [encode(header(query, RCODE.NOTIMP))], question: seen };
      if (question.class !== undefined && question.class !== 'IN') {
        return { messages: [encode(header(query, RCODE.REFUSED))], question: seen };
      }
      return { messages: this.#answer(query, question, transport), question: seen };
    } catch {
      // A record the encoder cannot write (a label over 63 octets, say): fail like a broken server.
      return { messages: [bareReply(id, RCODE.SERVFAIL)], question: seen };
    }
  }

  #answer(query: DecodedPacket, question: Question, transport: 'udp' | 'tcp'): Buffer[] | null {
    const asked = question.name;
    const name = normaliseName(asked);
    const entry = this.#zones.get(name);
    const edns = (query.additionals ?? []).find((record) => record.type === 'OPT');
    const send = (packet: Packet): Buffer[] => [encode(withEdns(packet, edns))];

    const misbehaviour = this.#misbehave(query, name, entry, transport);
    if (misbehaviour !== undefined) {
      return misbehaviour === null
        ? null
        : 'messages' in misbehaviour
          ? misbehaviour.messages
          : send(misbehaviour);
    }
    const full = send(this.#fromTable(query, question, name, entry));
    if (transport === 'udp') {
      const limit =
        edns?.type === 'OPT'
          ? Math.max(CLASSIC_UDP_SIZE, Math.min(edns.udpPayloadSize, 4096))
          : CLASSIC_UDP_SIZE;
      const [message] = full;
      if (message !== undefined && message.length > limit) {
        return send(header(query, RCODE.NOERROR, TRUNCATED_RESPONSE));
      }
    }
    if (entry?.behaviour === 'spoofed') return [spoofedAnswer(query, question), ...full];
    return full;
  }

  /**
   * The answer of a name scripted to misbehave: a packet, raw messages, `null` for silence, or
   * `undefined` when the name answers from its records.
   */
  #misbehave(
    query: DecodedPacket,
    name: string,
    entry: DnsZoneEntry | undefined,
    transport: 'udp' | 'tcp',
  ): Packet | { messages: Buffer[] } | null | undefined {
    switch (entry?.behaviour) {
      case 'silent':
        return null;
      case 'nxdomain':
        return { ...header(query, RCODE.NXDOMAIN), authorities: [this.#soaFor(name)] };
      case 'servfail':
        return header(query, RCODE.SERVFAIL);
      case 'refused':
        return header(query, RCODE.REFUSED);
      case 'malformed': {
        // A valid header claiming one answer, followed by a name whose label runs past the end.
        const head = bareReply(query.id ?? 0, RCODE.NOERROR);
        head.writeUInt16BE(1, 6);
        return { messages: [Buffer.concat([head, Buffer.from([0x3f, 0x61, 0x62])])] };
      }
      case 'truncate':
        return transport === 'udp' ? header(query, RCODE.NOERROR, TRUNCATED_RESPONSE) : undefined;
      default:
        return undefined;
    }
  }

  /** The answer from the table, following CNAMEs inside it (RFC 1034 §4.3.2 step 3a). */
  #fromTable(
    query: DecodedPacket,
    question: Question,
    name: string,
    entry: DnsZoneEntry | undefined,
  ): Packet {
    const answers: Answer[] = [];
    let current = name;
    let currentEntry = entry;
    let owner = question.name;
    for (let hops = 0; currentEntry?.CNAME !== undefined && question.type !== 'CNAME'; hops++) {
      if (hops >= MAX_CNAME_CHAIN) return header(query, RCODE.SERVFAIL);
      answers.push(...recordsOf(owner, currentEntry, 'CNAME'));
      owner = currentEntry.CNAME;
      current = normaliseName(owner);
      currentEntry = this.#zones.get(current);
      if (currentEntry?.behaviour === 'servfail') return header(query, RCODE.SERVFAIL);
    }
    if (currentEntry === undefined && !this.#hasDescendants(current)) {
      // RFC 6604 §3: after a CNAME the RCODE describes the last name of the chain.
      return { ...header(query, RCODE.NXDOMAIN), answers, authorities: [this.#soaFor(current)] };
    }
    const records = currentEntry === undefined ? [] : recordsOf(owner, currentEntry, question.type);
    answers.push(...records);
    const packet: Packet = { ...header(query, RCODE.NOERROR), answers };
    if (records.length === 0) packet.authorities = [this.#soaFor(current)];
    return packet;
  }

  /** SOA for negative answers, owned by the closest name above `name` with records, else its parent. */
  #soaFor(name: string): Answer {
    const labels = name.split('.');
    let apex = labels.length > 1 ? labels.slice(-2).join('.') : name;
    for (let i = 1; i < labels.length - 1; i++) {
      const candidate = labels.slice(i).join('.');
      if (this.#zones.has(candidate)) {
        apex = candidate;
        break;
      }
    }
    const negativeTtl = this.#negativeTtl;
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
  #hasDescendants(name: string): boolean {
    const suffix = `.${name}`;
    for (const key of this.#zones.keys()) if (key.endsWith(suffix)) return true;
    return false;
  }
}

/** The forged answer sent ahead of the real one by a `spoofed` name: a wrong ID, a bogus record. */
function spoofedAnswer(query: DecodedPacket, question: Question): Buffer {
  const bogus: Answer =
    question.type === 'MX'
      ? {
          type: 'MX',
          name: question.name,
          ttl: 86_400,
          data: { preference: 0, exchange: 'attacker.invalid' },
        }
      : { type: 'A', name: question.name, ttl: 86_400, data: '127.6.6.6' };
  return encode({ ...header(query, RCODE.NOERROR), id: ((query.id ?? 0) + 1) % 65_536, answers: [bogus] });
}
