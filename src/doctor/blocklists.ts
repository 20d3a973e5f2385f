/**
 * DNS blocklists (RFC 5782): an address is looked up as an A query of its reversed octets (IPv6:
 * reversed nibbles) under the list's zone. NXDOMAIN means not listed; an answer in 127.0.0.0/8 means
 * listed, the last octet saying why. What each code means is data here, per list. Pure.
 */

/**
 * The lists checked by default: the ones receivers most often consult and whose listings show up in
 * real rejections of probers (docs/doctor.md; "blocked using zen.spamhaus.org", Barracuda, SpamCop).
 * SORBS is absent: it shut down in 2024 and its zones may answer anything.
 */
export const DEFAULT_BLOCKLISTS: readonly string[] = [
  'zen.spamhaus.org',
  'bl.spamcop.net',
  'b.barracudacentral.org',
  'psbl.surriel.com',
];

/** Answers that say the list refused to answer, not that the address is listed (Spamhaus' return codes). */
const REFUSAL_CODES: Readonly<Record<string, string>> = {
  '127.255.255.252': 'the query name is malformed (a typing error in the list name)',
  '127.255.255.254':
    'the query came through a public or open resolver, which Spamhaus refuses; ask your own resolver',
  '127.255.255.255': 'too many queries from this resolver (rate limited)',
};

/** Spamhaus ZEN return codes (spamhaus.org/faqs/dnsbl-usage). */
const SPAMHAUS_CODES: Readonly<Record<string, string>> = {
  '127.0.0.2': 'SBL: a known spam source or spam operation',
  '127.0.0.3': 'SBL CSS: low-reputation or snowshoe sending seen from this address',
  '127.0.0.4': 'XBL: exploited host (malware, open proxy, or bot behaviour such as a bad HELO)',
  '127.0.0.5': 'XBL: exploited host',
  '127.0.0.6': 'XBL: exploited host',
  '127.0.0.7': 'XBL: exploited host',
  '127.0.0.9': 'SBL DROP: a hijacked or criminal network',
  '127.0.0.10': 'PBL (ISP-maintained): the network owner says this address should not send mail directly',
  '127.0.0.11':
    'PBL (Spamhaus-maintained): a dynamic or residential-looking address that should not send mail directly',
};

/** Per zone suffix: meanings of return codes; other 127.0.0.0/8 codes read as a plain listing. */
const ZONE_CODES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  'spamhaus.org': SPAMHAUS_CODES,
  'bl.spamcop.net': {
    '127.0.0.2': 'SpamCop: reported by spam recipients recently; listings expire after about a day',
  },
  'b.barracudacentral.org': { '127.0.0.2': 'Barracuda Reputation: poor sending reputation' },
  'psbl.surriel.com': { '127.0.0.2': 'PSBL: mail seen at spam traps' },
};

/** How to get off a list: each list's lookup page. */
const REMOVAL_PAGES: Readonly<Record<string, string>> = {
  'spamhaus.org': 'https://check.spamhaus.org/',
  'bl.spamcop.net': 'https://www.spamcop.net/bl.shtml',
  'b.barracudacentral.org': 'https://www.barracudacentral.org/lookups',
  'psbl.surriel.com': 'https://psbl.org/',
};

function bySuffix<T>(table: Readonly<Record<string, T>>, zone: string): T | null {
  for (const [suffix, value] of Object.entries(table)) {
    if (zone === suffix || zone.endsWith(`.${suffix}`)) return value;
  }
  return null;
}

/** The page where an operator can look an address up and request removal, or `null`. */
export function removalPage(zone: string): string | null {
  return bySuffix(REMOVAL_PAGES, zone.toLowerCase());
}

export type BlocklistVerdict =
  | { readonly kind: 'listed'; readonly codes: readonly string[]; readonly meanings: readonly string[] }
  | { readonly kind: 'refused'; readonly codes: readonly string[]; readonly meanings: readonly string[] }
  | { readonly kind: 'strange'; readonly codes: readonly string[] };

/**
 * Reads the A records a list returned for an address. RFC 5782 §2.3: listings are in 127.0.0.0/8;
 * anything else (a wildcard of an expired zone, a parked domain) means the list cannot be trusted.
 */
export function interpretListing(zone: string, addresses: readonly string[]): BlocklistVerdict {
  const lastOctet = (code: string): number => Number(code.slice(code.lastIndexOf('.') + 1));
  const codes = [...new Set(addresses)].sort((a, b) => lastOctet(a) - lastOctet(b) || a.localeCompare(b));
  const refusals = codes.filter((code) => code in REFUSAL_CODES);
  if (refusals.length > 0) {
    return { kind: 'refused', codes, meanings: refusals.map((code) => REFUSAL_CODES[code] ?? code) };
  }
  if (codes.length === 0 || codes.some((code) => !code.startsWith('127.'))) return { kind: 'strange', codes };
  const table = bySuffix(ZONE_CODES, zone.toLowerCase()) ?? {};
  return {
    kind: 'listed',
    codes,
    meanings: codes.map((code) => (code in table ? `${code} ${table[code] ?? ''}` : `${code} listed`)),
  };
}
