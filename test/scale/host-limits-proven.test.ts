/**
 * What a worker learns of a host's error budget while it is still rcpt's guess is shared through
 * PostgreSQL (`host_limits`) as it is learned, so the host is crossed once over the whole job:
 * - what it proved below the guess (refusals a session drew with a reply on time after them,
 *   `provenRefusals`): the next worker at the host starts from it, its sessions drawing what was
 *   proven rather than one refusal each, and the one crossing fixes the budget there, not at one;
 * - the explorer's batch sent past what is proven (`exploringBatch`), stored before it goes out: a
 *   worker killed (`kill -9`) while the server delays that batch's replies has read nothing, and the
 *   worker taking the host over takes the batch to have crossed, rather than crossing again.
 * Against sim-MTAs on loopback with a soft error limit they do not announce; counts from the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { HostLimitsRecord, VerifyOptions } from '../../src/index.js';
import {
  openScaleOut,
  startWorker,
  type RunningWorker,
  type ScaleOut,
} from '../../src/jobs/postgres/index.js';
import {
  crossingSessions,
  halfKnown,
  isKnown,
  startHiddenBudgetHost,
  type HiddenBudgetHost,
} from '../helpers/hidden-budget.js';
import { loopbackOptions } from '../helpers/world-options.js';
import {
  PG_URL,
  SKIP_NO_PG,
  dropSchema,
  ensureStopped,
  freshSchema,
  jobDone,
  query,
  startRcpt,
  submitAddresses,
  type RcptProcess,
  until,
  verdictCounts,
} from './helpers.js';

const HOST = '127.0.16.1';
/** The hosts a worker is killed at and stopped at, mid-crossing. */
const KILL_HOST = '127.0.16.2';
const STOP_HOST = '127.0.16.3';
/** Every reply after a session's 3rd refusal is a second late (421 at the 6th): below the guess of 9. */
const SOFT = 3;

/** Refused RCPTs a session sent, as the server saw them (every mailbox but the `.ok` ones is unknown). */
const refusedIn = (commands: readonly string[]): number =>
  commands.filter((line) => /^RCPT TO:/i.test(line) && !/\.ok@/i.test(line)).length;

const storedAt = async (url: string, schema: string, host: string): Promise<HostLimitsRecord | null> => {
  const rows = await query<{ record: string }>(
    url,
    `SELECT record FROM ${schema}.host_limits WHERE host = $1`,
    [host],
  );
  return rows[0] === undefined ? null : (JSON.parse(rows[0].record) as HostLimitsRecord);
};

describe('proven below the guess, shared by scale-out workers', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('proven');
  let host: HiddenBudgetHost;
  let cluster: ScaleOut;
  let verify: VerifyOptions;

  before(async () => {
    host = await startHiddenBudgetHost({
      host: HOST,
      soft: SOFT,
      domains: ['proven.test', 'proven-b.test'],
      exists: isKnown,
    });
    cluster = await openScaleOut(url, { schema, supervise: false });
    verify = {
      ...loopbackOptions({ dnsServer: host.dns.address, smtpPort: host.mta.port }),
      timeoutMs: 20_000,
      greylistWaitMs: 0,
    };
  });

  after(async () => {
    await cluster?.close();
    await host?.close();
    await dropSchema(url, schema);
  });

  const start = (): Promise<RunningWorker> =>
    startWorker({ url, schema, verify, pollMs: 100, leaseMs: 2_000 });

  const storedRecord = (): Promise<HostLimitsRecord | null> => storedAt(url, schema, HOST);

  async function verifyJob(addresses: readonly string[]): Promise<void> {
    const jobId = await submitAddresses(cluster, addresses);
    await jobDone(cluster, jobId, 90_000);
    const known = addresses.filter(isKnown).length;
    assert.deepEqual(await verdictCounts(url, schema, jobId), [
      ['deliverable', known],
      ['undeliverable', addresses.length - known],
    ]);
  }

  it('the next worker draws what the last one proved, and the one crossing fixes the budget there', async () => {
    // A short job: the first worker's sessions prove a few refusals on time, below the guess, and
    // do not reach the host's limit. (6 addresses: the explorer proves a refusal a round trip once the
    // host is seen to answer after one, a catch-all probe ending its batch; with the seventh it goes on
    // to the limit, its one crossing in the first job, and 5 addresses prove only 1.)
    const first = await start();
    try {
      await verifyJob(halfKnown('proven.test', 6));
    } finally {
      await first.stop();
    }
    const learned = await storedRecord();
    assert.equal(host.mta.stats.sleptReplies, 0, 'no crossing in the first job');
    assert.equal(learned?.budgetSource, 'default', JSON.stringify(learned));
    const proven = learned.provenRefusals ?? 0;
    assert.ok(proven >= 2 && proven < SOFT, `proven ${proven} below the guess, stored as learned`);

    // Three other workers, a long job at the same host: one of them holds it at a time.
    const firstSession = host.mta.sessions.length;
    const workers = await Promise.all([start(), start(), start()]);
    try {
      await verifyJob(halfKnown('proven-b.test', 120));
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
    }
    const sessions = host.mta.sessions.slice(firstSession);
    const crossed = crossingSessions(host.mta);
    const drawn = sessions.map((session) => refusedIn(session.commands));
    const report = `sessions' refusals ${drawn.join(' ')}; ${host.mta.stats.sleptReplies} delayed replies`;
    assert.equal(crossed, 1, `one crossing over both jobs: ${report}`);
    assert.equal(host.mta.stats.hardLimitHits, 0, report);
    const stored = await storedRecord();
    // Before: fixed at what the crossing's own run had proven, 1 refusal a session for the day.
    assert.equal(stored?.budgetSource, 'penalty', JSON.stringify(stored));
    assert.ok(
      (stored.errorBudget ?? Infinity) >= proven && (stored.errorBudget ?? Infinity) < SOFT,
      `fixed at what the cluster proved (${proven}) or more, below the limit: ${JSON.stringify(stored)}`,
    );
    // The second job's sessions other than the crossing one drew what the first job proved (before:
    // one refusal each, the first job's proof lost).
    const others = sessions.filter((session) => session.sleptReplies === 0);
    assert.ok(Math.max(...others.map((session) => refusedIn(session.commands))) >= proven, report);
  });
});

describe('a worker killed or stopped mid-crossing', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('midcross');
  let cluster: ScaleOut;

  before(async () => {
    cluster = await openScaleOut(url, { schema, supervise: false });
  });

  after(async () => {
    await cluster?.close();
    await dropSchema(url, schema);
  });

  /**
   * A worker verifies 120 addresses at a host whose every reply after a session's 3rd refusal is a
   * second late (421 at the 6th): its explorer's first batch, sized for the guess of 9, crosses it.
   * As soon as the server delays a reply of that session the worker is ended (`end`), having read
   * none of that batch's replies; two other workers finish the job.
   */
  async function crossAndEnd(
    at: string,
    domain: string,
    end: (host: HiddenBudgetHost) => Promise<void>,
  ): Promise<{ host: HiddenBudgetHost; left: HostLimitsRecord | null; drawn: string }> {
    const host = await startHiddenBudgetHost({ host: at, soft: 3, domains: [domain], exists: isKnown });
    const workers: RunningWorker[] = [];
    try {
      const addresses = halfKnown(domain, 120);
      const jobId = await submitAddresses(cluster, addresses);
      await end(host);
      assert.equal(crossingSessions(host.mta), 1);
      const left = await storedAt(url, schema, at);
      const verify: VerifyOptions = {
        ...loopbackOptions({ dnsServer: host.dns.address, smtpPort: host.mta.port }),
        timeoutMs: 20_000,
        greylistWaitMs: 0,
      };
      for (let i = 0; i < 2; i++)
        workers.push(await startWorker({ url, schema, verify, pollMs: 100, leaseMs: 1_000 }));
      await jobDone(cluster, jobId, 90_000);
      const known = addresses.filter(isKnown).length;
      assert.deepEqual(await verdictCounts(url, schema, jobId), [
        ['deliverable', known],
        ['undeliverable', addresses.length - known],
      ]);
      const drawn = host.mta.sessions
        .map((session) => `${refusedIn(session.commands)}/${session.sleptReplies}`)
        .join(' ');
      return { host, left, drawn };
    } finally {
      await Promise.all(workers.map((worker) => worker.stop()));
      await host.close();
    }
  }

  /** What the next holders did: one crossing in all (before: their explorer crossed again, 2). */
  async function crossedOnce(at: string, { host, drawn }: { host: HiddenBudgetHost; drawn: string }) {
    assert.equal(crossingSessions(host.mta), 1, `sessions' refusals/delayed replies: ${drawn}`);
    const stored = await storedAt(url, schema, at);
    assert.equal(stored?.budgetSource, 'penalty', JSON.stringify(stored));
    assert.ok((stored.errorBudget ?? Infinity) < 3, JSON.stringify(stored));
    assert.equal('exploringBatch' in stored, false, JSON.stringify(stored));
  }

  const delayed = (host: HiddenBudgetHost): Promise<void> =>
    until('a delayed reply', () => Promise.resolve(host.mta.stats.sleptReplies > 0), 30_000, 1);

  it('kill -9: the batch it had out is stored, and the next holder does not cross again', async () => {
    let killed: RcptProcess | null = null;
    try {
      const run = await crossAndEnd(KILL_HOST, 'midcross.test', async (host) => {
        killed = startRcpt(
          [
            'worker',
            '--db',
            url,
            '--source-ip',
            '127.0.1.1',
            '--lease-ms',
            '1000',
            '--dns-server',
            host.dns.address,
            '--smtp-port',
            String(host.mta.port),
            '--allow-private-targets',
            '--helo',
            'probe.rcpt.test',
            '--mail-from',
            'verify@rcpt.test',
          ],
          { RCPT_PG_SCHEMA: schema },
        );
        // Killed as soon as the server delays a reply (a second late): the batch was stored before
        // it went out, and nothing was judged.
        await delayed(host);
        killed.child.kill('SIGKILL');
        assert.equal(await killed.exited, 'SIGKILL');
      });
      assert.equal(run.left?.budgetSource, 'default', `nothing judged yet: ${JSON.stringify(run.left)}`);
      assert.equal(typeof run.left.exploringBatch, 'string', `stored: ${JSON.stringify(run.left)}`);
      await crossedOnce(KILL_HOST, run);
    } finally {
      if (killed !== null) await ensureStopped(killed);
    }
  });

  it('stopped (SIGTERM): its sessions are cut with the batch out, and the next holder does not cross again', async () => {
    const run = await crossAndEnd(STOP_HOST, 'midstop.test', async (host) => {
      const verify: VerifyOptions = {
        ...loopbackOptions({ dnsServer: host.dns.address, smtpPort: host.mta.port }),
        timeoutMs: 20_000,
        greylistWaitMs: 0,
      };
      const stopped = await startWorker({ url, schema, verify, pollMs: 100, leaseMs: 1_000 });
      await delayed(host);
      await stopped.stop();
    });
    assert.equal(typeof run.left?.exploringBatch, 'string', `stored: ${JSON.stringify(run.left)}`);
    await crossedOnce(STOP_HOST, run);
  });
});
