import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseAddress } from '../../../src/syntax/index.js';

/**
 * A valid case: the input, and what differs from the default expectation. By default the local part
 * is everything before the last "@", the domain is the rest lowercased, `asciiDomain` equals
 * `domain`, and `smtputf8` is false.
 */
type ValidCase = readonly [
  input: string,
  expected?: { domain?: string; asciiDomain?: string; localPart?: string; smtputf8?: boolean },
];

const groups: Record<string, readonly ValidCase[]> = {
  // RFC 5321 §4.1.2 Dot-string: atoms of RFC 5322 atext separated by single dots.
  'RFC 5321 §4.1.2 Dot-string': [
    ['simple@example.com'],
    ['very.common@example.com'],
    ['x@example.com'],
    ['a.b.c.d.e.f@example.com'],
    ['user.name+tag+sorting@example.com'],
    ['user+@example.com'],
    ['+@example.com'],
    ['-@example.com'],
    ['_@example.com'],
    ['user-@example.org'],
    ['name/surname@example.com'],
    ['mailhost!username@example.org'],
    ['user%example.com@example.org'],
    ["o'reilly@example.com"],
    ['a=b@example.com'],
    ['a?b@example.com'],
    ['{a}@example.com'],
    ['a|b@example.com'],
    ['~@example.com'],
    ['`@example.com'],
    ['^_^@example.com'],
    ['#hash@example.com'],
    ['$money$@example.com'],
    ['100%@example.com'],
    ['a&b@example.com'],
    ['a*b@example.com'],
    ["!#$%&'*+-/=?^_`{|}~@example.org"],
    ['1234567890@example.com'],
    ['0@example.com'],
    ['first.last@sub.do.main.example.com'],
  ],
  // Wikipedia "Email address" § Examples (valid list), minus the dotless `admin@example`.
  'Wikipedia: Email address, valid examples': [
    ['FirstName.LastName@EasierReading.org', { domain: 'easierreading.org' }],
    ['long.email-address-with-hyphens@and.subdomains.example.com'],
    ['example@s.example'],
    ['" "@example.org'],
    ['"john..doe"@example.org'],
    ['"very.(),:;<>[]\\".VERY.\\"very@\\\\ \\"very\\".unusual"@strange.example.com'],
    ['postmaster@[123.123.123.123]'],
    ['postmaster@[IPv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334]'],
    ['_test@[IPv6:2001:0db8:85a3:0000:0000:8a2e:0370:7334]'],
    ['"()<>[]:,;@\\\\\\"!#$%&\'-/=?^_`{}| ~.a"@example.org'],
  ],
  // RFC 5321 §4.1.2 Quoted-string: qtextSMTP (%d32-33 / %d35-91 / %d93-126) and quoted-pairSMTP.
  'RFC 5321 §4.1.2 Quoted-string': [
    ['"john"@example.com'],
    ['"john.doe"@example.com'],
    ['"a b"@example.com'],
    ['"a@b"@example.com'],
    ['"@"@example.com'],
    ['"a..b"@example.com'],
    ['".a"@example.com'],
    ['"a."@example.com'],
    ['"\\""@example.com'],
    ['"\\\\"@example.com'],
    ['"\\a"@example.com'],
    ['"\\ "@example.com'],
    ['"\\~"@example.com'],
    ['"a\\"b"@example.com'],
    ['"(comment)"@example.com'],
    ['"<a>"@example.com'],
    ['"[a]"@example.com'],
    ['"a,b;c:d"@example.com'],
    ['"~!#$%^&*()_+"@example.com'],
    ['"   "@example.com'],
    // The grammar allows an empty Quoted-string (*QcontentSMTP); see README.
    ['""@example.com'],
  ],
  // Normalisation (README): the domain is lowercased, the local part is kept as typed (RFC 5321 §2.4).
  Normalisation: [
    ['Alice.Smith@Example.COM', { domain: 'example.com' }],
    ['ALICE@EXAMPLE.COM', { domain: 'example.com' }],
    ['"Quoted.Case"@Example.Com', { domain: 'example.com' }],
    ['mIxEd@sUb.ExAmPlE.oRg', { domain: 'sub.example.org' }],
    ['a@XN--BCHER-KVA.DE', { domain: 'bücher.de', asciiDomain: 'xn--bcher-kva.de' }],
  ],
  // RFC 5321 §4.1.2 Domain / sub-domain (Let-dig [Ldh-str]); RFC 1123 §2.1 allows a leading digit.
  'RFC 5321 §4.1.2 Domain': [
    ['a@a.co'],
    ['a@x.io'],
    ['a@a-b.c-d.com'],
    ['a@a--b.com'],
    ['a@123.example.com'],
    ['a@1example.com'],
    ['a@example.c0m'],
    ['a@example.x1'],
    ['a@0-0.example'],
    ['a@r1---sn-abc.googlevideo.com'],
    ['a@a.b.c.d.e.f.g.h.i.j.k.example.com'],
    // xn--zca is "ß": valid under IDNA 2008 (non-transitional), unlike IDNA 2003.
    ['a@xn--zca.com', { domain: 'ß.com', asciiDomain: 'xn--zca.com' }],
    ['a@xn--fiqs8s.xn--fiqs8s', { domain: '中国.中国', asciiDomain: 'xn--fiqs8s.xn--fiqs8s' }],
    ['a@co.uk'],
    ['a@mail.xn--p1ai', { domain: 'mail.рф', asciiDomain: 'mail.xn--p1ai' }],
  ],
  // RFC 6761 §6: special-use names are valid syntax; DNS says they receive no mail.
  'RFC 6761 special-use names': [
    ['user@site.test'],
    ['user@example.example'],
    ['user@example.invalid'],
    ['user@foo.localhost'],
    ['user@example.com'],
    ['user@example.net'],
    ['user@example.org'],
  ],
  // RFC 5890-5893 via tr46 (non-transitional): U-labels, A-labels, deviation characters, Bidi.
  'IDNA 2008 domains': [
    ['bob@bücher.de', { asciiDomain: 'xn--bcher-kva.de' }],
    ['bob@BÜCHER.DE', { domain: 'bücher.de', asciiDomain: 'xn--bcher-kva.de' }],
    ['bob@xn--bcher-kva.de', { domain: 'bücher.de', asciiDomain: 'xn--bcher-kva.de' }],
    ['bob@bu\u0308cher.de', { domain: 'bücher.de', asciiDomain: 'xn--bcher-kva.de' }],
    ['a@straße.de', { asciiDomain: 'xn--strae-oqa.de' }],
    ['a@faß.de', { asciiDomain: 'xn--fa-hia.de' }],
    ['a@münchen.de', { asciiDomain: 'xn--mnchen-3ya.de' }],
    ['a@xn--mnchen-3ya.de', { domain: 'münchen.de', asciiDomain: 'xn--mnchen-3ya.de' }],
    ['a@παράδειγμα.δοκιμή', { asciiDomain: 'xn--hxajbheg2az3al.xn--jxalpdlp' }],
    ['a@例え.テスト', { asciiDomain: 'xn--r8jz45g.xn--zckzah' }],
    ['a@xn--r8jz45g.xn--zckzah', { domain: '例え.テスト', asciiDomain: 'xn--r8jz45g.xn--zckzah' }],
    ['a@пример.рф', { asciiDomain: 'xn--e1afmkfd.xn--p1ai' }],
    ['a@ПРИМЕР.РФ', { domain: 'пример.рф', asciiDomain: 'xn--e1afmkfd.xn--p1ai' }],
    ['a@مثال.إختبار', { asciiDomain: 'xn--mgbh0fb.xn--kgbechtv' }],
    ['a@עברית.com', { asciiDomain: 'xn--5dbqzzl.com' }],
    ['a@उदाहरण.परीक्षा', { asciiDomain: 'xn--p1b6ci4b4b3a.xn--11b5bs3a9aj6g' }],
    ['a@ಡೇಟಾಮೇಲ್.ಭಾರತ', { asciiDomain: 'xn--xscd4bq2d9bd3c.xn--2scrj9c' }],
    ['a@l·l.cat', { asciiDomain: 'xn--ll-0ea.cat' }],
    ['a@テ・スト.jp', { asciiDomain: 'xn--zckzah6r.jp' }],
    ['a@bücher.xn--p1ai', { domain: 'bücher.рф', asciiDomain: 'xn--bcher-kva.xn--p1ai' }],
    [
      'a@xn--4gbrim.xn----ymcbaaajlc6dj7bxne2c.xn--wgbh1c',
      { domain: 'موقع.وزارة-الاتصالات.مصر', asciiDomain: 'xn--4gbrim.xn----ymcbaaajlc6dj7bxne2c.xn--wgbh1c' },
    ],
  ],
  // RFC 6531 §3.3: UTF-8 in the local part (atext and qtextSMTP extended by UTF8-non-ascii).
  // Examples from RFC 6530 §4 and the UASG "EAI" test addresses.
  'RFC 6531 UTF-8 local parts': [
    ['用户@例子.广告', { smtputf8: true, asciiDomain: 'xn--fsqu00a.xn--4rr70v' }],
    ['अजय@डाटा.भारत', { smtputf8: true, asciiDomain: 'xn--c2bd1gb.xn--h2brj9c' }],
    ['квіточка@пошта.укр', { smtputf8: true, asciiDomain: 'xn--80a1acn3a.xn--j1amh' }],
    ['χρήστης@παράδειγμα.ελ', { smtputf8: true, asciiDomain: 'xn--hxajbheg2az3al.xn--qxam' }],
    [
      'Dörte@Sörensen.example.com',
      { smtputf8: true, domain: 'sörensen.example.com', asciiDomain: 'xn--srensen-90a.example.com' },
    ],
    ['коля@пример.рф', { smtputf8: true, asciiDomain: 'xn--e1afmkfd.xn--p1ai' }],
    ['ü@example.com', { smtputf8: true }],
    ['jöran.müller@example.com', { smtputf8: true }],
    ['"Jöran Müller"@example.com', { smtputf8: true }],
    ['😀@example.com', { smtputf8: true }],
    ['a😀b.c@example.com', { smtputf8: true }],
    ['"😀 "@example.com', { smtputf8: true }],
    ['"a\u00a0b"@example.com', { smtputf8: true }],
    ['ñoño@example.com', { smtputf8: true }],
  ],
  // RFC 5321 §4.1.3 address literals: IPv4, and the four IPv6 productions.
  'RFC 5321 §4.1.3 address literals': [
    ['a@[127.0.0.1]'],
    ['a@[0.0.0.0]'],
    ['a@[255.255.255.255]'],
    ['a@[192.0.2.1]'],
    ['a@[001.002.003.004]'],
    ['a@[IPv6:::1]'],
    ['a@[IPv6:::]'],
    ['a@[IPv6:1::]'],
    ['a@[IPv6:2001:db8::1]'],
    ['a@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888]'],
    ['a@[IPv6:1111:2222:3333:4444:5555:6666::]'],
    ['a@[IPv6:::2222:3333:4444:5555:6666:7777]'],
    ['a@[IPv6:1111:2222:3333::6666:7777:8888]'],
    ['a@[IPv6:::ffff:192.0.2.1]'],
    ['a@[IPv6:::192.0.2.1]'],
    ['a@[IPv6:1111:2222:3333:4444:5555:6666:192.0.2.1]'],
    ['a@[IPv6:1111:2222:3333:4444::192.0.2.1]'],
    ['a@[IPv6:::1111:2222:3333:4444:192.0.2.1]'],
    ['a@[IPv6:1111:2222::3333:4444:192.0.2.1]'],
    ['a@[ipv6:ABCD::EF]', { domain: '[IPv6:abcd::ef]' }],
    ['a@[IPV6:2001:DB8::1]', { domain: '[IPv6:2001:db8::1]' }],
  ],
};

describe('parseAddress: valid addresses', () => {
  for (const [group, cases] of Object.entries(groups)) {
    describe(group, () => {
      for (const [input, expected = {}] of cases) {
        it(JSON.stringify(input), () => {
          const result = parseAddress(input);
          assert.equal(result.error, null, `unexpected error ${JSON.stringify(result.error)}`);
          assert.equal(result.valid, true);
          const at = input.lastIndexOf('@');
          const typed = input.slice(at + 1);
          // Literals keep their text; only the tag is respelled `IPv6:` and hex digits lowercased.
          const domain =
            expected.domain ??
            (typed.startsWith('[')
              ? typed.replace(/[A-F]/g, (hex) => hex.toLowerCase())
              : typed.toLowerCase());
          assert.equal(result.localPart, expected.localPart ?? input.slice(0, at));
          assert.equal(result.domain, domain);
          assert.equal(result.asciiDomain, expected.asciiDomain ?? domain);
          assert.equal(result.smtputf8, expected.smtputf8 ?? false);
        });
      }
    });
  }

  it('has a large table', () => {
    const total = Object.values(groups).reduce((sum, cases) => sum + cases.length, 0);
    assert.ok(total >= 130, `only ${total} valid cases`);
  });
});

describe('parseAddress: length limits at their boundaries', () => {
  const label63 = 'a'.repeat(63);
  it('accepts a 64-octet local part (RFC 5321 §4.5.3.1.1)', () => {
    assert.equal(parseAddress(`${'l'.repeat(64)}@example.com`).valid, true);
  });
  it('accepts a 64-octet UTF-8 local part of 32 two-octet characters', () => {
    const result = parseAddress(`${'é'.repeat(32)}@example.com`);
    assert.equal(result.valid, true);
    assert.equal(result.smtputf8, true);
  });
  it('accepts a 64-octet quoted local part (quotes count)', () => {
    assert.equal(parseAddress(`"${'q'.repeat(62)}"@example.com`).valid, true);
  });
  it('accepts a 63-octet label (RFC 1035 §2.3.4)', () => {
    assert.equal(parseAddress(`a@${label63}.com`).valid, true);
  });
  it('accepts an address of exactly 254 octets, a 256-octet path (RFC 5321 §4.5.3.1.3)', () => {
    const domain = `${label63}.${label63}.${label63}.com`;
    const address = `${'l'.repeat(254 - 1 - domain.length)}@${domain}`;
    assert.equal(address.length, 254);
    const result = parseAddress(address);
    assert.equal(result.error, null);
  });
  it('measures IDN labels as A-labels: 63 octets pass, 64 fail (RFC 5890 §2.3.2.1)', () => {
    // 55 "a" + "ü" is "xn--" + 55 "a" + "-" + "3ya" = 63 octets (Python's IDNA codec agrees).
    const fits = parseAddress(`x@${'a'.repeat(55)}ü.com`);
    assert.equal(fits.valid, true);
    assert.equal(fits.asciiDomain?.split('.')[0]?.length, 63);
    const tooLong = parseAddress(`x@${'a'.repeat(56)}ü.com`);
    assert.equal(tooLong.error?.code, 'LABEL_TOO_LONG');
    assert.equal(tooLong.error.index, 2);
  });
});
