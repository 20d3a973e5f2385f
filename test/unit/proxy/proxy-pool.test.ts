/**
 * The pool's bookkeeping (which member an MX address goes through, who is out and for how long) with
 * a clock and a connect function of the test's own; the SOCKS5 exchange itself is tested against Dante
 * and a raw server in test/integration/proxy.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { ProxyError } from '../../../src/errors.js';
import { PROXY_MAX_RETRY_MS, ProxyPool } from '../../../src/proxy/proxy-pool.js';
import { parseProxyUrl, type ProxyEndpoint } from '../../../src/proxy/proxy-url.js';
import type { ConnectRequest } from '../../../src/types.js';

function endpoint(url: string): ProxyEndpoint {
  const parsed = parseProxyUrl(url);
  assert.ok(parsed.ok);
  return parsed.endpoint;
}

const A = endpoint('socks5://10.0.0.1:1080');
const B = endpoint('socks5://10.0.0.2:1080');
const C = endpoint('socks5://10.0.0.3:1080');

function request(ip: string): ConnectRequest {
  return { ip, port: 25, host: 'mx.test', localAddress: null, timeoutMs: 1_000 };
}

function world(down: Set<string>, kind: ProxyError['kind'] = 'unreachable') {
  let now = 1_000_000;
  const calls: string[] = [];
  const pool = new ProxyPool([A, B, C], {
    retryMs: 1_000,
    now: () => now,
    connect: (proxy) => {
      calls.push(proxy.name);
      if (down.has(proxy.name))
        return Promise.reject(new ProxyError(proxy.name, kind, `${proxy.name} is down`));
      return Promise.resolve({});
    },
  });
  return {
    pool,
    calls,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('ProxyPool', () => {
  it('sends each MX address through the same member, and spreads addresses over members', async () => {
    const { pool } = world(new Set());
    const members = new Set<string>();
    for (let i = 1; i <= 60; i += 1) {
      const ip = `192.0.2.${i}`;
      const first = (await pool.connect(request(ip))).proxy;
      assert.equal((await pool.connect(request(ip))).proxy, first, ip);
      assert.equal(pool.memberFor(ip), first);
      members.add(first);
    }
    assert.equal(members.size, 3);
  });

  it('takes a failing member out, goes on through the next at once, and tries it again later', async () => {
    const down = new Set<string>();
    const { pool, calls, advance } = world(down);
    const ip =
      [...Array(60).keys()].map((i) => `192.0.2.${i}`).find((x) => pool.memberFor(x) === A.name) ?? '';
    down.add(A.name);
    const connected = await pool.connect(request(ip));
    assert.notEqual(connected.proxy, A.name);
    assert.equal(calls[0], A.name);
    assert.deepEqual(
      pool.status().map((m) => m.up),
      [false, true, true],
    );
    calls.length = 0;
    await pool.connect(request(ip));
    assert.ok(!calls.includes(A.name), 'A stays out meanwhile');
    down.delete(A.name);
    advance(1_000);
    assert.equal((await pool.connect(request(ip))).proxy, A.name, 'A is back, and its addresses with it');
  });

  it('doubles the time out on each further failure, up to the cap', async () => {
    let now = 0;
    const pool = new ProxyPool([A], {
      retryMs: 1_000,
      now: () => now,
      connect: () => Promise.reject(new ProxyError(A.name, 'timeout', 'stalled')),
    });
    const waits: number[] = [];
    for (let i = 0; i < 12; i += 1) {
      await assert.rejects(pool.connect(request('192.0.2.1')), ProxyError);
      const downUntil = pool.status()[0]?.downUntil ?? now;
      waits.push(downUntil - now);
      now = downUntil;
    }
    assert.deepEqual(waits.slice(0, 4), [1_000, 2_000, 4_000, 8_000]);
    assert.equal(Math.max(...waits), PROXY_MAX_RETRY_MS);
    assert.equal(waits.at(-1), PROXY_MAX_RETRY_MS);
  });

  it('when every member is out, tries the one due back first rather than refusing untried', async () => {
    const down = new Set([A.name, B.name, C.name]);
    const { pool, calls } = world(down);
    await assert.rejects(pool.connect(request('192.0.2.1')), /is down/);
    assert.equal(calls.length, 3);
    calls.length = 0;
    down.clear();
    const connected = await pool.connect(request('192.0.2.1'));
    assert.equal(calls.length, 1);
    assert.equal(connected.proxy, calls[0]);
  });

  it('a refusal of one target (ruleset, 0x02) leaves the member in the pool', async () => {
    const { pool } = world(new Set([A.name, B.name, C.name]), 'refused');
    await assert.rejects(
      pool.connect(request('192.0.2.1')),
      (error: unknown) => error instanceof ProxyError && error.kind === 'refused',
    );
    assert.deepEqual(
      pool.status().map((m) => m.up),
      [true, true, true],
    );
  });
});
