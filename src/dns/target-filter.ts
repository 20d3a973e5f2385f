/**
 * Which IP addresses rcpt may open an SMTP connection to (docs/verdicts.md, "DNS"). A domain's owner chooses
 * its MX records, so without this filter anyone could point `MX 10 internal.example.` at
 * 10.0.0.5 and turn a verifier behind an HTTP API into a port-25 scanner of its own network.
 *
 * Pure: the addresses are parsed by hand (no `node:net`), so the rules are plain data that can be
 * read against the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates).
 */

/** Every class `classifyTarget()` returns, listed once. */
export const TARGET_CLASSES = [
  'public',
  'loopback',
  'private',
  'link_local',
  'cgnat',
  'multicast',
  'documentation',
  'reserved',
  'unspecified',
  'invalid',
] as const;
export type TargetClass = (typeof TARGET_CLASSES)[number];

/**
 * A parsed IPv4 address as an unsigned 32-bit number, or `null` when `text` is not one. The one home of
 * what an IP address's text may be: `rcpt doctor`'s address arithmetic (src/doctor/ip.ts) reads these.
 */
export function parseIpv4(text: string): number | null {
  // Decimal only, no leading zeros: "010.0.0.1" is octal to inet_aton() and decimal to others, so an
  // ambiguous form is refused rather than guessed (the classic SSRF filter bypass).
  const match = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(text);
  if (match === null) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

/**
 * A parsed IPv6 address as eight 16-bit groups, or `null`. Accepts every RFC 4291 §2.2 text form:
 * full, `::`-compressed, and with a dotted IPv4 tail. Refuses zone identifiers (`fe80::1%eth0`,
 * RFC 6874): a zone names an interface of *this* host, which no MX record can legitimately mean.
 */
export function parseIpv6(text: string): number[] | null {
  if (text.length === 0 || text.length > 45 || text.includes('%')) return null;
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) return null;
  const headText = gap === -1 ? text : text.slice(0, gap);
  const tailText = gap === -1 ? '' : text.slice(gap + 2);
  const head = headText === '' ? [] : headText.split(':');
  const tail = tailText === '' ? [] : tailText.split(':');
  // A dotted IPv4 part may only end the address (RFC 4291 §2.2 form 3).
  const last = gap === -1 ? head : tail;
  const groups: number[][] = [[], []];
  for (const [index, parts] of [head, tail].entries()) {
    for (const [position, part] of parts.entries()) {
      const out = groups[index] as number[];
      if (parts === last && position === parts.length - 1 && part.includes('.')) {
        const v4 = parseIpv4(part);
        if (v4 === null) return null;
        out.push(Math.floor(v4 / 65_536), v4 % 65_536);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return null;
      }
    }
  }
  const [before, after] = groups as [number[], number[]];
  const count = before.length + after.length;
  if (gap === -1) return count === 8 ? before : null;
  // `::` stands for at least one group of zeros, so eight explicit groups plus `::` is malformed.
  if (count > 7) return null;
  return [...before, ...new Array<number>(8 - count).fill(0), ...after];
}

interface Ipv4Range {
  readonly base: number;
  readonly bits: number;
  readonly cls: Exclude<TargetClass, 'public' | 'invalid'>;
}

function v4(cidr: string, cls: Ipv4Range['cls']): Ipv4Range {
  const [address = '', bits = ''] = cidr.split('/');
  return { base: parseIpv4(address) ?? 0, bits: Number(bits), cls };
}

/**
 * The IANA IPv4 Special-Purpose Address Registry, most specific first. Blocks the registry marks
 * "globally reachable" (AS112 192.31.196/24 and 192.175.48/24, AMT 192.52.193/24) are left public.
 */
const IPV4_RANGES: readonly Ipv4Range[] = [
  v4('0.0.0.0/32', 'unspecified'), // RFC 1122 §3.2.1.3: "this host", a source address only
  v4('255.255.255.255/32', 'reserved'), // RFC 919 limited broadcast
  v4('0.0.0.0/8', 'reserved'), // RFC 791 "this network"
  v4('10.0.0.0/8', 'private'), // RFC 1918
  v4('100.64.0.0/10', 'cgnat'), // RFC 6598 shared address space
  v4('127.0.0.0/8', 'loopback'), // RFC 1122 §3.2.1.3
  v4('169.254.0.0/16', 'link_local'), // RFC 3927 (and cloud metadata at 169.254.169.254)
  v4('172.16.0.0/12', 'private'), // RFC 1918
  v4('192.0.0.0/24', 'reserved'), // RFC 6890 IETF protocol assignments
  v4('192.0.2.0/24', 'documentation'), // RFC 5737 TEST-NET-1
  v4('192.88.99.0/24', 'reserved'), // RFC 7526: deprecated 6to4 relay anycast
  v4('192.168.0.0/16', 'private'), // RFC 1918
  v4('198.18.0.0/15', 'reserved'), // RFC 2544 benchmarking
  v4('198.51.100.0/24', 'documentation'), // RFC 5737 TEST-NET-2
  v4('203.0.113.0/24', 'documentation'), // RFC 5737 TEST-NET-3
  v4('224.0.0.0/4', 'multicast'), // RFC 5771
  v4('240.0.0.0/4', 'reserved'), // RFC 1112 §4 "reserved for future use"
];

function classifyIpv4(value: number): TargetClass {
  for (let index = 0; index < IPV4_RANGES.length; index++) {
    const range = IPV4_RANGES[index] as (typeof IPV4_RANGES)[number];
    const size = 2 ** (32 - range.bits);
    if (Math.floor(value / size) === Math.floor(range.base / size)) return range.cls;
  }
  return 'public';
}

/** The IPv4 address carried in two 16-bit groups. */
function embedded(high: number, low: number): number {
  return high * 65_536 + low;
}

/** The class of an IPv6 address, per the IANA IPv6 Special-Purpose Address Registry. */
function classifyIpv6(g: readonly number[]): TargetClass {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const firstFiveZero = g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0;
  if (firstFiveZero && g5 === 0 && g6 === 0) {
    if (g7 === 0) return 'unspecified'; // ::/128
    if (g7 === 1) return 'loopback'; // ::1/128
  }
  // IPv4-mapped ::ffff:0:0/96 (RFC 4291 §2.5.5.2): a socket connects to the embedded IPv4 address.
  if (firstFiveZero && g5 === 0xffff) return classifyIpv4(embedded(g6, g7));
  // IPv4-compatible ::/96 (RFC 4291 §2.5.5.1, deprecated): never a real destination; judged by the
  // embedded address so `::127.0.0.1` reads as loopback, and reserved when that address is public.
  if (firstFiveZero && g5 === 0) return publicTo(classifyIpv4(embedded(g6, g7)), 'reserved');
  if (g0 === 0x64 && g1 === 0xff9b) {
    // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052): the translator connects to the embedded IPv4.
    if (g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0) return classifyIpv4(embedded(g6, g7));
    // Local-use NAT64 64:ff9b:1::/48 (RFC 8215) is not globally reachable; the /96 position is read
    // so an embedded loopback or private address is named as such.
    if (g2 === 1) return publicTo(classifyIpv4(embedded(g6, g7)), 'private');
  }
  if (g0 === 0x100 && g1 === 0 && g2 === 0 && g3 === 0) return 'reserved'; // RFC 6666 discard-only
  if (g0 === 0x2001 && g1 === 0xdb8) return 'documentation'; // RFC 3849
  // 2001::/23 IETF protocol assignments (RFC 2928): Teredo, ORCHID, benchmarking; no MX lives there.
  if (g0 === 0x2001 && g1 < 0x200) return 'reserved';
  // 6to4 2002::/16 (RFC 3056): the relay delivers to the IPv4 address in bits 16-47.
  if (g0 === 0x2002) return classifyIpv4(embedded(g1, g2));
  if (g0 === 0x3fff && g1 < 0x1000) return 'documentation'; // 3fff::/20, RFC 9637
  if (g0 === 0x5f00) return 'reserved'; // 5f00::/16 SRv6 SIDs, RFC 9602
  if ((g0 & 0xfe00) === 0xfc00) return 'private'; // fc00::/7 unique local, RFC 4193
  if ((g0 & 0xffc0) === 0xfe80) return 'link_local'; // fe80::/10, RFC 4291 §2.5.6
  if ((g0 & 0xffc0) === 0xfec0) return 'private'; // fec0::/10 site-local, deprecated by RFC 3879
  if ((g0 & 0xff00) === 0xff00) return 'multicast'; // ff00::/8, RFC 4291 §2.7
  // Only 2000::/3 is allocated as global unicast (IANA IPv6 Address Space); the rest is reserved.
  return (g0 & 0xe000) === 0x2000 ? 'public' : 'reserved';
}

function publicTo(cls: TargetClass, replacement: TargetClass): TargetClass {
  return cls === 'public' ? replacement : cls;
}

/**
 * Classifies an IP address given in text (IPv4 dotted quad, or any RFC 4291 IPv6 form). Total: a
 * string that is not an address, including a zoned IPv6 address or a bracketed literal, is `'invalid'`.
 * @example classifyTarget('::ffff:10.1.2.3') // 'private'
 */
export function classifyTarget(ip: string): TargetClass {
  if (typeof (ip as unknown) !== 'string') return 'invalid';
  const ipv4 = parseIpv4(ip);
  if (ipv4 !== null) return classifyIpv4(ipv4);
  const ipv6 = parseIpv6(ip);
  return ipv6 === null ? 'invalid' : classifyIpv6(ipv6);
}

/**
 * Whether rcpt may connect to `ip`. Public addresses always; loopback, private, link-local, CGNAT,
 * documentation and reserved ones only with `allowPrivate` (test worlds, internal verifiers).
 * Unspecified and multicast never: neither can be the far end of a TCP connection (and connecting
 * to 0.0.0.0 reaches the local host on Linux), so allowing them would only widen the hole.
 */
export function isAllowedTarget(ip: string, allowPrivate: boolean): boolean {
  const cls = classifyTarget(ip);
  if (cls === 'public') return true;
  if (cls === 'invalid' || cls === 'unspecified' || cls === 'multicast') return false;
  return allowPrivate;
}

/** An MX host address a verification may connect to: the host's name and one of its addresses. */
export interface AllowedTarget {
  readonly host: string;
  readonly ip: string;
}

/**
 * The addresses of a route's MX hosts (in preference order, each host's addresses in order) that rcpt
 * may connect to, in the order they are tried, and how many were refused. The first is where an
 * address is asked first: `verify()` tries them in this order, `verifyMany()` queues the address at
 * the first one's host, and `rcpt worker` groups a domain's work by it.
 */
export function allowedTargets(
  hosts: readonly { readonly exchange: string; readonly addresses: readonly string[] }[],
  allowPrivate: boolean,
): { readonly targets: AllowedTarget[]; readonly refused: number } {
  const targets: AllowedTarget[] = [];
  let refused = 0;
  for (let at = 0; at < hosts.length; at++) {
    const { exchange, addresses } = hosts[at] as (typeof hosts)[number];
    for (let index = 0; index < addresses.length; index++) {
      const ip = addresses[index] as string;
      if (isAllowedTarget(ip, allowPrivate)) targets.push({ host: exchange, ip });
      else refused += 1;
    }
  }
  return { targets, refused };
}
