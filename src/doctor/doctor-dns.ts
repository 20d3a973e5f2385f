/**
 * The DNS questions the doctor asks (A, AAAA, MX, TXT, PTR), over the project's own stub client
 * (`dns/client.ts`), answered as plain text values. Keeps NXDOMAIN, NODATA and failures apart:
 * the doctor's "listed" versus "not listed" versus "cannot tell" depends on it.
 */
import type { Answer, RecordType } from 'dns-packet';
import { addressOf, mxOf, readAnswer } from '../dns/answer.js';
import { createDnsClient, type DnsClient } from '../dns/client.js';
import type { SpfDns, SpfLookup } from './spf.js';
import { parseIp, reverseName } from './ip.js';

/** What one question produced. */
export type DoctorLookup =
  | { readonly kind: 'records'; readonly values: readonly string[] }
  | { readonly kind: 'nxdomain' | 'nodata' }
  | { readonly kind: 'error'; readonly message: string };

/** CNAME chains split across zones are followed by asking again, at most this many times. */
const MAX_REQUERIES = 8;

export interface DoctorDns {
  /** Asks `type` of `name` and returns the record data as text (MX as its exchange name). */
  lookup(name: string, type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR'): Promise<DoctorLookup>;
  /** MX records with their preferences, for choosing a provider's first MX host. */
  mx(name: string): Promise<DoctorLookup & { readonly preferences?: readonly number[] }>;
  /** The PTR names of an address. */
  ptr(ip: string): Promise<DoctorLookup>;
  /** The same questions through the port the SPF evaluator takes. */
  readonly spf: SpfDns;
}

function textOf(record: Answer): string | null {
  if (record.type === 'TXT') {
    // RFC 7208 §3.3: the character-strings of one TXT record are joined without separators.
    const data = record.data;
    const parts = Array.isArray(data) ? data : [data];
    return parts.map((part) => (typeof part === 'string' ? part : part.toString('utf8'))).join('');
  }
  if (record.type === 'MX') return mxOf(record)?.exchange ?? null;
  const text = addressOf(record);
  return text === null ? null : text.toLowerCase().replace(/\.$/, '');
}

function toSpf(lookup: DoctorLookup): SpfLookup {
  if (lookup.kind === 'records') return lookup;
  if (lookup.kind === 'error') return lookup;
  return { kind: 'void' };
}

export interface DoctorDnsOptions {
  readonly servers: readonly string[] | null;
  readonly timeoutMs: number;
  readonly tries: number;
  readonly signal?: AbortSignal | undefined;
}

/** Builds the doctor's DNS; throws `OptionsError` for a server that is not an IP address. */
export function createDoctorDns(options: DoctorDnsOptions): DoctorDns {
  const client: DnsClient = createDnsClient({
    servers: options.servers,
    timeoutMs: options.timeoutMs,
    tries: options.tries,
  });

  async function ask(name: string, type: RecordType): Promise<{ lookup: DoctorLookup; records: Answer[] }> {
    let current = name;
    for (let hop = 0; hop <= MAX_REQUERIES; hop++) {
      const result = await client.query({ name: current, type }, options.signal);
      if (result.kind === 'failure')
        return { lookup: { kind: 'error', message: result.message }, records: [] };
      const answer = readAnswer(result.packet, current, type, result.rcode === 3);
      switch (answer.kind) {
        case 'records': {
          const values = answer.records.map(textOf).filter((value): value is string => value !== null);
          return { lookup: { kind: 'records', values }, records: [...answer.records] };
        }
        case 'nxdomain':
        case 'nodata':
          return { lookup: { kind: answer.kind }, records: [] };
        case 'invalid':
          return { lookup: { kind: 'error', message: `${name} ${type}: ${answer.message}` }, records: [] };
        case 'incomplete':
          current = answer.target;
          break;
      }
    }
    return { lookup: { kind: 'error', message: `${name} ${type}: CNAME chain too long` }, records: [] };
  }

  const lookup = async (name: string, type: 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR') =>
    (await ask(name, type)).lookup;

  async function mx(name: string) {
    const { lookup: result, records } = await ask(name, 'MX');
    if (result.kind !== 'records') return result;
    const parsed = records.map(mxOf).filter((record) => record !== null);
    parsed.sort((a, b) => a.priority - b.priority);
    return {
      kind: 'records' as const,
      values: parsed.map((record) => record.exchange),
      preferences: parsed.map((record) => record.priority),
    };
  }

  async function ptr(ip: string): Promise<DoctorLookup> {
    const bytes = parseIp(ip);
    if (bytes === null) return { kind: 'error', message: `${JSON.stringify(ip)} is not an IP address` };
    return lookup(reverseName(bytes), 'PTR');
  }

  return {
    lookup,
    mx,
    ptr,
    spf: {
      txt: async (name) => toSpf(await lookup(name, 'TXT')),
      addresses: async (name, family) => toSpf(await lookup(name, family === 4 ? 'A' : 'AAAA')),
      mx: async (name) => toSpf(await lookup(name, 'MX')),
      ptr: async (ip) => toSpf(await ptr(ip)),
    },
  };
}
