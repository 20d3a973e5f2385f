/** The doctor's pure rules: IP arithmetic, HELO problems, generic PTR names, blocklist codes, source address choice. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkInterfaceInfo } from 'node:os';

import { interpretListing, removalPage } from '../../../src/doctor/blocklists.js';
import { heloProblem, looksGeneric } from '../../../src/doctor/helo-name.js';
import { formatIp, inCidr, parseIp, reverseName } from '../../../src/doctor/ip.js';
import { pickSourceAddress } from '../../../src/doctor/source-address.js';

describe('ip', () => {
  const forms: readonly [string, string | null][] = [
    ['192.0.2.1', '192.0.2.1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::1:2', 'fe80::1:2'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['010.0.0.1', null],
    ['256.0.0.1', null],
    ['1.2.3', null],
    ['1::2::3', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['fe80::1%eth0', null],
    ['example.test', null],
  ];
  for (const [text, canonical] of forms) {
    it(`${text} → ${String(canonical)}`, () => {
      const bytes = parseIp(text);
      assert.equal(bytes === null ? null : formatIp(bytes), canonical);
    });
  }

  it('matches CIDR prefixes bit by bit', () => {
    const ip = parseIp('192.0.2.130')!;
    assert.equal(inCidr(ip, parseIp('192.0.2.128')!, 25), true);
    assert.equal(inCidr(ip, parseIp('192.0.2.0')!, 25), false);
    assert.equal(inCidr(ip, parseIp('10.0.0.0')!, 0), true);
    assert.equal(inCidr(ip, parseIp('2001:db8::')!, 0), false, 'families never match');
    assert.equal(inCidr(parseIp('2001:db8:25::1')!, parseIp('2001:db8:24::')!, 47), true);
    assert.equal(inCidr(parseIp('2001:db8:25::1')!, parseIp('2001:db8:24::')!, 48), false);
  });

  it('builds in-addr.arpa and ip6.arpa names', () => {
    assert.equal(reverseName(parseIp('192.0.2.25')!), '25.2.0.192.in-addr.arpa');
    assert.equal(
      reverseName(parseIp('2001:db8::567:89ab')!),
      'b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    );
  });
});

describe('heloProblem', () => {
  const cases: readonly [string, string | null][] = [
    ['probe.example.net', null],
    ['mx-1.mail.example.co.uk.', null],
    ['probe.rcpt.test', null],
    ['', 'empty'],
    ['localhost', 'localhost'],
    ['LOCALHOST.localdomain', 'localhost'],
    ['host.localdomain', 'private_name'],
    ['printer.local', 'private_name'],
    ['box.home.arpa', 'private_name'],
    ['192.0.2.25', 'address'],
    ['2001:db8::25', 'address'],
    ['[192.0.2.25]', 'address_literal'],
    ['[IPv6:2001:db8::25]', 'address_literal'],
    ['mailserver1', 'dotless'],
    ['under_score.example.net', 'syntax'],
    ['-dash.example.net', 'syntax'],
    ['gmail.com', 'provider'],
    ['GMAIL.COM', 'provider'],
    ['mail-sor-f41.google.com', 'provider'],
    ['outlook.com', 'provider'],
    ['yahoo.com', 'provider'],
    ['notgmail.com', null],
  ];
  for (const [helo, kind] of cases) {
    it(`${JSON.stringify(helo)} → ${String(kind)}`, () => {
      assert.equal(heloProblem(helo)?.kind ?? null, kind);
    });
  }
});

describe('looksGeneric', () => {
  const cases: readonly [string, string, boolean][] = [
    ['probe.example.net', '192.0.2.25', false],
    ['mail-host.example.net', '192.0.2.25', false],
    ['ec2-192-0-2-25.compute-1.amazonaws.com', '192.0.2.25', true],
    ['25.2.0.192.static.example.net', '192.0.2.25', true],
    ['c0000219.example.net', '192.0.2.25', true],
    ['dsl-pool-7.isp.example', '198.51.100.7', true],
    ['dynamic-ip.isp.example', '198.51.100.7', true],
    ['cpe-1234.cable.isp.example', '198.51.100.7', true],
    ['mx125.example.net', '192.0.2.25', false],
  ];
  for (const [name, ip, generic] of cases) {
    it(`${name} for ${ip}: ${generic ? 'generic' : 'named'}`, () => {
      assert.equal(looksGeneric(name, ip), generic);
    });
  }
});

describe('interpretListing', () => {
  it('explains Spamhaus ZEN codes', () => {
    const verdict = interpretListing('zen.spamhaus.org', ['127.0.0.4', '127.0.0.2', '127.0.0.10']);
    assert.equal(verdict.kind, 'listed');
    assert.deepEqual(verdict.codes, ['127.0.0.2', '127.0.0.4', '127.0.0.10']);
    assert.match(
      verdict.kind === 'listed' ? verdict.meanings.join('\n') : '',
      /SBL:[\s\S]*XBL[\s\S]*PBL \(ISP-maintained\)/,
    );
  });

  for (const [code, meaning] of [
    ['127.0.0.3', /SBL CSS/],
    ['127.0.0.9', /DROP/],
    ['127.0.0.11', /PBL \(Spamhaus-maintained\)/],
  ] as const) {
    it(`Spamhaus ${code}`, () => {
      const verdict = interpretListing('zen.spamhaus.org', [code]);
      assert.match(verdict.kind === 'listed' ? (verdict.meanings[0] ?? '') : '', meaning);
    });
  }

  it('reads 127.255.255.x as a refusal to answer, not a listing', () => {
    for (const code of ['127.255.255.252', '127.255.255.254', '127.255.255.255']) {
      assert.equal(interpretListing('zen.spamhaus.org', [code]).kind, 'refused');
    }
  });

  it('does not trust answers outside 127.0.0.0/8', () => {
    assert.equal(interpretListing('bl.example.test', ['192.0.2.1']).kind, 'strange');
  });

  it('reads other lists generically and knows their removal pages', () => {
    const verdict = interpretListing('bl.spamcop.net', ['127.0.0.2']);
    assert.match(verdict.kind === 'listed' ? (verdict.meanings[0] ?? '') : '', /SpamCop/);
    assert.equal(interpretListing('bl.example.test', ['127.0.0.5']).kind, 'listed');
    assert.equal(removalPage('zen.spamhaus.org'), 'https://check.spamhaus.org/');
    assert.equal(removalPage('bl.example.test'), null);
  });
});

describe('pickSourceAddress', () => {
  const info = (address: string, internal = false): NetworkInterfaceInfo =>
    ({
      address,
      family: address.includes(':') ? 'IPv6' : 'IPv4',
      internal,
      netmask: '',
      mac: '00:00:00:00:00:00',
      cidr: null,
      ...(address.includes(':') ? { scopeid: 0 } : {}),
    }) as NetworkInterfaceInfo;

  it('prefers a public IPv4 address, then public IPv6, then private', () => {
    assert.deepEqual(
      pickSourceAddress({
        lo: [info('127.0.0.1', true), info('::1', true)],
        eth0: [info('10.0.0.5'), info('fe80::1'), info('2a00:1450::25')],
        eth1: [info('11.0.25.25')],
      }),
      { address: '11.0.25.25', interfaceName: 'eth1', addressClass: 'public' },
    );
    assert.equal(
      pickSourceAddress({ eth0: [info('10.0.0.5'), info('2a00:1450::25')] })?.address,
      '2a00:1450::25',
    );
    assert.deepEqual(pickSourceAddress({ eth0: [info('fe80::1'), info('10.0.0.5')] }), {
      address: '10.0.0.5',
      interfaceName: 'eth0',
      addressClass: 'private',
    });
  });

  it('finds nothing on a machine with only loopback and link-local addresses', () => {
    assert.equal(
      pickSourceAddress({ lo: [info('127.0.0.1', true)], eth0: [info('fe80::1'), info('169.254.1.1')] }),
      null,
    );
  });
});
