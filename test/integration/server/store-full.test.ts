/**
 * `POST /v1/jobs` on a job store with no space left, through `app.request()`: a real SQLite store whose
 * file is capped (`PRAGMA max_page_count`), so its writes fail with a real SQLITE_FULL as on a full
 * disk. The caller gets 507 `storage_full` saying so (it got a bare 500 `internal`), the log keeps the
 * SQLite error for the operator, nothing of the refused job stays behind, and the server goes on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

import { openSqliteJobStore } from '../../../src/jobs/index.js';
import { createApp, type App } from '../../../src/server/app.js';
import {
  createJobsBackend,
  isStoreFull,
  type ClosableJobsBackend,
} from '../../../src/server/jobs-backend.js';
import { KEY_A, bearer, capturedLogger, startWorld, type World } from './helpers.js';

const ALL_STATUSES = ['queued', 'running', 'done', 'cancelled', 'failed'] as const;

let world: World;
let directory: string;

before(async () => {
  world = await startWorld();
  directory = mkdtempSync(join(tmpdir(), 'rcpt-server-full-'));
});

after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

/** An app over a store in `file`; `maxPageCount` caps it. Jobs are stored but never run (0 at once). */
function serve(file: string, maxPageCount?: number) {
  const { logger, lines } = capturedLogger();
  const jobs: ClosableJobsBackend = createJobsBackend({
    store: openSqliteJobStore(file, maxPageCount === undefined ? {} : { maxPageCount }),
    verifier: world.verifier(),
    logger,
    runningJobs: 0,
  });
  const app: App = createApp({ verifier: world.verifier(), jobs, apiKeys: [KEY_A], rateLimit: null, logger });
  return { app, jobs, lines };
}

async function post(app: App, body: string, type: string): Promise<Response> {
  return app.request('/v1/jobs', {
    method: 'POST',
    headers: { ...bearer(KEY_A), 'content-type': type },
    body,
  });
}

const csv = (rows: number): string =>
  `email,name\n${Array.from({ length: rows }, (_, i) => `user${i}@acme.test,Person number ${i}`).join('\n')}\n`;

async function jobsIn(file: string): Promise<string[]> {
  const store = openSqliteJobStore(file, { readonly: true });
  try {
    return (await store.listJobs(ALL_STATUSES)).map((job) => job.id);
  } finally {
    await store.close();
  }
}

describe('POST /v1/jobs on a full job store', () => {
  it('answers 507 storage_full, logs the SQLite error, keeps nothing, and serves on', async () => {
    const file = join(directory, 'full.db');
    // The cap is the size the schema needs: the first rows fit in the tables' empty pages, no more.
    const { app, jobs, lines } = serve(file, 1);
    try {
      for (const [body, type] of [
        [csv(2_000), 'text/csv'],
        [
          JSON.stringify({ emails: Array.from({ length: 2_000 }, (_, i) => `u${i}@acme.test`) }),
          'application/json',
        ],
        [csv(2_000).split('\n').slice(1).join('\n'), 'text/plain'],
      ] as const) {
        const response = await post(app, body, type);
        const text = await response.text();
        assert.equal(response.status, 507, `${type}: ${text}`);
        assert.equal(response.headers.get('content-type'), 'application/json');
        const error = JSON.parse(text) as { error: string; message: string };
        assert.equal(error.error, 'storage_full');
        assert.match(
          error.message,
          /^The job store is full \(no space left on the server\): the job was not stored\./,
        );
      }
      // The operator sees why, once a refusal, with SQLite's own code.
      const logged = lines().filter((line) => line.includes('job store full'));
      assert.equal(logged.length, 3, lines().join('\n'));
      for (const line of logged) assert.match(line, /"code":"SQLITE_FULL"/);
      assert.equal(
        lines().filter((line) => line.includes('request failed')).length,
        0,
        'not logged as an internal error',
      );

      // The server goes on: health, and a job small enough for the room left.
      assert.equal((await app.request('/healthz')).status, 200);
      const small = await post(app, 'email\nalice@acme.test\nbob@acme.test\n', 'text/csv');
      assert.equal(small.status, 202, await small.clone().text());
      const { id } = (await small.json()) as { id: string };
      const cancelled = await app.request(`/v1/jobs/${id}`, { method: 'DELETE', headers: bearer(KEY_A) });
      assert.equal(cancelled.status, 200);
    } finally {
      await jobs.close();
    }

    // None of the three refused jobs is in the file; without the cap the same upload is taken.
    assert.equal((await jobsIn(file)).length, 1);
    const grown = serve(file);
    try {
      const response = await post(grown.app, csv(2_000), 'text/csv');
      assert.equal(response.status, 202, await response.clone().text());
      assert.equal(((await response.json()) as { total: number }).total, 2_000);
    } finally {
      await grown.jobs.close();
    }
    assert.equal((await jobsIn(file)).length, 2);
  });

  it('filled job by job: the first job that does not fit gets 507 and leaves nothing', async () => {
    const file = join(directory, 'brim.db');
    // Small jobs until one does not fit: the ones before it are all there, it is not.
    const { app, jobs } = serve(file, 1);
    try {
      let status = 202;
      let accepted = 0;
      while (status === 202 && accepted < 1_000) {
        const response = await post(app, `email\nu${accepted}@acme.test\n`, 'text/csv');
        status = response.status;
        if (status === 202) accepted += 1;
        else assert.equal(((await response.json()) as { error: string }).error, 'storage_full');
      }
      assert.equal(status, 507);
      assert.ok(accepted > 0 && accepted < 1_000, `${accepted} jobs fitted`);
      assert.equal((await jobsIn(file)).length, accepted);
    } finally {
      await jobs.close();
    }
  });

  it('describes 507 in the OpenAPI document', async () => {
    const { app, jobs } = serve(join(directory, 'doc.db'));
    try {
      const document = (await (await app.request('/openapi.json')).json()) as {
        paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
        components: { schemas: { Error: { properties: { error: { enum: string[] } } } } };
      };
      assert.ok(document.paths['/v1/jobs']?.post?.responses['507'] !== undefined);
      assert.ok(document.paths['/v1/jobs/{id}']?.delete?.responses['507'] !== undefined);
      assert.ok(document.components.schemas.Error.properties.error.enum.includes('storage_full'));
    } finally {
      await jobs.close();
    }
  });
});

describe('isStoreFull', () => {
  it("knows PostgreSQL's disk_full (SQLSTATE 53100) as pg reports it, and nothing else", () => {
    const full = new pg.DatabaseError('could not extend file: No space left on device', 0, 'error');
    full.code = '53100';
    const tooMany = new pg.DatabaseError('too many connections', 0, 'error');
    tooMany.code = '53300';
    assert.equal(isStoreFull(full), true);
    assert.equal(isStoreFull(new Error('plan failed', { cause: full })), true);
    assert.equal(isStoreFull(tooMany), false);
    assert.equal(isStoreFull(new Error('database or disk is full')), false);
    assert.equal(isStoreFull(null), false);
  });
});
