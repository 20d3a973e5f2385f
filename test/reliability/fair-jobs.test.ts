/**
 * One API key cannot hold the job places for days: `rcpt serve` on a real listener and a real SQLite
 * job store, two keys, a world of two sim-MTAs on loopback. Key A's jobs are at a host that answers a
 * RCPT every 40 ms (each job minutes of work at that pace, were it let run), key B's few addresses at
 * one that answers at once. Before, places went first come first served, a job whatever its size
 * holding one until it ended: A's two jobs held both, and B's waited for one of them to end.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { okExists, startSimWorld, type SimWorld } from '../helpers/sim-world.js';

const KEY_A = 'fair-a-0123456789abcdef';
const KEY_B = 'fair-b-fedcba9876543210';

interface Job {
  readonly id: string;
  readonly status: string;
  readonly total: number;
  readonly done: number;
  readonly counts: Readonly<Record<string, number>>;
}

let world: SimWorld<'slow' | 'fast'>;
let directory: string;
before(async () => {
  world = await startSimWorld({
    slow: { host: '127.0.7.1', domains: ['slow.test'], recipient: okExists, rcptDelayMs: 40, record: true },
    fast: { host: '127.0.7.2', domains: ['fast.test'], recipient: okExists },
  });
  directory = mkdtempSync(join(tmpdir(), 'rcpt-fair-jobs-'));
});
after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

async function serve(
  name: string,
  options: { runningJobs?: number; turnAddresses?: number; pauseGraceMs?: number } = {},
) {
  return startServer({
    port: 0,
    verify: world.options,
    apiKeys: [KEY_A, KEY_B],
    db: join(directory, `${name}.db`),
    rateLimit: null,
    processMetrics: false,
    logger: createLogger({ level: 'silent' }),
    ...options,
  });
}

const addresses = (count: number, domain: string, prefix: string): string =>
  Array.from({ length: count }, (_, i) => `ok${prefix}${i}@${domain}`).join('\n');

async function submit(server: RunningServer, key: string, list: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
    body: list,
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

async function job(server: RunningServer, key: string, id: string): Promise<Job> {
  const response = await fetch(`${server.url}/v1/jobs/${id}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(response.status, 200);
  return (await response.json()) as Job;
}

/** Polls until `done(job)` holds for `id`, or fails naming what `others` were meanwhile. */
async function until(
  server: RunningServer,
  key: string,
  id: string,
  done: (job: Job) => boolean,
  timeoutMs = 120_000,
): Promise<Job> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await job(server, key, id);
    if (done(current)) return current;
    if (Date.now() > deadline)
      assert.fail(`job ${id} still ${current.status} (${current.done}/${current.total})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function cancel(server: RunningServer, key: string, id: string): Promise<void> {
  const response = await fetch(`${server.url}/v1/jobs/${id}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${key}` },
  });
  assert.equal(response.status, 200);
}

describe('places shared between keys', () => {
  it("a key holding both places gives one to another key's job at once: B's 5 addresses end while A's two big jobs run", async () => {
    const server = await serve('two-places');
    try {
      const a1 = await submit(server, KEY_A, addresses(3_000, 'slow.test', 'a'));
      const a2 = await submit(server, KEY_A, addresses(3_000, 'slow.test', 'b'));
      await until(server, KEY_A, a1, (j) => j.done > 0);
      await until(server, KEY_A, a2, (j) => j.status === 'running');
      const b = await submit(server, KEY_B, addresses(5, 'fast.test', ''));
      const ended = await until(server, KEY_B, b, (j) => j.status === 'done');
      assert.equal(ended.done, 5);
      const [first, second] = [await job(server, KEY_A, a1), await job(server, KEY_A, a2)];
      assert.ok(
        first.done < first.total && second.done < second.total,
        `B's job ended after one of A's: ${first.done}/${first.total}, ${second.done}/${second.total}`,
      );
      await cancel(server, KEY_A, a1);
      await cancel(server, KEY_A, a2);
    } finally {
      await server.close();
    }
  });

  it("with one place, A's job gives it to B's after its turn; cut after its grace, it finishes after a restart with every address answered", async () => {
    const name = 'one-place';
    const options = { runningJobs: 1, turnAddresses: 50, pauseGraceMs: 300 };
    let server = await serve(name, options);
    let a: string;
    try {
      a = await submit(server, KEY_A, addresses(600, 'slow.test', 'c'));
      await until(server, KEY_A, a, (j) => j.status === 'running');
      const b = await submit(server, KEY_B, addresses(5, 'fast.test', 'd'));
      await until(server, KEY_B, b, (j) => j.status === 'done');
      const meanwhile = await job(server, KEY_A, a);
      assert.ok(
        meanwhile.done < meanwhile.total,
        `B's job ended after A's (${meanwhile.done}/${meanwhile.total})`,
      );
      assert.ok(meanwhile.done >= 50, `A's job gave its place before its turn (${meanwhile.done})`);
    } finally {
      await server.close();
    }
    // Cut after its grace and back in its place, or waiting for it: a restart goes on with it.
    server = await serve(name, options);
    try {
      const ended = await until(server, KEY_A, a, (j) => j.status === 'done');
      assert.equal(ended.done, 600);
      assert.equal(ended.counts.deliverable, 600);
    } finally {
      await server.close();
    }
    // Every address was asked; one is asked again only if its session was cut before its reply.
    const asked = new Map<string, number>();
    for (const session of world.mtas.slow.sessions) {
      for (const line of session.commands) {
        const rcpt = /^RCPT TO:<(okc\d+@slow\.test)>/i.exec(line);
        if (rcpt?.[1] !== undefined) asked.set(rcpt[1], (asked.get(rcpt[1]) ?? 0) + 1);
      }
    }
    assert.equal(asked.size, 600);
  });
});
