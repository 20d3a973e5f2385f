/**
 * Webhooks of bulk jobs through real HTTP listeners: `rcpt serve`'s server (startServer on port 0, a
 * SQLite job store) verifying the demo world, and receivers on 127.0.0.1 that check each call's
 * signature with the key's secret computed here from the documented recipe. A receiver that fails
 * twice gets the call on the third try; a server restarted while calls are owed sends them all after;
 * a webhook to a private address is refused (at submission, and on the address connected to).
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { openSqliteJobStore } from '../../../src/jobs/index.js';
import { createApp } from '../../../src/server/app.js';
import { listInput } from '../../../src/server/job-upload.js';
import { createJobsBackend } from '../../../src/server/jobs-backend.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import { createWebhookSource } from '../../../src/server/webhook-source.js';
import { WebhookSender, verifyWebhookSignature, webhookSecretOf } from '../../../src/server/webhooks.js';
import { JSON_TYPE, KEY_A, capturedLogger, startWorld, type World } from './helpers.js';

/** The secret as docs/reacher.md tells a receiver to compute it: HMAC-SHA256(key = API key, "rcpt-webhook-v1"). */
const SECRET = createHmac('sha256', KEY_A).update('rcpt-webhook-v1').digest('hex');

interface Call {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
}

/** A webhook receiver on 127.0.0.1: answers each call with what `answer()` says, and keeps them all. */
async function startReceiver(
  answer: (call: number) => number,
): Promise<{ url: string; calls: Call[]; close(): Promise<void> }> {
  const calls: Call[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const status = answer(calls.length);
      calls.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    calls,
    close: () =>
      new Promise<void>((resolve) =>
        server.close(() => {
          resolve();
        }),
      ),
  };
}

/** The signature check a receiver makes, written out (independent of the server's own helper). */
function signatureVerifies(call: Call): boolean {
  const header = String(call.headers['rcpt-signature'] ?? '');
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (match === null) return false;
  const expected = createHmac('sha256', SECRET).update(`${match[1]}.${call.body}`).digest('hex');
  return expected === match[2] && Math.abs(Date.now() / 1000 - Number(match[1])) < 300;
}

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

let world: World;
let directory: string;

before(async () => {
  world = await startWorld();
  directory = mkdtempSync(join(tmpdir(), 'rcpt-webhooks-'));
});
after(async () => {
  await world.close();
  rmSync(directory, { recursive: true, force: true });
});

function serve(db: string): Promise<RunningServer> {
  return startServer({
    port: 0,
    verify: world.options,
    apiKeys: [KEY_A],
    db,
    logger: capturedLogger().logger,
    processMetrics: false,
    rateLimit: null,
    // Fast retries for the test: 100 ms, doubling.
    webhooks: { pollMs: 25, backoffMs: 100, maxBackoffMs: 400 },
  });
}

async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...JSON_TYPE, authorization: KEY_A },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('webhooks of Reacher bulk jobs and rcpt jobs', () => {
  it('signs every call; a receiver that fails twice gets it on the third try', async () => {
    const receiver = await startReceiver((n) => (n < 2 ? 500 : 200));
    const server = await serve(join(directory, 'retry.db'));
    try {
      const created = await postJson(`${server.url}/v1/bulk`, {
        input: ['alice@acme.test'],
        webhook: { on_each_email: { url: receiver.url, headers: { 'x-tenant': 't1' }, extra: { batch: 7 } } },
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const jobId = created.body.job_id as number;
      await until('three calls', () => receiver.calls.length >= 3);
      await sleep(300); // nothing more comes once one is delivered
      assert.deepEqual(
        receiver.calls.map((call) => call.status),
        [500, 500, 200],
      );
      for (const call of receiver.calls) {
        assert.ok(signatureVerifies(call), "the signature verifies with the key's secret");
        assert.ok(
          verifyWebhookSignature(webhookSecretOf(KEY_A), String(call.headers['rcpt-signature']), call.body),
        );
        assert.equal(call.headers['x-tenant'], 't1');
        assert.equal(call.headers['rcpt-event'], 'result');
        assert.equal(call.headers['content-type'], 'application/json');
      }
      // The same delivery each time (same id), with Reacher's body: the output and the extra.
      assert.equal(new Set(receiver.calls.map((call) => call.headers['rcpt-delivery'])).size, 1);
      const body = JSON.parse(receiver.calls[2]?.body ?? '{}') as {
        result: { input: string; is_reachable: string };
        extra: unknown;
        job_id: number;
      };
      assert.equal(body.result.input, 'alice@acme.test');
      assert.equal(body.result.is_reachable, 'safe');
      assert.deepEqual(body.extra, { batch: 7 });
      assert.equal(body.job_id, jobId);
      // A tampered body does not verify.
      const tampered = {
        ...receiver.calls[2],
        body: (receiver.calls[2]?.body ?? '').replace('safe', 'risky'),
      } as Call;
      assert.equal(signatureVerifies(tampered), false);
    } finally {
      await server.close();
      await receiver.close();
    }
  });

  it('loses no delivery across a restart: calls owed when the server stops are sent by the next one', async () => {
    const db = join(directory, 'restart.db');
    let accepting = false;
    const receiver = await startReceiver(() => (accepting ? 200 : 503));
    const first = await serve(db);
    let jobId: number;
    let rcptJob: string;
    try {
      const created = await postJson(`${first.url}/v1/bulk`, {
        input: ['alice@acme.test', 'nobody@acme.test', 'anyone@catchall.test'],
        webhook: { on_each_email: { url: receiver.url }, on_job_end: { url: receiver.url } },
      });
      assert.equal(created.status, 200);
      jobId = created.body.job_id as number;
      const job = await postJson(`${first.url}/v1/jobs`, {
        emails: ['bob@acme.test'],
        webhook: { url: receiver.url, events: ['result', 'end'] },
      });
      assert.equal(job.status, 202);
      rcptJob = job.body.id as string;
      // Verification does not wait for the receiver: both jobs finish while every call fails.
      for (;;) {
        const progress = await fetch(`${first.url}/v1/bulk/${jobId}`, { headers: { authorization: KEY_A } });
        if (((await progress.json()) as { job_status: string }).job_status === 'Completed') break;
        await sleep(25);
      }
      await until('failed attempts', () => receiver.calls.length >= 2);
    } finally {
      await first.close();
    }
    const failedBefore = receiver.calls.length;
    assert.ok(receiver.calls.every((call) => call.status === 503));
    accepting = true;
    const second = await serve(db);
    try {
      const delivered = () => receiver.calls.filter((call) => call.status === 200);
      // 3 results and the end of the Reacher job, 1 result and the end of the rcpt job.
      await until('six deliveries', () => delivered().length >= 6);
      await sleep(300);
      const byDelivery = new Map<string, Call>();
      for (const call of delivered()) byDelivery.set(String(call.headers['rcpt-delivery']), call);
      assert.equal(byDelivery.size, 6, 'each owed call delivered, once');
      const bodies = [...byDelivery.values()].map((call) => JSON.parse(call.body) as Record<string, unknown>);
      const reacherInputs = bodies
        .filter((b) => b.event === 'result' && b.job_id === jobId)
        .map((b) => (b.result as { input: string }).input)
        .sort();
      assert.deepEqual(reacherInputs, ['alice@acme.test', 'anyone@catchall.test', 'nobody@acme.test']);
      const reacherEnd = bodies.find((b) => b.event === 'end' && b.job_id === jobId);
      assert.equal(reacherEnd?.job_status, 'Completed');
      assert.deepEqual(reacherEnd?.summary, {
        total_safe: 1,
        total_risky: 1,
        total_invalid: 1,
        total_unknown: 0,
      });
      const rcptResult = bodies.find((b) => b.event === 'result' && b.job === rcptJob);
      assert.equal((rcptResult?.result as { verdict: string }).verdict, 'deliverable');
      const rcptEnd = bodies.find(
        (b) => b.event === 'end' && (b.job as { id?: string } | undefined)?.id === rcptJob,
      );
      assert.equal((rcptEnd?.job as { status: string }).status, 'done');
      for (const call of delivered()) assert.ok(signatureVerifies(call));
      assert.ok(failedBefore >= 2);
    } finally {
      await second.close();
      await receiver.close();
    }
  });

  it('refuses a webhook to a loopback, metadata or private address unless private targets are allowed', async () => {
    const store = openSqliteJobStore(':memory:');
    const verifier = world.verifier();
    const jobs = createJobsBackend({ store, verifier, logger: capturedLogger().logger });
    const app = createApp({ verifier, jobs, apiKeys: [KEY_A], rateLimit: null });
    try {
      for (const url of [
        'http://127.0.0.1:8080/hook',
        'http://169.254.169.254/latest/meta-data/',
        'http://10.1.2.3/hook',
        'http://[::1]/hook',
        'http://2130706433/hook', // 127.0.0.1 written as one number
        'http://localhost:9/hook', // a name that resolves to loopback
      ]) {
        const bulk = await app.request('/v1/bulk', {
          method: 'POST',
          headers: { ...JSON_TYPE, authorization: KEY_A },
          body: JSON.stringify({ input: ['alice@acme.test'], webhook: { on_each_email: { url } } }),
        });
        assert.equal(bulk.status, 400, url);
        assert.match(
          ((await bulk.json()) as { error: string }).error,
          /webhook\.on_each_email: webhook url refused: .* address/,
          url,
        );
        const rcpt = await app.request('/v1/jobs', {
          method: 'POST',
          headers: { ...JSON_TYPE, authorization: `Bearer ${KEY_A}` },
          body: JSON.stringify({ emails: ['alice@acme.test'], webhook: { url } }),
        });
        assert.equal(rcpt.status, 400, url);
      }
      for (const [url, message] of [
        ['ftp://example.test/x', /must be http or https/],
        ['not a url', /is not a URL/],
      ] as const) {
        const response = await app.request('/v1/jobs', {
          method: 'POST',
          headers: { ...JSON_TYPE, authorization: `Bearer ${KEY_A}` },
          body: JSON.stringify({ emails: ['a@acme.test'], webhook: { url } }),
        });
        assert.equal(response.status, 400);
        assert.match(((await response.json()) as { message: string }).message, message);
      }
      // Nothing was stored for a refused job.
      assert.deepEqual(await store.listJobs(['queued', 'running', 'done']), []);
    } finally {
      await jobs.close();
    }
  });

  it('refuses at submission a header value that HTTP cannot carry (a control character, one above U+00FF): it was accepted, and every call then failed', async () => {
    const receiver = await startReceiver(() => 200);
    const server = await serve(join(directory, 'header-values.db'));
    try {
      for (const value of ['a\u0000b', 'a\u0001b', 'x\u007fy', '\u20ac 5']) {
        const rcpt = await postJson(`${server.url}/v1/jobs`, {
          emails: ['alice@acme.test'],
          webhook: { url: receiver.url, headers: { 'x-note': value } },
        });
        assert.equal(rcpt.status, 400, `${JSON.stringify(value)}: ${JSON.stringify(rcpt.body)}`);
        assert.match(String(rcpt.body.message), /webhook header "x-note" is not a valid header/);
        const bulk = await postJson(`${server.url}/v1/bulk`, {
          input: ['alice@acme.test'],
          webhook: { on_each_email: { url: receiver.url, headers: { 'x-note': value } } },
        });
        assert.equal(bulk.status, 400, `${JSON.stringify(value)}: ${JSON.stringify(bulk.body)}`);
      }
      // What HTTP carries is sent: a tab inside a value, Latin-1 text.
      const created = await postJson(`${server.url}/v1/jobs`, {
        emails: ['alice@acme.test'],
        webhook: { url: receiver.url, headers: { 'x-note': 'a\tb', 'x-city': 'Orl\u00e9ans' } },
      });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      const call = await until('the end call', () => receiver.calls[0]);
      assert.equal(call.headers['x-note'], 'a\tb');
      assert.equal(call.status, 200);
    } finally {
      await server.close();
      await receiver.close();
    }
  });

  it('checks the address actually connected to: a stored loopback webhook is never called without the allowance', async () => {
    const receiver = await startReceiver(() => 200);
    const store = openSqliteJobStore(join(directory, 'stored.db'));
    const verifier = world.verifier();
    const jobs = createJobsBackend({ store, verifier, logger: capturedLogger().logger });
    // A job whose webhook passed an earlier check (another server's, a name that resolved elsewhere
    // then): the sender checks again on the address it connects to.
    const target = { url: receiver.url.replace('127.0.0.1', 'localhost'), headers: {}, extra: null };
    const job = await jobs.create('owner-a', listInput(['alice@acme.test']), {
      maxAddresses: 10,
      extra: { webhook: { onResult: true, onEnd: true, api: 'rcpt', result: target, end: target } },
    });
    for (;;) {
      if ((await jobs.get(job.id))?.status === 'done') break;
      await sleep(25);
    }
    const sender = new WebhookSender({
      source: createWebhookSource(
        jobs,
        { fromEmail: '', helloName: 'h.test', smtpPort: 25, timeoutMs: 1000 },
        'rcpt',
      ),
      secretOf: () => 'secret',
      allowPrivateTargets: false,
      logger: capturedLogger().logger,
      pollMs: 20,
      maxAttempts: 1,
    });
    sender.start();
    try {
      await sleep(500);
      assert.equal(receiver.calls.length, 0, 'no call reached the loopback receiver');
      assert.deepEqual(await store.claimWebhookDeliveries(Date.now() + 1e9, 1000, 10), [], 'both given up');
    } finally {
      await sender.close();
      await jobs.close();
      await receiver.close();
    }
  });
});
