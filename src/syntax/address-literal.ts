/**
 * RFC 5321 §4.1.3 address literals: the text between `[` and `]` in `user@[192.0.2.1]` or
 * `user@[IPv6:2001:db8::1]`. The grammar is followed exactly, including its limits on the number of
 * groups around `::`, which are stricter than RFC 4291's textual forms.
 */

export interface LiteralOk {
  readonly ok: true;
  /** The literal with its brackets, the tag spelled `IPv6:` and hex digits lowercased. */
  readonly normalized: string;
}

export interface LiteralProblem {
  readonly ok: false;
  /** Offset into the literal's content (after `[`) where the problem is. */
  readonly offset: number;
  readonly message: string;
}

const IPV6_TAG = 'ipv6:';

/**
 * Parses the content of an address literal (without the brackets). General-address-literal
 * (`[tag:content]`) is refused: its `Standardized-tag` MUST be registered with IANA (RFC 5321 §4.1.3)
 * and the "Address Literal Tags" registry holds only `IPv6`, so no other tag can be valid today.
 */
export function parseAddressLiteral(content: string): LiteralOk | LiteralProblem {
  if (content.length === 0) return { ok: false, offset: 0, message: 'the address literal is empty' };
  if (content.slice(0, IPV6_TAG.length).toLowerCase() === IPV6_TAG) {
    const address = content.slice(IPV6_TAG.length);
    const problem = checkIpv6(address);
    if (problem !== null) {
      return { ok: false, offset: IPV6_TAG.length, message: `not an RFC 5321 IPv6 literal: ${problem}` };
    }
    return { ok: true, normalized: `[IPv6:${address.toLowerCase()}]` };
  }
  const colon = content.indexOf(':');
  if (colon !== -1) {
    return {
      ok: false,
      offset: 0,
      message: `the address-literal tag "${content.slice(0, colon)}" is not registered with IANA; only "IPv6" is (RFC 5321 §4.1.3)`,
    };
  }
  if (!isIpv4(content)) {
    return {
      ok: false,
      offset: 0,
      message: 'not an IPv4 literal: four decimal numbers 0-255 separated by dots (RFC 5321 §4.1.3 Snum)',
    };
  }
  return { ok: true, normalized: `[${content}]` };
}

/** `Snum 3("." Snum)`, `Snum = 1*3DIGIT` with a value from 0 to 255 (leading zeros allowed by the grammar). */
export function isIpv4(text: string): boolean {
  let parts = 0;
  let digits = 0;
  let value = 0;
  for (let index = 0; index <= text.length; index++) {
    const code = index < text.length ? text.charCodeAt(index) : 0x2e;
    if (code === 0x2e) {
      if (digits === 0 || value > 255) return false;
      parts++;
      digits = 0;
      value = 0;
    } else if (code >= 0x30 && code <= 0x39) {
      if (++digits > 3) return false;
      value = value * 10 + (code - 0x30);
    } else {
      return false;
    }
  }
  return parts === 4;
}

/** `IPv6-hex = 1*4HEXDIG`. */
function isHexGroup(text: string): boolean {
  if (text.length === 0 || text.length > 4) return false;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index) | 0x20;
    if (!((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x66))) return false;
  }
  return true;
}

/** Counts `IPv6-hex *(":" IPv6-hex)`, or returns -1 when `text` is not that (the empty string is 0). */
function countGroups(text: string): number {
  if (text === '') return 0;
  const groups = text.split(':');
  return groups.every(isHexGroup) ? groups.length : -1;
}

/**
 * The four productions of RFC 5321 §4.1.3:
 *   IPv6-full   = IPv6-hex 7(":" IPv6-hex)
 *   IPv6-comp   = [IPv6-hex *5(":" IPv6-hex)] "::" [IPv6-hex *5(":" IPv6-hex)]   ; at most 6 groups
 *   IPv6v4-full = IPv6-hex 5(":" IPv6-hex) ":" IPv4-address-literal
 *   IPv6v4-comp = [IPv6-hex *3(":" IPv6-hex)] "::" [IPv6-hex *3(":" IPv6-hex) ":"] IPv4-address-literal
 *                 ; at most 4 groups
 * Returns `null` when `text` matches one, else what is wrong.
 */
function checkIpv6(text: string): string | null {
  let head = text;
  let maxGroups = 8;
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    if (lastColon === -1 || !isIpv4(text.slice(lastColon + 1))) return 'bad embedded IPv4 address';
    // Drop the colon that separates the IPv4 part from the last group, unless it ends a "::".
    head = text.slice(0, lastColon + 1);
    if (!head.endsWith('::')) head = head.slice(0, -1);
    maxGroups = 6;
  }
  const compressed = head.indexOf('::');
  if (compressed === -1) {
    const groups = countGroups(head);
    if (groups === -1) return 'bad group (1 to 4 hex digits)';
    return groups === maxGroups ? null : `expected ${maxGroups} groups, found ${groups}`;
  }
  if (head.includes('::', compressed + 1)) return '"::" appears more than once';
  const left = countGroups(head.slice(0, compressed));
  const right = countGroups(head.slice(compressed + 2));
  if (left === -1 || right === -1) return 'bad group (1 to 4 hex digits)';
  // "::" stands for at least two groups of zeros, so at most maxGroups - 2 groups may be written.
  const allowed = maxGroups - 2;
  return left + right <= allowed
    ? null
    : `at most ${allowed} groups may be written around "::", found ${left + right}`;
}
