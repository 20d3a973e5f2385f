/**
 * Reads one DNS answer for one question: follows the CNAME chain inside the answer section, and works
 * out how long the result may be cached. No I/O.
 */
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import type { MxRecord } from '../types.js';

/** RFC 1034 §5.3.3 leaves the limit to implementations; BIND follows at most 16 CNAMEs. */
export const MAX_CNAME_CHAIN = 16;

/** What a NOERROR or NXDOMAIN answer says about `name` and `type`. */
export type RRsetAnswer =
  | {
      readonly kind: 'records';
      /** The records of the asked type at the end of the chain. */
      readonly records: readonly Answer[];
      /** The smallest TTL of the records and CNAMEs used, in seconds. */
      readonly ttl: number;
      /** Names the chain went through after the asked one (empty without CNAMEs). */
      readonly aliases: readonly string[];
    }
  | {
      readonly kind: 'nodata' | 'nxdomain';
      /** RFC 2308 §5: min(SOA TTL, SOA MINIMUM), in seconds; `null` without an SOA (do not cache). */
      readonly negativeTtl: number | null;
      readonly aliases: readonly string[];
    }
  | {
      /**
       * The chain leads to a name this answer says nothing about (an authoritative server answering
       * for a CNAME whose target is outside its zones): the target must be asked separately.
       */
      readonly kind: 'incomplete';
      readonly target: string;
      readonly ttl: number;
      readonly aliases: readonly string[];
    }
  | { readonly kind: 'invalid'; readonly message: string };

/** Lower case, no trailing dot, except the root, which stays `.`. */
export function normaliseName(name: string): string {
  if (name === '.' || name === '') return '.';
  return name.toLowerCase().replace(/\.$/, '');
}

/** The text data of an A, AAAA or CNAME record (`dns-packet` decodes those to strings), else `null`. */
export function addressOf(record: Answer): string | null {
  const data: unknown = 'data' in record ? record.data : null;
  return typeof data === 'string' ? data : null;
}

/** An MX record's preference and exchange (normalised), else `null`. */
export function mxOf(record: Answer): MxRecord | null {
  if (record.type !== 'MX' || !('data' in record)) return null;
  const data: unknown = record.data;
  if (typeof data !== 'object' || data === null || !('exchange' in data)) return null;
  const { exchange, preference } = data as { exchange: unknown; preference?: unknown };
  if (typeof exchange !== 'string') return null;
  return { exchange: normaliseName(exchange), priority: typeof preference === 'number' ? preference : 0 };
}

function ttlOf(record: Answer): number {
  return 'ttl' in record && typeof record.ttl === 'number' ? record.ttl : 0;
}

function negativeTtl(packet: DecodedPacket): number | null {
  for (const record of packet.authorities ?? []) {
    if (record.type === 'SOA') return Math.min(ttlOf(record), record.data.minimum ?? 0);
  }
  return null;
}

/**
 * Interprets `packet` (RCODE NOERROR or NXDOMAIN) as the answer to `name`/`type`. Per RFC 6604 §3 an
 * NXDOMAIN after a CNAME chain describes the chain's last name.
 */
export function readAnswer(
  packet: DecodedPacket,
  name: string,
  type: RecordType,
  nxdomain: boolean,
): RRsetAnswer {
  const answers = (packet.answers ?? []).filter(
    (record) => !('class' in record) || record.class === undefined || record.class === 'IN',
  );
  let current = normaliseName(name);
  const aliases: string[] = [];
  let ttl = Number.POSITIVE_INFINITY;
  for (;;) {
    const owned = answers.filter((record) => normaliseName(record.name) === current);
    const records = owned.filter((record) => record.type === type);
    if (records.length > 0) {
      for (const record of records) ttl = Math.min(ttl, ttlOf(record));
      return { kind: 'records', records, ttl, aliases };
    }
    const alias = owned.find((record) => record.type === 'CNAME');
    const aliasTarget = alias === undefined ? null : addressOf(alias);
    if (alias === undefined || aliasTarget === null) break;
    ttl = Math.min(ttl, ttlOf(alias));
    current = normaliseName(aliasTarget);
    if (aliases.includes(current) || current === normaliseName(name)) {
      return { kind: 'invalid', message: `CNAME loop at ${current}` };
    }
    aliases.push(current);
    if (aliases.length > MAX_CNAME_CHAIN)
      return { kind: 'invalid', message: `CNAME chain longer than ${MAX_CNAME_CHAIN}` };
  }
  const soa = negativeTtl(packet);
  if (nxdomain) return { kind: 'nxdomain', negativeTtl: soa, aliases };
  // A recursive resolver answers the whole chain and adds an SOA for a NODATA at its end. Without
  // one, the chain simply stopped where the answering server's knowledge did.
  if (aliases.length > 0 && soa === null) {
    return { kind: 'incomplete', target: current, ttl, aliases };
  }
  return { kind: 'nodata', negativeTtl: soa, aliases };
}
