/**
 * What is wrong with a HELO name on its face, before any DNS (docs/doctor.md): the CBL/XBL lists IPs
 * that HELO as `localhost`; Microsoft answers `5.7.506 Access Denied, Bad HELO` to HELO-as-the-target;
 * Reacher #1065 and deep-email-validator #69 report Spamhaus listings after HELO `gmail.com`. Pure.
 */
import { parseIp } from './ip.js';

/**
 * Domains of the big mailbox providers. HELO with one of them (or a name under it) claims to be their
 * server: it is what spambots do, and what the providers themselves penalise.
 */
export const PROVIDER_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'google.com',
  'outlook.com',
  'hotmail.com',
  'live.com',
  'msn.com',
  'microsoft.com',
  'office365.com',
  'yahoo.com',
  'ymail.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'apple.com',
  'gmx.com',
  'gmx.net',
  'gmx.de',
  'web.de',
  'mail.com',
  'yandex.ru',
  'yandex.com',
  'mail.ru',
  'proton.me',
  'protonmail.com',
  'zoho.com',
];

/**
 * Names that never resolve publicly: RFC 6761 `localhost`, the `localdomain` of many distributions'
 * `/etc/hosts`, mDNS `local` (RFC 6762), `internal` (ICANN's private-use TLD, 2024) and `home.arpa`
 * (RFC 8375). `.test` is absent on purpose: it is how rcpt's test worlds name things.
 */
const PRIVATE_SUFFIXES = ['localhost', 'localdomain', 'local', 'internal', 'lan', 'home.arpa'];

/** A HELO problem, or `null`. */
export interface HeloProblem {
  readonly kind:
    | 'empty'
    | 'localhost'
    | 'address'
    | 'address_literal'
    | 'dotless'
    | 'private_name'
    | 'provider'
    | 'syntax';
  readonly message: string;
}

/** RFC 1123 §2.1 host name syntax: letters, digits, hyphens; labels of 1-63; 253 in all. */
function isHostName(name: string): boolean {
  if (name.length > 253) return false;
  return name.split('.').every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(label));
}

/** The first thing wrong with `helo` as the name of a probing host, `null` when nothing is. */
export function heloProblem(helo: string): HeloProblem | null {
  const name = helo.toLowerCase().replace(/\.$/, '');
  if (name === '') return { kind: 'empty', message: 'the HELO name is empty' };
  if (name.startsWith('[') && name.endsWith(']')) {
    return {
      kind: 'address_literal',
      message: `"${helo}" is an address literal: RFC 5321 allows it, but receivers and blocklists treat a host without a name as a spambot`,
    };
  }
  if (parseIp(name) !== null) {
    return {
      kind: 'address',
      message: `"${helo}" is a bare IP address, not a host name (RFC 5321 §4.1.1.1)`,
    };
  }
  if (name === 'localhost' || name.startsWith('localhost.')) {
    return {
      kind: 'localhost',
      message: `"${helo}" is localhost: the CBL/Spamhaus XBL lists IPs that HELO as localhost`,
    };
  }
  if (!isHostName(name)) {
    return {
      kind: 'syntax',
      message: `"${helo}" is not a valid host name (letters, digits and hyphens; RFC 1123)`,
    };
  }
  if (!name.includes('.')) {
    return {
      kind: 'dotless',
      message: `"${helo}" is not fully qualified (no dot): receivers cannot look it up`,
    };
  }
  const privateSuffix = PRIVATE_SUFFIXES.find((suffix) => name === suffix || name.endsWith(`.${suffix}`));
  if (privateSuffix !== undefined) {
    return {
      kind: 'private_name',
      message: `"${helo}" ends in .${privateSuffix}, a name that never resolves on the public Internet`,
    };
  }
  const provider = PROVIDER_DOMAINS.find((domain) => name === domain || name.endsWith(`.${domain}`));
  if (provider !== undefined) {
    return {
      kind: 'provider',
      message: `"${helo}" claims to be ${provider}: Microsoft answers "5.7.506 Bad HELO" and Spamhaus lists IPs that do this`,
    };
  }
  return null;
}

/** Words that mark a PTR name as generic (an ISP's pool) rather than a named server. */
const GENERIC_WORDS =
  /(?:^|[.-])(?:dynamic|dyn|dhcp|dsl|adsl|vdsl|xdsl|pool|cable|dialup|dial|ppp|pppoe|broadband|residential|cust|customer|unassigned)(?:\d*)(?:[.-]|$)/;

/**
 * True when a PTR name looks generated from the address (`ec2-192-0-2-25.compute…`,
 * `25.2.0.192.in-addr…`, `dsl-pool-…`): Spamhaus' PBL and many receivers treat such names as
 * residential or unnamed hosts.
 */
export function looksGeneric(ptrName: string, ip: string): boolean {
  const name = ptrName.toLowerCase();
  if (GENERIC_WORDS.test(name)) return true;
  const bytes = parseIp(ip);
  if (bytes === null || bytes.length !== 4) return false;
  const forward = bytes.join('[.-]');
  const backward = [...bytes].reverse().join('[.-]');
  const hex = bytes.map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return new RegExp(`(?:^|\\D)(?:${forward}|${backward})(?:\\D|$)`).test(name) || name.includes(hex);
}
