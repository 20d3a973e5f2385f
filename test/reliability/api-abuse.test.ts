/**
 * API tenancy and abuse (issue 9), on a real listener (`startServer()` on loopback, SQLite job store):
 * no key reads, lists the results of, follows or cancels another key's job (404, as for a job that
 * does not exist); job ids carry 128 random bits; a burst from a second process is held to the
 * key's bucket (and does not spend another key's); oversized and malformed bodies get a 4xx, never a
 * 5xx; the logs carry neither addresses nor keys unless the operator asks for addresses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { startDnsServer, type DnsServer } from '../../src/demo/dns-server.js';
import { createLogger, type Logger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';

const KEY_A = 'tenant-a-0123456789abcdef';
const KEY_B = 'tenant-b-fedcba9876543210';
/** Keys of their own for the burst, the body cases and the id sample, so each starts with a full bucket. */
const KEY_BURST = 'tenant-burst-0123456789';
const KEY_BODIES = 'tenant-bodies-0123456789';
const KEY_IDS = ['tenant-ids-1-0123456789', 'tenant-ids-2-0123456789'] as const;
const SECRET_ADDRESS = 'jane.secret.person@nx.test';
const RATE = { perMinute: 60, burst: 20 };

function capture(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: sink }), text: () => chunks.join('') };
}

let dns: DnsServer;
let directory: string;
let server: RunningServer;
const logs = capture();

before(async () => {
  // Every domain is NXDOMAIN: verifications end at DNS, on loopback.
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones: {} });
  directory = mkdtempSync(join(tmpdir(), 'rcpt-api-abuse-'));
  server = await startServer({
    port: 0,
    verify: { dnsServers: [dns.address], helo: 'probe.rcpt.test', timeoutMs: 5_000 },
    apiKeys: [KEY_A, KEY_B, KEY_BURST, KEY_BODIES, ...KEY_IDS],
    db: join(directory, 'jobs.db'),
    rateLimit: RATE,
    limits: { maxUploadBytes: 8 * 1024, maxJobAddresses: 100 },
    logger: logs.logger,
    processMetrics: false,
  });
});

after(async () => {
  await server.close();
  await dns.close();
  rmSync(directory, { recursive: true, force: true });
});

const auth = (key: string, extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${key}`,
  ...extra,
});
const json = { 'content-type': 'application/json' };

/**
 * POSTs on a connection of its own and resolves with the response even when the server answers early
 * and closes before the body is sent (what a 413 for a 2 MB body does: RFC 9110 §15.5.14 allows it).
 * fetch() reports such an exchange as "other side closed"; curl shows the 413.
 */
function post(
  path: string,
  headers: Record<string, string>,
  body: string | Uint8Array,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
    const request = httpRequest(`${server.url}${path}`, {
      method: 'POST',
      agent: false,
      headers: { ...headers, 'content-length': String(bytes.length) },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => {
        resolve({ status: response.statusCode ?? 0, text });
      });
      response.on('error', () => {
        resolve({ status: response.statusCode ?? 0, text });
      });
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    request.end(bytes);
  });
}

async function createJob(key: string, emails: string[]): Promise<string> {
  const response = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: auth(key, json),
    body: JSON.stringify({ emails }),
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

describe('API tenancy', () => {
  it("no key can read, follow, download or cancel another key's job: 404 like a missing one", async () => {
    const id = await createJob(KEY_A, [SECRET_ADDRESS, 'bob@nx.test']);
    const paths = [
      `/v1/jobs/${id}`,
      `/v1/jobs/${id}/results?format=csv`,
      `/v1/jobs/${id}/results?format=ndjson`,
      `/v1/jobs/${id}/events`,
    ];
    for (const path of paths) {
      const other = await fetch(`${server.url}${path}`, { headers: auth(KEY_B) });
      assert.equal(other.status, 404, path);
      const body = await other.text();
      assert.ok(!body.includes(SECRET_ADDRESS), path);
      const missing = await fetch(`${server.url}${path.replace(id, 'f'.repeat(32))}`, {
        headers: auth(KEY_B),
      });
      assert.equal(missing.status, 404);
      // Same answer for "not yours" and "does not exist": nothing to learn from the difference.
      assert.equal(body.replaceAll(id, 'ID'), (await missing.text()).replaceAll('f'.repeat(32), 'ID'));
    }
    const cancel = await fetch(`${server.url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth(KEY_B) });
    assert.equal(cancel.status, 404);
    const own = await fetch(`${server.url}/v1/jobs/${id}`, { headers: auth(KEY_A) });
    assert.equal(own.status, 200);
    assert.notEqual(((await own.json()) as { status: string }).status, 'cancelled');
    const anonymous = await fetch(`${server.url}/v1/jobs/${id}`);
    assert.equal(anonymous.status, 401);
  });

  it('job ids: 128 random bits (32 hex digits), no two alike, every digit varies', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 36; i++) ids.push(await createJob(KEY_IDS[i % 2] ?? KEY_A, [`x${i}@nx.test`]));
    for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(new Set(ids).size, ids.length);
    // No fixed digit (a v4 UUID has a constant "4" and a 2-bit variant): each position takes several values.
    for (let position = 0; position < 32; position++) {
      const values = new Set(ids.map((id) => id[position]));
      assert.ok(values.size >= 4, `digit ${position} takes ${values.size} values`);
    }
  });
});

describe('API abuse', () => {
  it("a burst of 200 requests from a second process is held to its key's bucket; another key is unaffected", async () => {
    const script = `
      const url = process.argv[1], key = process.argv[2];
      const started = Date.now();
      const statuses = await Promise.all(Array.from({ length: 200 }, (_, i) =>
        fetch(url + '/v1/jobs/' + 'e'.repeat(31) + (i % 10), { headers: { authorization: 'Bearer ' + key } })
          .then(async (r) => { await r.arrayBuffer(); return r.status + (r.headers.get('retry-after') ? '+ra' : ''); })
          .catch((e) => 'error:' + e.message)));
      const counts = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      console.log(JSON.stringify({ counts, ms: Date.now() - started }));`;
    const burst = spawn(process.execPath, ['--input-type=module', '-e', script, server.url, KEY_BURST], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    burst.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    burst.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => burst.on('exit', resolve));
    assert.equal(code, 0, err);
    const { counts, ms } = JSON.parse(out) as { counts: Record<string, number>; ms: number };
    const allowed = counts['404'] ?? 0;
    const limited = counts['429+ra'] ?? 0;
    process.stdout.write(`burst of 200 in ${ms} ms: ${JSON.stringify(counts)}\n`);
    assert.equal(allowed + limited, 200, JSON.stringify(counts));
    // At most the bucket plus what refills during the burst (1 a second), and at least one allowed.
    assert.ok(allowed >= 1 && allowed <= RATE.burst + Math.ceil(ms / 1000) + 1, `${allowed} allowed`);
    const other = await fetch(`${server.url}/v1/jobs/${'d'.repeat(32)}`, { headers: auth(KEY_BODIES) });
    assert.equal(other.status, 404, 'another key still has its own tokens');
  });

  it('oversized and malformed bodies: 4xx (a malformed CSV row is a row), never 5xx', async () => {
    const big = JSON.stringify({ emails: Array(20_000).fill('a@nx.test') });
    const cases: { path: string; type: string; body: string | Uint8Array; expect?: number }[] = [
      { path: '/v1/verify', type: 'application/json', body: big, expect: 413 },
      { path: '/v1/verify', type: 'application/json', body: 'x'.repeat(2 * 1024 * 1024), expect: 413 },
      { path: '/v1/verify', type: 'application/json', body: '{"email":', expect: 400 },
      { path: '/v1/verify', type: 'application/json', body: '', expect: 400 },
      {
        path: '/v1/verify',
        type: 'application/json',
        body: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
      },
      { path: '/v1/verify', type: 'application/json', body: '{"email":["a@b.test"]}', expect: 400 },
      {
        path: '/v1/verify',
        type: 'application/json',
        body: '{"email":"a@nx.test","emails":["b@nx.test"]}',
        expect: 400,
      },
      { path: '/v1/verify', type: 'application/json', body: new Uint8Array([0xff, 0xfe, 0x00, 0x7b]) },
      { path: '/v1/verify', type: 'text/plain', body: 'a@nx.test' },
      { path: '/v0/check_email', type: 'application/json', body: '{"to_email":12}', expect: 400 },
      { path: '/v0/check_email', type: 'application/json', body: big, expect: 413 },
      { path: '/v1/jobs', type: 'text/csv', body: 'email\n' + 'a@nx.test\n'.repeat(5_000), expect: 413 },
      {
        path: '/v1/jobs',
        type: 'application/json',
        body: JSON.stringify({ emails: Array(500).fill('a@nx.test') }),
      },
      { path: '/v1/jobs', type: 'application/json', body: '{"emails":"a@nx.test"}', expect: 400 },
      // A malformed CSV row is data (reported per row), not a malformed request.
      { path: '/v1/jobs', type: 'text/csv', body: '"unterminated\n', expect: 202 },
      { path: '/v1/jobs', type: 'application/xml', body: '<emails/>' },
    ];
    for (const [index, testCase] of cases.entries()) {
      // 16 cases fit the bucket; should a slow machine refill late, wait rather than fail.
      let response: { status: number; text: string };
      for (;;) {
        response = await post(
          testCase.path,
          auth(KEY_BODIES, { 'content-type': testCase.type }),
          testCase.body,
        );
        if (response.status !== 429) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
      const text = response.text;
      assert.ok(
        response.status < 500 && (testCase.expect === 202 || response.status >= 400),
        `case ${index}: ${response.status} ${text.slice(0, 200)}`,
      );
      if (testCase.expect !== undefined)
        assert.equal(response.status, testCase.expect, `case ${index}: ${text.slice(0, 200)}`);
      assert.doesNotThrow(() => JSON.parse(text), `case ${index}: a JSON error body`);
    }
  });

  it('logs: no address and no key, unless the operator asks for addresses', async () => {
    const response = await fetch(`${server.url}/v1/verify`, {
      method: 'POST',
      headers: auth(KEY_A, json),
      body: JSON.stringify({ email: SECRET_ADDRESS }),
    });
    assert.ok(response.status === 200 || response.status === 429);
    await response.arrayBuffer();
    await fetch(`${server.url}/v1/verify`, {
      method: 'POST',
      headers: auth('wrong-key-but-long-enough-0000', json),
      body: JSON.stringify({ email: SECRET_ADDRESS }),
    }).then((r) => r.arrayBuffer());
    const text = logs.text();
    assert.ok(text.length > 0, 'the server logged');
    for (const secret of [SECRET_ADDRESS, 'jane.secret', KEY_A, KEY_B, 'wrong-key-but-long-enough']) {
      assert.ok(!text.includes(secret), `the logs contain ${secret}`);
    }

    // With --log-addresses, the address is logged (and still no key).
    const opted = capture();
    const loud = await startServer({
      port: 0,
      verify: { dnsServers: [dns.address], helo: 'probe.rcpt.test', timeoutMs: 5_000 },
      apiKeys: [KEY_A],
      rateLimit: null,
      logger: opted.logger,
      logAddresses: true,
      processMetrics: false,
    });
    try {
      const r = await fetch(`${loud.url}/v1/verify`, {
        method: 'POST',
        headers: auth(KEY_A, json),
        body: JSON.stringify({ email: SECRET_ADDRESS }),
      });
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    } finally {
      await loud.close();
    }
    assert.ok(opted.text().includes(SECRET_ADDRESS));
    assert.ok(!opted.text().includes(KEY_A));
  });
});
