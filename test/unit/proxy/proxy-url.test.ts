import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { parseProxyUrl, redact } from '../../../src/proxy/proxy-url.js';

describe('parseProxyUrl', () => {
  it('takes socks5://host:port, with or without RFC 1929 credentials', () => {
    const cases: [string, object][] = [
      [
        'socks5://127.0.0.1:1080',
        { name: 'socks5://127.0.0.1:1080', host: '127.0.0.1', port: 1080, username: null, password: null },
      ],
      [
        'SOCKS5://Proxy.Example.net:1080/',
        {
          name: 'socks5://proxy.example.net:1080',
          host: 'Proxy.Example.net',
          port: 1080,
          username: null,
          password: null,
        },
      ],
      [
        'socks5://probe:s3cr%40t@10.0.0.7:1081',
        {
          name: 'socks5://probe@10.0.0.7:1081',
          host: '10.0.0.7',
          port: 1081,
          username: 'probe',
          password: 's3cr@t',
        },
      ],
      [
        'socks5://[::1]:1080',
        { name: 'socks5://[::1]:1080', host: '::1', port: 1080, username: null, password: null },
      ],
      ['socks5://a:b:c@h:1', { name: 'socks5://a@h:1', host: 'h', port: 1, username: 'a', password: 'b:c' }],
    ];
    for (const [url, endpoint] of cases) {
      assert.deepEqual(parseProxyUrl(url), { ok: true, endpoint }, url);
    }
  });

  it('refuses what is not one, saying why', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['127.0.0.1:1080', /not a URL/],
      ['http://127.0.0.1:3128', /unsupported scheme "http:\/\/"/],
      ['socks4://127.0.0.1:1080', /unsupported scheme/],
      ['socks5h://127.0.0.1:1080', /socks5h.*resolve names/],
      ['socks5://127.0.0.1', /missing port/],
      ['socks5://127.0.0.1:', /missing port/],
      ['socks5://127.0.0.1:0', /port "0"/],
      ['socks5://127.0.0.1:65536', /port "65536"/],
      ['socks5://127.0.0.1:10x', /port "10x"/],
      ['socks5://user@127.0.0.1:1080', /user:password/],
      ['socks5://:pass@127.0.0.1:1080', /non-empty/],
      ['socks5://user:@127.0.0.1:1080', /non-empty/],
      ['socks5://us%zzer:p@127.0.0.1:1080', /%-escape/],
      [`socks5://${'u'.repeat(256)}:p@127.0.0.1:1080`, /255 octets/],
      ['socks5://127.0.0.1:1080/path', /no path/],
      ['socks5://127.0.0.1:1080?x=1', /no path/],
      ['socks5://::1:1080', /brackets/],
      ['socks5://[zz]:1080', /not an IPv6 address/],
      ['socks5://bad_host:1080', /not a host name/],
    ];
    for (const [url, reason] of cases) {
      const parsed = parseProxyUrl(url);
      assert.equal(parsed.ok, false, url);
      if (!parsed.ok) assert.match(parsed.reason, reason, url);
    }
  });

  it('never shows a password, even in a URL that does not parse', () => {
    assert.equal(redact('socks5://probe:secret@127.0.0.1'), 'socks5://probe:***@127.0.0.1');
    const parsed = parseProxyUrl('socks5://probe:secret@127.0.0.1');
    assert.ok(!parsed.ok && !parsed.reason.includes('secret'));
    const ok = parseProxyUrl('socks5://probe:secret@127.0.0.1:1');
    assert.ok(ok.ok && !ok.endpoint.name.includes('secret'));
  });
});
