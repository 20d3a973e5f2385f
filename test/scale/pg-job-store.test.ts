/**
 * The PostgreSQL job store on a real server: the `JobStore` contract (test/helpers/job-store-contract.ts,
 * the same suite the SQLite store runs: idempotent writes, two handles racing on one address, keyset
 * paging, output order, statuses, cascading deletes, domain cache), and what only PostgreSQL has to get
 * right: migrations run once when processes start together, a schema name is never SQL, a cancelled job
 * leaves no work for the workers, and the in-process runner works over it unchanged.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createVerifier } from '../../src/index.js';
import { runJob } from '../../src/jobs/index.js';
import { openPgJobStore, type PgJobStore } from '../../src/jobs/postgres/index.js';
import { jobItem } from '../helpers/job-items.js';
import { describeJobStoreContract } from '../helpers/job-store-contract.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, query } from './helpers.js';
import { startScaleWorld, worldVerifyOptions } from './world.js';

describeJobStoreContract(
  'openPgJobStore',
  async () => {
    const url = PG_URL ?? '';
    const schema = freshSchema('contract');
    const store = await openPgJobStore(url, { schema });
    return {
      store,
      openAnother: () => openPgJobStore(url, { schema }),
      countRows: async (table, jobId) => {
        const [row] = await query<{ n: number }>(
          url,
          `SELECT count(*)::int AS n FROM ${schema}.${table} WHERE job_id = $1`,
          [jobId],
        );
        return row?.n ?? -1;
      },
      dispose: async () => {
        await store.close();
        await dropSchema(url, schema);
      },
    };
  },
  { skip: SKIP_NO_PG },
);

describe('openPgJobStore', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('store');
  let store: PgJobStore;

  before(async () => {
    store = await openPgJobStore(url, { schema });
  });
  after(async () => {
    await store.close();
    await dropSchema(url, schema);
  });

  it('migrates once when several processes open the store at the same moment', async () => {
    const fresh = freshSchema('migrate');
    const stores = await Promise.all([1, 2, 3, 4].map(() => openPgJobStore(url, { schema: fresh })));
    try {
      const rows = await query<{ version: number }>(url, `SELECT version FROM ${fresh}.migrations`);
      assert.deepEqual(
        rows.map((r) => r.version),
        [1, 2, 3, 4],
      );
      const job = await (stores[0] as PgJobStore).createJob({});
      assert.equal((await (stores[3] as PgJobStore).getJob(job.id))?.id, job.id);
    } finally {
      for (const s of stores) await s.close();
    }
    // A database migrated by a newer rcpt is refused, not damaged.
    await query(url, `INSERT INTO ${fresh}.migrations (version) VALUES (99)`);
    await assert.rejects(openPgJobStore(url, { schema: fresh }), /schema 99 is newer/);
    await dropSchema(url, fresh);
  });

  it('refuses a schema name that is not a plain identifier', async () => {
    await assert.rejects(openPgJobStore(url, { schema: 'x; DROP TABLE jobs' }), {
      code: 'ERR_RCPT_OPTIONS',
      option: 'schema',
    });
  });

  it('a cancelled or failed job leaves no work behind for the workers', async () => {
    const workOf = async (jobId: string) => {
      const [row] = await query<{ n: number }>(
        url,
        `SELECT count(*)::int AS n FROM ${schema}.work WHERE job_id = $1`,
        [jobId],
      );
      return row?.n;
    };
    for (const status of ['cancelled', 'failed'] as const) {
      const job = await store.createJob({});
      await store.setStatus(job.id, 'running');
      await store.addItems(job.id, [jobItem(1, 'a@x.test')]);
      await query(
        url,
        `INSERT INTO ${schema}.work (job_id, key, input, host) VALUES ($1, 'a@x.test', 'a@x.test', '127.0.0.1')`,
        [job.id],
      );
      assert.equal(await workOf(job.id), 1);
      const ended = await store.setStatus(job.id, status, status === 'failed' ? 'disk full' : null);
      assert.equal(ended.status, status);
      assert.equal(await workOf(job.id), 0, status);
    }
  });

  it('runs a job in-process with runJob(), as the SQLite store does', async () => {
    const world = await startScaleWorld({ size: 300, hostCount: 6, domainCount: 40, latencyMs: 1 });
    const verifier = createVerifier({
      ...worldVerifyOptions(world),
      greylistWaitMs: 700,
      timeoutMs: 10_000,
    });
    try {
      const job = await store.createJob({});
      await store.addItems(
        job.id,
        world.addresses.map((a, i) => jobItem(i + 1, a.address)),
      );
      await store.finishIngest(job.id);
      const outcome = await runJob(store, job.id, verifier);
      assert.equal(outcome.job.status, 'done');
      assert.equal(outcome.job.doneAddresses, 300);
      const expected = new Map(world.addresses.map((a) => [a.address, a.verdict]));
      for await (const row of store.readOutput(job.id)) {
        assert.equal(row.result?.verdict, expected.get(row.input), row.input);
      }
    } finally {
      await verifier.close();
      await world.close();
    }
  });
});
