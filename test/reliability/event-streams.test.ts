/**
 * Event streams held open without end (`GET /v1/jobs/{id}/events`), on a real listener: a stream lasts
 * as long as its job, and the rate limit bounds how fast a key opens them, not how many it holds. One
 * key opened 1,100 on one running job (about four minutes of the default rate limit): the server grew
 * by 140 MiB and polled the job 4,400 times a second, and `/healthz` took 35 s to answer (load 19).
 * The job here stays running: its DNS server is a socket on loopback that never answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULT_MAX_EVENT_STREAMS } from '../../src/server/app.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

const KEY_A = 'streams-a-0123456789abcdef';
const KEY_B = 'streams-b-fedcba9876543210';

let silentDns: Socket;
let directory: string;
let server: RunningServer;
before(async () => {
  silentDns = createSocket('udp4');
  await new Promise<void>((resolve) => silentDns.bind(0, '127.0.0.1', resolve));
  directory = mkdtempSync(join(tmpdir(), 'rcpt-event-streams-'));
  server = await startServer({
    port: 0,
    verify: {
      dnsServers: [`127.0.0.1:${silentDns.address().port}`],
      helo: 'probe.rcpt.test',
      // The job runs until the test cancels it.
      dnsTimeoutMs: 600_000,
      timeoutMs: 600_000,
    },
    apiKeys: [KEY_A, KEY_B],
    db: join(directory, 'jobs.db'),
    rateLimit: null,
    processMetrics: false,
  });
});
after(async () => {
  await server.close();
  silentDns.close();
  rmSync(directory, { recursive: true, force: true });
});

/** A running job of `key`: addresses whose DNS never answers. */
async function runningJob(key: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' },
    body: Array.from({ length: 50 }, (_, i) => `user${i}@d${i}.example`).join('\n'),
  });
  assert.equal(response.status, 202);
  return ((await response.json()) as { id: string }).id;
}

/** Opens an event stream; resolves with its response once the headers have come. */
function openStream(key: string, id: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/v1/jobs/${id}/events`,
      { headers: { authorization: `Bearer ${key}` }, agent: false },
      resolve,
    );
    req.on('error', reject);
    req.end();
  });
}

async function bodyOf(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += (chunk as Buffer).toString();
  return text;
}

describe('event streams', () => {
  it(`one key holds at most ${DEFAULT_MAX_EVENT_STREAMS} open at once: the next is 429 until one closes; another key is unaffected`, async () => {
    const [jobA, jobB] = await Promise.all([runningJob(KEY_A), runningJob(KEY_B)]);
    const held: IncomingMessage[] = [];
    for (let i = 0; i < DEFAULT_MAX_EVENT_STREAMS; i++) {
      const stream = await openStream(KEY_A, jobA);
      assert.equal(stream.statusCode, 200, `stream ${i + 1}`);
      held.push(stream);
    }
    const refused = await openStream(KEY_A, jobA);
    if (refused.statusCode !== 429) refused.destroy();
    assert.equal(refused.statusCode, 429, `stream ${DEFAULT_MAX_EVENT_STREAMS + 1}`);
    const text = await bodyOf(refused);
    assert.match(
      text,
      new RegExp(`"error":"rate_limited".*At most ${DEFAULT_MAX_EVENT_STREAMS} event streams`),
    );

    const other = await openStream(KEY_B, jobB);
    assert.equal(other.statusCode, 200, "another key's stream");
    other.destroy();

    // A stream the client closes is counted off once the server has seen it go.
    held.pop()?.destroy();
    let again = await openStream(KEY_A, jobA);
    for (let tries = 0; again.statusCode === 429 && tries < 100; tries++) {
      again.resume();
      await new Promise((resolve) => setTimeout(resolve, 100));
      again = await openStream(KEY_A, jobA);
    }
    assert.equal(again.statusCode, 200, 'a stream once one was closed');
    held.push(again);
    for (const stream of held) stream.destroy();
    for (const [key, id] of [
      [KEY_A, jobA],
      [KEY_B, jobB],
    ] as const) {
      await fetch(`${server.url}/v1/jobs/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${key}` },
      });
    }
  });
});
