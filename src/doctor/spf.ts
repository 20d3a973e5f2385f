/**
 * An SPF evaluator (RFC 7208 `check_host()`), small enough to read against the RFC: record parsing is
 * pure and synchronous; evaluation asks DNS through the `SpfDns` port it is given, so tables of
 * records can test it without a network and the doctor can run it over the project's DNS client.
 *
 * Supported: every mechanism (`all`, `include`, `a`, `mx`, `ptr`, `ip4`, `ip6`, `exists`) with
 * qualifiers and dual CIDR lengths, the `redirect=` modifier, macros (§7) in domain-specs, the limit
 * of 10 DNS-querying terms and of 2 void lookups (§4.6.4), 10 MX names per `mx` (§4.6.4) and 10 PTR
 * names per `ptr` (§5.5). Not evaluated: `exp=` (an explanation for rejections, useless to a
 * self-check); its syntax is still checked.
 */
import { formatIp, inCidr, parseIp, parseIpv4, parseIpv6, reversedLabels, type IpBytes } from './ip.js';

/** Every result `check_host()` returns (RFC 7208 §2.6). */
export const SPF_RESULTS = ['pass', 'fail', 'softfail', 'neutral', 'none', 'permerror', 'temperror'] as const;
export type SpfResult = (typeof SPF_RESULTS)[number];

/** RFC 7208 §4.6.4: terms that query DNS (include, a, mx, ptr, exists, redirect) per evaluation. */
export const SPF_LOOKUP_LIMIT = 10;
/** RFC 7208 §4.6.4: DNS-querying terms that may come back NXDOMAIN or empty ("void lookups"). */
export const SPF_VOID_LOOKUP_LIMIT = 2;
/** RFC 7208 §4.6.4: an `mx` whose domain has more MX records than this is a permerror. */
export const SPF_MX_LIMIT = 10;
/** RFC 7208 §5.5: only the first 10 names of a PTR answer are validated for `ptr` and `%{p}`. */
export const SPF_PTR_LIMIT = 10;
/** RFC 7208 §7.3: a macro-expanded domain is cut to 253 octets from the left. */
const MAX_DOMAIN_LENGTH = 253;

/** The outcome of one lookup through the port. `void`: NXDOMAIN, or NOERROR without records. */
export type SpfLookup =
  | { readonly kind: 'records'; readonly values: readonly string[] }
  | { readonly kind: 'void' }
  | { readonly kind: 'error'; readonly message: string };

/** The DNS questions SPF asks. Names come without a trailing dot; answers are text. */
export interface SpfDns {
  /** TXT records of `name`, each one's strings joined without separators (RFC 7208 §3.3). */
  txt(name: string): Promise<SpfLookup>;
  /** A (family 4) or AAAA (family 6) addresses of `name`. */
  addresses(name: string, family: 4 | 6): Promise<SpfLookup>;
  /** MX exchange names of `name` (a null MX's `.` included as is). */
  mx(name: string): Promise<SpfLookup>;
  /** PTR names of the address. */
  ptr(ip: string): Promise<SpfLookup>;
}

export type SpfQualifier = '+' | '-' | '~' | '?';
export type SpfMechanismName = 'all' | 'include' | 'a' | 'mx' | 'ptr' | 'ip4' | 'ip6' | 'exists';

/** One directive of a record, as parsed. */
export interface SpfMechanism {
  readonly kind: 'mechanism';
  readonly qualifier: SpfQualifier;
  readonly name: SpfMechanismName;
  /** The unexpanded domain-spec, `null` when absent (a, mx, ptr default to the current domain). */
  readonly domainSpec: string | null;
  /** The network of ip4/ip6. */
  readonly network: IpBytes | null;
  /** Prefix lengths for IPv4 and IPv6 comparisons (32 and 128 when not given). */
  readonly cidr4: number;
  readonly cidr6: number;
  /** The term as written, for explanations. */
  readonly text: string;
}

export interface SpfModifier {
  readonly kind: 'modifier';
  readonly name: string;
  readonly value: string;
  readonly text: string;
}

export type SpfTerm = SpfMechanism | SpfModifier;

export type ParsedSpf =
  | { readonly kind: 'record'; readonly terms: readonly SpfTerm[]; readonly redirect: string | null }
  | { readonly kind: 'error'; readonly message: string };

/** What the evaluator concluded, and the evidence. */
export interface SpfEvaluation {
  readonly result: SpfResult;
  /** The domain whose policy was checked. */
  readonly domain: string;
  /** The domain's SPF record, `null` when it has none or it could not be read. */
  readonly record: string | null;
  /**
   * The path to the deciding term, e.g. `["include:_spf.example.net", "ip4:192.0.2.0/24"]`; the
   * default `?all`-like end of a record without a match is `[]`.
   */
  readonly matched: readonly string[];
  /** DNS-querying terms evaluated (at most 10 unless the result is a permerror for that reason). */
  readonly lookups: number;
  readonly voidLookups: number;
  /** One sentence on why, for people. */
  readonly explanation: string;
}

export interface SpfRequest {
  /** The connecting client's address (the probing address). */
  readonly ip: string;
  /** The domain of MAIL FROM, or the HELO name when MAIL FROM is `<>` (RFC 7208 §2.4). */
  readonly domain: string;
  /** The MAIL FROM address (`postmaster@<helo>` for `<>`, RFC 7208 §4.3), for `%{s}`, `%{l}`, `%{o}`. */
  readonly sender: string;
  /** The HELO name, for `%{h}`. */
  readonly helo: string;
}

const QUALIFIER_RESULTS: Readonly<Record<SpfQualifier, SpfResult>> = {
  '+': 'pass',
  '-': 'fail',
  '~': 'softfail',
  '?': 'neutral',
};

const MECHANISMS = new Set<string>(['all', 'include', 'a', 'mx', 'ptr', 'ip4', 'ip6', 'exists']);
/** RFC 7208 §7.1: `c`, `r` and `t` are only allowed in `exp` explanations. */
const MACRO_LETTERS = 'slodiphv';
const MACRO_DELIMITERS = '.-+,/_=';

/** True for a TXT string that is an SPF version 1 record (RFC 7208 §4.5: `v=spf1` then space or end). */
export function isSpfRecord(text: string): boolean {
  return /^v=spf1(?: |$)/i.test(text);
}

/** Checks a macro-string's syntax (RFC 7208 §7.1) without expanding it; returns an error or `null`. */
function macroSyntaxError(spec: string, allowExpLetters: boolean): string | null {
  const letters = allowExpLetters ? `${MACRO_LETTERS}crt` : MACRO_LETTERS;
  for (let i = 0; i < spec.length; i++) {
    const char = spec.charCodeAt(i);
    if (char < 0x21 || char > 0x7e) return `invalid character in ${JSON.stringify(spec)}`;
    if (spec[i] !== '%') continue;
    const next = spec[i + 1];
    if (next === '%' || next === '_' || next === '-') {
      i++;
      continue;
    }
    if (next !== '{') return `a "%" must start a macro in ${JSON.stringify(spec)}`;
    const end = spec.indexOf('}', i);
    if (end === -1) return `unterminated macro in ${JSON.stringify(spec)}`;
    const body = spec.slice(i + 2, end);
    const escaped = letters.replace(/[-/]/g, '\\$&');
    if (!new RegExp(`^[${escaped}]\\d*r?[${MACRO_DELIMITERS.replace(/[-/]/g, '\\$&')}]*$`, 'i').test(body)) {
      return `invalid macro %{${body}}`;
    }
    i = end;
  }
  return null;
}

/** RFC 7208 §12: the cidr suffix of a, mx (`/24`, `//64`, `/24//64`). */
const DUAL_CIDR = /(?:\/(0|[1-9]\d?))?(?:\/\/(0|[1-9]\d{0,2}))?$/;

function parseMechanism(term: string): SpfMechanism | string {
  let qualifier: SpfQualifier = '+';
  let body = term;
  const first = term[0];
  if (first === '+' || first === '-' || first === '~' || first === '?') {
    qualifier = first;
    body = term.slice(1);
  }
  const match = /^([A-Za-z0-9]+)(.*)$/.exec(body);
  const name = match?.[1]?.toLowerCase() ?? '';
  let rest = match?.[2] ?? '';
  if (!MECHANISMS.has(name)) return `unknown mechanism ${JSON.stringify(term)}`;
  const mechanism = name as SpfMechanismName;
  const base = { kind: 'mechanism', qualifier, name: mechanism, text: term } as const;
  switch (mechanism) {
    case 'all':
      if (rest !== '') return `"all" takes no argument: ${JSON.stringify(term)}`;
      return { ...base, domainSpec: null, network: null, cidr4: 32, cidr6: 128 };
    case 'include':
    case 'exists': {
      if (!rest.startsWith(':') || rest.length === 1)
        return `"${mechanism}" needs a domain: ${JSON.stringify(term)}`;
      const spec = rest.slice(1);
      const error = macroSyntaxError(spec, false);
      if (error !== null) return error;
      return { ...base, domainSpec: spec, network: null, cidr4: 32, cidr6: 128 };
    }
    case 'a':
    case 'mx':
    case 'ptr': {
      let cidr4 = 32;
      let cidr6 = 128;
      if (mechanism !== 'ptr') {
        const cidr = DUAL_CIDR.exec(rest);
        if (cidr !== null && cidr[0] !== '') {
          cidr4 = cidr[1] === undefined ? 32 : Number(cidr[1]);
          cidr6 = cidr[2] === undefined ? 128 : Number(cidr[2]);
          if (cidr4 > 32 || cidr6 > 128) return `prefix length out of range in ${JSON.stringify(term)}`;
          rest = rest.slice(0, rest.length - cidr[0].length);
        }
      }
      if (rest === '') return { ...base, domainSpec: null, network: null, cidr4, cidr6 };
      if (!rest.startsWith(':') || rest.length === 1) return `malformed ${JSON.stringify(term)}`;
      const spec = rest.slice(1);
      const error = macroSyntaxError(spec, false);
      if (error !== null) return error;
      return { ...base, domainSpec: spec, network: null, cidr4, cidr6 };
    }
    case 'ip4':
    case 'ip6': {
      const parts = /^:([^/]+)(?:\/(0|[1-9]\d{0,2}))?$/.exec(rest);
      if (parts === null) return `malformed ${JSON.stringify(term)}`;
      const network = mechanism === 'ip4' ? parseIpv4(parts[1] ?? '') : parseIpv6(parts[1] ?? '');
      if (network === null)
        return `not an ${mechanism === 'ip4' ? 'IPv4' : 'IPv6'} address: ${JSON.stringify(term)}`;
      const max = mechanism === 'ip4' ? 32 : 128;
      const prefix = parts[2] === undefined ? max : Number(parts[2]);
      if (prefix > max) return `prefix length out of range in ${JSON.stringify(term)}`;
      return {
        ...base,
        domainSpec: null,
        network,
        cidr4: mechanism === 'ip4' ? prefix : 32,
        cidr6: mechanism === 'ip6' ? prefix : 128,
      };
    }
  }
}

/**
 * Parses one SPF record (RFC 7208 §4.6, §12). Any syntax error anywhere makes the whole record a
 * permerror (§4.6: "without further interpretation"), so this reads every term before evaluation.
 */
export function parseSpfRecord(text: string): ParsedSpf {
  if (!isSpfRecord(text)) return { kind: 'error', message: 'not an SPF record (no "v=spf1")' };
  const terms: SpfTerm[] = [];
  let redirect: string | null = null;
  let explanation = false;
  for (const term of text.slice(6).split(' ')) {
    if (term === '') continue;
    const modifier = /^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$/.exec(term);
    if (modifier !== null) {
      const name = (modifier[1] ?? '').toLowerCase();
      const value = modifier[2] ?? '';
      if (name === 'redirect' || name === 'exp') {
        // RFC 7208 §6: each of these may appear at most once.
        if ((name === 'redirect' && redirect !== null) || (name === 'exp' && explanation)) {
          return { kind: 'error', message: `"${name}=" appears twice` };
        }
        if (value === '') return { kind: 'error', message: `"${name}=" needs a domain` };
        const error = macroSyntaxError(value, false);
        if (error !== null) return { kind: 'error', message: error };
        if (name === 'redirect') redirect = value;
        else explanation = true;
      } else {
        // RFC 7208 §6: unknown modifiers are ignored, but their macro-string must still parse.
        const error = macroSyntaxError(value, true);
        if (error !== null) return { kind: 'error', message: error };
      }
      terms.push({ kind: 'modifier', name, value, text: term });
      continue;
    }
    const mechanism = parseMechanism(term);
    if (typeof mechanism === 'string') return { kind: 'error', message: mechanism };
    terms.push(mechanism);
  }
  return { kind: 'record', terms, redirect };
}

/** True for a syntactically usable multi-label domain name (RFC 7208 §4.3, §4.8). */
function isValidDomain(name: string): boolean {
  if (name.length === 0 || name.length > MAX_DOMAIN_LENGTH) return false;
  const labels = name.split('.');
  if (labels.length < 2) return false;
  return labels.every((label) => label.length > 0 && label.length <= 63);
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Ends evaluation at once with a permerror or temperror. */
class SpfStop extends Error {
  constructor(
    readonly result: 'permerror' | 'temperror',
    message: string,
  ) {
    super(message);
  }
}

interface State {
  lookups: number;
  voidLookups: number;
  readonly ip: IpBytes;
  readonly ipText: string;
  readonly request: SpfRequest;
  readonly dns: SpfDns;
  /** Record of the top-level domain, for the report. */
  topRecord: string | null;
}

interface HostResult {
  readonly result: SpfResult;
  readonly matched: readonly string[];
  readonly explanation: string;
}

/** RFC 7208 §7.3: expands the macros of a domain-spec for `domain` (the current domain). */
function expand(spec: string, domain: string, state: State): string {
  const { request } = state;
  const at = request.sender.lastIndexOf('@');
  const local = at > 0 ? request.sender.slice(0, at) : 'postmaster';
  const senderDomain = at === -1 ? request.sender : request.sender.slice(at + 1);
  const values: Readonly<Record<string, string>> = {
    s: at > 0 ? request.sender : `postmaster@${senderDomain}`,
    l: local,
    o: senderDomain,
    d: domain,
    // RFC 7208 §7.3: IPv6 `i` is dot-separated nibbles, in order.
    i: state.ip.length === 4 ? state.ipText : reversedLabels(state.ip).split('.').reverse().join('.'),
    // §7.3: "p" SHOULD NOT be used; "unknown" is the value when the name is not validated.
    p: 'unknown',
    v: state.ip.length === 4 ? 'in-addr' : 'ip6',
    h: request.helo,
  };
  let out = '';
  for (let i = 0; i < spec.length; i++) {
    const char = spec[i] ?? '';
    if (char !== '%') {
      out += char;
      continue;
    }
    const next = spec[i + 1];
    i++;
    if (next === '%') out += '%';
    else if (next === '_') out += ' ';
    else if (next === '-') out += '%20';
    else {
      const end = spec.indexOf('}', i);
      const body = spec.slice(i + 1, end);
      i = end;
      const parsed = /^([a-z])(\d*)(r?)(.*)$/i.exec(body);
      const letter = (parsed?.[1] ?? '').toLowerCase();
      const keep = parsed?.[2] === '' || parsed?.[2] === undefined ? null : Number(parsed[2]);
      const reverse = parsed?.[3] !== '';
      const delimiters = parsed?.[4] === '' || parsed?.[4] === undefined ? '.' : parsed[4];
      let parts = (values[letter] ?? '').split(new RegExp(`[${delimiters.replace(/[-\\\]^/]/g, '\\$&')}]`));
      if (reverse) parts = parts.reverse();
      if (keep !== null) {
        if (keep === 0) throw new SpfStop('permerror', `macro %{${body}} keeps zero labels`);
        parts = parts.slice(-keep);
      }
      out += parts.join('.');
    }
  }
  // §7.3: a too-long result loses labels from the left until it fits.
  while (out.length > MAX_DOMAIN_LENGTH && out.includes('.')) out = out.slice(out.indexOf('.') + 1);
  return normalise(out);
}

function targetOf(mechanism: SpfMechanism, domain: string, state: State): string {
  if (mechanism.domainSpec === null) return domain;
  const target = expand(mechanism.domainSpec, domain, state);
  if (!isValidDomain(target)) {
    throw new SpfStop('permerror', `"${mechanism.text}" names an invalid domain ${JSON.stringify(target)}`);
  }
  return target;
}

/** Counts a DNS-querying term against the limit of 10 (RFC 7208 §4.6.4). */
function countLookup(state: State, term: string): void {
  state.lookups++;
  if (state.lookups > SPF_LOOKUP_LIMIT) {
    throw new SpfStop(
      'permerror',
      `more than ${SPF_LOOKUP_LIMIT} DNS-querying terms (RFC 7208 §4.6.4), the 11th being "${term}"`,
    );
  }
}

/** Reads a lookup: DNS errors stop with temperror (§5), void answers count against the limit of 2. */
function recordsOf(lookup: SpfLookup, state: State, what: string, countVoid = true): readonly string[] {
  if (lookup.kind === 'error') throw new SpfStop('temperror', `DNS error for ${what}: ${lookup.message}`);
  if (lookup.kind === 'records' && lookup.values.length > 0) return lookup.values;
  if (countVoid) {
    state.voidLookups++;
    if (state.voidLookups > SPF_VOID_LOOKUP_LIMIT) {
      throw new SpfStop(
        'permerror',
        `more than ${SPF_VOID_LOOKUP_LIMIT} void lookups (RFC 7208 §4.6.4), the last for ${what}`,
      );
    }
  }
  return [];
}

function sameIp(a: IpBytes | null, b: IpBytes): boolean {
  return a !== null && a.length === b.length && a.every((byte, index) => byte === b[index]);
}

function addressMatches(addresses: readonly string[], mechanism: SpfMechanism, state: State): boolean {
  const prefix = state.ip.length === 4 ? mechanism.cidr4 : mechanism.cidr6;
  return addresses.some((text) => {
    const address = parseIp(text);
    return address !== null && inCidr(state.ip, address, prefix);
  });
}

async function matches(
  mechanism: SpfMechanism,
  domain: string,
  state: State,
  path: string[],
): Promise<boolean> {
  const family = state.ip.length === 4 ? 4 : 6;
  switch (mechanism.name) {
    case 'all':
      return true;
    case 'ip4':
    case 'ip6': {
      if (mechanism.network === null) return false;
      const prefix = mechanism.name === 'ip4' ? mechanism.cidr4 : mechanism.cidr6;
      return inCidr(state.ip, mechanism.network, prefix);
    }
    case 'a': {
      countLookup(state, mechanism.text);
      const target = targetOf(mechanism, domain, state);
      const addresses = recordsOf(await state.dns.addresses(target, family), state, `"${mechanism.text}"`);
      return addressMatches(addresses, mechanism, state);
    }
    case 'mx': {
      countLookup(state, mechanism.text);
      const target = targetOf(mechanism, domain, state);
      const exchanges = recordsOf(await state.dns.mx(target), state, `"${mechanism.text}"`).filter(
        (name) => name !== '.' && name !== '',
      );
      if (exchanges.length > SPF_MX_LIMIT) {
        throw new SpfStop(
          'permerror',
          `"${mechanism.text}": ${target} has ${exchanges.length} MX records, more than ${SPF_MX_LIMIT} (RFC 7208 §4.6.4)`,
        );
      }
      for (const exchange of exchanges) {
        // The address lookups of MX names are part of this term: not counted again (§4.6.4).
        const addresses = recordsOf(
          await state.dns.addresses(normalise(exchange), family),
          state,
          `MX host ${exchange}`,
          false,
        );
        if (addressMatches(addresses, mechanism, state)) return true;
      }
      return false;
    }
    case 'ptr': {
      countLookup(state, mechanism.text);
      const target = targetOf(mechanism, domain, state);
      // §5.5: a PTR lookup error is no match rather than temperror.
      const lookup = await state.dns.ptr(state.ipText);
      const names = lookup.kind === 'error' ? [] : recordsOf(lookup, state, `"${mechanism.text}"`);
      for (const name of names.slice(0, SPF_PTR_LIMIT).map(normalise)) {
        if (name !== target && !name.endsWith(`.${target}`)) continue;
        const forward = await state.dns.addresses(name, family);
        if (forward.kind !== 'records') continue;
        if (forward.values.some((text) => sameIp(parseIp(text), state.ip))) return true;
      }
      return false;
    }
    case 'exists': {
      countLookup(state, mechanism.text);
      const target = targetOf(mechanism, domain, state);
      // §5.7: always an A query, whatever the client's address family.
      return recordsOf(await state.dns.addresses(target, 4), state, `"${mechanism.text}"`).length > 0;
    }
    case 'include': {
      countLookup(state, mechanism.text);
      const target = targetOf(mechanism, domain, state);
      const inner = await checkHost(target, state, [...path, mechanism.text]);
      switch (inner.result) {
        case 'pass':
          path.push(...inner.matched.slice(path.length));
          return true;
        case 'fail':
        case 'softfail':
        case 'neutral':
          return false;
        case 'temperror':
          throw new SpfStop('temperror', inner.explanation);
        case 'permerror':
          throw new SpfStop('permerror', inner.explanation);
        case 'none':
          // §5.2: an include of a domain without SPF is a permerror, not a silent no-match.
          throw new SpfStop('permerror', `"${mechanism.text}": ${target} has no SPF record`);
      }
    }
  }
}

/** RFC 7208 §4: `check_host()` for `domain`, sharing the lookup counters of `state`. */
async function checkHost(domain: string, state: State, path: readonly string[]): Promise<HostResult> {
  const txt = await state.dns.txt(domain);
  if (txt.kind === 'error')
    throw new SpfStop('temperror', `DNS error for the TXT records of ${domain}: ${txt.message}`);
  const records = txt.kind === 'records' ? txt.values.filter(isSpfRecord) : [];
  if (records.length === 0) {
    return { result: 'none', matched: path, explanation: `${domain} publishes no SPF record` };
  }
  if (records.length > 1) {
    throw new SpfStop(
      'permerror',
      `${domain} publishes ${records.length} SPF records; RFC 7208 §4.5 allows one`,
    );
  }
  const record = records[0] ?? '';
  if (path.length === 0) state.topRecord = record;
  const parsed = parseSpfRecord(record);
  if (parsed.kind === 'error')
    throw new SpfStop('permerror', `the SPF record of ${domain} is malformed: ${parsed.message}`);
  let hasAll = false;
  for (const term of parsed.terms) {
    if (term.kind !== 'mechanism') continue;
    if (term.name === 'all') hasAll = true;
    const trail = [...path];
    if (await matches(term, domain, state, trail)) {
      const matched = term.name === 'include' ? trail : [...path, term.text];
      const result = QUALIFIER_RESULTS[term.qualifier];
      return { result, matched, explanation: `${domain} matched "${matched.join(' → ')}": ${result}` };
    }
  }
  // §6.1: redirect applies only when no mechanism matched, and is ignored when "all" is present.
  if (parsed.redirect !== null && !hasAll) {
    countLookup(state, `redirect=${parsed.redirect}`);
    const target = expand(parsed.redirect, domain, state);
    if (!isValidDomain(target))
      throw new SpfStop('permerror', `redirect to an invalid domain ${JSON.stringify(target)}`);
    const inner = await checkHost(target, state, [...path, `redirect=${target}`]);
    if (inner.result === 'none')
      throw new SpfStop('permerror', `redirect target ${target} has no SPF record`);
    return inner;
  }
  // §4.7: no match and no redirect is "neutral".
  return { result: 'neutral', matched: path, explanation: `no term of the SPF record of ${domain} matched` };
}

/**
 * Evaluates the SPF policy of `request.domain` for `request.ip` (RFC 7208 `check_host()`). Total:
 * DNS trouble is `temperror`, broken records and exceeded limits are `permerror`, never a rejection.
 * @example await evaluateSpf({ ip: '192.0.2.25', domain: 'example.net', sender: 'v@example.net', helo: 'probe.example.net' }, dns)
 */
export async function evaluateSpf(request: SpfRequest, dns: SpfDns): Promise<SpfEvaluation> {
  const domain = normalise(request.domain);
  const ip = parseIp(request.ip);
  const base = { domain, record: null, matched: [], lookups: 0, voidLookups: 0 };
  if (ip === null) {
    return {
      ...base,
      result: 'permerror',
      explanation: `${JSON.stringify(request.ip)} is not an IP address`,
    };
  }
  // §4.3: an invalid or single-label domain has no policy to check.
  if (!isValidDomain(domain)) {
    return {
      ...base,
      result: 'none',
      explanation: `${JSON.stringify(domain)} is not a multi-label domain name`,
    };
  }
  const state: State = {
    lookups: 0,
    voidLookups: 0,
    ip,
    ipText: formatIp(ip),
    request,
    dns,
    topRecord: null,
  };
  try {
    const outcome = await checkHost(domain, state, []);
    return {
      result: outcome.result,
      domain,
      record: state.topRecord,
      matched: outcome.matched,
      lookups: state.lookups,
      voidLookups: state.voidLookups,
      explanation: outcome.explanation,
    };
  } catch (error) {
    if (!(error instanceof SpfStop)) throw error;
    return {
      result: error.result,
      domain,
      record: state.topRecord,
      matched: [],
      lookups: state.lookups,
      voidLookups: state.voidLookups,
      explanation: error.message,
    };
  }
}
