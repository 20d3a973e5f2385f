/**
 * SSRF / target safety (issue 9): with the default options (no `allowPrivateTargets`), whatever a
 * domain's DNS answers, rcpt opens no connection to loopback, private, link-local, CGNAT, multicast,
 * documentation or reserved addresses: MX → A/AAAA in each range, CNAME chains ending there, implicit
 * MX, an MX that is an IP literal, address literals (`user@[127.0.0.1]`), answers that change between
 * lookups (rebinding), and the same through the HTTP API.
 *
 * Two independent witnesses: listeners on every loopback address the answers name (127.0.0.1,
 * 127.9.0.1, ::1, all on the SMTP port the verifier is told to use) fail the test if anything
 * connects, and Node's `net.client.socket` diagnostics channel counts every TCP client socket the
 * process creates, so an attempt towards an address with no listener (10.1.2.3, 169.254.169.254) is
 * caught too. The DNS server answers over UDP, so the expected count is zero.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server, type Socket } from 'node:net';

import { startDnsServer, type DnsServer, type DnsZones } from '../../src/demo/dns-server.js';
import {
  createVerifier,
  type ProbeRequest,
  type ProbeResult,
  type Prober,
  type VerifyOptions,
  type VerifyResult,
} from '../../src/index.js';
import { createApp } from '../../src/server/app.js';

/** Addresses no default-configured rcpt may connect to, one or more per special-purpose range. */
const BLOCKED_V4 = [
  '127.0.0.1', // loopback (a listener)
  '127.9.0.1', // loopback (a listener)
  '0.0.0.0', // "this host": connecting reaches the local machine on Linux
  '10.1.2.3', // RFC 1918
  '172.16.0.1', // RFC 1918
  '192.168.1.1', // RFC 1918
  '100.64.0.1', // CGNAT, RFC 6598
  '169.254.169.254', // link-local; cloud metadata
  '192.0.0.1', // IETF protocol assignments
  '192.0.2.1', // TEST-NET-1
  '198.51.100.7', // TEST-NET-2
  '203.0.113.9', // TEST-NET-3
  '198.18.0.1', // benchmarking
  '224.0.0.1', // multicast
  '239.255.255.250', // multicast (SSDP)
  '240.0.0.1', // reserved
  '255.255.255.255', // limited broadcast
] as const;
const BLOCKED_V6 = [
  '::1', // loopback (a listener)
  '::', // unspecified
  '::ffff:127.0.0.1', // IPv4-mapped loopback (a socket would reach the 127.0.0.1 listener)
  '::ffff:10.0.0.1', // IPv4-mapped private
  '::127.0.0.1', // IPv4-compatible (deprecated)
  '64:ff9b::7f00:1', // NAT64 of 127.0.0.1
  '64:ff9b::a00:1', // NAT64 of 10.0.0.1
  '2002:7f00:1::', // 6to4 of 127.0.0.1
  '2002:a00:1::1', // 6to4 of 10.0.0.1
  'fc00::1', // unique local
  'fd12:3456::1', // unique local
  'fe80::1', // link-local
  'fec0::1', // site-local (deprecated)
  'ff02::1', // multicast
  '2001:db8::1', // documentation
  '100::1', // discard-only
] as const;

type Shape = 'mx' | 'cname' | 'implicit';
interface Case {
  readonly address: string;
  readonly ip: string;
  readonly shape: Shape;
}

function label(ip: string): string {
  return (
    ip
      .replace(/[^0-9a-f]/gi, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '') || 'zero'
  );
}

/** The zones: for each blocked address, a domain reaching it by MX, by a CNAME chain, and implicitly. */
function buildWorld(): { zones: Record<string, DnsZones[string]>; cases: Case[] } {
  const zones: Record<string, DnsZones[string]> = {};
  const cases: Case[] = [];
  for (const ip of [...BLOCKED_V4, ...BLOCKED_V6]) {
    const records = ip.includes(':') ? { AAAA: [ip] } : { A: [ip] };
    const id = `${ip.includes(':') ? 'v6' : 'v4'}-${label(ip)}`;
    zones[`mx-${id}.test`] = { MX: [{ priority: 10, exchange: `host-${id}.mx.test` }] };
    zones[`host-${id}.mx.test`] = records;
    cases.push({ address: `postmaster@mx-${id}.test`, ip, shape: 'mx' });
    // MX → CNAME → CNAME → A/AAAA (RFC 2181 §10.3 forbids it; real zones do it anyway).
    zones[`cname-${id}.test`] = { MX: [{ priority: 10, exchange: `alias-${id}.cname.test` }] };
    zones[`alias-${id}.cname.test`] = { CNAME: `alias2-${id}.cname.test` };
    zones[`alias2-${id}.cname.test`] = { CNAME: `host-${id}.mx.test` };
    cases.push({ address: `postmaster@cname-${id}.test`, ip, shape: 'cname' });
    // No MX: the A/AAAA record stands in (RFC 5321 §5.1).
    zones[`implicit-${id}.test`] = records;
    cases.push({ address: `postmaster@implicit-${id}.test`, ip, shape: 'implicit' });
  }
  // Every exchange of a domain in a blocked range, with a public-looking first preference missing.
  zones['all-bad.test'] = {
    MX: [
      { priority: 1, exchange: 'host-v4-127-0-0-1.mx.test' },
      { priority: 2, exchange: 'host-v6-1.mx.test' },
      { priority: 3, exchange: 'host-v4-169-254-169-254.mx.test' },
    ],
  };
  return { zones, cases };
}

const { zones, cases } = buildWorld();

let dns: DnsServer;
let port: number;
const listeners: Server[] = [];
const touched: string[] = [];
const accepted = new Set<Socket>();
/** TCP client sockets created by this process while a check runs. */
let clientSockets = 0;
const onClientSocket = (): void => {
  clientSockets += 1;
};

async function listen(host: string, wanted: number): Promise<number> {
  const server = createServer((socket) => {
    touched.push(`${host} from ${socket.remoteAddress ?? '?'}`);
    accepted.add(socket);
    socket.on('close', () => accepted.delete(socket));
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wanted, host, () => {
      resolve();
    });
  });
  listeners.push(server);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

before(async () => {
  for (let attempt = 0; ; attempt++) {
    try {
      port = await listen('127.0.0.1', 0);
      await listen('127.9.0.1', port);
      await listen('::1', port);
      break;
    } catch (error) {
      await Promise.all(listeners.splice(0).map((s) => new Promise((r) => s.close(r))));
      if (attempt >= 4) throw error;
    }
  }
  dns = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zones: {
      ...zones,
      'ip-literal-mx.test': { MX: [{ priority: 10, exchange: '127.0.0.1' }] },
      'ip-literal-mx6.test': { MX: [{ priority: 10, exchange: '::1' }] },
    },
  });
  subscribe('net.client.socket', onClientSocket);
});

after(async () => {
  unsubscribe('net.client.socket', onClientSocket);
  for (const socket of accepted) socket.destroy();
  await Promise.all([
    dns.close(),
    ...listeners.map((server) => new Promise((resolve) => server.close(resolve))),
  ]);
});

/** The defaults a server operator would run with: only the DNS server and SMTP port point at the test. */
function defaults(): VerifyOptions {
  return {
    dnsServers: [dns.address],
    smtpPort: port,
    helo: 'probe.rcpt.test',
    timeoutMs: 5_000,
    connectTimeoutMs: 500,
  };
}

function assertUntouched(before: number): void {
  assert.deepEqual(touched, [], 'a listener on a blocked address was connected to');
  assert.equal(clientSockets - before, 0, 'a TCP client socket was created');
}

const expectedReason = (result: VerifyResult): boolean =>
  result.reason === 'target_not_allowed' && result.verdict === 'unknown' && result.smtp === null;

describe('SSRF: default options never connect to special-purpose addresses', () => {
  it(`verify(): ${cases.length} domains reaching ${BLOCKED_V4.length + BLOCKED_V6.length} addresses by MX, CNAME chain and implicit MX`, async () => {
    const sockets = clientSockets;
    const verifier = createVerifier(defaults());
    try {
      for (const testCase of cases) {
        const result = await verifier.verify(testCase.address);
        assert.ok(
          expectedReason(result),
          `${testCase.shape} → ${testCase.ip}: ${result.verdict}/${result.reason} (dns ${JSON.stringify(result.dns)})`,
        );
      }
      const all = await verifier.verify('postmaster@all-bad.test');
      assert.ok(expectedReason(all), `all-bad.test: ${all.reason}`);
    } finally {
      await verifier.close();
    }
    assertUntouched(sockets);
  });

  it('verifyMany(): the same domains through the bulk scheduler', async () => {
    const sockets = clientSockets;
    const verifier = createVerifier(defaults());
    const results: VerifyResult[] = [];
    try {
      for await (const result of verifier.verifyMany(cases.map((c) => c.address))) results.push(result);
    } finally {
      await verifier.close();
    }
    assert.equal(results.length, cases.length);
    for (const result of results) assert.ok(expectedReason(result), `${result.input}: ${result.reason}`);
    assertUntouched(sockets);
  });

  it('an MX whose exchange is an IP literal is not connected to', async () => {
    const sockets = clientSockets;
    const verifier = createVerifier(defaults());
    try {
      for (const address of ['a@ip-literal-mx.test', 'a@ip-literal-mx6.test']) {
        const result = await verifier.verify(address);
        assert.equal(result.smtp, null, address);
        assert.ok(['no_mail_server', 'target_not_allowed'].includes(result.reason), result.reason);
      }
    } finally {
      await verifier.close();
    }
    assertUntouched(sockets);
  });

  it('address literals (user@[127.0.0.1], user@[IPv6:::1], …) resolve to a verdict and are not connected to', async () => {
    const sockets = clientSockets;
    const verifier = createVerifier(defaults());
    try {
      for (const address of [
        'user@[127.0.0.1]',
        'user@[127.9.0.1]',
        'user@[10.0.0.1]',
        'user@[169.254.169.254]',
        'user@[IPv6:::1]',
        'user@[IPv6:::ffff:127.0.0.1]',
        'user@[IPv6:fe80::1]',
      ]) {
        const result = await verifier.verify(address);
        assert.equal(result.smtp, null, address);
        assert.equal(result.verdict, 'unknown', `${address}: ${result.reason}`);
        assert.equal(result.reason, 'target_not_allowed', address);
      }
    } finally {
      await verifier.close();
    }
    assertUntouched(sockets);
  });

  it('POST /v1/verify with the default server options', async () => {
    const sockets = clientSockets;
    const verifier = createVerifier(defaults());
    const app = createApp({ verifier, rateLimit: null });
    try {
      const addresses = [...cases.map((c) => c.address), 'user@[127.0.0.1]', 'user@[IPv6:::1]'];
      for (let i = 0; i < addresses.length; i += 10) {
        const response = await app.request('/v1/verify', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ emails: addresses.slice(i, i + 10) }),
        });
        assert.equal(response.status, 200);
        const body = (await response.json()) as { results: VerifyResult[] };
        for (const result of body.results)
          assert.ok(expectedReason(result), `${result.input}: ${result.reason}`);
      }
      // Reacher's route goes through the same verifier.
      const reacher = await app.request('/v0/check_email', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to_email: 'postmaster@mx-v4-127-0-0-1.test' }),
      });
      assert.equal(reacher.status, 200);
    } finally {
      await verifier.close();
    }
    assertUntouched(sockets);
  });
});

/**
 * A prober that records what the verifier hands it and answers "connection failed" without any I/O:
 * the rebinding test's first answer is a public address, which must never be contacted from a test.
 */
function recordingProber(): Prober & { targets: string[] } {
  const targets: string[] = [];
  return {
    targets,
    probe(request: ProbeRequest): Promise<ProbeResult> {
      targets.push(...request.targets.map((target) => target.ip));
      return Promise.resolve({
        host: null,
        ip: null,
        port: 25,
        tls: false,
        tlsCertificateError: null,
        banner: null,
        extensions: [],
        attempts: request.targets.length,
        replies: [],
        catchAll: null,
        failure: {
          kind: 'connection_failed',
          stage: 'connect',
          message: 'not connected (test)',
          reply: null,
        },
        transcript: null,
      });
    },
  };
}

describe('SSRF: DNS answers that change between lookups (rebinding)', () => {
  let rebind: DnsServer;
  const PUBLIC = '93.184.216.34';
  const first: DnsZones = {
    'rebind.test': { MX: [{ priority: 10, exchange: 'mx.rebind.test' }], ttl: 0 },
    'mx.rebind.test': { A: [PUBLIC], ttl: 0 },
    'mixed.test': { MX: [{ priority: 10, exchange: 'mx.mixed.test' }], ttl: 0 },
    'mx.mixed.test': { A: [PUBLIC], AAAA: ['::1'], ttl: 0 },
  };
  before(async () => {
    // Negative answers uncached too, so every lookup reaches the server.
    rebind = await startDnsServer({ host: '127.0.0.1', port: 0, zones: first, negativeTtl: 0 });
  });
  after(async () => {
    await rebind.close();
  });

  it('each fresh answer is filtered: public first, loopback next → the loopback one never reaches SMTP', async () => {
    const prober = recordingProber();
    const verifier = createVerifier({ ...defaults(), dnsServers: [rebind.address], prober });
    try {
      const one = await verifier.verify('alice@rebind.test');
      assert.equal(one.reason, 'connection_failed');
      assert.deepEqual(prober.targets, [PUBLIC]);
      // The zone now answers loopback, IPv4-mapped loopback and metadata for the same name (TTL 0).
      for (const ips of [['127.0.0.1'], ['169.254.169.254'], ['10.0.0.1']]) {
        rebind.setZones({ ...first, 'mx.rebind.test': { A: ips, ttl: 0 } });
        const again = await verifier.verify('alice@rebind.test');
        assert.equal(again.reason, 'target_not_allowed', ips.join());
      }
      rebind.setZones({ ...first, 'mx.rebind.test': { AAAA: ['::ffff:127.0.0.1'], ttl: 0 } });
      assert.equal((await verifier.verify('alice@rebind.test')).reason, 'target_not_allowed');
      assert.deepEqual(prober.targets, [PUBLIC], 'only the public address ever reached the prober');
      const asked = rebind.log.filter((q) => q.name === 'mx.rebind.test' && q.type === 'A').length;
      assert.ok(asked >= 4, `the name was asked again each time (${asked} A queries)`);
      // One answer naming both: the public address is kept, ::1 dropped.
      rebind.setZones(first);
      await verifier.verify('bob@mixed.test');
      assert.deepEqual(prober.targets, [PUBLIC, PUBLIC]);
    } finally {
      await verifier.close();
    }
  });

  it('with the real prober, a name rebound to loopback after a first lookup is never connected to', async () => {
    const sockets = clientSockets;
    rebind.setZones({
      'rebind.test': { MX: [{ priority: 10, exchange: 'mx.rebind.test' }], ttl: 0 },
      'mx.rebind.test': { A: ['10.9.9.9'], ttl: 0 },
    });
    const verifier = createVerifier({ ...defaults(), dnsServers: [rebind.address] });
    try {
      assert.equal((await verifier.verify('a@rebind.test')).reason, 'target_not_allowed');
      rebind.setZones({
        'rebind.test': { MX: [{ priority: 10, exchange: 'mx.rebind.test' }], ttl: 0 },
        'mx.rebind.test': { A: ['127.0.0.1'], AAAA: ['::1'], ttl: 0 },
      });
      assert.equal((await verifier.verify('a@rebind.test')).reason, 'target_not_allowed');
    } finally {
      await verifier.close();
    }
    assertUntouched(sockets);
  });
});

describe('SSRF: control', () => {
  it('with allowPrivateTargets the same answers and literals do connect: the witnesses see it', async () => {
    const sockets = clientSockets;
    const verifier = createVerifier({
      ...defaults(),
      allowPrivateTargets: true,
      connectTimeoutMs: 500,
      greetingTimeoutMs: 500,
    });
    try {
      const viaMx = await verifier.verify('postmaster@mx-v4-127-9-0-1.test');
      const viaLiteral = await verifier.verify('user@[IPv6:::1]');
      // The listeners hang up at once: no verdict, but the attempt was made and seen.
      assert.notEqual(viaMx.reason, 'target_not_allowed');
      assert.notEqual(viaLiteral.reason, 'target_not_allowed');
    } finally {
      await verifier.close();
    }
    assert.equal(touched.length, 2, touched.join('; '));
    assert.ok(touched[0]?.startsWith('127.9.0.1'));
    assert.ok(touched[1]?.startsWith('::1'));
    assert.equal(clientSockets - sockets, 2);
    touched.length = 0;
  });
});
