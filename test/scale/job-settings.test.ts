/**
 * Whose settings a scale-out worker verifies with (issue 15): a job records the settings it was
 * submitted with (`rcpt bulk --db postgres://…`, `rcpt serve` on PostgreSQL), and a worker started with
 * flags that contradict them verifies the job with the job's, and says so (a `settings` event), instead
 * of verifying it with its own (here a closed SMTP port: every address would end unknown).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parse } from 'csv-parse/sync';

import { settingsOfOptions } from '../../src/jobs/job-settings.js';
import {
  openScaleOut,
  startWorker,
  type RunningWorker,
  type ScaleOut,
  type WorkerEvent,
} from '../../src/jobs/postgres/index.js';
import type { VerifyOptions } from '../../src/index.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer } from '../../src/server/server.js';
import {
  PG_URL,
  SKIP_NO_PG,
  dropSchema,
  freshSchema,
  jobDone,
  startRcpt,
  submitAddresses,
} from './helpers.js';
import { startScaleWorld, worldFlags, worldVerifyOptions, type ScaleWorld } from './world.js';

/** The HELO recorded with a job. */
async function heloOf(cluster: ScaleOut, id: string): Promise<unknown> {
  const settings = (await cluster.store.getJob(id))?.options.settings as Record<string, unknown> | undefined;
  return settings?.['--helo'];
}

/** A loopback port nothing listens on (taken, then let go). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('a worker verifies each job with the settings recorded with it', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('settings');
  let world: ScaleWorld;
  let cluster: ScaleOut;
  let worker: RunningWorker;
  let dir: string;
  let wrongPort: number;
  const events: WorkerEvent[] = [];
  let worldVerify: VerifyOptions;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rcpt-scale-settings-'));
    world = await startScaleWorld({
      size: 120,
      hostCount: 5,
      domainCount: 20,
      latencyMs: 1,
      greylistMs: 300,
    });
    cluster = await openScaleOut(url, { schema, supervise: false });
    wrongPort = await closedPort();
    worldVerify = worldVerifyOptions(world);
    // This worker's flags contradict the jobs': another SMTP port (nothing listens there), HELO and
    // MAIL FROM. Its DNS server and private-target allowance agree.
    worker = await startWorker({
      url,
      schema,
      verify: {
        ...worldVerify,
        smtpPort: wrongPort,
        helo: 'other.rcpt.test',
        mailFrom: 'other@rcpt.test',
        greylistWaitMs: 500,
        timeoutMs: 10_000,
      },
      leaseMs: 2_000,
      pollMs: 100,
      onEvent: (event) => events.push(event),
    });
  });

  after(async () => {
    await worker?.stop();
    await cluster?.close();
    await world?.close();
    await dropSchema(url, schema);
    await rm(dir, { recursive: true, force: true });
  });

  it('rcpt bulk --db postgres://…: verified with the flags it was given, the contradicting worker flags named', async () => {
    const input = join(dir, 'list.csv');
    const output = join(dir, 'out.csv');
    const list = world.addresses.slice(0, 60);
    await writeFile(input, `email\n${list.map((a) => a.address).join('\n')}\n`);
    const bulk = startRcpt(['bulk', input, '-o', output, '--db', url, ...worldFlags(world)], {
      RCPT_PG_SCHEMA: schema,
    });
    assert.equal(await bulk.exited, 0, bulk.stderr());
    const records: Record<string, string>[] = parse(await readFile(output, 'utf8'), { columns: true });
    assert.deepEqual(
      records.map((r) => [r.email, r.verdict]),
      list.map((a) => [a.address, a.verdict]),
    );
    const job = (await cluster.store.listJobs(['done'])).find((j) => j.source?.path === input);
    assert.ok(job !== undefined);
    const said = events.find((event) => event.type === 'settings' && event.job === job.id);
    assert.ok(said?.type === 'settings', JSON.stringify(events.filter((e) => e.type === 'settings')));
    assert.deepEqual(
      said.differences.map((d) => [d.name, d.recorded, d.given]),
      [
        ['--helo', 'probe.rcpt.test', 'other.rcpt.test'],
        ['--mail-from', 'verify@rcpt.test', 'other@rcpt.test'],
        ['--smtp-port', world.port, wrongPort],
      ],
    );
    assert.match(said.message, /--smtp-port: the job has \d+, this worker \d+/);
  });

  it('rcpt serve on PostgreSQL records its settings with each job, and the worker verifies with them', async () => {
    const server = await startServer({
      port: 0,
      verify: worldVerify,
      db: url,
      pgSchema: schema,
      jobSettings: settingsOfOptions(worldVerify),
      logger: createLogger({ level: 'silent' }),
      processMetrics: false,
    });
    try {
      const list = world.addresses.slice(60, 90);
      const created = await fetch(`${server.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emails: list.map((a) => a.address) }),
      });
      assert.equal(created.status, 202, await created.clone().text());
      const { id } = (await created.json()) as { id: string };
      assert.deepEqual((await cluster.store.getJob(id))?.options.settings, {
        '--dns-server': [world.dns.address],
        '--smtp-port': world.port,
        '--helo': 'probe.rcpt.test',
        '--mail-from': 'verify@rcpt.test',
        '--allow-private-targets': true,
      });
      await jobDone(cluster, id);
      const ndjson = await (await fetch(`${server.url}/v1/jobs/${id}/results?format=ndjson`)).text();
      const verdicts = ndjson
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { input: string; verdict: string })
        .map((r) => [r.input, r.verdict]);
      assert.deepEqual(
        verdicts,
        list.map((a) => [a.address, a.verdict]),
      );
    } finally {
      await server.close();
    }
  });
});

describe(
  'rcpt serve on PostgreSQL names, at start, the unfinished jobs recorded with other settings',
  { skip: SKIP_NO_PG },
  () => {
    const url = PG_URL ?? '';
    const schema = freshSchema('serve_settings');
    const flags = ['--port', '0', '--db', url, '--mail-from', 'verify@rcpt.test'];
    const env = { RCPT_PG_SCHEMA: schema };

    after(async () => {
      await dropSchema(url, schema);
    });

    /** Starts `rcpt serve`, waits for its "listening" line, and answers its URL. */
    async function serve(helo: string) {
      const process = startRcpt(['serve', ...flags, '--helo', helo], env);
      const listening = await process.waitFor((line) => line.msg === 'listening');
      return { process, url: String(listening.url) };
    }

    async function submit(base: string, emails: readonly string[]): Promise<string> {
      const created = await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ emails }),
      });
      assert.equal(created.status, 202, await created.clone().text());
      return ((await created.json()) as { id: string }).id;
    }

    async function stop(process: ReturnType<typeof startRcpt>): Promise<void> {
      process.child.kill('SIGTERM');
      await process.exited;
    }

    it('warns once per such job, naming the difference, starts anyway, and leaves the job its own settings', async () => {
      // No worker runs on this schema: the jobs stay queued, unfinished.
      const first = await serve('probe.rcpt.test');
      const older = await submit(first.url, ['alice@example.com', 'bob@example.com']);
      await stop(first.process);
      const second = await serve('other.rcpt.test');
      const same = await submit(second.url, ['carol@example.com']);
      await stop(second.process);

      // Started with the first server's settings again: the job of the second is the one named.
      const third = await serve('probe.rcpt.test');
      try {
        const warnings = third.process.lines.filter(
          (line) => line.level === 40 && /goes on with the settings it began with/.test(String(line.msg)),
        );
        assert.deepEqual(
          warnings.map((line) => line.job),
          [same],
          JSON.stringify(third.process.lines),
        );
        assert.match(
          String(warnings[0]?.msg),
          new RegExp(
            `^job ${same} goes on with the settings it began with, not this server's \\(.*--helo.*other\\.rcpt\\.test.*\\): workers verify each job with its own$`,
          ),
        );
        // It started (its "listening" line came after the warning) and answers.
        const index = (predicate: (line: Record<string, unknown>) => boolean) =>
          third.process.lines.findIndex(predicate);
        assert.ok(index((line) => line === warnings[0]) < index((line) => line.msg === 'listening'));
        assert.equal((await fetch(`${third.url}/healthz`)).status, 200);
      } finally {
        await stop(third.process);
      }
      // Nothing was rewritten: each job keeps the settings it was submitted with.
      const store = await openScaleOut(url, { schema, supervise: false });
      try {
        assert.equal(await heloOf(store, older), 'probe.rcpt.test');
        assert.equal(await heloOf(store, same), 'other.rcpt.test');
        assert.equal((await store.store.getJob(same))?.status, 'queued');
      } finally {
        await store.close();
      }
    });
  },
);

describe('a worker keeping one verifier for many sets of settings', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('profiles');
  let world: ScaleWorld;
  let cluster: ScaleOut;
  let worker: RunningWorker;
  const events: WorkerEvent[] = [];

  before(async () => {
    world = await startScaleWorld({ size: 60, hostCount: 5, domainCount: 20, latencyMs: 1 });
    cluster = await openScaleOut(url, { schema, supervise: false });
    worker = await startWorker({
      url,
      schema,
      verify: {
        dnsServers: [world.dns.address],
        smtpPort: world.port,
        allowPrivateTargets: true,
        // The world's greylisting host defers for 600 ms.
        greylistWaitMs: 700,
      },
      // One kept, four jobs of four HELOs at the same hosts at once: each pass holds four.
      maxProfiles: 1,
      leaseMs: 2_000,
      pollMs: 100,
      onEvent: (event) => events.push(event),
    });
  });

  after(async () => {
    await worker?.stop();
    await cluster?.close();
    await world?.close();
    await dropSchema(url, schema);
  });

  it('never closes a verifier a job is using: every job of four sets of settings gets every verdict', async () => {
    const lists = [0, 1, 2, 3].map((i) => world.addresses.slice(i * 15, i * 15 + 15));
    const ids = await Promise.all(
      lists.map((list, i) =>
        submitAddresses(
          cluster,
          list.map((a) => a.address),
          {
            settings: settingsOfOptions({
              dnsServers: [world.dns.address],
              smtpPort: world.port,
              allowPrivateTargets: true,
              helo: `probe${i}.rcpt.test`,
            }),
          },
        ),
      ),
    );
    for (const id of ids) await jobDone(cluster, id, 90_000);
    for (const [i, id] of ids.entries()) {
      const results = new Map<string, string>();
      for await (const item of cluster.store.readOutput(id)) {
        if (item.result !== null) results.set(item.input, item.result.verdict);
      }
      assert.deepEqual(
        (lists[i] ?? []).map((a) => [a.address, results.get(a.address)]),
        (lists[i] ?? []).map((a) => [a.address, a.verdict]),
        `job ${i}`,
      );
    }
    assert.deepEqual(
      events.filter((event) => event.type === 'error'),
      [],
    );
  });
});
