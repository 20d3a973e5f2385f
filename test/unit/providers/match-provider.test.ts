import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  PROVIDER_RULES,
  greetingHost,
  hasDomainSuffix,
  matchProvider,
  providerById,
  type ProviderRule,
} from '../../../src/providers/index.js';

const byMx = (mxHost: string | null): string | null => matchProvider({ mxHost, banner: null })?.id ?? null;

describe('matchProvider by MX host', () => {
  // Real MX names of each provider (providers.md §B and the rules' comments).
  const cases: readonly [string, string][] = [
    ['gmail-smtp-in.l.google.com', 'google'],
    ['alt4.gmail-smtp-in.l.google.com.', 'google'],
    ['aspmx.l.google.com', 'google'],
    ['alt1.aspmx.l.google.com', 'google'],
    ['aspmx2.googlemail.com', 'google'],
    ['smtp.google.com', 'google'],
    ['contoso-com.mail.protection.outlook.com', 'microsoft365'],
    ['contoso-com.mail.protection.office365.us', 'microsoft365'],
    ['hotmail-com.olc.protection.outlook.com', 'outlook'],
    ['outlook-com.olc.protection.outlook.com.', 'outlook'],
    ['mta5.am0.yahoodns.net', 'yahoo'],
    ['mx-aol.mail.gm0.yahoodns.net', 'yahoo'],
    ['mailin-01.mx.aol.com', 'yahoo'],
    ['mx01.mail.icloud.com', 'apple'],
    ['mx.zoho.com', 'zoho'],
    ['mx2.zoho.eu', 'zoho'],
    ['mx.zoho.com.au', 'zoho'],
    ['mx.yandex.net', 'yandex'],
    ['mxs.mail.ru', 'mailru'],
    ['mx00.emig.gmx.net', 'gmx'],
    ['mx-ha02.web.de', 'gmx'],
    ['mx0a-00123456.pphosted.com', 'proofpoint'],
    ['mx1-us1.ppe-hosted.com', 'proofpoint'],
    ['eu-smtp-inbound-1.mimecast.com', 'mimecast'],
    ['za-smtp-inbound-1.mimecast.co.za', 'mimecast'],
    ['d123456a.ess.barracudanetworks.com', 'barracuda'],
    ['mx1.hc1234-56.iphmx.com', 'ironport'],
    ['mx.spamexperts.com', 'spamexperts'],
    ['filter10.antispamcloud.com', 'spamexperts'],
    ['example-com.in.tmes.trendmicro.com', 'trendmicro'],
    ['mail.protonmail.ch', 'proton'],
  ];
  for (const [host, id] of cases) {
    it(`${host} → ${id}`, () => {
      assert.equal(byMx(host), id);
    });
  }

  it('matches on a label boundary only', () => {
    assert.equal(byMx('evilgoogle.com'), null);
    assert.equal(byMx('google.com.evil.example'), null);
    assert.equal(byMx('notyahoodns.net'), null);
    assert.equal(byMx('xppe-hosted.com'), null);
    assert.equal(byMx('fakeiphmx.com'), null);
    assert.equal(byMx('mx.example.com'), null);
  });

  it('matches the suffix itself', () => {
    assert.equal(byMx('google.com'), 'google');
    assert.equal(byMx('pphosted.com.'), 'proofpoint');
  });

  it('ignores case and one trailing dot', () => {
    assert.equal(byMx('ASPMX.L.GOOGLE.COM.'), 'google');
    assert.equal(byMx('Hotmail-Com.OLC.Protection.Outlook.Com'), 'outlook');
    assert.equal(byMx('  mx.zoho.com  '), 'zoho');
  });

  it('refuses names with empty labels rather than guessing', () => {
    assert.equal(byMx('aspmx.l.google.com..'), null);
    assert.equal(byMx('aspmx..google.com'), null);
    assert.equal(byMx('.google.com'), null);
    assert.equal(byMx(''), null);
    assert.equal(byMx('.'), null);
    assert.equal(byMx(null), null);
  });

  it('prefers the longest matching suffix, so Outlook.com consumer is not Microsoft 365', () => {
    const outlook: ProviderRule | null = providerById('outlook');
    assert.equal(outlook?.oneRecipientPerTransaction, true);
    assert.equal(matchProvider({ mxHost: 'hotmail-com.olc.protection.outlook.com', banner: null }), outlook);
  });

  it('lets the MX host win over the banner', () => {
    const rule = matchProvider({ mxHost: 'mx.zoho.com', banner: '220 mx.google.com ESMTP x - gsmtp' });
    assert.equal(rule?.id, 'zoho');
  });
});

describe('matchProvider by banner (vanity MX names)', () => {
  const byBanner = (banner: string): string | null =>
    matchProvider({ mxHost: 'mx.customer.example', banner })?.id ?? null;

  it('matches the server name the greeting starts with (RFC 5321 §4.2)', () => {
    assert.equal(byBanner('220 mx.google.com ESMTP a640c23a62f3a-1234 - gsmtp'), 'google');
    assert.equal(
      byBanner('220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready'),
      'microsoft365',
    );
    assert.equal(byBanner('mx.yandex.net (Want to use Yandex.Mail for your domain?)'), 'yandex');
    assert.equal(byBanner('220-eu-smtp-inbound-1.mimecast.com ESMTP\n220 ready'), 'mimecast');
  });

  it('falls back to the rules’ banner patterns', () => {
    assert.equal(byBanner('220 smtp.example ESMTP ready - gsmtp'), 'google');
    assert.equal(byBanner('554-gmx.net (mxgmx014) Nemesis ESMTP Service not available'), 'gmx');
    assert.equal(byBanner('220 relay.example Nemesis ESMTP Service ready'), 'gmx');
    assert.equal(byBanner('220 gw.example ESMTP Barracuda Email Security Gateway'), 'barracuda');
  });

  it('matches nothing in an ordinary banner', () => {
    assert.equal(byBanner('220 mx.customer.example ESMTP Postfix (Debian/GNU)'), null);
    assert.equal(byBanner('220 evilgoogle.com ESMTP'), null);
    assert.equal(byBanner(''), null);
    assert.equal(matchProvider({ mxHost: null, banner: null }), null);
  });

  it('reads the greeting host', () => {
    assert.equal(greetingHost('220 mx.google.com ESMTP x'), 'mx.google.com');
    assert.equal(greetingHost('mx.google.com ESMTP x'), 'mx.google.com');
    assert.equal(greetingHost('220-mx.example.com.\n220 ready'), 'mx.example.com.');
    assert.equal(greetingHost('220 ESMTP ready'), null);
    assert.equal(greetingHost('220 [192.0.2.1]'), null);
    assert.equal(greetingHost(''), null);
  });
});

describe('provider rules as data', () => {
  it('have unique ids and non-empty suffix lists of plain lower-case names', () => {
    const ids = PROVIDER_RULES.map((rule) => rule.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const rule of PROVIDER_RULES as readonly ProviderRule[]) {
      assert.ok(rule.mxSuffixes.length > 0, rule.id);
      for (const suffix of rule.mxSuffixes) {
        assert.match(suffix, /^[a-z0-9-]+(?:\.[a-z0-9-]+)+$/, `${rule.id}: ${suffix}`);
      }
      for (const pattern of rule.bannerPatterns ?? []) {
        assert.ok(!pattern.global && !pattern.sticky, `${rule.id}: ${String(pattern)}`);
      }
    }
  });

  it('never lets two providers claim the same names (so no host depends on tie-breaking)', () => {
    const all = (PROVIDER_RULES as readonly ProviderRule[]).flatMap((rule) =>
      rule.mxSuffixes.map((suffix) => ({ id: rule.id, suffix })),
    );
    for (const a of all) {
      for (const b of all) {
        if (a.id !== b.id && a.suffix !== b.suffix) {
          assert.ok(
            !hasDomainSuffix(a.suffix, b.suffix),
            `${a.id} ${a.suffix} lies under ${b.id} ${b.suffix}`,
          );
        }
      }
    }
  });

  it('records the behaviours the verifier and scheduler depend on', () => {
    assert.equal(providerById('yahoo')?.acceptAll, true);
    assert.equal(providerById('google')?.acceptAll, undefined);
    assert.equal(providerById('outlook')?.oneRecipientPerTransaction, true);
    assert.equal(providerById('spamexperts')?.slowRcpt, true);
    assert.equal(providerById('ironport')?.maxInvalidRecipientsPerHour, 25);
    assert.equal(providerById('nope'), null);
  });
});

describe('hasDomainSuffix (property)', () => {
  const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/);
  const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));

  it('holds exactly for names that end with "." + suffix, in any case, with or without a trailing dot', () => {
    fc.assert(
      fc.property(name, name, fc.boolean(), fc.boolean(), (prefix, suffix, upper, dot) => {
        const host = `${prefix}.${suffix}`;
        const written = `${upper ? host.toUpperCase() : host}${dot ? '.' : ''}`;
        assert.equal(hasDomainSuffix(written, suffix), true);
        // Glued without the dot, the suffix no longer sits on a label boundary.
        const glued = `${prefix}${suffix}`;
        assert.equal(hasDomainSuffix(glued, suffix), glued === suffix || glued.endsWith(`.${suffix}`));
      }),
      { seed: 20261128, numRuns: 500 },
    );
  });

  it('answers the same when asked again, past the size of its memory of answers', () => {
    const google = { mxHost: 'alt1.aspmx.l.google.com.', banner: null };
    assert.equal(matchProvider(google)?.id, 'google');
    for (let i = 0; i < 5_000; i += 1)
      assert.equal(matchProvider({ mxHost: `mx${i}.example.test`, banner: null }), null);
    assert.equal(matchProvider(google)?.id, 'google');
    // null and empty stay apart; a long banner is matched without being kept.
    assert.equal(matchProvider({ mxHost: null, banner: '' }), matchProvider({ mxHost: '', banner: null }));
    const long = `220 mx.google.com ESMTP ${'x'.repeat(2_000)}`;
    assert.equal(matchProvider({ mxHost: 'mail.vanity.test', banner: long })?.id, 'google');
    assert.equal(matchProvider({ mxHost: 'mail.vanity.test', banner: long })?.id, 'google');
  });

  it('answers a host name and a greeting each by its own evidence, whatever was asked before', () => {
    // A vanity MX name matches no rule: the greeting decides, each time, whichever greeting it is.
    const vanity = 'mx.d076.test';
    assert.equal(
      matchProvider({ mxHost: vanity, banner: '220 mx.google.com ESMTP abc123 - gsmtp' })?.id,
      'google',
    );
    assert.equal(matchProvider({ mxHost: vanity, banner: '220 mx.d076.test ESMTP Exim 4.96' }), null);
    assert.equal(
      matchProvider({ mxHost: vanity, banner: '220 a.b ESMTP Nemesis ESMTP Service ready' })?.id,
      'gmx',
    );
    assert.equal(matchProvider({ mxHost: vanity, banner: null }), null);
    // A provider's MX name decides whatever the greeting says, asked before or after that greeting.
    const banner = '220 mx.d076.test ESMTP Exim 4.96';
    assert.equal(matchProvider({ mxHost: 'mta5.am0.yahoodns.net', banner })?.id, 'yahoo');
    assert.equal(matchProvider({ mxHost: 'mx.d077.test', banner }), null);
    assert.equal(matchProvider({ mxHost: 'mta5.am0.yahoodns.net', banner: null })?.id, 'yahoo');
    // Every answer equals the rules walked from the top (the first host rule by its longest suffix,
    // then the greeting's), asked in an order that mixes names and greetings.
    const hosts = [null, vanity, 'aspmx.l.google.com', 'mx1.mail.icloud.com', 'mx.d078.test'];
    const banners = [
      null,
      '',
      '220 mx.google.com ESMTP x - gsmtp',
      '220 mx.hosting1.test ESMTP ready',
      banner,
    ];
    const walked = (mxHost: string | null, greeting: string | null): string | null => {
      const byName = (name: string): ProviderRule | null => {
        let best: { rule: ProviderRule; length: number } | null = null;
        for (const rule of PROVIDER_RULES)
          for (const suffix of rule.mxSuffixes)
            if (hasDomainSuffix(name, suffix) && (best === null || suffix.length > best.length))
              best = { rule, length: suffix.length };
        return best?.rule ?? null;
      };
      const fromHost = mxHost === null ? null : byName(mxHost);
      if (fromHost !== null || greeting === null) return fromHost?.id ?? null;
      const named = greetingHost(greeting);
      const fromGreeting = named === null ? null : byName(named);
      if (fromGreeting !== null) return fromGreeting.id;
      return (
        (PROVIDER_RULES as readonly ProviderRule[]).find(
          (rule) => rule.bannerPatterns?.some((pattern) => pattern.test(greeting)) === true,
        )?.id ?? null
      );
    };
    for (let round = 0; round < 3; round += 1)
      for (const [i, mxHost] of hosts.entries())
        for (const [j, greeting] of banners.entries()) {
          const [h, b] = round === 1 ? [hosts[4 - i] ?? null, greeting] : [mxHost, banners[4 - j] ?? null];
          assert.equal(matchProvider({ mxHost: h, banner: b })?.id ?? null, walked(h, b), `${h} / ${b}`);
        }
  });

  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string(), { nil: null }), (host, banner) => {
        hasDomainSuffix(host, 'google.com');
        matchProvider({ mxHost: host, banner });
      }),
      { seed: 20261128, numRuns: 1000 },
    );
  });
});
