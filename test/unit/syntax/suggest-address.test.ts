import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { suggestAddress, suggestDomain } from '../../../src/syntax/index.js';
import { editDistance } from '../../../src/syntax/edit-distance.js';
import { PROTECTED_DOMAINS, TYPO_TARGETS } from '../../../src/syntax/popular-domains.js';
import { emailProviderDomains } from '../../../src/domain/package-data.js';
import { KNOWN_TYPO_DOMAINS } from '../../../src/domain/known-typo-domains.js';

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
    'school.nt',
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
    'alice@@gmial.com',
    'alice@local host',
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
