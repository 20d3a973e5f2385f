/**
 * Jobs are not kept without end: `rcpt serve` on a real listener and a real SQLite job store deletes
 * the API's jobs that ended longer ago than it keeps them (at start, then hourly), and the key that
 * made a job may delete it once it ended (`DELETE /v1/jobs/{id}?purge=true`). Before, every upload and
 * result stayed in the store for as long as the server ran, and nothing could take one away.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { okExists, startSimWorld, type SimWorld } from '../helpers/sim-world.js';

const KEY_A = 'keep-a-0123456789abcdef';
const KEY_B = 'keep-b-fedcba9876543210';

let world: SimWorld<'slow' | 'fast'>;
let directory: string;
before(async () => {
  world = await startSimWorld({
    slow: { host: '127.0.7.3', domains: ['slow.test'], recipient: okExists, rcptDelayMs: 40 },
    fast: { host: '127.0.7.4', domains: ['fast.test'], recipient: okExists },
  });
  directory = mkdtempSync(join(tmpdir(), 'rcpt-job-retention-'));
});
after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

function serve(db: string, keepFinishedJobsMs?: number): Promise<RunningServer> {
  return startServer({
    port: 0,
    verify: world.options,
    apiKeys: [KEY_A, KEY_B],
    db: join(directory, db),
    rateLimit: null,
    processMetrics: false,
    logger: createLogger({ level: 'silent' }),
    ...(keepFinishedJobsMs === undefined ? {} : { keepFinishedJobsMs }),
  });
}

async function call(server: RunningServer, key: string, method: string, path: string, body?: string) {
  return fetch(`${server.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${key}`,
      ...(body === undefined ? {} : { 'content-type': 'text/plain' }),
    },
    ...(body === undefined ? {} : { body }),
  });
}

async function submit(server: RunningServer, list: string): Promise<string> {
  const response = await call(server, KEY_A, 'POST', '/v1/jobs', list);
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

async function statusOf(server: RunningServer, id: string): Promise<string> {
  const response = await call(server, KEY_A, 'GET', `/v1/jobs/${id}`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { status: string }).status;
}

async function until(server: RunningServer, id: string, statuses: readonly string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await statusOf(server, id);
    if (statuses.includes(status)) return;
    if (Date.now() > deadline) assert.fail(`job ${id} still ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('jobs are not kept for ever', () => {
  it('the key that made a job deletes it once it ended (purge=true: 204, then 404); another key cannot, and a running one is 409', async () => {
    const server = await serve('purge.db');
    try {
      const done = await submit(server, 'ok1@fast.test\nnobody@fast.test');
      await until(server, done, ['done']);
      const other = await call(server, KEY_B, 'DELETE', `/v1/jobs/${done}?purge=true`);
      assert.equal(other.status, 404);
      assert.equal(await statusOf(server, done), 'done');

      const running = await submit(
        server,
        Array.from({ length: 400 }, (_, i) => `ok${i}@slow.test`).join('\n'),
      );
      await until(server, running, ['running']);
      const early = await call(server, KEY_A, 'DELETE', `/v1/jobs/${running}?purge=true`);
      assert.equal(early.status, 409);
      assert.match(((await early.json()) as { message: string }).message, /cancel it/);
      assert.equal(await statusOf(server, running), 'running');
      assert.equal((await call(server, KEY_A, 'DELETE', `/v1/jobs/${running}`)).status, 200);
      await until(server, running, ['cancelled']);

      for (const id of [done, running]) {
        let deleted = await call(server, KEY_A, 'DELETE', `/v1/jobs/${id}?purge=true`);
        // A cancelled job's run may still be stopping: asked again, it is deleted.
        for (let tries = 0; deleted.status === 409 && tries < 100; tries++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          deleted = await call(server, KEY_A, 'DELETE', `/v1/jobs/${id}?purge=true`);
        }
        assert.equal(deleted.status, 204, await deleted.text());
        assert.equal((await call(server, KEY_A, 'GET', `/v1/jobs/${id}`)).status, 404);
        assert.equal((await call(server, KEY_A, 'GET', `/v1/jobs/${id}/results?format=csv`)).status, 404);
      }
    } finally {
      await server.close();
    }
  });

  it('a server deletes the jobs that ended longer ago than it keeps them, their results with them, and keeps younger ones', async () => {
    let server = await serve('keep.db');
    let id: string;
    try {
      id = await submit(server, 'ok1@fast.test');
      await until(server, id, ['done']);
    } finally {
      await server.close();
    }
    // Kept for the default 30 days.
    server = await serve('keep.db');
    try {
      assert.equal(await statusOf(server, id), 'done');
    } finally {
      await server.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Kept 10 ms: gone at start.
    server = await serve('keep.db', 10);
    try {
      const deadline = Date.now() + 30_000;
      let status = 200;
      while (Date.now() < deadline) {
        status = (await call(server, KEY_A, 'GET', `/v1/jobs/${id}`)).status;
        if (status === 404) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 404, 'the job is still there');
      assert.equal((await call(server, KEY_A, 'GET', `/v1/jobs/${id}/results?format=csv`)).status, 404);
    } finally {
      await server.close();
    }
  });
});
