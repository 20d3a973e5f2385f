import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { suggestAddress, suggestDomain } from '../../../src/syntax/index.js';
import { editDistance, isKeyNeighbour, keyboardDistance } from '../../../src/syntax/edit-distance.js';
import { LOOSE_START_NAMES, PROTECTED_DOMAINS, TYPO_TARGETS } from '../../../src/syntax/popular-domains.js';
import {
  delegatedTopLevelDomains,
  disposableDomains,
  emailProviderDomains,
} from '../../../src/domain/package-data.js';
import { isFreeProvider } from '../../../src/domain/index.js';
import { KNOWN_TYPO_DOMAINS } from '../../../src/domain/known-typo-domains.js';

const require = createRequire(import.meta.url);

describe('editDistance (optimal string alignment)', () => {
  const cases: [string, string, number][] = [
    ['', '', 0],
    ['gmail', 'gmail', 0],
    ['gmial', 'gmail', 1], // transposition counts once
    ['gmai', 'gmail', 1],
    ['gmaill', 'gmail', 1],
    ['gnail', 'gmail', 1],
    ['hotmial', 'hotmail', 1],
    ['hotmal', 'hotmail', 1],
    ['yhaoo', 'yahoo', 1],
    ['ca', 'abc', 3], // OSA, unlike full Damerau-Levenshtein (2), edits no substring twice
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ];
  for (const [a, b, distance] of cases) {
    it(`${a || '""'} ↔ ${b || '""'} = ${distance}`, () => {
      assert.equal(editDistance(a, b, 10), distance);
      assert.equal(editDistance(b, a, 10), distance);
    });
  }
  it('stops at max + 1', () => {
    assert.equal(editDistance('gmail', 'hotmail', 1), 2);
    assert.equal(editDistance('a', 'abcdef', 2), 3);
    assert.equal(editDistance('kitten', 'sitting', 2), 3);
  });
});

describe('keyboardDistance (neighbouring keys cost half)', () => {
  const cases: [string, string, number][] = [
    ['com', 'com', 0],
    ['c0m', 'com', 0.5], // 0 sits above o
    ['cpm', 'com', 0.5],
    ['con', 'com', 0.5],
    ['nry', 'net', 1], // two neighbouring keys
    ['cmo', 'com', 1], // a transposition
    ['comm', 'com', 1],
    ['nbc', 'net', 2],
    ['couk', 'co.uk', 1],
  ];
  for (const [a, b, distance] of cases) {
    it(`${a} ↔ ${b} = ${distance}`, () => {
      assert.equal(keyboardDistance(a, b), distance);
      assert.equal(keyboardDistance(b, a), distance);
    });
  }
  it('knows which keys touch', () => {
    for (const [a, b] of [
      'gh',
      'gt',
      'gy',
      'gv',
      'gb',
      'gf',
      'o0',
      'o9',
      'ol',
      'ok',
      'mn',
      'mj',
      'mk',
      'qa',
      'qw',
    ]) {
      assert.ok(isKeyNeighbour(a ?? '', b ?? ''), `${a} ${b}`);
      assert.ok(isKeyNeighbour(b ?? '', a ?? ''), `${b} ${a}`);
    }
    for (const [a, b] of ['gm', 'qp', 'ap', 'ml', 'g5', 'gg'])
      assert.ok(!isKeyNeighbour(a ?? '', b ?? ''), `${a} ${b}`);
  });
});

describe('suggestAddress: everyday slips', () => {
  // Each group fails on the rules before it was added; the issue's own examples come first.
  const groups: [string, [string, string][]][] = [
    [
      'a dot moved by one place, or dropped',
      [
        ['alice@gmai.lcom', 'alice@gmail.com'],
        ['alice@hotmailc.om', 'alice@hotmail.com'],
        ['alice@gmailc.om', 'alice@gmail.com'],
        ['alice@yaho.ocom', 'alice@yahoo.com'],
        ['alice@outloo.kcom', 'alice@outlook.com'],
        ['alice@icloudc.om', 'alice@icloud.com'],
        ['alice@yahoo.comb.r', 'alice@yahoo.com.br'],
        ['alice@yahooco.uk', 'alice@yahoo.co.uk'],
      ],
    ],
    [
      'the first letter hit on a neighbouring key',
      [
        ['alice@jotmail.com', 'alice@hotmail.com'],
        ['alice@yotmail.com', 'alice@hotmail.com'],
        ['alice@botmail.co.uk', 'alice@hotmail.co.uk'],
        ['alice@tahoo.com', 'alice@yahoo.com'],
        ['alice@uahoo.fr', 'alice@yahoo.fr'],
        ['alice@putlook.com', 'alice@outlook.com'],
        ['alice@iutlook.de', 'alice@outlook.de'],
        ['alice@hooglemail.com', 'alice@googlemail.com'],
        ['alice@orotonmail.com', 'alice@protonmail.com'],
      ],
    ],
    [
      'the first letter dropped',
      [
        ['alice@otmail.com', 'alice@hotmail.com'],
        ['alice@ahoo.com', 'alice@yahoo.com'],
        ['alice@ahoo.co.uk', 'alice@yahoo.co.uk'],
        ['alice@otmail.fr', 'alice@hotmail.fr'],
        ['alice@utlook.com', 'alice@outlook.com'],
        ['alice@ooglemail.com', 'alice@googlemail.com'],
        ['alice@rotonmail.com', 'alice@protonmail.com'],
        ['alice@otmail.con', 'alice@hotmail.com'],
      ],
    ],
    [
      'a slipped top-level label that is not in the root zone',
      [
        ['alice@gmail.c0m', 'alice@gmail.com'],
        ['alice@gmail.cim', 'alice@gmail.com'],
        ['alice@hotmail.comn', 'alice@hotmail.com'],
        ['alice@comcast.nry', 'alice@comcast.net'],
        ['alice@verizon.ney', 'alice@verizon.net'],
        ['alice@example.nry', 'alice@example.net'],
        ['alice@example.c9m', 'alice@example.com'],
        ['alice@example.ckm', 'alice@example.com'],
        ['alice@example.orh', 'alice@example.org'],
        ['alice@example.couk', 'alice@example.co.uk'],
        ['alice@school.nt', 'alice@school.net'], // .nt was retired in 1993
        ['alice@comcast.nt', 'alice@comcast.net'],
        ['alice@gmail.com.x', 'alice@gmail.com'],
        ['alice@gmial.c0m', 'alice@gmail.com'],
      ],
    ],
    [
      'a stray symbol or space before the domain',
      [
        ['alice@@gmail.com', 'alice@gmail.com'],
        ['alice@@@hotmail.com', 'alice@hotmail.com'],
        ['alice@@gmial.com', 'alice@gmail.com'],
        ['alice@-gmail.com', 'alice@gmail.com'],
        ['alice@_hotmail.com', 'alice@hotmail.com'],
        ["alice@'yahoo.com", 'alice@yahoo.com'],
        ['alice@#outlook.com', 'alice@outlook.com'],
        ['alice@:icloud.com', 'alice@icloud.com'],
        ['alice@ gmail.com', 'alice@gmail.com'],
        ['alice@.,gmail.com', 'alice@gmail.com'],
      ],
    ],
    [
      "a country domain one edit from the provider's own",
      [
        ['alice@yahoo.co.um', 'alice@yahoo.co.uk'],
        ['alice@hotmail.couk', 'alice@hotmail.co.uk'],
        ['alice@btinternet.couk', 'alice@btinternet.com'],
        ['alice@yahoo.co.yk', 'alice@yahoo.co.uk'],
        ['alice@hotmail.co.k', 'alice@hotmail.co.uk'],
        ['alice@yahoo.com.brr', 'alice@yahoo.com.br'],
        ['alice@yahoo.co.jpp', 'alice@yahoo.co.jp'],
        ['alice@hotmail.frr', 'alice@hotmail.fr'],
        ['alice@yahoo.dee', 'alice@yahoo.de'],
      ],
    ],
  ];
  for (const [group, cases] of groups) {
    describe(group, () => {
      for (const [input, expected] of cases) {
        it(`${input} → ${expected}`, () => {
          assert.equal(suggestAddress(input), expected);
        });
      }
    });
  }
});

describe('suggestAddress: corrections', () => {
  const cases: [string, string][] = [
    // Provider-name slips (one edit; transpositions, omissions, doublings, neighbouring keys)
    ['alice@gmial.com', 'alice@gmail.com'],
    ['alice@gmai.com', 'alice@gmail.com'],
    ['alice@gmal.com', 'alice@gmail.com'],
    ['alice@gamil.com', 'alice@gmail.com'],
    ['alice@gmaill.com', 'alice@gmail.com'],
    ['alice@gnail.com', 'alice@gmail.com'],
    ['alice@gmaio.com', 'alice@gmail.com'],
    ['alice@hotmial.com', 'alice@hotmail.com'],
    ['alice@hotmal.com', 'alice@hotmail.com'],
    ['alice@hotmai.com', 'alice@hotmail.com'],
    ['alice@homail.com', 'alice@hotmail.com'],
    ['alice@hotmial.co.uk', 'alice@hotmail.co.uk'],
    ['alice@hotmial.fr', 'alice@hotmail.fr'],
    ['alice@yaho.com', 'alice@yahoo.com'],
    ['alice@yahooo.com', 'alice@yahoo.com'],
    ['alice@yhoo.com', 'alice@yahoo.com'],
    ['alice@yaoo.fr', 'alice@yahoo.fr'],
    ['alice@yaho.co.uk', 'alice@yahoo.co.uk'],
    ['alice@outlok.com', 'alice@outlook.com'],
    ['alice@outloook.com', 'alice@outlook.com'],
    ['alice@otlook.com', 'alice@outlook.com'],
    ['alice@iclod.com', 'alice@icloud.com'],
    ['alice@icoud.com', 'alice@icloud.com'],
    ['alice@iclould.com', 'alice@icloud.com'],
    ['alice@protonmial.com', 'alice@protonmail.com'],
    ['alice@protonmali.com', 'alice@protonmail.com'],
    ['alice@gogglemail.com', 'alice@googlemail.com'],
    ['alice@yandx.ru', 'alice@yandex.ru'],
    ['alice@comcats.net', 'alice@comcast.net'],
    ['alice@verizon.nte', 'alice@verizon.net'],
    ['alice@sbcglobl.net', 'alice@sbcglobal.net'],
    ['alice@btinternt.com', 'alice@btinternet.com'],
    ['alice@ymial.com', 'alice@ymail.com'],
    // Top-level slips that are not TLDs, for any domain
    ['bob@example.con', 'bob@example.com'],
    ['bob@example.cmo', 'bob@example.com'],
    ['bob@example.ocm', 'bob@example.com'],
    ['bob@example.comm', 'bob@example.com'],
    ['bob@example.coom', 'bob@example.com'],
    ['bob@mail.example.con', 'bob@mail.example.com'],
    ['bob@example.nte', 'bob@example.net'],
    ['bob@example.ogr', 'bob@example.org'],
    ['bob@hotmail.con', 'bob@hotmail.com'],
    ['bob@gmx.con', 'bob@gmx.com'],
    // Top-level slips that are real TLDs, only after a typo-target name
    ['bob@gmail.co', 'bob@gmail.com'],
    ['bob@gmail.cm', 'bob@gmail.com'],
    ['bob@gmail.om', 'bob@gmail.com'],
    ['bob@gmail.c', 'bob@gmail.com'],
    ['bob@hotmail.co', 'bob@hotmail.com'],
    ['bob@hotmail.cm', 'bob@hotmail.com'],
    ['bob@yahoo.co', 'bob@yahoo.com'],
    ['bob@yahoo.om', 'bob@yahoo.com'],
    ['bob@outlook.co', 'bob@outlook.com'],
    ['bob@comcast.ne', 'bob@comcast.net'],
    // Both at once, and a doubled suffix
    ['bob@gmial.con', 'bob@gmail.com'],
    ['bob@hotmal.cmo', 'bob@hotmail.com'],
    ['bob@gmail.com.com', 'bob@gmail.com'],
    ['bob@yahoo.com.con', 'bob@yahoo.com'],
    // Case: the local part stays as typed, the domain is lowercased
    ['Bob.Smith@GMIAL.COM', 'Bob.Smith@gmail.com'],
    ['"Bob Smith"@gmial.com', '"Bob Smith"@gmail.com'],
    ['jöran@gmial.com', 'jöran@gmail.com'],
    // Syntax slips around the dots of a target (the input itself is invalid)
    ['bob@gmail', 'bob@gmail.com'],
    ['bob@hotmail', 'bob@hotmail.com'],
    ['bob@yahoo', 'bob@yahoo.com'],
    ['bob@gmailcom', 'bob@gmail.com'],
    ['bob@hotmailcouk', 'bob@hotmail.co.uk'],
    ['bob@gmail,com', 'bob@gmail.com'],
    ['bob@gmail..com', 'bob@gmail.com'],
    ['bob@gmail.com.', 'bob@gmail.com'],
    ['bob@.gmail.com', 'bob@gmail.com'],
    ['bob@gmial,com', 'bob@gmail.com'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} → ${expected}`, () => {
      assert.equal(suggestAddress(input), expected);
    });
  }
});

describe('suggestAddress: real domains are never "corrected"', () => {
  // Real mail domains near a big provider (the list and more), each checked by hand.
  const real = [
    'gmx.com',
    'gmx.de',
    'gmx.net',
    'gmx.at',
    'gmx.ch',
    'gmx.fr',
    'gmx.us',
    'gmx.co.uk',
    'mail.com',
    'email.com',
    'usa.com',
    'ymail.com',
    'y7mail.com',
    'me.com',
    'mac.com',
    'ya.ru',
    'yahoo.co.uk',
    'yahoo.fr',
    'yahoo.de',
    'yahoo.co.jp',
    'yahoo.com.br',
    'yahoo.com.au',
    'yahoo.ca',
    'yahoo.in',
    'live.com',
    'live.co.uk',
    'live.fr',
    'live.de',
    'live.nl',
    'msn.com',
    'aol.com',
    'aim.com',
    'aol.co.uk',
    'hotmail.co.uk',
    'hotmail.fr',
    'hotmail.de',
    'hotmail.it',
    'hotmail.nl',
    'hotmail.be',
    'hotmail.com.br',
    'outlook.com',
    'outlook.fr',
    'outlook.de',
    'outlook.jp',
    'outlook.com.au',
    'web.de',
    't-online.de',
    'freenet.de',
    'posteo.de',
    'mail.de',
    'comcast.net',
    'att.net',
    'verizon.net',
    'cox.net',
    'charter.net',
    'sbcglobal.net',
    'bellsouth.net',
    'earthlink.net',
    'earthling.net',
    'juno.com',
    'netzero.net',
    'gmail.com',
    'googlemail.com',
    'google.com',
    'icloud.com',
    'cloud.com',
    'pocketmail.com',
    'rocketmail.com',
    'protonmail.com',
    'protonmail.ch',
    'proton.me',
    'pm.me',
    'prontomail.com',
    'tutanota.com',
    'tuta.io',
    'fastmail.com',
    'fastmail.fm',
    'zoho.com',
    'hey.com',
    'mailo.com',
    'yandex.ru',
    'yandex.com',
    'yandex.ua',
    'mail.ru',
    'inbox.ru',
    'list.ru',
    'bk.ru',
    'rambler.ru',
    'ukr.net',
    'orange.fr',
    'free.fr',
    'sfr.fr',
    'neuf.fr',
    'laposte.net',
    'wanadoo.fr',
    'libero.it',
    'virgilio.it',
    'tiscali.it',
    'ziggo.nl',
    'qq.com',
    '163.com',
    '126.com',
    'yeah.net',
    'naver.com',
    'daum.net',
    'hanmail.net',
    'btinternet.com',
    'sky.com',
    'virginmedia.com',
    'ntlworld.com',
    'shaw.ca',
    'rogers.com',
    'bigpond.com',
    'optusnet.com.au',
    'xtra.co.nz',
    'uol.com.br',
    'bol.com.br',
    'terra.com.br',
    'seznam.cz',
    'wp.pl',
    'o2.pl',
    'onet.pl',
    'interia.pl',
    'abv.bg',
    'inbox.lv',
    'mail.ee',
    'rediffmail.com',
    'sina.com',
    'hushmail.com',
    'mailbox.org',
    'runbox.com',
    'disroot.org',
    'riseup.net',
    // Real companies and words one edit from a provider name (not in any mail list)
    'wahoo.com',
    'mall.com',
    'life.com',
    'love.com',
    'never.com',
    'orage.fr',
    'gmaps.com',
    'gail.co.in',
    'hotwire.com',
    'outbrain.com',
    'yahooligans.com',
    'cmail.com',
    'xmail.com',
    'fmail.com',
    // Corporate and institutional domains
    'example.com',
    'microsoft.com',
    'apple.com',
    'amazon.com',
    'github.com',
    'mit.edu',
    'ox.ac.uk',
    'bund.de',
    'gouv.fr',
    'verizon.com',
    'comcast.com',
    'laposte.fr',
    'yahoo-inc.com',
    'gmail.de',
    // Real TLDs that look like slips, after names that are not typo targets
    'shop.cm',
    'startup.co',
    'bank.om',
    'news.ne',
    // Near the slip rules above: real services and hosts, each left alone
    'fmail.com', // gmail's first letter is not loosened: fmail, hmail, vmail are services
    'hmail.com',
    'gotmail.com', // a provider one key from hotmail (email-providers lists it)
    'vahoo.com',
    'cloud.com', // nor icloud's: cloud companies
    'ucloud.cn',
    'ocloud.com',
    'g.mail.com', // a host under mail.com, not a moved dot
    'mail.gmail.com',
    'gmail.net', // not Google's, but registered: only names under a missing TLD are fixed
    'yahoo.co.hk', // a real Yahoo domain one key from yahoo.co.uk
    'yahoo.co.id',
    'yahoo.co.jo',
    'hotmail.co.jp',
    'yahoo.com.tw',
    'yahoo.com.bt',
  ];
  for (const domain of real) {
    it(domain, () => {
      assert.equal(suggestAddress(`someone@${domain}`), null);
    });
  }

  it('leaves every known provider domain alone (email-providers minus its typo domains)', () => {
    const typos = new Set(KNOWN_TYPO_DOMAINS);
    const corrected = emailProviderDomains().filter(
      (domain) => !typos.has(domain) && suggestDomain(domain) !== null,
    );
    assert.deepEqual(corrected, []);
  });

  it('leaves every target and protected domain alone', () => {
    for (const domain of [...TYPO_TARGETS, ...PROTECTED_DOMAINS])
      assert.equal(suggestDomain(domain), null, domain);
  });

  it('corrects the typo domains the provider list holds', () => {
    for (const domain of KNOWN_TYPO_DOMAINS) assert.notEqual(suggestDomain(domain), null, domain);
  });
});

describe('suggestAddress: no suggestion', () => {
  const none = [
    'alice@example.org', // fine as it is
    'alice@company.io',
    'alice@sub.gmial.com', // a subdomain of a typo: too unsure
    'alice@gmial.co.uk', // two slips across name and suffix
    'alice@xmial.com', // first letter differs: could be anything
    'alice@mial.com', // target name too short for fuzzy matching ("mail")
    'alice@gmx.dk', // short name: only certain TLD slips are fixed
    'alice@bücher.de',
    'alice@[192.0.2.1]',
    'not an address',
    '',
    'alice@@example.com', // a stray symbol is dropped only before a big provider's domain
    'alice@-example.com',
    'alice @gmail.com',
    'alice@local host',
    'alice@gmail.nry', // gmail.net is not Gmail; gmail has no suffix near .nry
    'alice@gmail.nt',
    'alice@ü_gmail.com', // only ASCII symbols and spaces are stray: ü may be part of the name
    'alice@hotmail.ed', // .de or .es? two are equally near
    'alice@yahoo.co.ik', // .co.uk or .co.in?
    'alice@yahoo.dr', // .de or .fr?
    'alice@x.test', // special-use names (RFC 6761, 6762, 7686, 9476) are never corrected
    'alice@printer.local',
    'alice@mail.example',
    'alice@host.invalid',
    'alice@abc.onion',
    'alice@svc.internal',
    'alice@svc.alt',
    'alice@host.corp', // private names far from any common suffix
    'alice@nas.lan',
    'alice@router.home',
    'alice@company.dee', // .de or .ee? only com, net, org and co.uk are guessed for any domain
    'alice@пример.xn--p1ai',
    'alice@localhost',
    'alice@mailserver1',
    'a..b@gmial.com', // the local part is broken: no suggestion can make it valid
  ];
  for (const input of none) {
    it(JSON.stringify(input), () => {
      assert.equal(suggestAddress(input), null);
    });
  }
  it('never throws on non-strings', () => {
    assert.equal(suggestAddress(null as unknown as string), null);
    assert.equal(suggestAddress(42 as unknown as string), null);
  });
  it('suggests only valid addresses', () => {
    for (const input of ['bob@gmail', 'bob@gmial.con', 'bob@gmail,com', 'x@example.cmo']) {
      const suggestion = suggestAddress(input);
      assert.ok(suggestion !== null);
      assert.equal(suggestAddress(suggestion), null, 'a suggestion needs no further suggestion');
    }
  });
});

describe('suggestAddress: the provider and disposable lists', () => {
  const mailchecker = require('mailchecker') as { blacklist(): Set<string> };
  const listed = new Set<string>();
  for (const list of [emailProviderDomains(), disposableDomains(), mailchecker.blacklist()])
    for (const domain of list) listed.add(domain.toLowerCase());
  const squats = new Map(
    readFileSync(new URL('../../fixtures/typos/listed-typo-squats.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(' ') as [string, string]),
  );

  it('corrects no free-provider domain', () => {
    const free = emailProviderDomains().filter((domain) => isFreeProvider(domain));
    assert.ok(free.length > 5000, `${free.length} free-provider domains`);
    const corrected = free.filter((domain) => suggestDomain(domain) !== null);
    assert.deepEqual(corrected, []);
  });

  it('corrects no listed domain but the reviewed typo-squats, each to its provider', () => {
    assert.ok(listed.size > 60_000, `${listed.size} listed domains`);
    const corrected = new Map<string, string>();
    for (const domain of listed) {
      const suggestion = suggestDomain(domain);
      if (suggestion !== null) corrected.set(domain, suggestion);
    }
    const unreviewed = [...corrected].filter(([domain]) => !squats.has(domain));
    assert.deepEqual(unreviewed, [], 'corrected, but not in test/fixtures/typos/listed-typo-squats.txt');
    for (const [domain, target] of squats) {
      assert.ok(listed.has(domain), `${domain} is no longer listed: drop it from the fixture`);
      assert.equal(corrected.get(domain), target, domain);
      assert.ok(TYPO_TARGETS.includes(target), `${domain} → ${target}`);
    }
  });
});

/**
 * Slips generated from each popular provider's domain, every one of each kind: a letter of the name
 * swapped with the next, dropped, doubled or hit on a neighbouring key (the first letter only for
 * `LOOSE_START_NAMES`), a top-level label slipped the same ways where the result is not in the root
 * zone, a dot one place off or dropped, a stray symbol before the domain. Each must be corrected to its
 * provider, except a slip that is itself a real domain (`hotmail` → `gotmail.com`), which must be left
 * alone; both are counted so neither side can quietly grow.
 */
describe('suggestAddress: generated slips of the popular providers', () => {
  const POPULAR = [
    'gmail.com',
    'googlemail.com',
    'yahoo.com',
    'yahoo.co.uk',
    'yahoo.fr',
    'hotmail.com',
    'hotmail.co.uk',
    'hotmail.fr',
    'outlook.com',
    'icloud.com',
    'protonmail.com',
    'comcast.net',
  ];
  const KEYS = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const STRAYS = ['@', '.', ',', ';', ':', '-', '_', "'", '#', ' '];
  const delegated = delegatedTopLevelDomains();

  function nameSlips(name: string): string[] {
    const slips = new Set<string>();
    const loose = LOOSE_START_NAMES.has(name);
    for (let i = 0; i < name.length; i++) {
      const before = name.slice(0, i);
      const after = name.slice(i + 1);
      const key = name.charAt(i);
      if (i > 0 || loose) slips.add(before + after); // dropped
      slips.add(before + key + key + after); // doubled
      if (i + 1 < name.length) slips.add(before + name.charAt(i + 1) + key + name.slice(i + 2)); // swapped
      for (const other of KEYS) {
        if (other !== key && isKeyNeighbour(key, other) && (i > 0 || loose))
          slips.add(before + other + after);
      }
    }
    slips.delete(name);
    return [...slips];
  }

  function suffixSlips(suffix: string): string[] {
    // Top-level slips only where they leave the root zone: `.co.hk` is Yahoo Hong Kong, not a slip.
    const dot = suffix.lastIndexOf('.');
    const head = suffix.slice(0, dot + 1);
    const tld = suffix.slice(dot + 1);
    const slips = new Set<string>();
    for (let i = 0; i < tld.length; i++) {
      const before = tld.slice(0, i);
      const after = tld.slice(i + 1);
      slips.add(before + tld.charAt(i) + tld.charAt(i) + after);
      if (i + 1 < tld.length) slips.add(before + tld.charAt(i + 1) + tld.charAt(i) + tld.slice(i + 2));
      for (const other of KEYS) if (isKeyNeighbour(tld.charAt(i), other)) slips.add(before + other + after);
    }
    slips.delete(tld);
    return [...slips].filter((slip) => !delegated.has(slip)).map((slip) => head + slip);
  }

  function dotSlips(domain: string): string[] {
    const slips: string[] = [];
    for (let i = domain.indexOf('.'); i !== -1; i = domain.indexOf('.', i + 1)) {
      const without = domain.slice(0, i) + domain.slice(i + 1);
      slips.push(without.slice(0, i - 1) + '.' + without.slice(i - 1)); // one place left
      slips.push(without.slice(0, i + 1) + '.' + without.slice(i + 1)); // one place right
      if (domain.indexOf('.') !== domain.lastIndexOf('.')) slips.push(without); // dropped, `hotmail.couk`
    }
    return slips.filter((slip) => !slip.startsWith('.') && !slip.endsWith('.') && !slip.includes('..'));
  }

  // Every provider on email-providers' list (free or not: `gotmail.com` is also disposable) but its
  // known typo domains.
  const typos = new Set(KNOWN_TYPO_DOMAINS);
  const knownReal = new Set([...PROTECTED_DOMAINS, ...emailProviderDomains().filter((d) => !typos.has(d))]);

  for (const provider of POPULAR) {
    it(provider, () => {
      const dot = provider.indexOf('.');
      const name = provider.slice(0, dot);
      const suffix = provider.slice(dot + 1);
      // A suffix slip as near to another of the provider's suffixes (`yahoo.dr`: `.de` or `.fr`?) is
      // left alone.
      const ownSuffixes = TYPO_TARGETS.filter((target) => target.startsWith(`${name}.`)).map((target) =>
        target.slice(dot + 1),
      );
      const isAmbiguous = (slip: string): boolean =>
        ownSuffixes.some(
          (other) => other !== suffix && editDistance(slip, other, 9) <= editDistance(slip, suffix, 9),
        );
      const domains = [
        ...nameSlips(name).map((slip) => `${slip}.${suffix}`),
        ...suffixSlips(suffix)
          .filter((slip) => !isAmbiguous(slip))
          .map((slip) => `${name}.${slip}`),
        ...dotSlips(provider),
      ];
      const ambiguous = suffixSlips(suffix).filter(isAmbiguous);
      for (const slip of ambiguous) assert.equal(suggestDomain(`${name}.${slip}`), null, `${name}.${slip}`);
      let corrected = 0;
      let real = 0;
      for (const domain of domains) {
        if (knownReal.has(domain) || TYPO_TARGETS.includes(domain)) {
          real++;
          assert.equal(suggestAddress(`alice@${domain}`), null, `${domain} is real`);
        } else {
          corrected++;
          assert.equal(suggestAddress(`alice@${domain}`), `alice@${provider}`, domain);
        }
      }
      for (const stray of STRAYS) {
        corrected++;
        assert.equal(suggestAddress(`alice@${stray}${provider}`), `alice@${provider}`, `${stray}${provider}`);
      }
      assert.ok(corrected >= 50, `${corrected} slips corrected`);
      assert.ok(real <= 3, `${real} slips are real domains`);
      assert.ok(ambiguous.length <= 6, `${ambiguous.join(' ')}: ambiguous`);
    });
  }
});
