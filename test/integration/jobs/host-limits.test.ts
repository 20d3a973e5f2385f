/**
 * `StoredHostLimitsFacts` (src/jobs/host-limits.ts) over a real SQLite job store: what `load()` reads is
 * what `known()` answers, a namespace keeps its rows apart, `learned()` answers at once from memory and
 * is in the store after `flush()` (merged with what another run stored meanwhile), and a write that
 * fails is reported, not thrown into the run. `loadAll()` (how `rcpt bulk` and `rcpt serve` start)
 * deletes the expired rows and loads the rest; `storedHostLimitsFor()` reports the first failed write.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { HostLimitsRecord } from '../../../src/index.js';
import {
  HOST_LIMITS_TTL_MS,
  StoredHostLimitsFacts,
  openSqliteJobStore,
  storedHostLimitsFor,
} from '../../../src/jobs/index.js';

const record = (
  budgetSource: HostLimitsRecord['budgetSource'],
  errorBudget: number | null,
  recipientLimit: number | null = null,
): HostLimitsRecord => ({ errorBudget, budgetSource, recipientLimit, sessionLimit: null, penalties: 0 });

describe('StoredHostLimitsFacts', () => {
  it('answers what the store knows, keeps namespaces apart, and writes what runs learn', async () => {
    const store = openSqliteJobStore(':memory:');
    try {
      await store.putHostLimits('192.0.2.1', record('penalty', 8));
      await store.putHostLimits('192.0.2.1 port 2525', record('none', null));
      await store.putHostLimits('socks|192.0.2.1', record('probed', 12));
      const plain = new StoredHostLimitsFacts(store);
      const other = new StoredHostLimitsFacts(store, { namespace: 'port 2525' });
      assert.equal(plain.known('192.0.2.1'), null, 'nothing before load()');
      await plain.load(['192.0.2.1']);
      await other.load(null);
      assert.deepEqual(plain.known('192.0.2.1'), record('penalty', 8));
      assert.deepEqual(plain.known('socks|192.0.2.1'), record('probed', 12));
      assert.deepEqual(other.known('192.0.2.1'), record('none', null));
      assert.equal(other.known('socks|192.0.2.1'), null);

      // Another run stores a recipient limit meanwhile; this one learns a smaller budget.
      await store.putHostLimits('192.0.2.1', record('penalty', 8, 40));
      plain.learned('192.0.2.1', record('penalty', 6));
      assert.deepEqual(plain.known('192.0.2.1'), record('penalty', 6), 'known at once, from memory');
      await plain.flush();
      const stored = await store.getHostLimits(['192.0.2.1']);
      assert.deepEqual(stored.find((row) => row.key === '192.0.2.1')?.record, record('penalty', 6, 40));
      assert.deepEqual(plain.known('192.0.2.1'), record('penalty', 6, 40), 'and what the store merged');
      other.learned('192.0.2.9', record('probed', 10));
      await other.flush();
      assert.deepEqual(
        (await store.getHostLimits(['192.0.2.9'])).map((row) => row.key),
        ['192.0.2.9 port 2525'],
      );
    } finally {
      await store.close();
    }
  });

  it('reports a write that fails and goes on from memory', async () => {
    const store = openSqliteJobStore(':memory:');
    const errors: unknown[] = [];
    const facts = new StoredHostLimitsFacts(store, { onError: (error) => errors.push(error) });
    await store.close();
    facts.learned('192.0.2.1', record('penalty', 5));
    // The scheduler reads it: an explorer's batch whose record could not be stored does not go out.
    assert.equal(await facts.flush(), false, 'flush() tells the write failed');
    assert.equal(errors.length, 1);
    assert.deepEqual(facts.known('192.0.2.1'), record('penalty', 5));
  });

  it('flush() tells whether the last record told was stored', async () => {
    const store = openSqliteJobStore(':memory:');
    const facts = new StoredHostLimitsFacts(store);
    assert.equal(await facts.flush(), true, 'nothing to write');
    facts.learned('192.0.2.1', record('probed', 10));
    assert.equal(await facts.flush(), true);
    await store.close();
    facts.learned('192.0.2.1', record('probed', 11));
    assert.equal(await facts.flush(), false);
  });

  it('loadAll() deletes the expired limits of every namespace and loads the rest of its own', async () => {
    const store = openSqliteJobStore(':memory:');
    try {
      const longAgo = Date.now() - HOST_LIMITS_TTL_MS - 60_000;
      await store.putHostLimits('192.0.2.1', record('penalty', 8), longAgo);
      await store.putHostLimits('192.0.2.2 port 2525', record('penalty', 3), longAgo);
      await store.putHostLimits('192.0.2.3', record('probed', 12));
      await store.putHostLimits('192.0.2.4 port 2525', record('none', null));
      const facts = new StoredHostLimitsFacts(store);
      await facts.loadAll();
      assert.deepEqual(facts.known('192.0.2.3'), record('probed', 12));
      assert.equal(facts.known('192.0.2.1'), null, 'expired');
      assert.equal(facts.known('192.0.2.4'), null, 'another namespace');
      // Read as of before they expired: only the live rows are left in the store.
      const kept = await store.getHostLimits(null, longAgo);
      assert.deepEqual(kept.map((row) => row.key).sort(), ['192.0.2.3', '192.0.2.4 port 2525']);
    } finally {
      await store.close();
    }
  });

  it('storedHostLimitsFor() keeps a port apart and reports the first failed write only', async () => {
    const store = openSqliteJobStore(':memory:');
    const errors: unknown[] = [];
    try {
      const facts = storedHostLimitsFor(store, { smtpPort: 2525 }, (error) => errors.push(error));
      facts.learned('192.0.2.1', record('penalty', 5));
      await facts.flush();
      assert.deepEqual(
        (await store.getHostLimits(['192.0.2.1'])).map((row) => row.key),
        ['192.0.2.1 port 2525'],
      );
    } finally {
      await store.close();
    }
    const facts = storedHostLimitsFor(store, {}, (error) => errors.push(error));
    facts.learned('192.0.2.1', record('penalty', 5));
    facts.learned('192.0.2.2', record('penalty', 4));
    await facts.flush();
    assert.equal(errors.length, 1);
  });
});
