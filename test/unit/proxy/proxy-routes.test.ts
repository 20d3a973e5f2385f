import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  PROVIDER_IDS,
  parseProxyRoute,
  selectRoute,
  type ProxyRoute,
} from '../../../src/proxy/proxy-routes.js';

const routes: ProxyRoute[] = [
  { match: 'microsoft365', via: 'socks5://10.0.0.1:1080' },
  { match: '.yahoodns.net', via: 'direct' },
  { match: 'example.com', via: 'socks5://10.0.0.2:1080' },
];

describe('proxy routes', () => {
  it('match a provider id, an MX suffix or a domain, first rule first', () => {
    const cases: [domain: string, mxHost: string, provider: string | null, index: number][] = [
      ['contoso.com', 'contoso-com.mail.protection.outlook.com', 'microsoft365', 0],
      ['yahoo.com', 'mta5.am0.yahoodns.net', 'yahoo', 1],
      ['yahoo.com', 'yahoodns.net', null, 1],
      ['example.com', 'mx.other.net', null, 2],
      ['sub.example.com', 'mx.other.net', null, 2],
      ['other.org', 'mx1.example.com', null, 2],
      ['notexample.com', 'mx.notexample.com', null, -1],
      ['gmail.com', 'gmail-smtp-in.l.google.com', 'google', -1],
    ];
    for (const [domain, mxHost, provider, index] of cases) {
      assert.equal(
        selectRoute(routes, { domain, mxHost, provider }, PROVIDER_IDS),
        index,
        `${domain} ${mxHost}`,
      );
    }
  });

  it('parses MATCH=URL and MATCH=direct, and refuses other shapes', () => {
    assert.deepEqual(parseProxyRoute('Microsoft365=socks5://h:1'), {
      ok: true,
      route: { match: 'microsoft365', via: 'socks5://h:1' },
    });
    assert.deepEqual(parseProxyRoute('.outlook.com=direct'), {
      ok: true,
      route: { match: '.outlook.com', via: 'direct' },
    });
    for (const bad of ['direct', '=direct', 'x.com=', 'a b=direct', '*.x.com=direct', 'microsoft=direct']) {
      assert.equal(parseProxyRoute(bad).ok, false, bad);
    }
  });
});
