/**
 * Learned host limits shared by scale-out workers through PostgreSQL (`host_limits`,
 * src/jobs/host-limits.ts): a worker that takes a host another worker already learned starts from that
 * knowledge and draws no learning penalty, where a worker without it draws one; and the worker's sweep
 * deletes expired `host_rcpts` grants and `host_limits` rows, keeping live ones. Against a sim-MTA on
 * loopback with Postfix's soft and hard error limits and no Postfix greeting; counts from the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { SimMta } from '../../bench/sim-mta.js';
import type { DnsServer } from '../../src/demo/dns-server.js';
import type { HostLimitsRecord, VerifyOptions } from '../../src/index.js';
import { HOST_LIMITS_TTL_MS } from '../../src/jobs/index.js';
import { openScaleOut, startWorker, type ScaleOut } from '../../src/jobs/postgres/index.js';
import { sweepExpired } from '../../src/jobs/postgres/worker.js';
import { crossingSessions, halfKnown, isKnown, startHiddenBudgetHost } from '../helpers/hidden-budget.js';
import {
  PG_URL,
  SKIP_NO_PG,
  dropSchema,
  freshSchema,
  jobDone,
  query,
  submitAddresses,
  until,
  verdictCounts,
} from './helpers.js';
import { loopbackOptions } from '../helpers/world-options.js';

const HOST = '127.0.12.1';
/** A host whose hidden soft limit is 3, far below the budget rcpt guesses (9). */
const LOW_HOST = '127.0.12.2';
/** The host's soft limit: the reply after the 12th refusal of a session is delayed by a second. */
const SOFT = 12;

describe('learned host limits across scale-out workers', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('limits');
  let hidden: SimMta;
  let dns: DnsServer;
  let cluster: ScaleOut;
  let verify: VerifyOptions;

  before(async () => {
    ({ mta: hidden, dns } = await startHiddenBudgetHost({
      host: HOST,
      soft: SOFT,
      domains: ['hidden.test', 'hidden-b.test', 'hidden-c.test'],
      exists: isKnown,
    }));
    cluster = await openScaleOut(url, { schema, supervise: false });
    verify = {
      ...loopbackOptions({ dnsServer: dns.address, smtpPort: hidden.port }),
      timeoutMs: 20_000,
      greylistWaitMs: 0,
    };
  });

  after(async () => {
    await cluster?.close();
    await dns?.close();
    await hidden?.close();
    await dropSchema(url, schema);
  });

  /** One worker verifies `addresses` as a job; what the server saw meanwhile. */
  async function workerRun(addresses: readonly string[]) {
    const before = { ...hidden.stats };
    const firstSession = hidden.sessions.length;
    const worker = await startWorker({ url, schema, verify, pollMs: 100, leaseMs: 2_000 });
    try {
      const jobId = await submitAddresses(cluster, addresses);
      await jobDone(cluster, jobId, 90_000);
      assert.deepEqual(await verdictCounts(url, schema, jobId), [
        ['deliverable', addresses.length / 2],
        ['undeliverable', addresses.length / 2],
      ]);
      // The job is done with its last address's result, but the worker's pass at the host goes on
      // until the explorer's batch is read: past the guess that is a climber (a random address, no
      // result of the job), whose reply a host at its limit delays by a second. A worker running on, as
      // one does, then stores what the reply taught; one stopped before leaves the batch told, and the
      // next holder takes it as crossed (host-limits-proven.test.ts's SIGTERM case). Here the worker
      // runs on until its pass has stored the batch's end.
      await until('the explorer batch at the host to end', async () => {
        const record = await storedRecord();
        return record === null || record.exploringBatch === undefined;
      });
    } finally {
      await worker.stop();
    }
    return {
      slept: hidden.stats.sleptReplies - before.sleptReplies,
      hardLimitHits: hidden.stats.hardLimitHits - before.hardLimitHits,
      refusals: hidden.stats.errors - before.errors,
      perSession: hidden.sessions
        .slice(firstSession)
        .map((session) => session.commands.filter((line) => /^RCPT TO:<\d+\.no@/i.test(line)).length),
    };
  }

  const storedRecord = async (host = HOST): Promise<HostLimitsRecord | null> => {
    const rows = await query<{ record: string }>(
      url,
      `SELECT record FROM ${schema}.host_limits WHERE host = $1`,
      [host],
    );
    return rows[0] === undefined ? null : (JSON.parse(rows[0].record) as HostLimitsRecord);
  };

  it('a second worker reaching a host the first one learned draws no learning penalty', async () => {
    const first = await workerRun(halfKnown('hidden.test', 300));
    assert.ok(first.slept >= 1, 'the first worker paid for the budget with a delayed reply');
    const learned = await storedRecord();
    assert.equal(learned?.budgetSource, 'penalty', JSON.stringify(learned));
    assert.equal(learned.errorBudget, SOFT - 1);

    const second = await workerRun(halfKnown('hidden-b.test', 300));
    assert.equal(second.slept, 0, `the second worker drew ${second.slept} delayed replies`);
    assert.equal(second.hardLimitHits, 0);
    assert.ok(second.refusals >= 4 * SOFT, `${second.refusals} refusals`);
    assert.ok(Math.max(...second.perSession) <= SOFT - 1, second.perSession.join(' '));

    // Without what the first one stored, a worker pays again.
    await query(url, `DELETE FROM ${schema}.host_limits`);
    const unaware = await workerRun(halfKnown('hidden-c.test', 300));
    assert.ok(unaware.slept >= 1, `a worker without the stored limits drew ${unaware.slept} delayed replies`);
  });

  it('a budget far below the guess is crossed once per run over two workers and a hand-over', async () => {
    // Every reply after the 3rd refusal of a session delayed (421 at the 6th); two connections per host.
    const low = await startHiddenBudgetHost({
      host: LOW_HOST,
      soft: 3,
      domains: ['low.test', 'low-b.test'],
      exists: isKnown,
    });
    const lowVerify: VerifyOptions = {
      ...loopbackOptions({ dnsServer: low.dns.address, smtpPort: low.mta.port }),
      timeoutMs: 20_000,
      greylistWaitMs: 0,
    };
    const start = () => startWorker({ url, schema, verify: lowVerify, pollMs: 100, leaseMs: 2_000 });
    const workers = [await start(), await start()];
    const addresses = [...halfKnown('low.test', 60), ...halfKnown('low-b.test', 60)];
    const crossed = () => crossingSessions(low.mta);
    let handedOver = -1;
    try {
      const jobId = await submitAddresses(cluster, addresses);
      // The holder is stopped as soon as what its crossing taught is stored: the host passes to the
      // other worker with it, and a new worker takes the stopped one's place. (Stopped while the
      // crossing's delayed replies were still on their way, the holder has learned nothing yet, and the
      // next holder crosses again: docs/scale-out.md.)
      const deadline = Date.now() + 30_000;
      while ((await storedRecord(LOW_HOST))?.budgetSource !== 'penalty' && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      const [lease] = await query<{ worker: string }>(
        url,
        `SELECT worker FROM ${schema}.host_leases WHERE host = $1`,
        [LOW_HOST],
      );
      const holder = workers.find((worker) => worker.id === lease?.worker);
      if (holder !== undefined) {
        await holder.stop();
        handedOver = low.mta.sessions.length;
        workers.splice(workers.indexOf(holder), 1, await start());
      }
      await jobDone(cluster, jobId, 90_000);
      assert.deepEqual(await verdictCounts(url, schema, jobId), [
        ['deliverable', addresses.length / 2],
        ['undeliverable', addresses.length / 2],
      ]);
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      await low.close();
    }
    assert.ok(handedOver >= 0, 'the host was held by a worker when its crossing was stored');
    assert.ok(low.mta.sessions.length > handedOver, 'another worker went on at the host');
    assert.equal(crossed(), 1, `${low.mta.stats.sleptReplies} delayed replies`);
    assert.equal(low.mta.stats.hardLimitHits, 0);
    const stored = await storedRecord(LOW_HOST);
    assert.equal(stored?.budgetSource, 'penalty', JSON.stringify(stored));
    assert.ok((stored.errorBudget ?? Infinity) < 3, JSON.stringify(stored));
  });

  it('the sweep deletes expired RCPT grants and host limits, and keeps live ones', async () => {
    const nowMs = `(extract(epoch FROM clock_timestamp()) * 1000)::bigint`;
    await query(url, `DELETE FROM ${schema}.host_rcpts`);
    await query(url, `DELETE FROM ${schema}.host_limits`);
    await query(
      url,
      `INSERT INTO ${schema}.host_rcpts (host, count, counts_until) VALUES
         ('192.0.2.1', 3, ${nowMs} - 1000), ('192.0.2.2', 4, ${nowMs} - 1), ('192.0.2.1', 5, ${nowMs} + 3600000)`,
    );
    const record: HostLimitsRecord = {
      errorBudget: 11,
      budgetSource: 'penalty',
      recipientLimit: null,
      sessionLimit: null,
      penalties: 1,
    };
    await cluster.store.putHostLimits('192.0.2.1', record, Date.now() - HOST_LIMITS_TTL_MS - 1);
    await cluster.store.putHostLimits('192.0.2.2', record);
    assert.deepEqual(await sweepExpired({ store: cluster.store }), { hostRcpts: 2, hostLimits: 1 });
    assert.deepEqual(await query(url, `SELECT host, count FROM ${schema}.host_rcpts ORDER BY host`), [
      { host: '192.0.2.1', count: 5 },
    ]);
    assert.deepEqual(
      (await cluster.store.getHostLimits(null)).map((row) => row.key),
      ['192.0.2.2'],
    );

    // A running worker sweeps by itself (every half lease).
    await query(
      url,
      `INSERT INTO ${schema}.host_rcpts (host, count, counts_until) VALUES ('192.0.2.3', 1, ${nowMs} - 1)`,
    );
    await cluster.store.putHostLimits('192.0.2.3', record, Date.now() - HOST_LIMITS_TTL_MS - 1);
    const worker = await startWorker({ url, schema, verify, pollMs: 100, leaseMs: 400 });
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [left] = await query<{ rcpts: number; limits: number }>(
          url,
          `SELECT (SELECT count(*)::int FROM ${schema}.host_rcpts WHERE host = '192.0.2.3') AS rcpts,
                  (SELECT count(*)::int FROM ${schema}.host_limits WHERE key = '192.0.2.3') AS limits`,
        );
        if (left?.rcpts === 0 && left.limits === 0) break;
        assert.ok(Date.now() < deadline, `not swept: ${JSON.stringify(left)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await worker.stop();
    }
    const [kept] = await query<{ rcpts: number; limits: number }>(
      url,
      `SELECT (SELECT count(*)::int FROM ${schema}.host_rcpts) AS rcpts,
              (SELECT count(*)::int FROM ${schema}.host_limits) AS limits`,
    );
    assert.deepEqual(kept, { rcpts: 1, limits: 1 });
  });
});
