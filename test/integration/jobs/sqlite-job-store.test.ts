/**
 * The SQLite job store on a real file: the `JobStore` contract (test/helpers/job-store-contract.ts, the
 * same suite the PostgreSQL store runs), and what only a SQLite file has: WAL mode, its schema version,
 * and a refusal to open a file written by a newer rcpt.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { openSqliteJobStore } from '../../../src/jobs/index.js';
import { describeJobStoreContract } from '../../helpers/job-store-contract.js';

describeJobStoreContract('openSqliteJobStore', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rcpt-store-'));
  const path = join(dir, 'jobs.db');
  const store = openSqliteJobStore(path);
  return {
    store,
    openAnother: () => Promise.resolve(openSqliteJobStore(path)),
    countRows: (table, jobId) => {
      // A connection of its own, as another process would read the file.
      const db = new Database(path, { readonly: true });
      try {
        const row = db
          .prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ${table} WHERE job_id = ?`)
          .get(jobId);
        return Promise.resolve(row?.n ?? -1);
      } finally {
        db.close();
      }
    },
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('openSqliteJobStore on a file', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rcpt-store-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('uses WAL mode and records its schema version', async () => {
    const path = join(dir, 'wal.db');
    const store = openSqliteJobStore(path);
    try {
      const db = new Database(path, { readonly: true });
      try {
        assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
        assert.equal(db.pragma('user_version', { simple: true }), 3);
      } finally {
        db.close();
      }
    } finally {
      await store.close();
    }
  });

  it('upgrades a file of schema 1 (before job numbers and webhook deliveries), keeping its jobs', async () => {
    const path = join(dir, 'version1.db');
    const before = openSqliteJobStore(path);
    const job = await before.createJob({ options: { kept: true } });
    await before.close();
    const db = new Database(path);
    try {
      db.exec('DROP TABLE job_numbers; DROP TABLE webhook_deliveries; PRAGMA user_version = 1');
    } finally {
      db.close();
    }
    const upgraded = openSqliteJobStore(path);
    try {
      assert.deepEqual((await upgraded.getJob(job.id))?.options, { kept: true });
      assert.equal(await upgraded.jobIdOfNumber(await upgraded.numberJob(job.id)), job.id);
      assert.deepEqual(await upgraded.claimWebhookDeliveries(Date.now(), 1_000, 10), []);
    } finally {
      await upgraded.close();
    }
  });

  it('upgrades a file of schema 2 (before learned host limits), keeping its jobs', async () => {
    const path = join(dir, 'version2.db');
    const before = openSqliteJobStore(path);
    const job = await before.createJob({ options: { kept: true } });
    await before.close();
    const db = new Database(path);
    try {
      db.exec('DROP TABLE host_limits; PRAGMA user_version = 2');
    } finally {
      db.close();
    }
    const upgraded = openSqliteJobStore(path);
    try {
      assert.deepEqual((await upgraded.getJob(job.id))?.options, { kept: true });
      const record = {
        errorBudget: 11,
        budgetSource: 'penalty',
        recipientLimit: null,
        sessionLimit: null,
        penalties: 1,
      } as const;
      await upgraded.putHostLimits('192.0.2.9', record);
      assert.deepEqual(
        (await upgraded.getHostLimits(['192.0.2.9'])).map((row) => row.record),
        [record],
      );
    } finally {
      await upgraded.close();
    }
  });

  it('refuses a file written by a newer rcpt, and leaves it as it was', async () => {
    const path = join(dir, 'newer.db');
    await openSqliteJobStore(path).close();
    const db = new Database(path);
    try {
      db.pragma('user_version = 99');
    } finally {
      db.close();
    }
    assert.throws(() => openSqliteJobStore(path), {
      name: 'JobStoreError',
      code: 'ERR_RCPT_JOB_STORE',
      message: `${path}: job store schema 99 is newer than this rcpt (3)`,
    });
    const after = new Database(path, { readonly: true });
    try {
      assert.equal(after.pragma('user_version', { simple: true }), 99);
    } finally {
      after.close();
    }
  });
});
