/**
 * `StoredHostLimitsFacts` (src/jobs/host-limits.ts) over a real SQLite job store: what `load()` reads is
 * what `known()` answers, a namespace keeps its rows apart, `learned()` answers at once from memory and
 * is in the store after `flush()` (merged with what another run stored meanwhile), and a write that
 * fails is reported, not thrown into the run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { HostLimitsRecord } from '../../../src/index.js';
import { StoredHostLimitsFacts, openSqliteJobStore } from '../../../src/jobs/index.js';

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
    await facts.flush();
    assert.equal(errors.length, 1);
    assert.deepEqual(facts.known('192.0.2.1'), record('penalty', 5));
  });
});
