/**
 * `rcpt bulk` when its job store cannot keep the host limits it learned (docs/bulk.md, "What is kept
 * between runs"). On a full disk the same disk refuses the run's next results, and the run ends with
 * the one line that says so and how to go on: saving the limits there must not add a line of its own
 * (it did: 'could not store learned host limits: database or disk is full' came first). Any other
 * failure of that save is said once per run, and the run goes on.
 *
 * The full disk is real: the job database lies on a small tmpfs in a private mount namespace (no root
 * needed: a user namespace too), filled up by the MX host the moment it is asked its first RCPT. The
 * host's greeting teaches only its error budget (Postfix's), saved before that moment; what the run
 * learns from the RCPT replies (the host's recipient limit) and its results are saved after it, and
 * every one of those writes meets a disk with no block left, whatever their order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';

import { startSimMta, type SimMta, type SimReply } from '../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../src/demo/dns-server.js';
import { openSqliteJobStore } from '../../src/jobs/index.js';
import { crashFlags, outputProblems, writeCrashInput } from './helpers/crash-run.js';
import { failureLine, runBulk } from './helpers/disk-run.js';
import { fillUp, holdTmpfs, noNamespace } from './helpers/tmpfs.js';

/** better-sqlite3 by its path (a child in another namespace starts in `/`). */
const SQLITE = createRequire(import.meta.url).resolve('better-sqlite3');
/** Distinct addresses (and a tenth repeated), over two domains with one MX host. */
const DISTINCT = 40;
const USERS = new Set(Array.from({ length: DISTINCT }, (_, i) => `ok${i}`));
/** RCPTs the host takes per transaction: the limit every run learns. */
const RECIPIENT_LIMIT = 3;

let dir: string;
let input: string;
let rowsIn: readonly string[];
let dns: DnsServer;
let mta: SimMta;
/** Called at every RCPT the host is asked (postmaster aside), before it answers. */
let onRcpt: () => void = () => undefined;
let flags: string[];
let unavailable: string | null = null;

/** RCPTs the host was asked for the list's addresses. */
const rcpts = (): number =>
  mta.sessions.reduce(
    (n, s) => n + s.commands.filter((c) => /^RCPT /i.test(c) && !/postmaster@/i.test(c)).length,
    0,
  );

/**
 * The learned host limits stored in the SQLite file `db`, a line `HOST RECORD` each, read by another
 * process (`enter`: the command that runs it in the namespace where `db` is).
 */
function storedLimits(db: string, enter: readonly string[] = []): string[] {
  const read = `const Database = require(${JSON.stringify(SQLITE)});
    const reader = new Database(process.argv[1], { readonly: true, fileMustExist: true });
    for (const row of reader.prepare('SELECT host, record FROM host_limits ORDER BY key').all())
      console.log(row.host + ' ' + row.record);`;
  const argv = [...enter, process.execPath, '-e', read, db];
  const child = spawnSync(argv[0] ?? process.execPath, argv.slice(1), { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return child.stdout.split('\n').filter((line) => line !== '');
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-bulk-store-full-'));
  unavailable = noNamespace(dir);
  // CI has what this needs (root, util-linux): there, a missing namespace is a failure, not a skip.
  if (unavailable !== null && process.env.CI !== undefined) throw new Error(unavailable);
  ({ input, rowsIn } = await writeCrashInput(dir, DISTINCT));
  mta = await startSimMta({
    host: '127.9.8.1',
    port: 0,
    // Postfix's: its error budget is known from the greeting, so no session explores it (an explorer's
    // batch cut by the full disk would leave the budget fixed at what was proven on --resume, and no
    // batch would reach the recipient limit again: docs/bulk.md, "A crossing cut short").
    banner: 'mx.full.test ESMTP Postfix',
    recipientLimit: RECIPIENT_LIMIT,
    record: true,
    recipient: (address): SimReply | null => {
      onRcpt();
      return USERS.has(address.slice(0, address.indexOf('@')))
        ? null
        : {
            code: 550,
            text: `5.1.1 <${address}>: Recipient address rejected: User unknown in virtual mailbox table`,
          };
    },
  });
  dns = await startDnsServer({
    host: '127.0.0.1',
    port: 0,
    zones: {
      'one.crash.test': { MX: [{ priority: 10, exchange: 'mx.full.test' }] },
      'two.crash.test': { MX: [{ priority: 10, exchange: 'mx.full.test' }] },
      'mx.full.test': { A: ['127.9.8.1'] },
    },
  });
  flags = crashFlags(dns.address, mta.port);
});

after(async () => {
  await Promise.all([dns.close(), mta.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('rcpt bulk: learned host limits the job store cannot keep', () => {
  it('on a full disk: exit 1 with the one SQLITE_FULL line, none about the limits; --resume then finishes and saves them', async (t) => {
    if (unavailable !== null) {
      t.skip(`needs a private mount namespace: ${unavailable}`);
      return;
    }
    const dbDir = join(dir, 'db');
    await mkdir(dbDir);
    const tmpfs = await holdTmpfs(dbDir, '2m');
    try {
      // The runs see the tmpfs where it is mounted (in its namespace); this process writes the filler
      // through /proc.
      const db = join(dbDir, 'jobs.db');
      const output = join(dir, 'full.out.csv');
      let filled = 0;
      onRcpt = () => {
        if (filled === 0) filled = fillUp(join(tmpfs.path, 'filler'));
      };
      const before = rcpts();
      const bad = await runBulk([input, '-o', output, '--db', db, ...flags], { prefix: tmpfs.enter });
      onRcpt = () => undefined;
      assert.ok(filled > 0, 'the disk was filled at the first RCPT');
      assert.equal(bad.code, 1, bad.stderr);
      const { line, problem } = failureLine(bad.stderr);
      assert.equal(problem, null);
      assert.match(
        line ?? '',
        /^rcpt: the job database \S+\/db\/jobs\.db failed while storing results: the disk is full \(SQLITE_FULL\); the job is kept: run again with --resume once there is free space \(addresses with a stored result are not verified again\)$/,
      );
      // The run asked past the limit (so learned it) and could not save it (what the greeting taught
      // was saved before the disk filled).
      assert.ok(rcpts() - before > RECIPIENT_LIMIT, 'a transaction went past the limit');
      assert.deepEqual(
        storedLimits(db, tmpfs.enter).filter((row) => /"recipientLimit":\d/.test(row)),
        [],
      );

      await rm(join(tmpfs.path, 'filler'));
      const again = await runBulk([input, '--resume', '-o', output, '--db', db, ...flags], {
        prefix: tmpfs.enter,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.doesNotMatch(again.stderr, /learned host limits/);
      assert.deepEqual(await outputProblems(output, rowsIn), []);
      // Only what the full disk refused is verified again.
      const verified = Number(/(\d+) verifications? this run/.exec(again.stderr)?.[1]);
      assert.ok(verified > 0 && verified <= DISTINCT, again.stderr);
      // With room on the disk, the limit is saved.
      const saved = storedLimits(db, tmpfs.enter);
      assert.equal(saved.length, 1, saved.join('\n'));
      assert.match(saved[0] ?? '', new RegExp(`^127\\.9\\.8\\.1 .*"recipientLimit":${RECIPIENT_LIMIT}\\b`));
    } finally {
      onRcpt = () => undefined;
      await tmpfs.close();
    }
  });

  it('any other failure of the save: said once for the run, which finishes', async () => {
    const db = join(dir, 'refusing.db');
    // A job store whose host_limits table refuses every row (SQLITE_CONSTRAINT_TRIGGER), as a store
    // failing for a reason of its own would; results are stored as ever.
    await openSqliteJobStore(db).close();
    const writer = new Database(db);
    writer.exec(
      `CREATE TRIGGER refuse_limits BEFORE INSERT ON host_limits BEGIN SELECT RAISE(ABORT, 'no limits here'); END;`,
    );
    writer.close();
    const output = join(dir, 'refusing.out.csv');
    const run = await runBulk([input, '-o', output, '--db', db, ...flags]);
    assert.equal(run.code, 0, run.stderr);
    const said = run.stderr.split('\n').filter((line) => line.includes('learned host limits'));
    assert.deepEqual(said, ['rcpt bulk: could not store learned host limits: no limits here']);
    assert.deepEqual(await outputProblems(output, rowsIn), []);
    assert.deepEqual(storedLimits(db), []);
  });
});
