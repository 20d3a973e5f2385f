/**
 * `rcpt serve` with a SQLite job store keeps what its jobs learned of a host's limits (src/jobs/
 * host-limits.ts): a server restarted on the same `--db` starts where the last one left off, so a job
 * at a host with an error budget it does not announce draws no learning penalty the second time. Against
 * a sim-MTA on loopback with Postfix's soft and hard error limits and no Postfix greeting; every count
 * comes from the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import Database from 'better-sqlite3';

import type { SimMta } from '../../../bench/sim-mta.js';
import type { DnsServer } from '../../../src/demo/dns-server.js';
import type { HostLimitsRecord } from '../../../src/index.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import { halfKnown, isKnown, QUIT_WAIT_MS, startHiddenBudgetHost } from '../../helpers/hidden-budget.js';
import { JSON_TYPE, KEY_A, capturedLogger } from './helpers.js';

const HOST = '127.0.6.3';
/** The host's soft limit: the reply after the 12th refusal of a session is delayed by a second. */
const SOFT = 12;
/** `count` addresses of a job, every other one unknown, distinct per job. */
const list = (job: string, count: number) => halfKnown('hidden.test', count, job);

let dns: DnsServer;
let hidden: SimMta;
let dir: string;

before(async () => {
  ({ mta: hidden, dns } = await startHiddenBudgetHost({
    host: HOST,
    soft: SOFT,
    domains: ['hidden.test'],
    exists: isKnown,
  }));
  dir = await mkdtemp(join(tmpdir(), 'rcpt-serve-limits-'));
});

after(async () => {
  await Promise.all([dns.close(), hidden.close()]);
  await rm(dir, { recursive: true, force: true });
});

function serve(db: string): Promise<RunningServer> {
  return startServer({
    port: 0,
    verify: {
      dnsServers: [dns.address],
      smtpPort: hidden.port,
      allowPrivateTargets: true,
      helo: 'probe.rcpt.test',
      greylistWaitMs: 0,
    },
    apiKeys: [KEY_A],
    db,
    logger: capturedLogger().logger,
    processMetrics: false,
    rateLimit: null,
  });
}

/** Submits a job of these addresses and waits until it is done; the server's delayed replies meanwhile. */
async function runJob(server: RunningServer, emails: readonly string[]) {
  const sleptBefore = hidden.stats.sleptReplies;
  const firstSession = hidden.sessions.length;
  const created = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { ...JSON_TYPE, authorization: KEY_A },
    body: JSON.stringify({ emails }),
  });
  assert.equal(created.status, 202, await created.clone().text());
  const { id } = (await created.json()) as { id: string };
  const deadline = Date.now() + 120_000;
  for (;;) {
    const response = await fetch(`${server.url}/v1/jobs/${id}`, { headers: { authorization: KEY_A } });
    const view = (await response.json()) as { status: string; counts: Record<string, number> };
    if (view.status === 'done') {
      // The last session's QUIT may still be on its way: counted once the host saw every connection close.
      await hidden.settled(QUIT_WAIT_MS);
      const perSession = hidden.sessions
        .slice(firstSession)
        .map((session) => session.commands.filter((line) => /^RCPT TO:<\w+\.no@/i.test(line)).length);
      return { view, slept: hidden.stats.sleptReplies - sleptBefore, perSession };
    }
    assert.ok(Date.now() < deadline, `job ${id} still ${view.status}`);
    await sleep(50);
  }
}

function storedLimits(db: string): HostLimitsRecord | null {
  const reader = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const row = reader.prepare('SELECT record FROM host_limits WHERE host = ?').get(HOST) as
      { record: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.record) as HostLimitsRecord);
  } finally {
    reader.close();
  }
}

describe('rcpt serve keeps learned host limits in its SQLite job store', () => {
  it('a server restarted on the same --db starts with the budget its jobs learned: no penalty the second time', async () => {
    const db = join(dir, 'jobs.db');
    const first = await serve(db);
    let learning: Awaited<ReturnType<typeof runJob>>;
    try {
      learning = await runJob(first, list('a', 600));
    } finally {
      await first.close();
    }
    assert.ok(learning.slept >= 1, 'the first job paid for the budget with a delayed reply');
    assert.equal(learning.view.counts.undeliverable, 300);
    const stored = storedLimits(db);
    assert.equal(stored?.budgetSource, 'penalty', JSON.stringify(stored));
    assert.equal(stored.errorBudget, SOFT - 1);

    const second = await serve(db);
    let known: Awaited<ReturnType<typeof runJob>>;
    try {
      known = await runJob(second, list('b', 600));
    } finally {
      await second.close();
    }
    assert.equal(known.slept, 0, `the job after the restart drew ${known.slept} delayed replies`);
    assert.equal(known.view.counts.deliverable, 300);
    assert.equal(known.view.counts.undeliverable, 300);
    assert.ok(Math.max(...known.perSession) <= SOFT - 1, known.perSession.join(' '));
  });
});
