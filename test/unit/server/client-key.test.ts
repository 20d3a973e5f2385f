/**
 * Whom `rcpt serve` counts a connection against (connection-limits.ts, `clientKey()`): an IPv4 address
 * as itself however it came, an IPv6 one by its /64. Before, every IPv6 address was a client of its
 * own, so one subscriber's /64 (2^64 addresses) passed the per-client cap as many clients.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { clientKey } from '../../../src/server/connection-limits.js';

describe('clientKey()', () => {
  it('counts the addresses of one IPv6 /64 as one client, and another /64 apart', () => {
    const one = [
      '2001:db8:1:2::1',
      '2001:db8:1:2::abcd',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:db8:1:2:1:2:3:4',
      '2001:db8:1:2:0:5efe:10.1.2.3',
    ].map(clientKey);
    assert.deepEqual(new Set(one), new Set(['2001:db8:1:2::/64']));
    assert.equal(clientKey('2001:db8:1:3::1'), '2001:db8:1:3::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('2001:db8:0:0:1::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
    assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(clientKey('2001:DB8:00a:0002::9'), '2001:db8:a:2::/64');
  });

  it('counts an IPv4 address as itself, written the same plain or IPv4-mapped', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.notEqual(clientKey('192.0.2.8'), clientKey('192.0.2.7'));
  });

  it('counts what it cannot read as itself', () => {
    assert.equal(clientKey(undefined), 'unknown');
    assert.equal(clientKey('1::2::3'), '1::2::3');
    assert.equal(clientKey('1:2:3'), '1:2:3');
    assert.equal(clientKey('zz::1'), 'zz::1');
  });
});
