/**
 * A job's end webhook says how the job ended, even when the server read the job's view a moment
 * before it ended: with scale-out, the job ends in another process (a worker), and the API's short
 * cache of job views would otherwise hand the webhook a view that still says the job is running. Over a
 * real SQLite store, the job handed to a dispatcher (as with workers) and ended in the store directly.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier } from '../../../src/index.js';
import { openSqliteJobStore } from '../../../src/jobs/index.js';
import { serverSmtpSettings } from '../../../src/server/app.js';
import { listInput } from '../../../src/server/job-upload.js';
import { createJobsBackend } from '../../../src/server/jobs-backend.js';
import { createWebhookSource } from '../../../src/server/webhook-source.js';
import { capturedLogger } from './helpers.js';

const directory = mkdtempSync(join(tmpdir(), 'rcpt-webhook-end-'));
after(() => {
  rmSync(directory, { recursive: true, force: true });
});

describe("a job's end webhook", () => {
  it('is built from the job as stored, not from a view cached before it ended', async () => {
    const store = openSqliteJobStore(join(directory, 'jobs.db'));
    const verifier = createVerifier();
    const dispatched: string[] = [];
    const jobs = createJobsBackend({
      store,
      verifier,
      logger: capturedLogger().logger,
      // Verified elsewhere (as by `rcpt worker`): this process only accepts the job.
      dispatch: (id) => {
        dispatched.push(id);
        return Promise.resolve();
      },
    });
    try {
      const webhook = {
        api: 'rcpt',
        onResult: false,
        onEnd: true,
        result: null,
        end: { url: 'http://127.0.0.1:9/hook', headers: {}, extra: null },
      };
      const created = await jobs.create('local', listInput(['alice@example.test']), {
        maxAddresses: 10,
        extra: { webhook },
      });
      assert.deepEqual(dispatched, [created.id]);
      // A progress request reads (and caches) the job while it is still queued.
      assert.equal((await jobs.get(created.id))?.status, 'queued');
      // It ends elsewhere, and its end webhook is prepared at once.
      await store.setStatus(created.id, 'done');
      const source = createWebhookSource(jobs, serverSmtpSettings({}), 'rcpt');
      const prepared = await source.prepare({
        id: 1,
        jobId: created.id,
        event: 'end',
        key: '',
        attempts: 0,
        result: null,
      });
      const body = prepared?.body as { event: string; job: { status: string } } | undefined;
      assert.equal(body?.event, 'end');
      assert.equal(body.job.status, 'done');
    } finally {
      await jobs.close();
      await verifier.close();
    }
  });
});
