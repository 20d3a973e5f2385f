/**
 * `rcpt serve` with no space left where an upload waits (its spool, in the job store's directory): a
 * real `rcpt serve` process in a private mount namespace (`unshare`; a user namespace too when not
 * root) whose job store directory is a small tmpfs, so the spool's writes fail with a real ENOSPC. The
 * caller gets 507 `storage_full` saying so (it got a bare 500 `internal`), the log keeps the system's
 * code for the operator, the spool's space is freed at once, and the server goes on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startServe, type ServeChild } from './helpers/serve-child.js';
import { noNamespace, onTmpfs } from './helpers/tmpfs.js';
import { JSON_LIST, REACHER_BULK_LIST, TEXT_LIST, sendList, type Answer } from './helpers/upload-list.js';

const KEY = 'keyA-0123456789abcdef';
const KiB = 1024;
/** The tmpfs under the job store: room for the store, not for the uploads below. */
const TMPFS = '1m';

let dir: string;
let server: ServeChild | null = null;
let unavailable: string | null = null;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-upload-disk-'));
  unavailable = noNamespace(dir);
  // CI has what this needs (root, util-linux): there, a missing namespace is a failure, not a skip.
  if (unavailable !== null && process.env.CI !== undefined) throw new Error(unavailable);
  if (unavailable === null) {
    server = await startServe(['--db', join(dir, 'jobs.db')], { RCPT_API_KEYS: KEY }, onTmpfs(dir, TMPFS));
  }
});

after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

/** The tmpfs as the server sees it (its mount namespace, through /proc). */
const seen = (child: ServeChild): string => `/proc/${child.child.pid}/root${dir}`;

async function used(child: ServeChild): Promise<number> {
  const fs = await statfs(seen(child));
  return (fs.blocks - fs.bfree) * fs.bsize;
}

/** A text list of `count` addresses to `POST /v1/jobs`, as a client that reads the answer whenever it comes. */
const textList = (child: ServeChild, count: number): Promise<Answer> =>
  sendList(child.url, KEY, TEXT_LIST, { count, long: false }, false, true);

describe('an upload with no space left for its spool', () => {
  it('answers 507 storage_full saying so, logs ENOSPC, frees the spool at once, and serves on', async (t) => {
    if (server === null) {
      t.skip(`needs a private mount namespace: ${unavailable ?? ''}`);
      return;
    }
    const before = await used(server);
    // 100,000 addresses: 1.3 to 1.6 MB as a list, 3 MB as spooled rows, well within the upload limits.
    for (const kind of [TEXT_LIST, JSON_LIST, REACHER_BULK_LIST]) {
      const label = `${kind.path ?? '/v1/jobs'} ${kind.type}`;
      const answer = await sendList(server.url, KEY, kind, { count: 100_000, long: false }, false, true);
      assert.equal(answer.status, 507, `${label}: ${answer.body}`);
      assert.equal(answer.headers['content-type'], 'application/json', label);
      const body = JSON.parse(answer.body) as Record<string, unknown>;
      // rcpt's error body, or Reacher's with rcpt's code.
      const [code, message] =
        kind === REACHER_BULK_LIST ? [body.code, body.error] : [body.error, body.message];
      assert.equal(code, 'storage_full', label);
      assert.match(
        String(message),
        /^No space left on the server for the upload while it arrives \(ENOSPC\): the job was not stored\./,
        label,
      );
      // The spool's space is back at once: nothing of the refused upload stays on the disk.
      const after = await used(server);
      assert.ok(after - before < 64 * KiB, `${label}: ${after - before} bytes more in use than before`);
    }
    assert.deepEqual(
      (await readdir(seen(server))).filter((name) => !name.startsWith('jobs.db')),
      [],
      'a file left beside the job store',
    );
    // The operator sees why, a line a refusal, with the system's code.
    const logged = server
      .log()
      .split('\n')
      .filter((line) => line.includes('upload spool full'));
    assert.equal(logged.length, 3, server.log());
    for (const line of logged) assert.match(line, /"code":"ENOSPC"/);

    // The server goes on: health, and a job small enough for the room there is.
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    const small = await textList(server, 20);
    assert.equal(small.status, 202, small.body);
  });
});
