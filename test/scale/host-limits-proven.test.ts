/**
 * What a worker proved of a host's error budget while it was still rcpt's guess (refusals a session drew
 * with a reply on time after them, below the guess) is shared through PostgreSQL (`host_limits`,
 * `provenRefusals`): the next worker at the host starts from it, its sessions drawing what was proven
 * rather than one refusal each, and the one crossing that finds the host's limit fixes the budget
 * there, not at one. Against a sim-MTA on loopback with a soft error limit it does not announce;
 * counts from the server.
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
  freshSchema,
  jobDone,
  query,
  submitAddresses,
  verdictCounts,
} from './helpers.js';

const HOST = '127.0.16.1';
/** Every reply after a session's 3rd refusal is a second late (421 at the 6th): below the guess of 9. */
const SOFT = 3;

/** Refused RCPTs a session sent, as the server saw them (every mailbox but the `.ok` ones is unknown). */
const refusedIn = (commands: readonly string[]): number =>
  commands.filter((line) => /^RCPT TO:/i.test(line) && !/\.ok@/i.test(line)).length;

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

  const storedRecord = async (): Promise<HostLimitsRecord | null> => {
    const rows = await query<{ record: string }>(
      url,
      `SELECT record FROM ${schema}.host_limits WHERE host = $1`,
      [HOST],
    );
    return rows[0] === undefined ? null : (JSON.parse(rows[0].record) as HostLimitsRecord);
  };

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
    // reach nothing like the host's limit.
    const first = await start();
    try {
      await verifyJob(halfKnown('proven.test', 5));
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
    const crossed = host.mta.sessions.filter((session) => session.sleptReplies > 0).length;
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
