/**
 * Probing through SOCKS5 proxies (docs/proxies.md) against real servers on loopback: Dante (danted,
 * started by the test as a child process) in front of smtp-server personas, a DNS server of the
 * test's own, and a raw SOCKS5 server for the failures Dante cannot be made to give on demand.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { mailboxes, startPersona, type RunningPersona } from '../../../src/demo/smtp-persona.js';
import {
  CHANNELS,
  OptionsError,
  createVerifier,
  verify,
  type Reason,
  type VerifyOptions,
  type VerifyResult,
} from '../../../src/index.js';
import { startDante, type RunningDante } from '../../helpers/dante.js';
import { startRawSocksServer, type RawSocksBehaviour } from '../../helpers/socks-raw-server.js';
import { loopbackOptions } from '../../helpers/world-options.js';

/** The personas' addresses, and the two Dante instances' listening and egress addresses. */
const MX = { plain: '127.0.27.10', grey: '127.0.27.11', tls: '127.0.27.12', blocked: '127.0.27.13' } as const;
const DANTE_A = { internal: '127.0.27.41', external: '127.0.27.141' } as const;
const DANTE_B = { internal: '127.0.27.42', external: '127.0.27.142' } as const;
const GREYLIST_MS = 1_500;

let dns: DnsServer;
let personas: RunningPersona[] = [];
let danteA: RunningDante;
let danteB: RunningDante;
let base: VerifyOptions;
/** Client addresses each persona saw, per MX address. */
const clients = new Map<string, string[]>();
/** The TLS server names (SNI) the TLS persona was sent. */
const servernames: (string | null)[] = [];

function seen(ip: string) {
  return (_recipient: string, context: { remoteAddress: string }): void => {
    clients.set(ip, [...(clients.get(ip) ?? []), context.remoteAddress.replace(/^::ffff:/, '')]);
  };
}

before(async () => {
  const users = mailboxes(['alice', 'postmaster']);
  const firstSeen = new Map<string, number>();
  const plain = await startPersona(
    {
      name: 'plain',
      banner: 'mx.plain.test ESMTP',
      onRcptTo: (recipient, context) => {
        seen(MX.plain)(recipient, context);
        return users(recipient);
      },
    },
    MX.plain,
    0,
  );
  const port = plain.port;
  personas = [
    plain,
    await startPersona(
      {
        name: 'grey',
        banner: 'mx.grey.test ESMTP',
        onRcptTo: (recipient, context) => {
          seen(MX.grey)(recipient, context);
          // postgrey's triplet: (client address, sender, recipient).
          const key = `${context.remoteAddress}/${context.mailFrom}/${recipient}`;
          const first = firstSeen.get(key) ?? Date.now();
          firstSeen.set(key, first);
          return Date.now() - first < GREYLIST_MS ? { code: 450, text: '4.2.0 Greylisted' } : null;
        },
      },
      MX.grey,
      port,
    ),
    await startPersona(
      {
        name: 'tls',
        banner: 'mx.tls.test ESMTP',
        startTls: true,
        onRcptTo: (recipient, context) => {
          servernames.push(context.secure ? context.servername : 'plaintext');
          return users(recipient);
        },
      },
      MX.tls,
      port,
    ),
    await startPersona({ name: 'blocked', onRcptTo: users }, MX.blocked, port),
  ];
  dns = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zones: {
      'plain.test': { MX: [{ priority: 10, exchange: 'mx.plain.test' }] },
      'mx.plain.test': { A: [MX.plain] },
      'grey.test': { MX: [{ priority: 10, exchange: 'mx.grey.test' }] },
      'mx.grey.test': { A: [MX.grey] },
      'tls.test': { MX: [{ priority: 10, exchange: 'mx.tls.test' }] },
      'mx.tls.test': { A: [MX.tls] },
      'blocked.test': { MX: [{ priority: 10, exchange: 'mx.blocked.test' }] },
      'mx.blocked.test': { A: [MX.blocked] },
      // An MX at an address no test may reach directly: only a proxy that never connects is asked for it.
      'public.test': { MX: [{ priority: 10, exchange: 'mx.public.test' }] },
      'mx.public.test': { A: ['198.51.100.25'] },
      'outside.test': { MX: [{ priority: 10, exchange: 'mx.outside.test' }] },
      'mx.outside.test': { A: ['100.64.0.1'] },
    },
  });
  danteA = await startDante({ ...DANTE_A, block: [`${MX.blocked}/32`] });
  danteB = await startDante(DANTE_B);
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
    timeoutMs: 10_000,
    connectTimeoutMs: 1_000,
    greylistWaitMs: 0,
  };
});

after(async () => {
  await Promise.all([
    danteA.close(),
    danteB.close(),
    dns.close(),
    ...personas.map((persona) => persona.close()),
  ]);
});

function brief(result: VerifyResult) {
  return { verdict: result.verdict, reason: result.reason, reply: result.smtp?.reply ?? null };
}

/** Runs `body` and counts the SMTP connections rcpt attempted to MX address `ip` meanwhile. */
async function countConnects(ip: string, body: () => Promise<void>): Promise<number> {
  let count = 0;
  const onConnect = (message: unknown): void => {
    if ((message as { ip: string }).ip === ip) count += 1;
  };
  subscribe(CHANNELS.smtpConnect, onConnect);
  try {
    await body();
  } finally {
    unsubscribe(CHANNELS.smtpConnect, onConnect);
  }
  return count;
}

function expectUnknown(result: VerifyResult, reason: Reason, proxy: string): void {
  assert.equal(result.verdict, 'unknown', JSON.stringify(result.smtp));
  assert.equal(result.reason, reason, JSON.stringify(result.smtp));
  assert.equal(result.smtp?.proxy, proxy);
  assert.equal(result.smtp?.reply, null);
}

describe('through Dante', () => {
  it('gives the same verdicts as a direct connection, and names the proxy', async () => {
    for (const address of ['alice@plain.test', 'bob@plain.test', 'alice@tls.test', 'bob@tls.test']) {
      const direct = await verify(address, base);
      for (const dante of [danteA, danteB]) {
        const proxied = await verify(address, { ...base, proxy: dante.url });
        assert.deepEqual(brief(proxied), brief(direct), `${address} via ${dante.url}`);
        assert.equal(proxied.smtp?.proxy, dante.url);
        assert.equal(proxied.smtp?.ip, direct.smtp?.ip);
      }
      assert.equal(direct.smtp?.proxy, null);
    }
  });

  it("the MX sees the proxy's egress address, not this host's", async () => {
    clients.delete(MX.plain);
    await verify('alice@plain.test', base);
    await verify('alice@plain.test', { ...base, proxy: danteA.url });
    await verify('alice@plain.test', { ...base, proxy: danteB.url });
    // Each verification asks two RCPTs (the address and the catch-all probe) in one session.
    assert.deepEqual([...new Set(clients.get(MX.plain))], ['127.0.0.1', DANTE_A.external, DANTE_B.external]);
  });

  it('STARTTLS runs over the proxied connection and still sends the MX host name as SNI', async () => {
    servernames.length = 0;
    const result = await verify('alice@tls.test', { ...base, proxy: danteA.url, catchAll: false });
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.tls, true);
    assert.deepEqual(servernames, ['mx.tls.test']);
  });

  it('a greylisted address passes on the retry, through the same proxy', async () => {
    clients.delete(MX.grey);
    const result = await verify('carol@grey.test', {
      ...base,
      proxy: [danteA.url, danteB.url],
      greylistWaitMs: GREYLIST_MS + 200,
      catchAll: false,
    });
    assert.equal(result.reason, 'accepted', JSON.stringify(result.smtp));
    assert.ok((result.smtp?.attempts ?? 0) >= 2);
    const seenBy = clients.get(MX.grey) ?? [];
    assert.equal(seenBy.length, 2, seenBy.join(' '));
    assert.equal(new Set(seenBy).size, 1, `both attempts from one egress: ${seenBy.join(' ')}`);
    assert.ok(seenBy[0] === DANTE_A.external || seenBy[0] === DANTE_B.external);
  });

  it("the proxy's ruleset refusing the MX (reply 0x02) is unknown/proxy_refused, naming the proxy", async () => {
    expectUnknown(
      await verify('alice@blocked.test', { ...base, proxy: danteA.url }),
      'proxy_refused',
      danteA.url,
    );
    // Direct, and through the other proxy, the same address is answered.
    assert.equal((await verify('alice@blocked.test', base)).reason, 'accepted');
    assert.equal((await verify('alice@blocked.test', { ...base, proxy: danteB.url })).reason, 'accepted');
  });

  it('a proxy nobody listens on is unknown/proxy_unreachable, naming the proxy', async () => {
    const dead = 'socks5://127.0.27.99:1080';
    expectUnknown(await verify('alice@plain.test', { ...base, proxy: dead }), 'proxy_unreachable', dead);
  });

  it('a private MX stays refused through a proxy unless allowPrivateTargets, and the proxy is never asked', async () => {
    const raw = await startRawSocksServer('127.0.27.50', { kind: 'reply', code: 5 });
    try {
      for (const address of ['alice@plain.test', 'alice@outside.test']) {
        const result = await verify(address, { ...base, proxy: raw.url, allowPrivateTargets: false });
        assert.equal(result.reason, 'target_not_allowed', address);
        assert.equal(result.smtp, null);
      }
      assert.equal(raw.connections, 0);
    } finally {
      await raw.close();
    }
  });

  it('bulk (verifyMany) goes through the proxy too, with the same verdicts', async () => {
    const addresses = ['alice@plain.test', 'bob@plain.test', 'postmaster@tls.test', 'x@tls.test'];
    const verdicts = async (options: VerifyOptions) => {
      const verifier = createVerifier(options);
      const out = new Map<string, ReturnType<typeof brief> & { proxy: string | null }>();
      for await (const result of verifier.verifyMany(addresses)) {
        out.set(result.input, { ...brief(result), proxy: result.smtp?.proxy ?? null });
      }
      await verifier.close();
      return out;
    };
    const direct = await verdicts(base);
    const proxied = await verdicts({ ...base, proxy: danteB.url });
    for (const address of addresses) {
      assert.deepEqual({ ...proxied.get(address), proxy: null }, direct.get(address), address);
      assert.equal(proxied.get(address)?.proxy, danteB.url, address);
    }
  });
  it("bulk: Dante's ruleset refusing the MX as a session opens is unknown/proxy_refused at once, not retried", async () => {
    // With the default backoff (2, 4, 8 s): a ruleset's refusal is no push-back to wait out. Before, the
    // host was asked 4 times (hostTries) with those waits between, 14 s for the same verdict.
    const verifier = createVerifier({ ...base, proxy: danteA.url, timeoutMs: 3_000 });
    const results: VerifyResult[] = [];
    const connects = await countConnects(MX.blocked, async () => {
      for await (const result of verifier.verifyMany(['alice@blocked.test', 'bob@blocked.test'])) {
        results.push(result);
      }
    });
    await verifier.close();
    assert.equal(results.length, 2);
    for (const result of results) expectUnknown(result, 'proxy_refused', danteA.url);
    assert.equal(connects, 1, 'one session attempt for the MX address, not one per try');
  });
});

describe('routing and pools', () => {
  it('--proxy-for: a domain through one proxy, another direct, the rest through the default pool', async () => {
    const options: VerifyOptions = {
      ...base,
      proxy: danteA.url,
      proxyRoutes: [
        { match: 'tls.test', via: danteB.url },
        { match: '.plain.test', via: 'direct' },
      ],
    };
    assert.equal((await verify('alice@tls.test', options)).smtp?.proxy, danteB.url);
    assert.equal((await verify('alice@plain.test', options)).smtp?.proxy, null);
    assert.equal((await verify('alice@grey.test', options)).smtp?.proxy, danteA.url);
  });

  it('a pool goes on through the live proxy when one is dead, and keeps the dead one out', async () => {
    const dead = 'socks5://127.0.27.98:1080';
    const verifier = createVerifier({ ...base, proxy: [dead, danteA.url] });
    try {
      for (const address of ['alice@plain.test', 'bob@plain.test', 'alice@tls.test', 'x@tls.test']) {
        const result = await verifier.verify(address);
        assert.notEqual(result.verdict, 'unknown', `${address}: ${result.reason}`);
        assert.equal(result.smtp?.proxy, danteA.url);
      }
    } finally {
      await verifier.close();
    }
  });

  it('a bulk run (verifyMany) takes the dead member out and goes on through the other', async () => {
    const dead = 'socks5://127.0.27.97:1080';
    const verifier = createVerifier({ ...base, proxy: [dead, danteB.url] });
    const addresses = [
      'alice@plain.test',
      'bob@plain.test',
      'postmaster@tls.test',
      'x@tls.test',
      'alice@blocked.test',
    ];
    try {
      const results: VerifyResult[] = [];
      for await (const result of verifier.verifyMany(addresses)) results.push(result);
      assert.equal(results.length, addresses.length);
      for (const result of results) {
        assert.notEqual(result.verdict, 'unknown', `${result.input}: ${result.reason}`);
        assert.equal(result.smtp?.proxy, danteB.url, result.input);
      }
    } finally {
      await verifier.close();
    }
  });

  it('a pool shares an MX host unless its proxies have distinct egress addresses', async () => {
    const recipients = Array.from({ length: 16 }, (_, i) => `user${i}@plain.test`);
    const egresses = async (distinct: boolean): Promise<Set<string>> => {
      clients.delete(MX.plain);
      const verifier = createVerifier({
        ...base,
        catchAll: false,
        proxy: [danteA.url, danteB.url],
        proxyDistinctEgress: distinct,
      });
      try {
        for await (const result of verifier.verifyMany(recipients, { hostConcurrency: 1 })) {
          assert.equal(result.reason, 'mailbox_not_found', result.input);
        }
      } finally {
        await verifier.close();
      }
      return new Set(clients.get(MX.plain));
    };
    assert.equal((await egresses(false)).size, 1, 'one member per MX address');
    assert.deepEqual([...(await egresses(true))].sort(), [DANTE_A.external, DANTE_B.external]);
  });

  it('a malformed proxy URL is refused when the verifier is created, with the reason', () => {
    const cases: [string, RegExp][] = [
      ['http://127.0.0.1:8080', /unsupported scheme "http:\/\/"/],
      ['socks5://127.0.0.1', /missing port/],
      ['socks5://user@127.0.0.1:1080', /user:password/],
      ['socks5h://127.0.0.1:1080', /resolve names/],
      ['socks5://127.0.0.1:99999', /port "99999"/],
    ];
    for (const [url, reason] of cases) {
      assert.throws(
        () => createVerifier({ ...base, proxy: url }),
        (error: unknown) =>
          error instanceof OptionsError && error.option === 'proxy' && reason.test(error.message),
        url,
      );
    }
    assert.throws(
      () => createVerifier({ ...base, proxyRoutes: [{ match: 'microsoft', via: 'direct' }] }),
      /not a provider id \(google, microsoft365/,
    );
  });
});

describe('failures a raw SOCKS5 server gives byte by byte', () => {
  async function through(behaviour: RawSocksBehaviour, address = 'alice@plain.test') {
    const raw = await startRawSocksServer('127.0.27.51', behaviour);
    try {
      return { result: await verify(address, { ...base, proxy: raw.url }), raw };
    } finally {
      await raw.close();
    }
  }

  it('asks the proxy for the MX address (ATYP 0x01), never for a name', async () => {
    const { raw } = await through({ kind: 'reply', code: 5 });
    assert.deepEqual(raw.requests, [{ atyp: 1, address: MX.plain, port: base.smtpPort }]);
  });

  it("the proxy's own loopback address is the operator's: only the MX address is filtered", async () => {
    // 198.51.100.25 is reserved, so refused; with the filter on, a public-looking MX would be asked
    // for through the loopback proxy (which here never connects anywhere).
    const { result, raw } = await through({ kind: 'reply', code: 4 }, 'alice@public.test');
    assert.equal(result.reason, 'proxy_target_unreachable');
    assert.deepEqual(raw.requests, [{ atyp: 1, address: '198.51.100.25', port: base.smtpPort }]);
  });

  it('maps every SOCKS5 reply code 0x01–0x08 to an unknown verdict about the proxy', async () => {
    const expected: Record<number, Reason> = {
      1: 'proxy_refused',
      2: 'proxy_refused',
      3: 'proxy_target_unreachable',
      4: 'proxy_target_unreachable',
      5: 'proxy_target_unreachable',
      6: 'proxy_target_unreachable',
      7: 'proxy_refused',
      8: 'proxy_refused',
    };
    for (const [code, reason] of Object.entries(expected)) {
      const { result, raw } = await through({ kind: 'reply', code: Number(code) });
      expectUnknown(result, reason, raw.url);
    }
  });

  it('refused credentials (RFC 1929 status 1) are unknown/proxy_auth_failed', async () => {
    const raw = await startRawSocksServer('127.0.27.52', { kind: 'auth_fail' });
    try {
      const url = raw.url.replace('socks5://', 'socks5://probe:wrong@');
      const result = await verify('alice@plain.test', { ...base, proxy: url });
      expectUnknown(result, 'proxy_auth_failed', url.replace(':wrong', ''));
    } finally {
      await raw.close();
    }
  });

  it('bulk: refused credentials end every address at once, one connection to the proxy, one warning', async () => {
    const raw = await startRawSocksServer('127.0.27.54', { kind: 'auth_fail' });
    const url = raw.url.replace('socks5://', 'socks5://probe:wrong@');
    const warnings: string[] = [];
    const onWarning = (message: unknown): void => {
      warnings.push((message as { message: string }).message);
    };
    subscribe(CHANNELS.warning, onWarning);
    const verifier = createVerifier({ ...base, proxy: url });
    try {
      const results: VerifyResult[] = [];
      for await (const result of verifier.verifyMany([
        'alice@plain.test',
        'bob@plain.test',
        'carol@tls.test',
      ])) {
        results.push(result);
      }
      assert.equal(results.length, 3);
      for (const result of results) expectUnknown(result, 'proxy_auth_failed', url.replace(':wrong', ''));
      // Two MX addresses: one session attempt each (before: 4 each, with 2 + 4 + 8 s of backoff between).
      assert.equal(raw.connections, 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(
        warnings[0] ?? '',
        /end unknown \(proxy_auth_failed\) at once, not retried while it fails/,
      );
    } finally {
      unsubscribe(CHANNELS.warning, onWarning);
      await verifier.close();
      await raw.close();
    }
  });

  it('no acceptable method (0xFF) is unknown/proxy_auth_failed', async () => {
    const { result, raw } = await through({ kind: 'no_method' });
    expectUnknown(result, 'proxy_auth_failed', raw.url);
  });

  it('a proxy that stalls, silent or after its greeting, is unknown/proxy_timeout', async () => {
    for (const kind of ['stall', 'stall_after_greeting'] as const) {
      const { result, raw } = await through({ kind });
      expectUnknown(result, 'proxy_timeout', raw.url);
    }
  });

  it('bulk: a proxy that stalls as a session opens is named in smtp.proxy, even when the deadline ends it', async () => {
    // The address's deadline may cut the connection short before the proxy's own timeout: then no
    // session was opened, and only the failure names the proxy.
    const cases = [
      [{ kind: 'stall' }, 'proxy_timeout'],
      [{ kind: 'stall_after_greeting' }, 'proxy_timeout'],
    ] as const;
    for (const [behaviour, reason] of cases) {
      const raw = await startRawSocksServer('127.0.27.53', behaviour);
      const verifier = createVerifier({ ...base, proxy: raw.url, timeoutMs: 2_000 });
      try {
        const results: VerifyResult[] = [];
        for await (const result of verifier.verifyMany(['alice@plain.test', 'bob@plain.test'])) {
          results.push(result);
        }
        assert.equal(results.length, 2);
        for (const result of results) {
          assert.equal(result.verdict, 'unknown', `${behaviour.kind}: ${JSON.stringify(result.smtp)}`);
          assert.equal(result.smtp?.proxy, raw.url, `${behaviour.kind} ${result.reason}`);
          assert.ok([reason, 'timeout'].includes(result.reason), `${behaviour.kind}: ${result.reason}`);
        }
      } finally {
        await verifier.close();
        await raw.close();
      }
    }
  });

  it('a server that is no SOCKS5 proxy is unknown/proxy_unreachable', async () => {
    const { result, raw } = await through({ kind: 'not_socks' });
    expectUnknown(result, 'proxy_unreachable', raw.url);
  });
});
