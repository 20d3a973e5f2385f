import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecordCache } from '../../../src/dns/record-cache.js';

describe('RecordCache', () => {
  it('keeps a value for its TTL in seconds, then forgets it', () => {
    let now = 1_000;
    const cache = new RecordCache<string>(10, 60_000, () => now);
    cache.remember('MX a.test', 'x', 30);
    now += 29_999;
    assert.equal(cache.get('MX a.test'), 'x');
    assert.equal(cache.hits, 1);
    now += 1;
    assert.equal(cache.get('MX a.test'), undefined);
    assert.equal(cache.size, 0, 'an expired entry is dropped when read');
    assert.equal(cache.hits, 1);
  });

  it('caps a TTL at maxTtlMs', () => {
    let now = 0;
    const cache = new RecordCache<string>(10, 5_000, () => now);
    cache.remember('A a.test', 'x', 86_400);
    now = 5_000;
    assert.equal(cache.get('A a.test'), undefined);
  });

  it('keeps nothing for TTL 0, a missing TTL (RFC 2308 §5), or maxTtlMs 0', () => {
    const cache = new RecordCache<string>(10, 60_000);
    cache.remember('A zero.test', 'x', 0);
    cache.remember('A none.test', 'x', null);
    assert.equal(cache.size, 0);
    const off = new RecordCache<string>(10, 0);
    off.remember('A a.test', 'x', 300);
    assert.equal(off.size, 0);
  });

  it('drops the oldest entry when full; a refreshed entry counts as new', () => {
    const cache = new RecordCache<string>(2, 60_000);
    cache.remember('a', '1', 60);
    cache.remember('b', '2', 60);
    cache.remember('a', '1 again', 60);
    cache.remember('c', '3', 60);
    assert.equal(cache.get('b'), undefined);
    assert.equal(cache.get('a'), '1 again');
    assert.equal(cache.get('c'), '3');
    cache.clear();
    assert.equal(cache.size, 0);
  });

  it('moves its generation when an entry leaves or is replaced, not when one is added', () => {
    let now = 0;
    const cache = new RecordCache<string>(2, 60_000, () => now);
    cache.remember('a', '1', 10);
    const added = cache.generation;
    cache.remember('b', '2', 60);
    assert.equal(cache.generation, added, 'a new entry moves nothing');
    assert.equal(cache.peekEntry('a')?.expiresAt, 10_000);
    assert.ok(cache.unchangedSince(added, 10_000));
    cache.remember('b', '2 again', 60);
    assert.notEqual(cache.generation, added, 'replaced');
    const replaced = cache.generation;
    cache.remember('c', '3', 60);
    assert.notEqual(cache.generation, replaced, 'the oldest evicted');
    const evicted = cache.generation;
    now = 60_000;
    assert.equal(cache.get('c'), undefined);
    assert.notEqual(cache.generation, evicted, 'expired when read');
    const expired = cache.generation;
    cache.clear();
    assert.notEqual(cache.generation, expired, 'cleared');
  });

  it('is unchanged since a generation only until the given expiry', () => {
    let now = 0;
    const cache = new RecordCache<string>(10, 60_000, () => now);
    cache.remember('a', '1', 30);
    const generation = cache.generation;
    const until = cache.peekEntry('a')?.expiresAt ?? 0;
    now = 29_999;
    assert.ok(cache.unchangedSince(generation, until));
    now = 30_000;
    assert.ok(!cache.unchangedSince(generation, until));
    assert.equal(cache.peek('a'), undefined, 'as peek() sees it');
    cache.countHits(3);
    assert.equal(cache.hits, 3);
  });
});
