/**
 * The route the resolver built last for a domain is answered again while every record set it came
 * from is still cached unchanged, and only then: a bulk run asks once per address.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { startDnsServer, type DnsServer, type DnsZones } from '../../../src/demo/dns-server.js';
import { createResolver, type Resolver } from '../../../src/dns/resolver.js';
import type { MailRoute } from '../../../src/types.js';

const zones = (sharedIp: string): DnsZones => ({
  'one.test': { MX: [{ priority: 10, exchange: 'mx.shared.test' }], ttl: 300 },
  'two.test': { MX: [{ priority: 10, exchange: 'mx.shared.test' }], ttl: 300 },
  // The shared exchange's address lives one second.
  'mx.shared.test': { A: [sharedIp], ttl: 1 },
  'equal.test': {
    MX: [
      { priority: 10, exchange: 'a.equal.test' },
      { priority: 10, exchange: 'b.equal.test' },
    ],
  },
  'a.equal.test': { A: ['127.0.0.21'] },
  'b.equal.test': { A: ['127.0.0.22'] },
});

const addresses = (route: MailRoute) =>
  route.kind === 'hosts' ? route.hosts.flatMap((h) => h.addresses) : [];

describe('resolveMail: the route built last per domain', () => {
  let server: DnsServer;
  let resolver: Resolver;
  before(async () => {
    server = await startDnsServer({ zones: zones('127.0.0.10') });
  });
  after(async () => {
    resolver.close();
    await server.close();
  });

  it('is answered again, counted as the cache hits it stands for, asking the server nothing', async () => {
    resolver = createResolver({
      servers: [server.address],
      timeoutMs: 1000,
      tries: 1,
      maxCacheTtlMs: 60_000,
    });
    assert.equal(resolver.remembered('one.test'), null, 'nothing remembered before it was asked');
    const first = await resolver.resolveMail('one.test');
    const queries = server.queries;
    const hits = resolver.stats.cacheHits;
    const second = await resolver.resolveMail('one.test');
    assert.equal(second, first);
    assert.equal(server.queries, queries);
    assert.equal(resolver.stats.cacheHits, hits + 3, 'MX, A and AAAA, as a rebuild from the cache counts');
    // The same answer without a promise, counted alike.
    assert.equal(resolver.remembered('one.test'), first);
    assert.equal(resolver.stats.cacheHits, hits + 6);
  });

  it('is built again once a record set it came from changed, even when another domain refreshed it', async () => {
    const before = await resolver.resolveMail('one.test');
    assert.deepEqual(addresses(before), ['127.0.0.10']);
    server.setZones(zones('127.0.0.11'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    // two.test fetches the shared exchange's new address into the cache first.
    assert.deepEqual(addresses(await resolver.resolveMail('two.test')), ['127.0.0.11']);
    assert.equal(resolver.remembered('one.test'), null, 'a changed set is not answered at once');
    const after = await resolver.resolveMail('one.test');
    assert.notEqual(after, before);
    assert.deepEqual(addresses(after), ['127.0.0.11']);
  });

  it('is never kept when MX records share a preference: their order is shuffled on every call', async () => {
    const first = await resolver.resolveMail('equal.test');
    const second = await resolver.resolveMail('equal.test');
    assert.notEqual(second, first);
    assert.deepEqual(addresses(second).sort(), ['127.0.0.21', '127.0.0.22']);
    assert.equal(resolver.remembered('equal.test'), null);
  });

  it('answers nothing at once after close(), where resolveMail() rejects', async () => {
    const closing = createResolver({
      servers: [server.address],
      timeoutMs: 1000,
      tries: 1,
      maxCacheTtlMs: 60_000,
    });
    await closing.resolveMail('one.test');
    assert.notEqual(closing.remembered('one.test'), null);
    closing.close();
    assert.equal(closing.remembered('one.test'), null);
    await assert.rejects(closing.resolveMail('one.test'), { code: 'ERR_RCPT_CLOSED' });
  });
});
