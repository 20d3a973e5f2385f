/**
 * A job stored whole but not yet handed to the workers must not be lost with the process that stored
 * it (issue 9). `rcpt serve --db postgres://…` and `rcpt bulk --db postgres://…` store the rows, mark
 * the job ingested, then submit it to the `rcpt-plan` queue; each test holds a real one of them right
 * after the ingest is committed, kills it there with SIGKILL, and starts a worker, which must verify the
 * job: every row once, in order, every address asked once. Before the fix both timed out (the job stayed
 * `queued` for ever: ingested, with no queue entry). The last test submits a job three times (the
 * ingest, then as `rcpt serve` and `rcpt bulk --resume` still do): it is planned once, every address
 * asked once; without the worker's check it was planned three times.
 *
 * The hold, the same for both processes (`rcpt serve` stores an upload only once it has arrived whole,
 * so the hold cannot wait on the body): a SHARE lock on `items` stops the storing at its first rows,
 * once the job and its layout are stored; a SHARE lock on `jobs` is then taken and the one on `items`
 * let go, so the rows go in and the statement that marks the job ingested waits. An ACCESS EXCLUSIVE
 * lock then queues behind that statement; once the SHARE lock is let go, the statement (and its
 * transaction) goes first, and the process's next read of the job waits behind the exclusive lock:
 * stored, not yet submitted by a later call.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';

import pg from 'pg';

import { openScaleOut } from '../../src/jobs/postgres/index.js';
import {
  PG_URL,
  SKIP_NO_PG,
  blockedAt,
  dropSchema,
  ensureStopped,
  freshSchema,
  query,
  startRcpt,
  storeAddresses,
  until,
  type RcptProcess,
} from './helpers.js';
import { startScaleWorld, workerArgs, worldFlags, type ScaleWorld } from './world.js';

const LEASE_MS = 1_000;
/** A worker plans and verifies these 60 addresses in about a second; without the fix, never. */
const FINISH_WITHIN_MS = 15_000;
const SIZE = 60;

/** How a test feeds the process that stores the job: the whole list. */
interface Storer {
  readonly process: RcptProcess;
  send(): void;
}

describe('a job stored but not yet submitted when its storer is killed', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  let world: ScaleWorld;
  let list: string[] = [];
  let directory = '';
  const processes: RcptProcess[] = [];
  const clients: pg.Client[] = [];
  const schemas: string[] = [];

  before(async () => {
    world = await startScaleWorld({ size: 300, hostCount: 6, domainCount: 80, latencyMs: 1 });
    // Not at the greylisting host: every address is asked exactly once when nothing goes wrong.
    const greylisted = new Set(world.domainsByHost.get(world.greylistHost));
    list = world.addresses
      .map((a) => a.address)
      .filter((address) => !greylisted.has(address.split('@')[1] ?? ''))
      .slice(0, SIZE);
    assert.equal(list.length, SIZE);
    directory = await mkdtemp(join(tmpdir(), 'rcpt-submit-crash-'));
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.end().catch(() => undefined);
    for (const process of processes.splice(0)) await ensureStopped(process);
  });

  after(async () => {
    await world?.close();
    for (const name of schemas) await dropSchema(url, name);
    if (directory !== '') await rm(directory, { recursive: true, force: true });
  });

  function newSchema(): string {
    const schema = freshSchema('subcrash');
    schemas.push(schema);
    return schema;
  }

  const verifyFlags = (): string[] => worldFlags(world);

  function worker(schema: string, n: number): RcptProcess {
    const process = startRcpt(workerArgs(url, world, n, { leaseMs: LEASE_MS }), { RCPT_PG_SCHEMA: schema });
    processes.push(process);
    return process;
  }

  async function connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: url, application_name: 'submit-crash-test' });
    await client.connect();
    clients.push(client);
    return client;
  }

  /**
   * Starts the storer, holds it right after the job is marked ingested (see the file's comment), kills
   * it there, and resolves with the job's id. Its sessions' waiting statements are ended too: one
   * already at the server would still run once the lock is gone, as if the kill came a moment later.
   */
  async function killAfterIngest(schema: string, start: () => Storer): Promise<string> {
    const rowsHeld = await connect();
    const share = await connect();
    const exclusive = await connect();
    const storer = start();
    processes.push(storer.process);
    // The process creates its tables as it starts.
    await until("the store's tables", async () => {
      const [row] = await query<{ items: string | null }>(url, `SELECT to_regclass($1)::text AS items`, [
        `${schema}.items`,
      ]);
      return row?.items != null;
    });
    await rowsHeld.query('BEGIN');
    await rowsHeld.query(`LOCK TABLE ${schema}.items IN SHARE MODE`);
    storer.send();
    await blockedAt(url, /INSERT INTO \w+\.items/);
    const [stored] = await query<{ id: string }>(
      url,
      `SELECT id FROM ${schema}.jobs WHERE layout IS NOT NULL`,
    );
    const jobId = stored?.id ?? '';
    assert.notEqual(jobId, '', 'the job and its layout are stored before its rows');
    await share.query('BEGIN');
    await share.query(`LOCK TABLE ${schema}.jobs IN SHARE MODE`);
    await rowsHeld.query('ROLLBACK');
    await blockedAt(url, /UPDATE \w+\.jobs SET ingested = true/);

    await exclusive.query('BEGIN');
    const exclusivePid = (await exclusive.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]
      ?.pid;
    const locked = exclusive.query(`LOCK TABLE ${schema}.jobs IN ACCESS EXCLUSIVE MODE`);
    await until('the exclusive lock to queue behind the ingest', async () => {
      const rows = await query(
        url,
        `SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`,
        [exclusivePid],
      );
      return rows.length > 0;
    });
    await share.query('ROLLBACK');
    await locked;
    // The ingest is committed (the exclusive lock waited for its transaction); the next read waits.
    await blockedAt(url, /SELECT \* FROM \w+\.jobs WHERE id = \$1/);
    const { rows } = await exclusive.query<{ status: string; ingested: boolean; total_rows: number }>(
      `SELECT status, ingested, total_rows FROM ${schema}.jobs WHERE id = $1`,
      [jobId],
    );
    assert.deepEqual(rows[0], { status: 'queued', ingested: true, total_rows: SIZE });

    await ensureStopped(storer.process);
    await query(
      url,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE wait_event_type = 'Lock' AND application_name LIKE 'rcpt%'`,
    );
    await exclusive.query('ROLLBACK');
    return jobId;
  }

  /** The job is done within FINISH_WITHIN_MS: every row once, in input order, each address asked once. */
  async function verifiedOnce(schema: string, jobId: string, rcptsBefore: Map<string, number>) {
    await until(
      `job ${jobId} to be done`,
      async () => {
        const [row] = await query<{ status: string }>(
          url,
          `SELECT status FROM ${schema}.jobs WHERE id = $1`,
          [jobId],
        );
        return row?.status === 'done';
      },
      FINISH_WITHIN_MS,
    );
    const cluster = await openScaleOut(url, { schema, supervise: false });
    try {
      const rows = [];
      for await (const row of cluster.store.readOutput(jobId)) rows.push(row);
      assert.deepEqual(
        rows.map((row) => row.input),
        list,
        'every row once, in input order',
      );
      const expected = new Map(world.addresses.map((a) => [a.address, a.verdict]));
      for (const row of rows) assert.equal(row.result?.verdict, expected.get(row.input), row.input);
    } finally {
      await cluster.close();
    }
    for (const address of list) {
      const key = address.toLowerCase();
      assert.equal(
        (world.rcptsByAddress.get(key) ?? 0) - (rcptsBefore.get(key) ?? 0),
        1,
        `${address} asked once`,
      );
    }
  }

  it('rcpt serve killed after storing an upload and before submitting it: a worker verifies it', async () => {
    const schema = newSchema();
    const server = startRcpt(['serve', '--db', url, '--port', '0', '--log-level', 'info', ...verifyFlags()], {
      RCPT_PG_SCHEMA: schema,
    });
    processes.push(server);
    const listening = new URL(String((await server.waitFor((line) => line.msg === 'listening')).url));
    const rcptsBefore = new Map(world.rcptsByAddress);
    const jobId = await killAfterIngest(schema, () => {
      const upload = request({
        host: listening.hostname,
        port: listening.port,
        path: '/v1/jobs',
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
      });
      // The server dies before it answers.
      upload.on('error', () => undefined);
      return { process: server, send: () => upload.end(`${list.join('\n')}\n`) };
    });
    worker(schema, 1);
    await verifiedOnce(schema, jobId, rcptsBefore);
  });

  it('rcpt bulk killed after storing its input and before submitting it: a worker verifies it', async () => {
    const schema = newSchema();
    const rcptsBefore = new Map(world.rcptsByAddress);
    const jobId = await killAfterIngest(schema, () => {
      const bulk = startRcpt(
        ['bulk', '-', '--db', url, '-o', join(directory, 'out.csv')],
        { RCPT_PG_SCHEMA: schema, CI: '1' },
        { stdin: true },
      );
      bulk.child.stdin?.on('error', () => undefined);
      return { process: bulk, send: () => bulk.child.stdin?.end(`${list.join('\n')}\n`) };
    });
    worker(schema, 1);
    await verifiedOnce(schema, jobId, rcptsBefore);
  });

  it('a job submitted three times is planned once, each address asked once', async () => {
    const schema = newSchema();
    const cluster = await openScaleOut(url, { schema, supervise: false });
    try {
      // Stored whole, so submitted by the ingest (finishIngest).
      const jobId = await storeAddresses(cluster, list);
      // No result can be written meanwhile, so the job stays planned and running while the worker takes
      // the next two entries (a job already done would be skipped anyway).
      const results = await connect();
      await results.query('BEGIN');
      await results.query(`LOCK TABLE ${schema}.results IN EXCLUSIVE MODE`);
      const rcptsBefore = new Map(world.rcptsByAddress);
      const only = worker(schema, 1);
      await only.waitFor((line) => line.type === 'planned');
      // Submitted twice more, as `rcpt serve` (after ingesting) and `rcpt bulk --resume` do.
      await cluster.submit(jobId);
      await cluster.submit(jobId);
      // An entry is taken with its plan lease, and the lease let go once the entry is dealt with.
      await until('both entries to be taken and dealt with', async () => {
        const [row] = await query<{ n: number }>(
          url,
          `SELECT (SELECT count(*) FROM ${schema}_boss.job WHERE name = 'rcpt-plan' AND state < 'active')
                + (SELECT count(*) FROM ${schema}.host_leases WHERE host LIKE 'plan:%') AS n`,
        );
        return Number(row?.n) === 0;
      });
      await results.query('ROLLBACK');
      await verifiedOnce(schema, jobId, rcptsBefore);
      only.child.kill('SIGTERM');
      await only.waitFor((line) => line.type === 'stopped');
      const planned = only.lines.filter((line) => line.type === 'planned');
      assert.equal(planned.length, 1, `planned again: ${JSON.stringify(planned)}`);
    } finally {
      await cluster.close();
    }
  });
});
