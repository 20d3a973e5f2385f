/**
 * The SPF evaluator (RFC 7208 check_host()) against tables of DNS records, through its `SpfDns` port:
 * each case is a zone, an SPF request and the expected result with the term that decided it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  evaluateSpf,
  parseSpfRecord,
  SPF_LOOKUP_LIMIT,
  type SpfDns,
  type SpfLookup,
  type SpfResult,
} from '../../../src/doctor/spf.js';

interface Records {
  readonly TXT?: readonly string[];
  readonly A?: readonly string[];
  readonly AAAA?: readonly string[];
  readonly MX?: readonly string[];
  readonly PTR?: readonly string[];
  /** Every question about this name fails (SERVFAIL, timeout). */
  readonly error?: true;
}
type Zone = Readonly<Record<string, Records>>;

/** A DNS port answering from a table: absent names and types are void lookups. */
function tableDns(zone: Zone): SpfDns & { readonly asked: string[] } {
  const asked: string[] = [];
  const answer = (name: string, type: keyof Records): Promise<SpfLookup> => {
    asked.push(`${name} ${type}`);
    const entry = zone[name];
    if (entry?.error === true) return Promise.resolve({ kind: 'error', message: 'SERVFAIL' });
    const values = entry?.[type];
    return Promise.resolve(
      Array.isArray(values) && values.length > 0 ? { kind: 'records', values } : { kind: 'void' },
    );
  };
  return {
    asked,
    txt: (name) => answer(name, 'TXT'),
    addresses: (name, family) => answer(name, family === 4 ? 'A' : 'AAAA'),
    mx: (name) => answer(name, 'MX'),
    ptr: (ip) => {
      const bytes = ip.split('.');
      return answer(`${bytes.reverse().join('.')}.in-addr.arpa`, 'PTR');
    },
  };
}

const IP = '192.0.2.25';
const IP6 = '2001:db8:25::1';

interface Case {
  readonly name: string;
  readonly zone: Zone;
  readonly ip?: string;
  readonly domain?: string;
  readonly sender?: string;
  readonly result: SpfResult;
  /** The path to the deciding term; omitted when it does not matter. */
  readonly matched?: readonly string[];
  /** A fragment of the explanation. */
  readonly because?: RegExp;
  readonly lookups?: number;
  readonly voidLookups?: number;
}

const spf = (record: string): Records => ({ TXT: [record] });
/** `count` include targets, each a policy that never matches (so evaluation carries on). */
function includeChain(count: number): Zone {
  const zone: Record<string, Records> = {
    'example.test': spf(
      `v=spf1 ${Array.from({ length: count }, (_, i) => `include:i${i}.test`).join(' ')} -all`,
    ),
  };
  for (let i = 0; i < count; i++) zone[`i${i}.test`] = spf('v=spf1 ip4:198.51.100.1 -all');
  return zone;
}

const CASES: readonly Case[] = [
  // --- records and their selection (§4.5)
  { name: 'no TXT at all is none', zone: {}, result: 'none' },
  {
    name: 'TXT without v=spf1 is none',
    zone: { 'example.test': { TXT: ['google-site-verification=abc'] } },
    result: 'none',
  },
  { name: 'v=spf10 is not an SPF record', zone: { 'example.test': spf('v=spf10 +all') }, result: 'none' },
  {
    name: 'two SPF records are a permerror',
    zone: { 'example.test': { TXT: ['v=spf1 -all', 'v=spf1 +all'] } },
    result: 'permerror',
    because: /2 SPF records/,
  },
  {
    name: 'a DNS error on the TXT lookup is a temperror',
    zone: { 'example.test': { error: true } },
    result: 'temperror',
  },
  {
    name: 'a single-label domain is none',
    zone: {},
    domain: 'localhost',
    result: 'none',
    because: /multi-label/,
  },
  // --- all and qualifiers
  { name: '-all is fail', zone: { 'example.test': spf('v=spf1 -all') }, result: 'fail', matched: ['-all'] },
  {
    name: '~all is softfail',
    zone: { 'example.test': spf('v=spf1 ~all') },
    result: 'softfail',
    matched: ['~all'],
  },
  {
    name: '?all is neutral',
    zone: { 'example.test': spf('v=spf1 ?all') },
    result: 'neutral',
    matched: ['?all'],
  },
  { name: 'all without qualifier is pass', zone: { 'example.test': spf('v=spf1 all') }, result: 'pass' },
  {
    name: 'an empty record is neutral',
    zone: { 'example.test': spf('v=spf1') },
    result: 'neutral',
    matched: [],
  },
  {
    name: 'terms after all are never reached',
    zone: { 'example.test': spf(`v=spf1 -all ip4:${IP}`) },
    result: 'fail',
  },
  {
    name: 'names and mechanisms are case-insensitive',
    zone: { 'example.test': spf(`V=SPF1 IP4:${IP} -ALL`) },
    result: 'pass',
    matched: [`IP4:${IP}`],
  },
  {
    name: 'extra spaces between terms are fine',
    zone: { 'example.test': spf(`v=spf1   ip4:${IP}   -all  `) },
    result: 'pass',
  },
  // --- ip4 / ip6 with CIDR
  { name: 'ip4 exact', zone: { 'example.test': spf(`v=spf1 ip4:${IP} -all`) }, result: 'pass' },
  { name: 'ip4 /24', zone: { 'example.test': spf('v=spf1 ip4:192.0.2.0/24 -all') }, result: 'pass' },
  {
    name: 'ip4 /28 that excludes it',
    zone: { 'example.test': spf('v=spf1 ip4:192.0.2.0/28 -all') },
    result: 'fail',
  },
  {
    name: 'ip4 /0 matches everything',
    zone: { 'example.test': spf('v=spf1 ip4:0.0.0.0/0 -all') },
    result: 'pass',
  },
  {
    name: 'ip4 does not match an IPv6 client',
    zone: { 'example.test': spf('v=spf1 ip4:0.0.0.0/0 -all') },
    ip: IP6,
    result: 'fail',
  },
  {
    name: 'an IPv4-mapped IPv6 client is matched as IPv4 (§5)',
    zone: { 'example.test': spf(`v=spf1 ip4:${IP} -all`) },
    ip: `::ffff:${IP}`,
    result: 'pass',
  },
  {
    name: 'ip6 /48',
    zone: { 'example.test': spf('v=spf1 ip6:2001:db8:25::/48 -all') },
    ip: IP6,
    result: 'pass',
  },
  {
    name: 'ip6 /64 elsewhere',
    zone: { 'example.test': spf('v=spf1 ip6:2001:db8:26::/64 ~all') },
    ip: IP6,
    result: 'softfail',
  },
  // --- a and mx
  {
    name: 'a: the domain resolves to the client',
    zone: { 'example.test': { TXT: ['v=spf1 a -all'], A: [IP] } },
    result: 'pass',
    lookups: 1,
  },
  {
    name: 'a:other/24',
    zone: {
      'example.test': spf('v=spf1 a:web.example.test/24 -all'),
      'web.example.test': { A: ['192.0.2.200'] },
    },
    result: 'pass',
  },
  {
    name: 'a//64 for an IPv6 client',
    zone: { 'example.test': { TXT: ['v=spf1 a/24//64 -all'], AAAA: ['2001:db8:25::ffff'] } },
    ip: IP6,
    result: 'pass',
  },
  {
    name: 'a without the client address',
    zone: { 'example.test': { TXT: ['v=spf1 a -all'], A: ['198.51.100.7'] } },
    result: 'fail',
  },
  {
    name: 'mx: an MX host resolves to the client',
    zone: {
      'example.test': { TXT: ['v=spf1 mx -all'], MX: ['mx1.example.test', 'mx2.example.test'] },
      'mx1.example.test': { A: ['198.51.100.1'] },
      'mx2.example.test': { A: [IP] },
    },
    result: 'pass',
    matched: ['mx'],
    lookups: 1,
  },
  {
    name: 'mx/24',
    zone: {
      'example.test': { TXT: ['v=spf1 mx/24 -all'], MX: ['mx.example.test'] },
      'mx.example.test': { A: ['192.0.2.1'] },
    },
    result: 'pass',
  },
  {
    name: 'mx with more than 10 MX names is a permerror',
    zone: {
      'example.test': {
        TXT: ['v=spf1 mx -all'],
        MX: Array.from({ length: 11 }, (_, i) => `mx${i}.example.test`),
      },
    },
    result: 'permerror',
    because: /more than 10/,
  },
  {
    name: 'mx of a null MX matches nothing',
    zone: { 'example.test': { TXT: ['v=spf1 mx -all'], MX: ['.'] } },
    result: 'fail',
  },
  // --- include and redirect
  {
    name: 'an include chain two deep',
    zone: {
      'example.test': spf('v=spf1 include:_spf.a.test -all'),
      '_spf.a.test': spf('v=spf1 include:_spf.b.test ~all'),
      '_spf.b.test': spf('v=spf1 ip4:192.0.2.0/24 -all'),
    },
    result: 'pass',
    matched: ['include:_spf.a.test', 'include:_spf.b.test', 'ip4:192.0.2.0/24'],
    lookups: 2,
  },
  {
    name: "an include whose policy fails is no match: the outer record's next term decides",
    zone: { 'example.test': spf('v=spf1 include:other.test ~all'), 'other.test': spf('v=spf1 -all') },
    result: 'softfail',
    matched: ['~all'],
  },
  {
    name: 'an include of a domain without SPF is a permerror (§5.2)',
    zone: { 'example.test': spf('v=spf1 include:nospf.test -all') },
    result: 'permerror',
    because: /no SPF record/,
  },
  {
    name: 'an include that hits a DNS error is a temperror',
    zone: { 'example.test': spf('v=spf1 include:broken.test -all'), 'broken.test': { error: true } },
    result: 'temperror',
  },
  {
    name: 'a permerror inside an include is a permerror',
    zone: { 'example.test': spf('v=spf1 include:bad.test -all'), 'bad.test': spf('v=spf1 ip5:1.2.3.4') },
    result: 'permerror',
  },
  {
    name: 'redirect hands over the whole decision',
    zone: {
      'example.test': spf('v=spf1 redirect=_spf.example.test'),
      '_spf.example.test': spf(`v=spf1 ip4:${IP} -all`),
    },
    result: 'pass',
    matched: ['redirect=_spf.example.test', `ip4:${IP}`],
    lookups: 1,
  },
  {
    name: "redirect's target can fail too",
    zone: {
      'example.test': spf('v=spf1 redirect=_spf.example.test'),
      '_spf.example.test': spf('v=spf1 -all'),
    },
    result: 'fail',
  },
  {
    name: 'redirect is ignored when the record has all (§6.1)',
    zone: {
      'example.test': spf('v=spf1 ?all redirect=_spf.example.test'),
      '_spf.example.test': spf('v=spf1 +all'),
    },
    result: 'neutral',
  },
  {
    name: 'redirect to a domain without SPF is a permerror',
    zone: { 'example.test': spf('v=spf1 redirect=nothing.test') },
    result: 'permerror',
  },
  // --- limits (§4.6.4)
  {
    name: `${SPF_LOOKUP_LIMIT} DNS-querying terms are allowed`,
    zone: includeChain(10),
    result: 'fail',
    lookups: 10,
  },
  {
    name: 'the 11th DNS-querying term is a permerror',
    zone: includeChain(11),
    result: 'permerror',
    because: /more than 10 DNS-querying terms/,
  },
  {
    name: 'lookups inside includes count towards the same limit',
    zone: {
      'example.test': spf(`v=spf1 include:a.test include:b.test -all`),
      'a.test': spf('v=spf1 a:1.test a:2.test a:3.test a:4.test a:5.test -all'),
      'b.test': spf('v=spf1 a:6.test a:7.test a:8.test a:9.test -all'),
      ...Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`${i + 1}.test`, { A: ['198.51.100.9'] }])),
    },
    result: 'permerror',
    because: /a:9\.test/,
  },
  {
    name: 'ip4 and all do not count as lookups',
    zone: {
      'example.test': spf(
        `v=spf1 ${Array.from({ length: 20 }, (_, i) => `ip4:198.51.100.${i}`).join(' ')} -all`,
      ),
    },
    result: 'fail',
    lookups: 0,
  },
  {
    name: 'two void lookups are allowed',
    zone: { 'example.test': spf('v=spf1 a:gone1.test a:gone2.test -all') },
    result: 'fail',
    voidLookups: 2,
  },
  {
    name: 'a third void lookup is a permerror',
    zone: { 'example.test': spf('v=spf1 a:gone1.test mx:gone2.test exists:gone3.test -all') },
    result: 'permerror',
    because: /void lookups/,
  },
  {
    name: 'a DNS error in a mechanism is a temperror',
    zone: { 'example.test': spf('v=spf1 a:broken.test -all'), 'broken.test': { error: true } },
    result: 'temperror',
  },
  // --- exists, ptr, macros
  {
    name: 'exists with %{i}',
    zone: {
      'example.test': spf('v=spf1 exists:%{i}._spf.example.test -all'),
      [`${IP}._spf.example.test`]: { A: ['127.0.0.2'] },
    },
    result: 'pass',
  },
  {
    name: 'exists with %{ir}.%{v} and %{d2}',
    zone: {
      'sub.example.test': spf('v=spf1 exists:%{ir}.%{v}._spf.%{d2} -all'),
      '25.2.0.192.in-addr._spf.example.test': { A: ['127.0.0.2'] },
    },
    domain: 'sub.example.test',
    result: 'pass',
  },
  {
    name: 'exists with %{l} and %{o} from the sender',
    zone: {
      'example.test': spf('v=spf1 exists:%{l}.%{o}.allow.test -all'),
      'verify.example.test.allow.test': { A: ['127.0.0.2'] },
    },
    sender: 'verify@example.test',
    result: 'pass',
  },
  {
    name: 'ptr: a validated reverse name under the domain',
    zone: {
      'example.test': spf('v=spf1 ptr -all'),
      '25.2.0.192.in-addr.arpa': { PTR: ['probe.example.test'] },
      'probe.example.test': { A: [IP] },
    },
    result: 'pass',
  },
  {
    name: 'ptr: a reverse name that does not resolve back does not match',
    zone: {
      'example.test': spf('v=spf1 ptr -all'),
      '25.2.0.192.in-addr.arpa': { PTR: ['probe.example.test'] },
      'probe.example.test': { A: ['198.51.100.1'] },
    },
    result: 'fail',
  },
  // --- malformed records: permerror even when an earlier term would match (§4.6)
  {
    name: 'an unknown mechanism',
    zone: { 'example.test': spf('v=spf1 ip:192.0.2.25 -all') },
    result: 'permerror',
  },
  {
    name: 'a syntax error after a matching term',
    zone: { 'example.test': spf('v=spf1 +all foo:bar') },
    result: 'permerror',
  },
  {
    name: 'ip4 prefix over 32',
    zone: { 'example.test': spf('v=spf1 ip4:192.0.2.0/33 -all') },
    result: 'permerror',
  },
  {
    name: 'ip4 with three octets',
    zone: { 'example.test': spf('v=spf1 ip4:192.0.2 -all') },
    result: 'permerror',
  },
  {
    name: 'ip6 prefix over 128',
    zone: { 'example.test': spf('v=spf1 ip6:2001:db8::/129 -all') },
    result: 'permerror',
  },
  {
    name: 'include without a domain',
    zone: { 'example.test': spf('v=spf1 include: -all') },
    result: 'permerror',
  },
  {
    name: 'all with an argument',
    zone: { 'example.test': spf('v=spf1 all:example.test') },
    result: 'permerror',
  },
  {
    name: 'redirect twice',
    zone: { 'example.test': spf('v=spf1 redirect=a.test redirect=b.test') },
    result: 'permerror',
  },
  {
    name: 'an unknown macro letter',
    zone: { 'example.test': spf('v=spf1 exists:%{z}.example.test -all') },
    result: 'permerror',
  },
  {
    name: 'a stray percent sign',
    zone: { 'example.test': spf('v=spf1 exists:100%.example.test -all') },
    result: 'permerror',
  },
  {
    name: 'unknown modifiers are ignored',
    zone: { 'example.test': spf('v=spf1 foo=bar exp=explain.example.test -all') },
    result: 'fail',
  },
];

describe('evaluateSpf', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const dns = tableDns(c.zone);
      const evaluation = await evaluateSpf(
        {
          ip: c.ip ?? IP,
          domain: c.domain ?? 'example.test',
          sender: c.sender ?? 'postmaster@example.test',
          helo: 'probe.example.test',
        },
        dns,
      );
      assert.equal(evaluation.result, c.result, `${evaluation.explanation} (asked: ${dns.asked.join(', ')})`);
      if (c.matched !== undefined) assert.deepEqual(evaluation.matched, c.matched);
      if (c.because !== undefined) assert.match(evaluation.explanation, c.because);
      if (c.lookups !== undefined) assert.equal(evaluation.lookups, c.lookups);
      if (c.voidLookups !== undefined) assert.equal(evaluation.voidLookups, c.voidLookups);
    });
  }

  it('stops asking DNS once the lookup limit is exceeded', async () => {
    const dns = tableDns(includeChain(15));
    const evaluation = await evaluateSpf(
      { ip: IP, domain: 'example.test', sender: 'a@example.test', helo: 'h.example.test' },
      dns,
    );
    assert.equal(evaluation.result, 'permerror');
    // The top record plus 10 include targets: the 11th include is refused before its query.
    assert.equal(dns.asked.length, 11);
  });

  it('keeps the top-level record in the evaluation', async () => {
    const evaluation = await evaluateSpf(
      { ip: IP, domain: 'Example.TEST.', sender: 'a@example.test', helo: 'h.example.test' },
      tableDns({ 'example.test': spf('v=spf1 -all') }),
    );
    assert.equal(evaluation.domain, 'example.test');
    assert.equal(evaluation.record, 'v=spf1 -all');
  });

  it('answers permerror for a client address that is not an address', async () => {
    const evaluation = await evaluateSpf(
      { ip: 'not-an-ip', domain: 'example.test', sender: 'a@example.test', helo: 'h.example.test' },
      tableDns({}),
    );
    assert.equal(evaluation.result, 'permerror');
  });
});

describe('parseSpfRecord', () => {
  it('reads qualifiers, domain-specs and dual CIDR lengths', () => {
    const parsed = parseSpfRecord(
      'v=spf1 -a:mail.example.test/24//64 ~mx ?include:_spf.example.test ip6:2001:db8::/32',
    );
    assert.equal(parsed.kind, 'record');
    if (parsed.kind !== 'record') return;
    const [a, mx, include, ip6] = parsed.terms;
    assert.deepEqual(a?.kind === 'mechanism' && [a.qualifier, a.name, a.domainSpec, a.cidr4, a.cidr6], [
      '-',
      'a',
      'mail.example.test',
      24,
      64,
    ]);
    assert.deepEqual(mx?.kind === 'mechanism' && [mx.qualifier, mx.domainSpec, mx.cidr4], ['~', null, 32]);
    assert.deepEqual(include?.kind === 'mechanism' && [include.qualifier, include.domainSpec], [
      '?',
      '_spf.example.test',
    ]);
    assert.deepEqual(ip6?.kind === 'mechanism' && [ip6.name, ip6.cidr6], ['ip6', 32]);
  });

  it('keeps redirect apart', () => {
    const parsed = parseSpfRecord('v=spf1 redirect=_spf.example.test');
    assert.equal(parsed.kind === 'record' && parsed.redirect, '_spf.example.test');
  });

  for (const bad of [
    'spf1 -all',
    'v=spf1 a:',
    'v=spf1 mx/',
    'v=spf1 a/24/',
    'v=spf1 exp= -all',
    'v=spf1 %{i}',
  ]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      assert.equal(parseSpfRecord(bad).kind, 'error');
    });
  }
});
