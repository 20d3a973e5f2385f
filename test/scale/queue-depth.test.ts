/**
 * `rcpt_jobs_queue_depth` on PostgreSQL: `rcpt serve` there only accepts jobs (workers verify them), so
 * the depth is read from the store, not from a queue in the server process (it used to read 0 always).
 * Addresses of queued and running jobs count, whoever made them; results, cancels and finished jobs
 * take theirs away. No worker runs here: the test plays the worker's part on the store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { openPgJobStore, type PgJobStore } from '../../src/jobs/postgres/index.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { jobItem } from '../helpers/job-items.js';
import { fakeResult } from '../helpers/job-store-contract.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema } from './helpers.js';

const KEY = 'queue-depth-key-0123456789abcdef';

describe('rcpt_jobs_queue_depth on PostgreSQL', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('depth');
  let server: RunningServer;
  let store: PgJobStore;

  before(async () => {
    server = await startServer({
      port: 0,
      host: '127.0.0.1',
      db: url,
      pgSchema: schema,
      apiKeys: [KEY],
      rateLimit: null,
      logger: createLogger({ level: 'silent' }),
      processMetrics: false,
    });
    store = await openPgJobStore(url, { schema });
  });
  after(async () => {
    await server.close();
    await store.close();
    await dropSchema(url, schema);
  });

  const depth = async (): Promise<number> => {
    const text = await (
      await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })
    ).text();
    const match = /^rcpt_jobs_queue_depth (\d+)$/m.exec(text);
    assert.ok(match !== null, `no rcpt_jobs_queue_depth in:\n${text}`);
    return Number(match[1]);
  };
  const post = async (body: string, type: string): Promise<string> => {
    const response = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': type },
      body,
    });
    assert.equal(response.status, 202, await response.clone().text());
    return ((await response.json()) as { id: string }).id;
  };

  it('counts the addresses still to verify in queued and running jobs', async () => {
    assert.equal(await depth(), 0);
    // Five rows, four distinct addresses: the depth counts verifications, not rows.
    const list = await post(
      JSON.stringify({
        emails: ['a@one.test', 'b@one.test', 'a@one.test', 'c@one.test', 'd@one.test'],
      }),
      'application/json',
    );
    const csv = await post('email\nx@two.test\ny@two.test\nz@two.test\n', 'text/csv');
    assert.equal((await store.getJob(list))?.totalAddresses, 4);
    assert.equal(await depth(), 7);

    // A job stored by someone else on the same database (`rcpt bulk` with workers) waits too.
    const bulk = await store.createJob({ options: { via: 'cli' } });
    await store.addItems(bulk.id, [jobItem(1, 'p@three.test'), jobItem(2, 'q@three.test')]);
    await store.finishIngest(bulk.id);
    assert.equal(await depth(), 9);

    // A worker takes the list and stores two results: two fewer to go.
    await store.setStatus(list, 'running');
    await store.putResults(list, [
      { key: 'a@one.test', result: fakeResult('a@one.test', 'accepted') },
      { key: 'b@one.test', result: fakeResult('b@one.test', 'mailbox_not_found') },
    ]);
    assert.equal(await depth(), 7);

    // Cancelled through the API: its three addresses no longer wait.
    const cancelled = await fetch(`${server.url}/v1/jobs/${csv}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${KEY}` },
    });
    assert.equal(cancelled.status, 200);
    assert.equal(await depth(), 4);

    // Finished jobs count for nothing, whatever their counters say.
    await store.setStatus(bulk.id, 'failed', 'gave up');
    assert.equal(await depth(), 2);
    await store.putResults(list, [
      { key: 'c@one.test', result: fakeResult('c@one.test', 'accepted') },
      { key: 'd@one.test', result: fakeResult('d@one.test', 'accepted') },
    ]);
    await store.setStatus(list, 'done');
    assert.equal(await depth(), 0);
  });
});
