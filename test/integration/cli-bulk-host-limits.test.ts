/**
 * `rcpt bulk` keeps what it learned of a host's limits in its job store (src/jobs/host-limits.ts): a
 * run stopped after it paid one delayed reply to learn an error budget the host does not announce is
 * resumed knowing that budget, and draws no penalty, where the same work on a fresh store draws one.
 * Against a sim-MTA on loopback with Postfix's soft and hard error limits and no Postfix greeting;
 * every count comes from the server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import type { SimMta } from '../../bench/sim-mta.js';
import type { DnsServer } from '../../src/demo/dns-server.js';
import type { HostLimitsRecord } from '../../src/index.js';
import { halfKnown, isKnown, QUIT_WAIT_MS, startHiddenBudgetHost } from '../helpers/hidden-budget.js';
import { runCli } from '../helpers/run-cli.js';
import { loopbackFlags } from '../helpers/world-options.js';

const HOST = '127.0.6.2';
/** The host's soft limit: the reply after the 12th refusal of a session is delayed by a second. */
const SOFT = 12;
const ADDRESSES = 900;
/** Every other address is unknown, in the order the job reads them (a run stopped part-way leaves the same mix for its resume). */
const addresses = halfKnown('hidden.test', ADDRESSES);

let dns: DnsServer;
let hidden: SimMta;
let dir: string;

before(async () => {
  ({ mta: hidden, dns } = await startHiddenBudgetHost({
    host: HOST,
    soft: SOFT,
    domains: ['hidden.test'],
    exists: isKnown,
    // Slow enough that the first run is stopped with most of its work left.
    rcptDelayMs: 5,
  }));
  dir = await mkdtemp(join(tmpdir(), 'rcpt-bulk-limits-'));
});

after(async () => {
  await Promise.all([dns.close(), hidden.close()]);
  await rm(dir, { recursive: true, force: true });
});

const flags = () => [
  ...loopbackFlags({ dnsServer: dns.address, smtpPort: hidden.port }),
  '--greylist-wait',
  '0',
];

/** The learned limits the job database holds for the host, or `null`. */
function storedLimits(db: string): HostLimitsRecord | null {
  if (!existsSync(db)) return null;
  const reader = new Database(db, { readonly: true, fileMustExist: true });
  try {
    const row = reader.prepare('SELECT record FROM host_limits WHERE host = ?').get(HOST) as
      { record: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.record) as HostLimitsRecord);
  } catch {
    return null; // the schema is still being created
  } finally {
    reader.close();
  }
}

/** What the server saw during `run`: delayed replies, 421s, refusals, and refusals per session. */
async function counted<T>(run: () => Promise<T>) {
  const before = { ...hidden.stats };
  const firstSession = hidden.sessions.length;
  const value = await run();
  // The last session's QUIT may still be on its way: counted once the host saw every connection close.
  await hidden.settled(QUIT_WAIT_MS);
  const perSession = hidden.sessions
    .slice(firstSession)
    .map((session) => session.commands.filter((line) => /^RCPT TO:<\d+\.no@/i.test(line)).length);
  return {
    value,
    slept: hidden.stats.sleptReplies - before.sleptReplies,
    hardLimitHits: hidden.stats.hardLimitHits - before.hardLimitHits,
    refusals: hidden.stats.errors - before.errors,
    perSession,
  };
}

describe('rcpt bulk keeps learned host limits in its job store', () => {
  let input: string;

  before(async () => {
    input = join(dir, 'hidden.txt');
    await writeFile(input, `${addresses.join('\n')}\n`);
  });

  it('a run stopped after learning the budget is resumed with it: no penalty on the resume, one on a fresh store', async () => {
    const output = join(dir, 'resumed.ndjson');
    const db = `${output}.rcpt.db`;
    // First run: stopped (Ctrl-C) once the budget it learned by a delayed reply is in the store.
    const first = await counted(async () => {
      const running = runCli(['bulk', input, '-o', output, ...flags()]);
      const deadline = Date.now() + 60_000;
      while (storedLimits(db)?.budgetSource !== 'penalty' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      process.emit('SIGINT');
      return running;
    });
    assert.equal(first.value.code, 130, first.value.stderr);
    assert.match(first.value.stderr, /stopped with \d+ of 900 addresses done; run again with --resume/);
    const learned = storedLimits(db);
    assert.equal(learned?.budgetSource, 'penalty', JSON.stringify(learned));
    assert.equal(learned.errorBudget, SOFT - 1);
    assert.ok(first.slept >= 1, 'the first run paid for the budget with a delayed reply');

    const resumed = await counted(() => runCli(['bulk', input, '-o', output, '--resume', ...flags()]));
    assert.equal(resumed.value.code, 0, resumed.value.stderr);
    assert.match(resumed.value.stderr, /resuming job/);
    assert.equal(resumed.slept, 0, `the resume drew ${resumed.slept} delayed replies`);
    assert.equal(resumed.hardLimitHits, 0);
    // Work enough that a run without the budget would have explored past it, each session within it.
    assert.ok(resumed.refusals >= 4 * SOFT, `${resumed.refusals} refusals on the resume`);
    assert.ok(Math.max(...resumed.perSession) <= SOFT - 1, resumed.perSession.join(' '));
    const reasons = (await readFile(output, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { reason: string }).reason);
    assert.equal(reasons.length, ADDRESSES);
    assert.deepEqual(
      reasons,
      addresses.map((address) => (isKnown(address) ? 'accepted' : 'mailbox_not_found')),
    );

    // The same list on a fresh store learns the budget again, at the price of a delayed reply.
    const fresh = await counted(() => runCli(['bulk', input, '-o', join(dir, 'fresh.ndjson'), ...flags()]));
    assert.equal(fresh.value.code, 0, fresh.value.stderr);
    assert.ok(fresh.slept >= 1, `a fresh store drew ${fresh.slept} delayed replies`);
  });
});
