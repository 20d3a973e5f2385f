/**
 * IP address arithmetic the doctor needs and `node:net` does not offer: addresses as bytes, CIDR
 * matching (SPF `ip4`/`ip6`/`a`/`mx` with prefix lengths), and the reverse names used for PTR lookups
 * (RFC 1035 §3.5 `in-addr.arpa`, RFC 3596 §2.5 `ip6.arpa`) and DNS blocklists (RFC 5782 §2.1, §2.4).
 * Pure: parsed by hand, no I/O.
 */

/** An address as 4 (IPv4) or 16 (IPv6) bytes. */
export type IpBytes = readonly number[];

/** Decimal dotted quad, no leading zeros (an octal-looking `010.0.0.1` is refused, not guessed). */
export function parseIpv4(text: string): IpBytes | null {
  const match = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(text);
  if (match === null) return null;
  const bytes = match.slice(1).map(Number);
  return bytes.every((octet) => octet <= 255) ? bytes : null;
}

/** Any RFC 4291 §2.2 text form (full, `::`-compressed, dotted IPv4 tail); no zone identifiers. */
export function parseIpv6(text: string): IpBytes | null {
  if (text.length < 2 || text.length > 45 || !text.includes(':')) return null;
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return null;
  const sides = gap === -1 ? [text] : [text.slice(0, gap), text.slice(gap + 2)];
  const groups: number[][] = [];
  for (const [index, side] of sides.entries()) {
    const parts = side === '' ? [] : side.split(':');
    const out: number[] = [];
    for (const [position, part] of parts.entries()) {
      const isLastPart = index === sides.length - 1 && position === parts.length - 1;
      if (isLastPart && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(part)) return null;
        out.push(parseInt(part, 16));
      }
    }
    groups.push(out);
  }
  const [head = [], tail = []] = groups;
  const count = head.length + tail.length;
  if (gap === -1 ? count !== 8 : count > 7) return null;
  const words = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
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
