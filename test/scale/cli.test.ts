/**
 * The scale-out verbs as processes: `rcpt bulk --db postgres://…` submits a CSV, follows it while a
 * worker verifies it, and writes the output with the input's columns; `rcpt worker` refuses what it
 * cannot use (no database, a SQLite file, a bad source address) with exit status 64.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parse } from 'csv-parse/sync';

import { startWorker, type RunningWorker } from '../../src/jobs/postgres/index.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema, startRcpt, type RcptProcess } from './helpers.js';
import { startScaleWorld, worldVerifyOptions, type ScaleWorld } from './world.js';

describe('rcpt bulk and rcpt worker on PostgreSQL', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('cli');
  let world: ScaleWorld;
  let worker: RunningWorker;
  let dir: string;
  const relays: Server[] = [];
  const schemas: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rcpt-scale-cli-'));
    world = await startScaleWorld({
      size: 600,
      hostCount: 5,
      domainCount: 30,
      latencyMs: 2,
      greylistMs: 300,
    });
    worker = await startWorker({
      url,
      schema,
      verify: {
        ...worldVerifyOptions(world),
        greylistWaitMs: 500,
        timeoutMs: 10_000,
        localAddress: '127.0.1.9',
      },
      leaseMs: 2_000,
      pollMs: 100,
    });
  });

  after(async () => {
    for (const relay of relays) relay.close();
    for (const name of schemas) await dropSchema(url, name);
    await worker?.stop();
    await world?.close();
    await dropSchema(url, schema);
    await rm(dir, { recursive: true, force: true });
  });

  it('bulk submits a CSV, follows the workers, and writes every row with its verdict', async () => {
    const input = join(dir, 'list.csv');
    const output = join(dir, 'out.csv');
    const rows = world.addresses.map((a, i) => `${i + 1};"Name ${i + 1}";${a.address}`);
    // A duplicate row and a row that is not an address: verified once / reported, as without PostgreSQL.
    rows.push(`601;"Again";${world.addresses[0]?.address ?? ''}`, '602;"Broken";not-an-address');
    await writeFile(input, `id;name;email\n${rows.join('\n')}\n`);
    // A password in the URL (the suite's server does not ask for one) is never shown.
    const withPassword = new URL(url);
    withPassword.password = 'never-shown-pw';
    const bulk = startRcpt(['bulk', input, '-o', output, '--db', withPassword.href], {
      RCPT_PG_SCHEMA: schema,
    });
    const code = await bulk.exited;
    assert.equal(code, 0, bulk.stderr());
    assert.doesNotMatch(bulk.stderr(), /never-shown-pw/);
    assert.match(bulk.stderr(), /job \S+ in postgres(ql)?:\/\/[^:@\s]*:\*\*\*@/);
    assert.match(bulk.stderr(), /602 rows \(601 distinct addresses, 1 duplicate\)/);
    // The output keeps the input's delimiter (`;`), as without PostgreSQL.
    const text = await readFile(output, 'utf8');
    assert.ok(text.startsWith('id;name;email;verdict;'), text.slice(0, 40));
    const records: Record<string, string>[] = parse(text, { columns: true, delimiter: ';' });
    assert.equal(records.length, 602);
    const expected = new Map(world.addresses.map((a) => [a.address, a.verdict]));
    for (const [index, record] of records.slice(0, 600).entries()) {
      assert.equal(record.email, world.addresses[index]?.address);
      assert.ok(record.verdict === 'deliverable' || record.verdict === 'undeliverable', record.verdict);
      assert.equal(record.verdict, expected.get(record.email ?? ''), record.email);
    }
    assert.equal(records[600]?.verdict, records[0]?.verdict);
    assert.equal(records[601]?.reason, 'invalid_syntax');
    assert.equal(records[1]?.name, 'Name 2');
    // The worker sent every RCPT from its own source address.
    assert.deepEqual([...new Set(world.hosts.flatMap((h) => [...h.clients]))], ['127.0.1.9']);
  });

  it('worker refuses to start without a PostgreSQL URL or with a bad source address (exit 64)', async () => {
    // Three processes at once: each start pays for loading TypeScript through tsx.
    const none = startRcpt(['worker'], { RCPT_DB: '' });
    const sqlite = startRcpt(['worker', '--db', join(dir, 'jobs.db')]);
    const badIp = startRcpt(['worker', '--db', url, '--source-ip', 'not-an-ip']);
    assert.deepEqual(await Promise.all([none.exited, sqlite.exited, badIp.exited]), [64, 64, 64]);
    assert.match(none.stderr(), /needs --db postgres:\/\//);
    assert.match(sqlite.stderr(), /must be a postgres:\/\/ URL/);
    assert.match(badIp.stderr(), /--source-ip must be an IP address/);
  });

  it('worker on a PostgreSQL that has no such database: exit 1, one line naming it and --db / RCPT_DB', async () => {
    const missing = new URL(url);
    missing.pathname = '/rcpt_no_such_database';
    const worker = startRcpt(['worker', '--db', missing.toString()]);
    assert.equal(await worker.exited, 1, worker.stderr());
    assert.match(
      worker.stderr(),
      /^rcpt: worker: PostgreSQL at 127\.0\.0\.1:\d+ did not let rcpt in: database "rcpt_no_such_database" does not exist \(--db or RCPT_DB names the database, user and password\)$/m,
    );
    assert.doesNotMatch(worker.stderr(), /^\s+at /m);
  });

  // A loopback relay in front of PostgreSQL holds the first connections until the signal has been sent,
  // so the SIGTERM lands while the process is still connecting. Before, rcpt worker and rcpt serve took
  // their signals only once started, and a SIGTERM before that (crash.test.ts saw one right after the
  // worker's `started` line, CI at 2026-12-08 01:05) ended the process by the signal's default action.
  async function sigtermWhileStarting(args: (db: string) => string[]): Promise<RcptProcess> {
    const target = new URL(url);
    let signalled = false;
    const held: (() => void)[] = [];
    let reached: () => void = () => undefined;
    const connected = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const server = createServer((client) => {
      const forward = () => {
        const upstream = connect(Number(target.port), target.hostname);
        client.pipe(upstream).pipe(client);
        const close = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', close).on('close', close);
        upstream.on('error', close).on('close', close);
      };
      if (signalled) forward();
      else held.push(forward);
      reached();
    });
    relays.push(server);
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const through = new URL(url);
    through.port = String((server.address() as AddressInfo).port);
    const sigSchema = freshSchema('sig');
    schemas.push(sigSchema);
    const process = startRcpt(args(through.toString()), { RCPT_PG_SCHEMA: sigSchema });
    await connected;
    process.child.kill('SIGTERM');
    // Let the process take the signal before its connection goes on.
    await new Promise((settle) => setTimeout(settle, 300));
    signalled = true;
    for (const forward of held.splice(0)) forward();
    return process;
  }

  it('worker stopped by SIGTERM while it starts: it starts, hands back nothing, and exits 0', async () => {
    const worker = await sigtermWhileStarting((db) => ['worker', '--db', db]);
    assert.equal(await worker.exited, 0, worker.stderr());
    const types = worker.lines.map((line) => line.type);
    assert.ok(types.includes('started'), `the worker started first: ${JSON.stringify(worker.lines)}`);
    assert.ok(types.includes('stopped'), `and then stopped: ${JSON.stringify(worker.lines)}`);
  });

  it('serve stopped by SIGTERM while it starts on PostgreSQL: it starts, stops, and exits 0', async () => {
    const serve = await sigtermWhileStarting((db) => ['serve', '--db', db, '--port', '0']);
    assert.equal(await serve.exited, 0, serve.stderr());
    const messages = serve.lines.map((line) => line.msg);
    assert.ok(messages.includes('stopping'), `it stopped as on any SIGTERM: ${JSON.stringify(serve.lines)}`);
  });
});
