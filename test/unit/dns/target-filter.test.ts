import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { isIP } from 'node:net';
import fc from 'fast-check';
import {
  allowedTargets,
  classifyTarget,
  isAllowedTarget,
  TARGET_CLASSES,
  type TargetClass,
} from '../../../src/dns/target-filter.js';

/** Addresses per class: the first and last address of every range, and some in between. */
const TABLE: Readonly<Record<TargetClass, readonly string[]>> = {
  public: [
    '1.1.1.1',
    '8.8.8.8',
    '9.255.255.255', // just below 10/8
    '11.0.0.0', // just above 10/8
    '100.63.255.255', // below 100.64/10
    '100.128.0.0', // above 100.64/10
    '126.255.255.255',
    '128.0.0.0',
    '169.253.255.255',
    '169.255.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.0.1.255',
    '192.0.3.0',
    '192.31.196.1', // AS112: globally reachable per IANA
    '192.88.98.255',
    '192.88.100.0',
    '192.167.255.255',
    '192.169.0.0',
    '198.17.255.255',
    '198.20.0.0',
    '198.51.99.255',
    '198.51.101.0',
    '203.0.112.255',
    '203.0.114.0',
    '223.255.255.255',
    '2a00:1450:400c:c06::1b', // gmail-smtp-in
    '2607:f8b0:4002:c06::1a',
    '2000::',
    '3ffe:ffff::1',
    '3fff:1000::', // just past 3fff::/20
    '2001:200::', // just past 2001::/23
    '2001:db7:ffff:ffff:ffff:ffff:ffff:ffff',
    '2001:db9::',
    '2620:4f:8000::1',
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '0:0:0:0:0:FFFF:0808:0808',
    '64:ff9b::8.8.8.8',
    '64:ff9b::0808:0808',
    '2002:0808:0808::1', // 6to4 of 8.8.8.8
    '2002:808:808:1:2:3:4:5',
    '2A00:1450:400C:0C06:0000:0000:0000:001B',
  ],
  loopback: [
    '127.0.0.0',
    '127.0.0.1',
    '127.0.0.2',
    '127.1.2.3',
    '127.255.255.255',
    '::1',
    '0:0:0:0:0:0:0:1',
    '0000:0000:0000:0000:0000:0000:0000:0001',
    '::ffff:127.0.0.1',
    '::FFFF:7F00:1',
    '::ffff:7f00:0001',
    '0:0:0:0:0:ffff:127.0.0.1',
    '::127.0.0.1', // IPv4-compatible
    '64:ff9b::127.0.0.1',
    '64:ff9b::7f00:1',
    '64:ff9b:1::127.0.0.1',
    '2002:7f00:1::',
    '2002:7f00:0001:ffff:ffff:ffff:ffff:ffff',
  ],
  private: [
    '10.0.0.0',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.0',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.0.0',
    '192.168.1.1',
    '192.168.255.255',
    '::ffff:10.1.2.3',
    '::ffff:a01:203',
    '::ffff:192.168.0.1',
    '::ffff:172.31.255.255',
    '64:ff9b::10.0.0.1',
    '64:ff9b::c0a8:101',
    '2002:c0a8:0101::1',
    '2002:0a00:0001::',
    '64:ff9b:1::8.8.8.8', // local-use NAT64 (RFC 8215)
    '64:ff9b:1:ffff:ffff:ffff:808:808',
    'fc00::',
    'fc00::1',
    'fd12:3456:789a::1',
    'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'fec0::',
    'fec0::1',
    'feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    'FD00::ABCD',
  ],
  link_local: [
    '169.254.0.0',
    '169.254.0.1',
    '169.254.169.254', // cloud metadata
    '169.254.255.255',
    'fe80::',
    'fe80::1',
    'fe80::dead:beef:1:2',
    'febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '::ffff:169.254.169.254',
    '64:ff9b::169.254.169.254',
    '2002:a9fe:a9fe::',
  ],
  cgnat: [
    '100.64.0.0',
    '100.64.0.1',
    '100.100.100.100',
    '100.127.255.255',
    '::ffff:100.64.0.1',
    '64:ff9b::100.127.255.255',
  ],
  multicast: [
    '224.0.0.0',
    '224.0.0.1',
    '239.255.255.250',
    '239.255.255.255',
    'ff00::',
    'ff02::1',
    'ff05::1:3',
    'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
    '::ffff:224.0.0.1',
    '64:ff9b::239.1.2.3',
  ],
  documentation: [
    '192.0.2.0',
    '192.0.2.1',
    '192.0.2.25',
    '192.0.2.255',
    '198.51.100.0',
    '198.51.100.7',
    '198.51.100.255',
    '203.0.113.0',
    '203.0.113.99',
    '203.0.113.255',
    '2001:db8::',
    '2001:db8::1',
    '2001:DB8:85A3::8A2E:370:7334',
    '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
    '3fff::',
    '3fff::1',
    '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff',
    '::ffff:192.0.2.1',
  ],
  reserved: [
    '0.0.0.1',
    '0.1.2.3',
    '0.255.255.255',
    '192.0.0.0',
    '192.0.0.8',
    '192.0.0.255',
    '192.88.99.0',
    '192.88.99.1',
    '192.88.99.255',
    '198.18.0.0',
    '198.18.0.1',
    '198.19.255.255',
    '240.0.0.0',
    '250.1.2.3',
    '255.255.255.254',
    '255.255.255.255',
    '::8.8.8.8', // IPv4-compatible, deprecated
    '::2',
    '::ffff:0.1.2.3',
    '100::',
    '100::1',
    '100:0:0:0:ffff:ffff:ffff:ffff',
    '2001::',
    '2001::1', // Teredo
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
    '2001:10::1', // ORCHID
    '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff',
    '5f00::1',
    '4000::1', // outside 2000::/3
    'e000::1',
    '1::',
    '::1:0:0:0', // inside ::/8 but no special meaning
  ],
  unspecified: ['0.0.0.0', '::', '0:0:0:0:0:0:0:0', '::0', '0::0', '::ffff:0.0.0.0', '2002::'],
  invalid: [
    '',
    ' ',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '1.2.3.256',
    '010.0.0.1', // octal to inet_aton
    '01.2.3.4',
    '0x7f.0.0.1',
    '2130706433', // decimal integer form of 127.0.0.1
    '127.1',
    '1.2.3.4 ',
    ' 1.2.3.4',
    '1.2.3.-1',
    '+1.2.3.4',
    '１.２.３.４', // full-width digits
    'localhost',
    'example.com',
    '[::1]',
    'fe80::1%eth0',
    'fe80::1%25eth0',
    '::1%lo',
    ':::',
    ':::1',
    '1::2::3',
    ':1::',
    '1::2:',
    '::1:',
    ':',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4::5:6:7:8',
    '12345::',
    'g::1',
    '::ffff:1.2.3',
    '::ffff:1.2.3.4.5',
    '::ffff:256.1.1.1',
    '1.2.3.4::',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4',
    '1:2:3:4:5:6:1.2.3.4:8',
    '::ffff:01.2.3.4',
  ],
};

describe('classifyTarget', () => {
  for (const cls of TARGET_CLASSES) {
    it(`recognises ${cls} addresses (${TABLE[cls].length} cases)`, () => {
      for (const ip of TABLE[cls]) {
        assert.equal(classifyTarget(ip), cls, `classifyTarget(${JSON.stringify(ip)})`);
      }
    });
  }

  it('treats non-strings as invalid instead of throwing', () => {
    const values: unknown[] = [null, undefined, 42, {}, ['1.1.1.1']];
    for (const value of values) {
      assert.equal(classifyTarget(value as string), 'invalid');
    }
  });

  it('agrees with node:net isIP on what is an address (seeded property)', () => {
    // Random IPv6 addresses, written in Node's canonical text and in the full form.
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const full = groups.map((g) => g.toString(16)).join(':');
        const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
        assert.notEqual(classifyTarget(full), 'invalid');
        assert.equal(classifyTarget(compressed), classifyTarget(full), compressed);
        return isIP(compressed) === 6;
      }),
      { seed: 20_260_611, numRuns: 2000 },
    );
  });

  it('never throws and says invalid exactly when node:net says not an IP (seeded fuzz)', () => {
    const alphabet = fc.constantFrom(...'0123456789abcdefABCDEF:.%'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 46 }), (chars) => {
        const text = chars.join('');
        const cls = classifyTarget(text);
        // node:net accepts zoned IPv6 (`fe80::1%x`); rcpt refuses them on purpose.
        const nodeSays = text.includes('%') ? 0 : isIP(text);
        assert.equal(cls !== 'invalid', nodeSays !== 0, JSON.stringify(text));
      }),
      { seed: 7_505, numRuns: 20_000 },
    );
  });

  it('classifies IPv4-mapped addresses exactly like the address they embed (seeded property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (octets) => {
        const ipv4 = octets.join('.');
        assert.equal(classifyTarget(`::ffff:${ipv4}`), classifyTarget(ipv4));
        assert.equal(classifyTarget(`64:ff9b::${ipv4}`), classifyTarget(ipv4));
      }),
      { seed: 6_052, numRuns: 2000 },
    );
  });
});

describe('isAllowedTarget', () => {
  it('always allows public addresses', () => {
    for (const ip of TABLE.public) {
      assert.equal(isAllowedTarget(ip, false), true, ip);
      assert.equal(isAllowedTarget(ip, true), true, ip);
    }
  });

  for (const cls of ['loopback', 'private', 'link_local', 'cgnat', 'documentation', 'reserved'] as const) {
    it(`refuses ${cls} addresses unless private targets are allowed`, () => {
      for (const ip of TABLE[cls]) {
        assert.equal(isAllowedTarget(ip, false), false, ip);
        assert.equal(isAllowedTarget(ip, true), true, ip);
      }
    });
  }

  for (const cls of ['multicast', 'unspecified', 'invalid'] as const) {
    it(`refuses ${cls} addresses even when private targets are allowed`, () => {
      for (const ip of TABLE[cls]) {
        assert.equal(isAllowedTarget(ip, false), false, ip);
        assert.equal(isAllowedTarget(ip, true), false, ip);
      }
    });
  }
});

describe('allowedTargets: where a verification connects, in order', () => {
  const hosts = [
    { exchange: 'mx1.example.com', addresses: ['127.0.0.1', '9.9.9.9'] },
    { exchange: 'mx2.example.com', addresses: ['0.0.0.0', '1.1.1.1', '::1'] },
  ];

  it('keeps MX order, then each host’s address order, counting the refused', () => {
    assert.deepEqual(allowedTargets(hosts, false), {
      targets: [
        { host: 'mx1.example.com', ip: '9.9.9.9' },
        { host: 'mx2.example.com', ip: '1.1.1.1' },
      ],
      refused: 3,
    });
  });

  it('with private targets allowed, loopback comes first; unspecified is never allowed', () => {
    const { targets, refused } = allowedTargets(hosts, true);
    assert.deepEqual(
      targets.map((target) => target.ip),
      ['127.0.0.1', '9.9.9.9', '1.1.1.1', '::1'],
    );
    assert.equal(refused, 1);
  });

  it('no hosts, or none allowed: no target', () => {
    assert.deepEqual(allowedTargets([], false), { targets: [], refused: 0 });
    assert.deepEqual(allowedTargets([{ exchange: 'mx.example.com', addresses: ['10.0.0.1'] }], false), {
      targets: [],
      refused: 1,
    });
  });
});
