/**
 * The politeness ceiling on RCPTs per minute (`hostRate`) through verifyMany(), counted where it
 * matters: at real SMTP servers on loopback (the sim-MTA), by the time each RCPT arrived. The window is
 * shortened through the `hostRateLimiter` port (a `HostRateWindow` of 1–6 s instead of 60 s) so that
 * the runs stay short; the property checked is the ceiling's own: no window of that length, anywhere in
 * the server's log, holds more RCPTs than the ceiling.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import {
  CHANNELS,
  createVerifier,
  HostRateWindow,
  type HostRateWait,
  type VerifyOptions,
  type VerifyResult,
} from '../../../src/index.js';
import { MAX_RATE_WAIT_IN_SESSION_MS } from '../../../src/scheduler/session-run.js';
import { busiestWindow } from '../../helpers/busiest-window.js';
import { verifyManyResults } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

/** Server-side arrival times of RCPTs, per server. */
const arrivals = new Map<string, number[]>();
let dns: DnsServer;
let port: number;
const servers: SimMta[] = [];
let base: VerifyOptions;

/** Mailboxes exist when their local part starts with "ok". */
function recipientAt(name: string) {
  return (address: string) => {
    arrivals.get(name)?.push(performance.now());
    return address.startsWith('ok')
      ? null
      : { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };
  };
}

const range = (prefix: string, count: number, domain: string): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i + 1}@${domain}`);

before(async () => {
  const start = async (name: string, host: string, banner?: string) => {
    arrivals.set(name, []);
    const server = await startSimMta({
      name,
      host,
      port: port ?? 0,
      recipient: recipientAt(name),
      ...(banner === undefined ? {} : { banner }),
    });
    port = server.port;
    servers.push(server);
    return server;
  };
  await start('one.test', '127.0.4.2');
  await start('two.test', '127.0.4.3');
  await start('slow.test', '127.0.4.4');
  await start('yahoo', '127.0.4.5', 'mta5.am0.yahoodns.net ESMTP ready');
  const mx = (exchange: string) => ({ MX: [{ priority: 10, exchange }] });
  dns = await startDnsServer({
    zones: {
      'one.test': mx('mx.one.test'),
      'mx.one.test': { A: ['127.0.4.2'] },
      // Two domains, one server address: one ceiling.
      'two.test': mx('mx.two.test'),
      'too.test': mx('mx.too.test'),
      'mx.two.test': { A: ['127.0.4.3'] },
      'mx.too.test': { A: ['127.0.4.3'] },
      'slow.test': mx('mx.slow.test'),
      'mx.slow.test': { A: ['127.0.4.4'] },
      'yahoo.test': mx('mta5.am0.yahoodns.net'),
      'mta5.am0.yahoodns.net': { A: ['127.0.4.5'] },
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
    timeoutMs: 20_000,
    connectTimeoutMs: 1_000,
  };
});

after(async () => {
  await Promise.all([dns.close(), ...servers.map((server) => server.close())]);
});

const bulk = (list: readonly string[], options: VerifyOptions, hostConcurrency = 2) =>
  verifyManyResults({ ...base, ...options }, list, { hostConcurrency });

describe('hostRate: the ceiling on RCPTs per minute at one MX host address', () => {
  it('never lets a server receive more RCPTs than the ceiling within any window, over sessions and domains', async () => {
    const windowMs = 1_000;
    const ceiling = 6;
    const list = [
      ...range('ok', 10, 'one.test').flatMap((ok, i) => [ok, `no${i + 1}@one.test`]),
      ...range('ok', 8, 'two.test'),
      ...range('ok', 8, 'too.test'),
    ];
    const results = await bulk(list, {
      hostRate: ceiling,
      hostRateLimiter: new HostRateWindow({ windowMs }),
    });
    assert.equal(results.size, list.length);
    for (const address of list) {
      const expected = address.startsWith('ok') ? 'deliverable' : 'undeliverable';
      assert.equal(results.get(address)?.verdict, expected, address);
    }
    for (const name of ['one.test', 'two.test']) {
      const times = arrivals.get(name) ?? [];
      // Every address and each domain's catch-all probe: the ceiling had to hold the run back.
      assert.ok(times.length > 2 * ceiling, `${name}: ${times.length} RCPTs`);
      assert.ok(
        busiestWindow(times, windowMs) <= ceiling,
        `${name}: ${busiestWindow(times, windowMs)} RCPTs within ${windowMs} ms, ceiling ${ceiling}`,
      );
    }
  });

  it('closes a session rather than keep it idle through a long wait, and opens one when the window has room', async () => {
    const windowMs = MAX_RATE_WAIT_IN_SESSION_MS + 1_000;
    const ceiling = 3;
    const server = servers[2];
    assert.ok(server !== undefined);
    const before = server.stats.connections;
    const list = range('ok', 5, 'slow.test');
    const waits: HostRateWait[] = [];
    const onWait = (message: unknown) => waits.push(message as HostRateWait);
    subscribe(CHANNELS.hostRate, onWait);
    let results: Map<string, VerifyResult>;
    try {
      results = await bulk(
        list,
        { hostRate: ceiling, catchAll: false, hostRateLimiter: new HostRateWindow({ windowMs }) },
        1,
      );
    } finally {
      unsubscribe(CHANNELS.hostRate, onWait);
    }
    // The wait is published (the progress bar's ETA reads it): the window's length, give or take.
    const first = waits[0];
    assert.equal(first?.ip, '127.0.4.4');
    assert.equal(first?.perMinute, ceiling);
    assert.ok((first?.waitMs ?? 0) > MAX_RATE_WAIT_IN_SESSION_MS && (first?.waitMs ?? 0) <= windowMs);
    assert.deepEqual(
      [...results.values()].map((r) => r.verdict),
      list.map(() => 'deliverable'),
    );
    const times = arrivals.get('slow.test') ?? [];
    assert.equal(times.length, 5);
    assert.ok(busiestWindow(times, windowMs) <= ceiling);
    // Three RCPTs, then a wait longer than a session may idle: a second session for the other two.
    assert.equal(server.stats.connections - before, 2);
  });

  it("applies a provider's default ceiling when hostRate is not set, and none with hostRate 0", async () => {
    const windowMs = 1_000;
    const list = range('ok', 75, 'yahoo.test');
    const times = arrivals.get('yahoo') ?? [];
    const limited = await bulk(list, { catchAll: false, hostRateLimiter: new HostRateWindow({ windowMs }) });
    assert.equal(limited.size, list.length);
    // Yahoo's default (src/providers/provider-rules.ts): 60 RCPTs a window at one MX address.
    assert.equal(times.length, 75);
    assert.ok(busiestWindow(times, windowMs) <= 60, `${busiestWindow(times, windowMs)} within a window`);
    times.length = 0;
    await bulk(list, { catchAll: false, hostRate: 0, hostRateLimiter: new HostRateWindow({ windowMs }) });
    assert.equal(times.length, 75);
    assert.ok(busiestWindow(times, windowMs) > 60, 'without a ceiling the list goes out in one go');
  });

  it('holds verify() to the same window, and answers rate_limited when the wait outlasts the deadline', async () => {
    const windowMs = 1_000;
    const times = arrivals.get('two.test') ?? [];
    times.length = 0;
    const rate = new HostRateWindow({ windowMs });
    const verifier = createVerifier({ ...base, catchAll: false, hostRate: 2, hostRateLimiter: rate });
    try {
      const list = range('ok', 5, 'two.test');
      const results = await Promise.all(list.map((address) => verifier.verify(address)));
      assert.deepEqual(
        results.map((r) => r.verdict),
        list.map(() => 'deliverable'),
      );
      assert.equal(times.length, 5);
      assert.ok(busiestWindow(times, windowMs) <= 2, `${busiestWindow(times, windowMs)} within a window`);
    } finally {
      await verifier.close();
    }
    const minute = createVerifier({ ...base, catchAll: false, hostRate: 2, timeoutMs: 1_500 });
    try {
      const results = await Promise.all(range('ok', 3, 'too.test').map((address) => minute.verify(address)));
      const reasons = results.map((r) => r.reason).sort();
      assert.deepEqual(reasons, ['accepted', 'accepted', 'rate_limited']);
      const limited = results.find((r) => r.reason === 'rate_limited');
      assert.equal(limited?.verdict, 'unknown');
      assert.ok(limited?.retryAt !== null && Date.parse(limited?.retryAt ?? '') > Date.now());
    } finally {
      await minute.close();
    }
  });
});
