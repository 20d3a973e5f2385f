import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { spawn } from 'node:child_process';
import { startDnsServer, type DnsServer, type DnsZones } from '../../../src/demo/dns-server.js';
import { createResolver, type Resolver, type ResolverOptions } from '../../../src/dns/resolver.js';
import { DnsError, OptionsError, isVerifyError } from '../../../src/errors.js';
import type { MailRoute } from '../../../src/types.js';
import { seeded } from '../../helpers/seeded.js';

const ZONES: DnsZones = {
  // Several preferences, listed out of order; mx1 is dual-stack.
  'multi.test': {
    MX: [
      { priority: 30, exchange: 'mx3.multi.test' },
      { priority: 10, exchange: 'mx1.multi.test' },
      { priority: 20, exchange: 'MX2.Multi.Test.' },
    ],
  },
  'mx1.multi.test': { AAAA: ['::1'], A: ['127.0.0.11', '127.0.0.12'] },
  'mx2.multi.test': { A: ['127.0.0.13'] },
  'mx3.multi.test': { AAAA: ['::1'] },
  // Two exchanges share preference 10: their order must vary.
  'equal.test': {
    MX: [
      { priority: 20, exchange: 'backup.equal.test' },
      { priority: 10, exchange: 'a.equal.test' },
      { priority: 10, exchange: 'b.equal.test' },
      { priority: 5, exchange: 'first.equal.test' },
    ],
  },
  'a.equal.test': { A: ['127.0.0.21'] },
  'b.equal.test': { A: ['127.0.0.22'] },
  'first.equal.test': { A: ['127.0.0.20'] },
  'backup.equal.test': { A: ['127.0.0.23'] },
  'nullmx.test': { MX: [{ priority: 0, exchange: '.' }], A: ['127.0.0.30'] },
  'mixed-null.test': {
    MX: [
      { priority: 0, exchange: '.' },
      { priority: 10, exchange: 'mx.mixed-null.test' },
    ],
  },
  'mx.mixed-null.test': { A: ['127.0.0.31'] },
  'a-only.test': { A: ['127.0.0.40'], TXT: ['v=spf1 -all'] },
  'aaaa-only.test': { AAAA: ['::1'] },
  'txt-only.test': { TXT: ['no mail here'] },
  'servfail.test': { behaviour: 'servfail', MX: [{ priority: 10, exchange: 'mx.servfail.test' }] },
  'refused.test': { behaviour: 'refused' },
  'forced-nx.test': { behaviour: 'nxdomain', A: ['127.0.0.1'] },
  'silent.test': { behaviour: 'silent' },
  'truncated.test': { behaviour: 'truncate', MX: [{ priority: 10, exchange: 'mx.truncated.test' }] },
  'mx.truncated.test': { A: ['127.0.0.50'] },
  'cname-mx.test': { MX: [{ priority: 10, exchange: 'alias.cname-mx.test' }] },
  'alias.cname-mx.test': { CNAME: 'alias2.cname-mx.test' },
  'alias2.cname-mx.test': { CNAME: 'real.cname-mx.test' },
  'real.cname-mx.test': { A: ['127.0.0.60'], AAAA: ['::1'] },
  'cname-domain.test': { CNAME: 'target.cname-domain.test' },
  'target.cname-domain.test': { A: ['127.0.0.61'] },
  'partial.test': {
    MX: [
      { priority: 10, exchange: 'gone.partial.test' },
      { priority: 20, exchange: 'mx.partial.test' },
    ],
  },
  'mx.partial.test': { A: ['127.0.0.70'] },
  'dead.test': {
    MX: [
      { priority: 10, exchange: 'gone1.dead.test' },
      { priority: 20, exchange: 'gone2.dead.test' },
    ],
  },
  'flaky.test': {
    MX: [
      { priority: 10, exchange: 'gone.flaky.test' },
      { priority: 20, exchange: 'broken.flaky.test' },
    ],
  },
  'broken.flaky.test': { behaviour: 'servfail' },
  'ip-mx.test': {
    MX: [
      { priority: 10, exchange: '127.0.0.80' },
      { priority: 20, exchange: 'mx.ip-mx.test' },
    ],
  },
  'mx.ip-mx.test': { A: ['127.0.0.81'] },
  'short.test': { MX: [{ priority: 10, exchange: 'mx.short.test' }], ttl: 1 },
  'mx.short.test': { A: ['127.0.0.90'], AAAA: ['::1'], ttl: 1 },
  'long.test': { MX: [{ priority: 10, exchange: 'mx.long.test' }], ttl: 3600 },
  'mx.long.test': { A: ['127.0.0.91'], AAAA: ['::1'], ttl: 3600 },
  'slow.test': { MX: [{ priority: 10, exchange: 'mx.slow.test' }] },
  'turn.test': { MX: [{ priority: 10, exchange: 'mx.turn.test' }] },
  'mx.slow.test': { A: ['127.0.0.92'], AAAA: ['::1'] },
  'spoofed.test': { behaviour: 'spoofed', MX: [{ priority: 10, exchange: 'mx.spoofed.test' }] },
  'mx.spoofed.test': { A: ['127.0.0.93'] },
  'malformed.test': { behaviour: 'malformed' },
  'loop.test': { CNAME: 'loop2.test' },
  'loop2.test': { CNAME: 'loop.test' },
  // More MX records than fit in 1232 bytes: the server truncates on its own, and only the first
  // ten exchanges are resolved.
  'big.test': {
    MX: Array.from({ length: 40 }, (_, i) => ({
      priority: i,
      exchange: `a-rather-long-mail-exchanger-name-${String(i).padStart(2, '0')}.big.test`,
    })),
  },
  ...Object.fromEntries(
    Array.from({ length: 40 }, (_, i) => [
      `a-rather-long-mail-exchanger-name-${String(i).padStart(2, '0')}.big.test`,
      { A: [`127.0.1.${i}`] },
    ]),
  ),
};

/** Milliseconds of delay the server adds for names under slow.test. */
const SLOW_MS = 150;

let server: DnsServer;
const resolvers: Resolver[] = [];
const sockets: UdpSocket[] = [];

function resolverFor(overrides: Partial<ResolverOptions> = {}): Resolver {
  const resolver = createResolver({
    servers: [server.address],
    timeoutMs: 1000,
    tries: 2,
    maxCacheTtlMs: 3_600_000,
    ...overrides,
  });
  resolvers.push(resolver);
  return resolver;
}

function queriesFor(name: string, type?: string): number {
  return server.log.filter(
    (entry) => entry.name.toLowerCase() === name && (type === undefined || entry.type === type),
  ).length;
}

function hostsOf(route: MailRoute): Extract<MailRoute, { kind: 'hosts' }> {
  if (route.kind !== 'hosts') assert.fail(`expected hosts, got ${JSON.stringify(route)}`);
  return route;
}

function errorOf(route: MailRoute): Extract<MailRoute, { kind: 'error' }> {
  if (route.kind !== 'error') assert.fail(`expected an error, got ${JSON.stringify(route)}`);
  return route;
}

/** A UDP socket that swallows everything: a dead name server. */
/** A DNS server that reads every query and answers none; `queries()` counts what it was sent. */
async function blackHole(): Promise<{ readonly address: string; queries(): number }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  let queries = 0;
  socket.on('message', () => {
    queries += 1;
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${socket.address().port}`, queries: () => queries };
}

before(async () => {
  server = await startDnsServer({
    zones: ZONES,
    negativeTtl: 1,
    delayMs: (question) => (question.name.toLowerCase().endsWith('slow.test') ? SLOW_MS : 0),
  });
});

after(async () => {
  for (const resolver of resolvers) resolver.close();
  for (const socket of sockets) socket.close();
  await server.close();
});

describe('resolveMail: answers', () => {
  it('orders MX hosts by preference, IPv4 addresses before IPv6', async () => {
    const route = hostsOf(await resolverFor().resolveMail('multi.test'));
    assert.equal(route.implicitMx, false);
    assert.deepEqual(route.mx, [
      { exchange: 'mx1.multi.test', priority: 10 },
      { exchange: 'mx2.multi.test', priority: 20 },
      { exchange: 'mx3.multi.test', priority: 30 },
    ]);
    assert.deepEqual(route.hosts, [
      { exchange: 'mx1.multi.test', priority: 10, addresses: ['127.0.0.11', '127.0.0.12', '::1'] },
      { exchange: 'mx2.multi.test', priority: 20, addresses: ['127.0.0.13'] },
      { exchange: 'mx3.multi.test', priority: 30, addresses: ['::1'] },
    ]);
  });

  it('is case-insensitive and ignores a trailing dot in the domain', async () => {
    const route = hostsOf(await resolverFor().resolveMail('MULTI.Test.'));
    assert.equal(route.hosts[0]?.exchange, 'mx1.multi.test');
  });

  it('shuffles equal preferences with the injected random source, never across preferences', async () => {
    const low = hostsOf(await resolverFor({ random: () => 0 }).resolveMail('equal.test'));
    const high = hostsOf(await resolverFor({ random: () => 0.999 }).resolveMail('equal.test'));
    const names = (route: typeof low) => route.hosts.map((host) => host.exchange.split('.')[0]);
    assert.deepEqual(names(low), ['first', 'b', 'a', 'backup']);
    assert.deepEqual(names(high), ['first', 'a', 'b', 'backup']);

    const resolver = resolverFor({ random: seeded(42) });
    const orders = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      const route = hostsOf(await resolver.resolveMail('equal.test'));
      const order = names(route).join(',');
      orders.set(order, (orders.get(order) ?? 0) + 1);
      assert.deepEqual(
        route.mx.map((record) => record.priority),
        [5, 10, 10, 20],
      );
    }
    assert.deepEqual([...orders.keys()].sort(), ['first,a,b,backup', 'first,b,a,backup']);
    // 40 fair coin flips: each order at least 10 times unless the shuffle is biased.
    for (const count of orders.values()) assert.ok(count >= 10, JSON.stringify([...orders]));
  });

  it('reports a null MX and looks nothing else up', async () => {
    const before = server.queries;
    assert.deepEqual(await resolverFor().resolveMail('nullmx.test'), { kind: 'null_mx' });
    assert.equal(server.queries - before, 1);
  });

  it('uses the other MX records when a null MX is mixed with them (RFC 7505 §3 forbids the mix)', async () => {
    const route = hostsOf(await resolverFor().resolveMail('mixed-null.test'));
    assert.deepEqual(route.hosts, [
      { exchange: '.', priority: 0, addresses: [] },
      { exchange: 'mx.mixed-null.test', priority: 10, addresses: ['127.0.0.31'] },
    ]);
  });

  it('falls back to the A record as implicit MX (RFC 5321 §5.1)', async () => {
    assert.deepEqual(await resolverFor().resolveMail('a-only.test'), {
      kind: 'hosts',
      mx: [{ exchange: 'a-only.test', priority: 0 }],
      implicitMx: true,
      hosts: [{ exchange: 'a-only.test', priority: 0, addresses: ['127.0.0.40'] }],
    });
  });

  it('falls back to an AAAA-only domain', async () => {
    const route = hostsOf(await resolverFor().resolveMail('aaaa-only.test'));
    assert.equal(route.implicitMx, true);
    assert.deepEqual(route.hosts, [{ exchange: 'aaaa-only.test', priority: 0, addresses: ['::1'] }]);
  });

  it('follows a CNAME at the domain itself for the implicit MX', async () => {
    const route = hostsOf(await resolverFor().resolveMail('cname-domain.test'));
    assert.deepEqual(route.hosts, [
      { exchange: 'cname-domain.test', priority: 0, addresses: ['127.0.0.61'] },
    ]);
  });

  it('says no_mail_server when there is neither MX nor A/AAAA', async () => {
    assert.deepEqual(await resolverFor().resolveMail('txt-only.test'), { kind: 'no_mail_server', mx: [] });
  });

  it('says nxdomain for a name that does not exist', async () => {
    assert.deepEqual(await resolverFor().resolveMail('nowhere.test'), { kind: 'nxdomain' });
    assert.deepEqual(await resolverFor().resolveMail('forced-nx.test'), { kind: 'nxdomain' });
  });

  it('follows CNAME chains to an MX host’s addresses', async () => {
    const route = hostsOf(await resolverFor().resolveMail('cname-mx.test'));
    assert.deepEqual(route.hosts, [
      { exchange: 'alias.cname-mx.test', priority: 10, addresses: ['127.0.0.60', '::1'] },
    ]);
  });

  it('keeps an MX host that does not resolve, with no addresses, next to hosts that do', async () => {
    const route = hostsOf(await resolverFor().resolveMail('partial.test'));
    assert.deepEqual(route.hosts, [
      { exchange: 'gone.partial.test', priority: 10, addresses: [] },
      { exchange: 'mx.partial.test', priority: 20, addresses: ['127.0.0.70'] },
    ]);
  });

  it('says no_mail_server when no MX host resolves and none failed temporarily', async () => {
    assert.deepEqual(await resolverFor().resolveMail('dead.test'), {
      kind: 'no_mail_server',
      mx: [
        { exchange: 'gone1.dead.test', priority: 10 },
        { exchange: 'gone2.dead.test', priority: 20 },
      ],
    });
  });

  it('says error, not no_mail_server, when an MX host lookup failed temporarily', async () => {
    const route = await resolverFor().resolveMail('flaky.test');
    assert.equal(errorOf(route).error, 'SERVFAIL');
  });

  it('does not look up an MX exchange that is an IP literal (RFC 5321 §5.1; Exim allow_mx_to_ip)', async () => {
    const route = hostsOf(await resolverFor().resolveMail('ip-mx.test'));
    assert.deepEqual(route.hosts[0], { exchange: '127.0.0.80', priority: 10, addresses: [] });
    assert.deepEqual(route.hosts[1]?.addresses, ['127.0.0.81']);
    assert.equal(queriesFor('127.0.0.80'), 0);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const before = queriesFor('truncated.test');
    const resolver = resolverFor();
    const route = hostsOf(await resolver.resolveMail('truncated.test'));
    assert.deepEqual(route.hosts[0]?.addresses, ['127.0.0.50']);
    const log = server.log.filter((entry) => entry.name === 'truncated.test').slice(before);
    assert.deepEqual(
      log.map((entry) => entry.transport),
      ['udp', 'tcp'],
    );
    assert.equal(resolver.stats.tcpQueries, 1);
  });

  it('gets an answer too large for UDP over TCP, and resolves at most 10 exchanges', async () => {
    const route = hostsOf(await resolverFor().resolveMail('big.test'));
    assert.equal(route.mx.length, 40);
    assert.equal(route.hosts.length, 10);
    assert.deepEqual(route.hosts[9]?.addresses, ['127.0.1.9']);
    assert.deepEqual(
      server.log.filter((entry) => entry.name === 'big.test').map((entry) => entry.transport),
      ['udp', 'tcp'],
    );
    assert.equal(queriesFor('a-rather-long-mail-exchanger-name-10.big.test'), 0);
  });

  it('ignores an answer with the wrong ID and takes the real one (RFC 5452 §9.1)', async () => {
    const route = hostsOf(await resolverFor().resolveMail('spoofed.test'));
    assert.deepEqual(route.mx, [{ exchange: 'mx.spoofed.test', priority: 10 }]);
  });
});

describe('resolveMail: failures are errors, never nxdomain', () => {
  it('reports SERVFAIL', async () => {
    const route = errorOf(await resolverFor().resolveMail('servfail.test'));
    assert.equal(route.error, 'SERVFAIL');
    assert.match(route.message, /SERVFAIL/);
  });

  it('reports REFUSED', async () => {
    const route = await resolverFor().resolveMail('refused.test');
    assert.equal(errorOf(route).error, 'REFUSED');
  });

  it('reports TIMEOUT after timeoutMs × tries of silence', async () => {
    const before = queriesFor('silent.test');
    const started = performance.now();
    const route = await resolverFor({ timeoutMs: 100, tries: 3 }).resolveMail('silent.test');
    const elapsed = performance.now() - started;
    assert.equal(errorOf(route).error, 'TIMEOUT');
    assert.equal(queriesFor('silent.test') - before, 3);
    assert.ok(elapsed >= 290 && elapsed < 1000, `took ${elapsed} ms`);
  });

  it('reports BAD_RESPONSE for an answer that cannot be decoded', async () => {
    const route = await resolverFor().resolveMail('malformed.test');
    assert.equal(errorOf(route).error, 'BAD_RESPONSE');
  });

  it('reports a CNAME loop as the server’s SERVFAIL (as BIND answers it)', async () => {
    const route = await resolverFor().resolveMail('loop.test');
    assert.equal(errorOf(route).error, 'SERVFAIL');
  });

  it('reports NETWORK when nothing listens on the server port', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const address = probe.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await new Promise<void>((resolve) => {
      probe.close(() => {
        resolve();
      });
    });
    const started = performance.now();
    const route = await resolverFor({ servers: [`127.0.0.1:${port}`], timeoutMs: 2000 }).resolveMail(
      'multi.test',
    );
    assert.equal(errorOf(route).error, 'NETWORK');
    assert.ok(performance.now() - started < 1000, 'ICMP port unreachable is reported, not waited out');
  });

  it('moves on from a silent first server to the second, and starts with the second next time', async () => {
    const dead = await blackHole();
    const resolver = resolverFor({ servers: [dead.address, server.address], timeoutMs: 150, tries: 1 });
    const started = performance.now();
    const first = await resolver.resolveMail('multi.test');
    assert.equal(first.kind, 'hosts');
    assert.ok(performance.now() - started >= 140, 'the dead server cost one timeout');
    assert.equal(resolver.stats.timeouts, 1);
    const deadQueries = dead.queries();
    assert.ok(deadQueries >= 1, 'the dead server was asked first');
    // Asked of the answering server alone: no query to the dead one, no timeout. Counted, not timed:
    // on a loaded machine our process alone stalls 100–370 ms at times, longer than a loopback
    // answer was allowed to take.
    assert.equal((await resolver.resolveMail('a-only.test')).kind, 'hosts');
    assert.equal(dead.queries(), deadQueries, 'the answering server is asked first');
    assert.equal(resolver.stats.timeouts, 1);
  });
});

describe('resolveMail: queries in flight', () => {
  it('keeps at most maxInFlight queries outstanding at the server, and answers every lookup', async () => {
    const zones: DnsZones = Object.fromEntries(
      Array.from({ length: 200 }, (_, i) => [`n${i}.test`, { MX: [{ priority: 0, exchange: '.' }] }]),
    );
    let outstanding = 0;
    let peak = 0;
    const busy = await startDnsServer({
      zones,
      // Counted as outstanding until just before the answer leaves (timers of one delay fire in order).
      delayMs: () => {
        outstanding += 1;
        peak = Math.max(peak, outstanding);
        setTimeout(() => {
          outstanding -= 1;
        }, 20);
        return 20;
      },
    });
    try {
      const resolver = resolverFor({ servers: [busy.address], maxInFlight: 16 });
      const routes = await Promise.all(Object.keys(zones).map((domain) => resolver.resolveMail(domain)));
      assert.deepEqual(new Set(routes.map((route) => route.kind)), new Set(['null_mx']));
      assert.equal(busy.queries, 200);
      assert.ok(peak <= 16, `peak ${peak} queries outstanding`);
      assert.ok(peak >= 8, `peak ${peak}: the lookups ran side by side`);
    } finally {
      await busy.close();
    }
  });

  it('gives up a lookup waiting for its turn when its signal aborts', async () => {
    const resolver = resolverFor({ maxInFlight: 1 });
    // Holds the only slot for SLOW_MS: a name under slow.test that does not exist.
    const slow = resolver.resolveMail('first-in-line.slow.test');
    const controller = new AbortController();
    const waiting = resolver.resolveMail('turn.test', controller.signal);
    controller.abort(new Error('deadline'));
    const route = await waiting;
    assert.equal((await slow).kind, 'nxdomain');
    assert.equal(errorOf(route).error, 'TIMEOUT');
    assert.equal(queriesFor('turn.test'), 0, 'the waiting query was never sent');
  });

  it('rejects a maxInFlight that is not a positive integer', () => {
    assert.throws(() => resolverFor({ maxInFlight: 0 }), OptionsError);
  });
});

describe('resolveMail: cache and sharing', () => {
  it('answers from the cache within the TTL and asks again after it (1 s TTL)', async () => {
    const resolver = resolverFor();
    const before = server.queries;
    hostsOf(await resolver.resolveMail('short.test'));
    const perLookup = server.queries - before;
    assert.equal(perLookup, 3); // MX, A, AAAA
    hostsOf(await resolver.resolveMail('short.test'));
    assert.equal(server.queries - before, perLookup, 'second lookup from cache');
    assert.equal(resolver.stats.cacheHits, 3);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    hostsOf(await resolver.resolveMail('short.test'));
    assert.equal(server.queries - before, 2 * perLookup, 'the TTL expired');
  });

  it('caps a long TTL at maxCacheTtlMs', async () => {
    const resolver = resolverFor({ maxCacheTtlMs: 200 });
    const before = server.queries;
    await resolver.resolveMail('long.test');
    await resolver.resolveMail('long.test');
    assert.equal(server.queries - before, 3);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await resolver.resolveMail('long.test');
    assert.equal(server.queries - before, 6);
  });

  it('caches NXDOMAIN for the SOA minimum (RFC 2308), here 1 s', async () => {
    const resolver = resolverFor();
    const before = queriesFor('neg.test');
    await resolver.resolveMail('neg.test');
    await resolver.resolveMail('neg.test');
    assert.equal(queriesFor('neg.test') - before, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await resolver.resolveMail('neg.test');
    assert.equal(queriesFor('neg.test') - before, 2);
  });

  it('does not cache temporary failures', async () => {
    const resolver = resolverFor({ tries: 1 });
    const before = queriesFor('servfail.test');
    await resolver.resolveMail('servfail.test');
    await resolver.resolveMail('servfail.test');
    assert.equal(queriesFor('servfail.test') - before, 2);
  });

  it('shares one query between concurrent lookups of the same domain', async () => {
    const resolver = resolverFor();
    const before = queriesFor('slow.test');
    const routes = await Promise.all(Array.from({ length: 10 }, () => resolver.resolveMail('slow.test')));
    for (const route of routes) assert.deepEqual(hostsOf(route).hosts[0]?.addresses, ['127.0.0.92', '::1']);
    assert.equal(queriesFor('slow.test') - before, 1);
    assert.equal(queriesFor('mx.slow.test', 'A'), 1);
    assert.equal(resolver.stats.sharedLookups, 9 * 3);
  });
});

describe('resolveMail: signal, close and misuse', () => {
  it('answers TIMEOUT promptly when the signal aborts (the verifier’s deadline)', async () => {
    const resolver = resolverFor();
    const started = performance.now();
    const route = errorOf(await resolver.resolveMail('sig1.slow.test', AbortSignal.timeout(30)));
    assert.equal(route.error, 'TIMEOUT');
    assert.match(route.message, /aborted \(TimeoutError/);
    assert.ok(performance.now() - started < SLOW_MS, 'did not wait for the answer');
    const controller = new AbortController();
    controller.abort();
    assert.equal(errorOf(await resolver.resolveMail('multi.test', controller.signal)).error, 'TIMEOUT');
  });

  it('lets one caller give up without failing another waiting for the same query', async () => {
    const resolver = resolverFor();
    const controller = new AbortController();
    const quitter = resolver.resolveMail('sig2.slow.test', controller.signal);
    const stayer = resolver.resolveMail('sig2.slow.test');
    setTimeout(() => {
      controller.abort();
    }, 20);
    assert.equal(errorOf(await quitter).error, 'TIMEOUT');
    // sig2.slow.test does not exist: NXDOMAIN, delivered to the caller that stayed.
    assert.deepEqual(await stayer, { kind: 'nxdomain' });
  });

  it('stops the shared query when every caller has given up', async () => {
    const resolver = resolverFor();
    const before = queriesFor('sig3.slow.test');
    const controller = new AbortController();
    const route = resolver.resolveMail('sig3.slow.test', controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    assert.equal(errorOf(await route).error, 'TIMEOUT');
    // Asked again at once: the aborted query is not joined, a new one is sent.
    assert.deepEqual(await resolver.resolveMail('sig3.slow.test'), { kind: 'nxdomain' });
    assert.equal(queriesFor('sig3.slow.test') - before, 2);
    assert.equal(resolver.stats.sharedLookups, 0);
  });

  it('rejects lookups in flight and later calls after close()', async () => {
    const resolver = createResolver({
      servers: [server.address],
      timeoutMs: 1000,
      tries: 1,
      maxCacheTtlMs: 1000,
    });
    const pending = resolver.resolveMail('close.slow.test');
    resolver.close();
    await assert.rejects(
      pending,
      (error: unknown) => isVerifyError(error) && error.code === 'ERR_RCPT_CLOSED',
    );
    await assert.rejects(
      resolver.resolveMail('multi.test'),
      (error: unknown) => isVerifyError(error) && error.code === 'ERR_RCPT_CLOSED',
    );
  });

  it('rejects a domain that is not an ASCII host name', async () => {
    const resolver = resolverFor();
    for (const bad of [
      '',
      'exa mple.com',
      'bücher.de',
      '-lead.test',
      `${'a'.repeat(64)}.test`,
      '[127.0.0.1]',
    ]) {
      await assert.rejects(resolver.resolveMail(bad), (error: unknown) => error instanceof DnsError, bad);
    }
  });

  it('validates its options once, naming the option', () => {
    for (const [option, overrides] of [
      ['dnsServers', { servers: ['dns.example'] }],
      ['dnsServers', { servers: ['127.0.0.1:99999'] }],
      ['dnsServers', { servers: ['[not-v6]:53'] }],
      ['dnsTimeoutMs', { timeoutMs: 0 }],
      ['dnsTries', { tries: 1.5 }],
    ] as const) {
      const base: ResolverOptions = { servers: null, timeoutMs: 100, tries: 1, maxCacheTtlMs: 0 };
      const options: ResolverOptions = { ...base, ...(overrides as Partial<ResolverOptions>) };
      assert.throws(
        () => createResolver(options),
        (error: unknown) => error instanceof OptionsError && error.option === option,
      );
    }
  });

  it('leaves nothing open: a process that resolves and never calls close() exits', async () => {
    const script = [
      `import { createResolver } from ${JSON.stringify(new URL('../../../src/dns/resolver.ts', import.meta.url).href)};`,
      `const resolver = createResolver({ servers: [${JSON.stringify(server.address)}], timeoutMs: 2000, tries: 1, maxCacheTtlMs: 60000 });`,
      `const routes = await Promise.all(['multi.test', 'silent.test', 'truncated.test'].map((d) => resolver.resolveMail(d)));`,
      `console.log(routes.map((r) => r.kind).join(','));`,
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    try {
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, output);
      assert.equal(output.trim(), 'hosts,error,hosts');
    } finally {
      clearTimeout(killer);
    }
  });
});
