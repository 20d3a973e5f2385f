/**
 * IP address arithmetic the doctor needs and `node:net` does not offer: addresses as bytes, CIDR
 * matching (SPF `ip4`/`ip6`/`a`/`mx` with prefix lengths), and the reverse names used for PTR lookups
 * (RFC 1035 §3.5 `in-addr.arpa`, RFC 3596 §2.5 `ip6.arpa`) and DNS blocklists (RFC 5782 §2.1, §2.4).
 * Pure, no I/O; the text is parsed by the target filter's parsers (src/dns/target-filter.ts), so that
 * what counts as an address is decided in one place.
 */
import { parseIpv4 as ipv4Value, parseIpv6 as ipv6Groups } from '../dns/target-filter.js';

/** An address as 4 (IPv4) or 16 (IPv6) bytes. */
export type IpBytes = readonly number[];

/** Decimal dotted quad, no leading zeros (an octal-looking `010.0.0.1` is refused, not guessed). */
export function parseIpv4(text: string): IpBytes | null {
  const value = ipv4Value(text);
  return value === null ? null : [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

/** Any RFC 4291 §2.2 text form (full, `::`-compressed, dotted IPv4 tail); no zone identifiers. */
export function parseIpv6(text: string): IpBytes | null {
  return ipv6Groups(text)?.flatMap((word) => [word >> 8, word & 0xff]) ?? null;
}

/**
 * Parses either family. An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) becomes the IPv4 address, as
 * RFC 7208 §5 asks of SPF and as a dual-stack socket reports an IPv4 peer.
 */
export function parseIp(text: string): IpBytes | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return v4;
  const v6 = parseIpv6(text);
  if (v6 === null) return null;
  const mapped = v6.slice(0, 10).every((byte) => byte === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
}

/** The canonical text form: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** True when `ip` lies in `network`/`prefix` (both of one family; a family mismatch never matches). */
export function inCidr(ip: IpBytes, network: IpBytes, prefix: number): boolean {
  if (ip.length !== network.length || prefix < 0 || prefix > ip.length * 8) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    const index = bit / 8;
    if (((ip[index] ?? 0) & mask) !== ((network[index] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * The name under which DNS lists an address: reversed octets for IPv4 (`2.0.0.192`), reversed nibbles
 * for IPv6 (`1.0.0.0. … .8.b.d.0.1.0.0.2`), without a zone.
 */
export function reversedLabels(bytes: IpBytes): string {
  if (bytes.length === 4) return [...bytes].reverse().join('.');
  return bytes
    .flatMap((byte) => [byte >> 4, byte & 0x0f])
    .reverse()
    .map((nibble) => nibble.toString(16))
    .join('.');
}

/** The PTR query name: `…in-addr.arpa` or `…ip6.arpa`. */
export function reverseName(bytes: IpBytes): string {
  return `${reversedLabels(bytes)}.${bytes.length === 4 ? 'in-addr.arpa' : 'ip6.arpa'}`;
}
