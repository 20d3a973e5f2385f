/**
 * Webhooks when workers verify (`rcpt serve --db postgres://…` with `rcpt worker`): the worker stores
 * the results, so the calls are owed by its writes (in the transaction that stores each first result)
 * and by the job's end, and the server's sender delivers them all, signed, to a receiver on loopback.
 */
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { startWorker, type RunningWorker } from '../../src/jobs/postgres/index.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { PG_URL, SKIP_NO_PG, dropSchema, freshSchema } from './helpers.js';
import { startScaleWorld, worldVerifyOptions, type ScaleWorld } from './world.js';

const KEY = 'webhook-scale-key-0123456789abcdef';
const SECRET = createHmac('sha256', KEY).update('rcpt-webhook-v1').digest('hex');

describe('webhooks of a job that rcpt worker verifies on PostgreSQL', { skip: SKIP_NO_PG }, () => {
  const url = PG_URL ?? '';
  const schema = freshSchema('hooks');
  let world: ScaleWorld;
  let server: RunningServer;
  let worker: RunningWorker;
  let receiver: Server;
  const calls: { headers: IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    world = await startScaleWorld({ size: 40, hostCount: 5, domainCount: 10, latencyMs: 1 });
    const verify = {
      ...worldVerifyOptions(world),
      greylistWaitMs: 300,
      timeoutMs: 10_000,
    };
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        calls.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    server = await startServer({
      port: 0,
      db: url,
      pgSchema: schema,
      verify,
      apiKeys: [KEY],
      rateLimit: null,
      logger: createLogger({ level: 'silent' }),
      processMetrics: false,
      webhooks: { pollMs: 50, backoffMs: 100 },
    });
    worker = await startWorker({ url, schema, verify, leaseMs: 2_000, pollMs: 100 });
  });
  after(async () => {
    await worker?.stop();
    await server?.close();
    await new Promise<void>((resolve) =>
      receiver?.close(() => {
        resolve();
      }),
    );
    await world?.close();
    await dropSchema(url, schema);
  });

  it('delivers one signed call per address and one at the end', async () => {
    const { port } = receiver.address() as AddressInfo;
    const hook = `http://127.0.0.1:${port}/hook`;
    const input = world.addresses.map((a) => a.address);
    const created = await fetch(`${server.url}/v1/bulk`, {
      method: 'POST',
      headers: { authorization: KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ input, webhook: { on_each_email: { url: hook }, on_job_end: { url: hook } } }),
    });
    assert.equal(created.status, 200, await created.clone().text());
    const { job_id: jobId } = (await created.json()) as { job_id: number };
    const deadline = Date.now() + 60_000;
    while (calls.length < input.length + 1) {
      assert.ok(Date.now() < deadline, `only ${calls.length} calls of ${input.length + 1}`);
      await sleep(50);
    }
    await sleep(300);
    const bodies = calls.map((call) => JSON.parse(call.body) as Record<string, unknown>);
    const results = bodies.filter((b) => b.event === 'result');
    assert.equal(results.length, input.length, 'one call per address, none twice');
    // Each call carries the result the job store holds for its address (as the results route reads it).
    const page = (await (
      await fetch(`${server.url}/v1/bulk/${jobId}/results?limit=1000`, { headers: { authorization: KEY } })
    ).json()) as { results: { input: string; is_reachable: string }[] };
    assert.equal(page.results.length, input.length);
    const expected = new Map(page.results.map((r) => [r.input, r.is_reachable]));
    for (const body of results) {
      const result = body.result as { input: string; is_reachable: string };
      assert.equal(result.is_reachable, expected.get(result.input), JSON.stringify(body));
      assert.equal(body.job_id, jobId);
    }
    const end = bodies.filter((b) => b.event === 'end');
    assert.equal(end.length, 1);
    assert.equal(end[0]?.job_status, 'Completed');
    assert.equal(end[0]?.total_processed, input.length);
    for (const call of calls) {
      const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(call.headers['rcpt-signature']));
      assert.ok(match !== null);
      assert.equal(createHmac('sha256', SECRET).update(`${match[1]}.${call.body}`).digest('hex'), match[2]);
    }
  });
});
