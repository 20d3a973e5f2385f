/**
 * The HTTP attacks of issue 14, through real `rcpt serve` processes on loopback: oversized bodies
 * whatever their framing (with the server's memory read from /proc); a keyless server driven from a
 * web page (cross-site POST, DNS rebinding); wrong API keys without end; an empty upload; an error
 * that told API callers to use a CLI flag. Each fails on 392480d.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';

import { startServe, type ServeChild } from './helpers/serve-child.js';
import { LIST_KINDS, sendList, type Answer } from './helpers/upload-list.js';

const KEY = 'keyA-0123456789abcdef';
const MiB = 1024 * 1024;
/** The job upload limit of `rcpt serve` (DEFAULT_MAX_UPLOAD_BYTES). */
const UPLOAD_LIMIT = 50 * MiB;
/**
 * The bound this suite holds the server to while it refuses oversized uploads: the server's peak
 * resident set may grow by at most this over its resident set before the attacks (docs/api.md).
 */
const MEMORY_BOUND = 160 * MiB;

/** One plain request with any headers (`Host` included), the body sent whole. */
function call(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (data: Buffer) => (text += data.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, sent: 0 });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The bytes of the attacked server's job store: its database and the files beside it (WAL, shared memory). */
async function storeBytes(): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(dir)) {
    if (name.startsWith('jobs.db')) bytes += (await stat(join(dir, name))).size;
  }
  return bytes;
}

let dir: string;
let server: ServeChild;
let keyless: ServeChild;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-http-attacks-'));
  [server, keyless] = await Promise.all([
    startServe(['--db', join(dir, 'jobs.db')], { RCPT_API_KEYS: KEY }),
    startServe(['--db', join(dir, 'keyless.db')], { RCPT_ALLOWED_HOSTS: 'rcpt.lan' }),
  ]);
});
after(async () => {
  await Promise.all([server.close(), keyless.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('attack 1: oversized bodies, whatever the framing', () => {
  it('60 MiB and 200 MiB chunked job lists and a 60 MiB one with Content-Length, as JSON, text and CSV: 413 naming the limit, cut at it, 0 bytes left in the store, the server within its memory bound', async () => {
    const before = server.memory();
    const answers: Answer[] = [];
    const report: string[] = [];
    for (const [name, kind] of Object.entries(LIST_KINDS)) {
      const storeBefore = await storeBytes();
      for (const [size, contentLength] of [
        [60 * MiB, false],
        [200 * MiB, false],
        [60 * MiB, true],
      ] as const) {
        const answer = await sendList(server.url, KEY, kind, { size, long: true }, contentLength);
        answers.push(answer);
        const label = `${name}, ${size / MiB} MiB ${contentLength ? 'Content-Length' : 'chunked'}`;
        assert.equal(answer.status, 413, `${label}: ${answer.status} ${answer.body.slice(0, 200)}`);
        assert.match(answer.body, new RegExp(`larger than ${UPLOAD_LIMIT} bytes`));
        // Cut at the limit: past it, the server drops at most 16 MiB more before it closes (so that the
        // client reads its 413), socket buffers aside.
        assert.ok(answer.sent < UPLOAD_LIMIT + 16 * MiB + 8 * MiB, `${label}: ${answer.sent} bytes went in`);
      }
      // Every kind waits in an unlinked spool until it is whole: a refused one writes nothing.
      const left = (await storeBytes()) - storeBefore;
      report.push(`${name}: ${left} bytes left in the store`);
      assert.equal(left, 0, `${name}: the refused lists left ${left} bytes in the job store`);
    }
    const after = server.memory();
    const growth = after.peak - before.rss;
    process.stdout.write(
      `rcpt serve under the upload attack: RSS ${(before.rss / MiB).toFixed(0)} MiB before, peak ${(after.peak / MiB).toFixed(0)} MiB (growth ${(growth / MiB).toFixed(0)} MiB, bound ${MEMORY_BOUND / MiB} MiB); sent ${answers.map((a) => (a.sent / MiB).toFixed(1)).join(', ')} MiB; ${report.join(', ')}\n`,
    );
    assert.ok(growth <= MEMORY_BOUND, `peak RSS grew by ${(growth / MiB).toFixed(0)} MiB`);
    // The server still works.
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
  });

  it('every route has a limit: a 1 MiB body to /v1/verify, to a job cancel route and to a route that does not exist is 413', async () => {
    for (const [method, path] of [
      ['POST', '/v1/verify'],
      ['POST', '/v1/jobs/0123456789abcdef0123456789abcdef/cancel'],
      ['POST', '/v1/no-such-route'],
    ] as const) {
      const response = await new Promise<Answer>((resolve, reject) => {
        const req = request(
          `${server.url}${path}`,
          { method, headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' } },
          (res) => {
            let body = '';
            res.on('data', (data: Buffer) => (body += data.toString()));
            res.on('end', () => {
              resolve({ status: res.statusCode ?? 0, headers: res.headers, body, sent: 0 });
            });
          },
        );
        req.on('error', reject);
        req.end(Buffer.alloc(MiB, 0x20));
      });
      assert.equal(response.status, 413, `${method} ${path}: ${response.body}`);
      assert.match(response.body, /larger than 65536 bytes/);
    }
  });
});

describe('a DELETE with a body', () => {
  /**
   * `DELETE path` with `body`, answered: framed by `Content-Length`, by `Transfer-Encoding: chunked`,
   * or by neither (`none`: Node's client sends a DELETE body that way, so the server reads the body's
   * bytes as a next request).
   */
  function del(
    path: string,
    body: string | null,
    framing: 'content-length' | 'chunked' | 'none' = 'content-length',
  ): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${KEY}`,
        'content-type': 'application/json',
        ...(body !== null && framing === 'content-length'
          ? { 'content-length': String(Buffer.byteLength(body)) }
          : {}),
        ...(framing === 'chunked' ? { 'transfer-encoding': 'chunked' } : {}),
      };
      const req = request(`${server.url}${path}`, { method: 'DELETE', headers }, (res) => {
        let text = '';
        res.on('data', (data: Buffer) => (text += data.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, sent: 0 });
        });
      });
      req.on('error', reject);
      if (body !== null) req.write(body);
      req.end();
    });
  }
  const NO_BODY = /^\{"error":"bad_request","message":"A DELETE request takes no body/;

  it('is refused with 400 saying it takes no body, before any route runs; without one it cancels', async () => {
    // No such job: a route that ran would answer 404.
    const missing = '/v1/jobs/0123456789abcdef0123456789abcdef';
    for (const framing of ['content-length', 'chunked', 'none'] as const) {
      const refused = await del(missing, '{"reason": "duplicate"}', framing);
      assert.equal(refused.status, 400, `${framing}: ${refused.body}`);
      assert.match(refused.body, NO_BODY, framing);
      assert.match(String(refused.headers['content-type']), /^application\/json/, framing);
    }
    // A body over the general limit is refused the same way, before it is read.
    const large = await del(missing, ' '.repeat(MiB));
    assert.equal(large.status, 400, large.body);
    assert.equal((await del(missing, null)).status, 404);
    const created = await fetch(`${server.url}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/plain' },
      // A private target, refused without a connection: the job needs no network.
      body: 'a@[127.0.0.1]\n',
    });
    assert.equal(created.status, 202);
    const { id } = (await created.json()) as { id: string };
    assert.equal((await del(`/v1/jobs/${id}`, '{}')).status, 400);
    assert.match((await del(`/v1/jobs/${id}`, '{}', 'none')).body, NO_BODY);
    // Content-Length: 0 is no body.
    const cancelled = await del(`/v1/jobs/${id}`, '');
    assert.equal(cancelled.status, 200, cancelled.body);
  });
});

describe('attack 3: a keyless server driven from a web page', () => {
  it('a cross-site POST (Origin or Sec-Fetch-Site) is refused with 403 and creates no job; a same-origin one works', async () => {
    const own = `127.0.0.1:${keyless.port}`;
    const post = (headers: Record<string, string>) =>
      call(
        keyless.url,
        'POST',
        '/v1/jobs',
        { 'content-type': 'text/plain', ...headers },
        'victim@example.com\n',
      );
    for (const headers of [
      { origin: 'http://evil.test' },
      { origin: 'null' },
      { origin: `http://localhost:${keyless.port}` },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site', origin: `http://${own}` },
    ]) {
      const answer = await post(headers);
      assert.equal(answer.status, 403, `${JSON.stringify(headers)}: ${answer.status} ${answer.body}`);
      assert.match(answer.body, /"error":"forbidden"/);
    }
    const same = await post({ origin: `http://${own}`, 'sec-fetch-site': 'same-origin' });
    assert.equal(same.status, 202, same.body);
    const plain = await post({});
    assert.equal(plain.status, 202, 'a client that is not a browser sends neither header');
  });

  it('DNS rebinding: a Host the server does not serve gets 421 on every route; loopback names and --allowed-host names are answered', async () => {
    for (const path of [
      '/metrics',
      '/v1/doctor',
      '/healthz',
      '/v1/jobs/0123456789abcdef0123456789abcdef',
      '/',
    ]) {
      const answer = await call(keyless.url, 'GET', path, { host: `evil.test:${keyless.port}` });
      assert.equal(answer.status, 421, `${path}: ${answer.status}`);
      assert.doesNotMatch(answer.body, /rcpt_|helo|mailFrom/i, `${path} says nothing about the server`);
    }
    for (const host of [
      `localhost:${keyless.port}`,
      `127.0.0.1:${keyless.port}`,
      `rcpt.lan:${keyless.port}`,
      'RCPT.LAN',
    ]) {
      const answer = await call(keyless.url, 'GET', '/healthz', { host });
      assert.equal(answer.status, 200, `${host}: ${answer.status} ${answer.body}`);
    }
  });
});

describe('attack 2: CSV formula injection in the API download', () => {
  it("GET /v1/jobs/{id}/results?format=csv puts a ' before formula cells; csv_formulas=keep and NDJSON keep the exact value", async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const created = await call(
      server.url,
      'POST',
      '/v1/jobs',
      { ...auth, 'content-type': 'text/plain' },
      '=1+1@[127.9.7.2]\n@SUM(A1)@[127.9.7.2]\n',
    );
    assert.equal(created.status, 202, created.body);
    const id = (JSON.parse(created.body) as { id: string }).id;
    for (let i = 0; i < 200; i++) {
      const job = JSON.parse((await call(server.url, 'GET', `/v1/jobs/${id}`, auth)).body) as {
        status: string;
      };
      if (job.status === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const csv = await call(server.url, 'GET', `/v1/jobs/${id}/results?format=csv`, auth);
    assert.equal(csv.status, 200);
    assert.match(csv.body, /^'=1\+1@\[127\.9\.7\.2\],/m);
    assert.match(csv.body, /^'@SUM\(A1\)@\[127\.9\.7\.2\],/m);
    assert.doesNotMatch(csv.body, /^[=+\-@]|,[=+\-@]/m, 'no cell starts a formula');
    const keep = await call(server.url, 'GET', `/v1/jobs/${id}/results?format=csv&csv_formulas=keep`, auth);
    assert.match(keep.body, /^=1\+1@\[127\.9\.7\.2\],/m);
    const ndjson = await call(server.url, 'GET', `/v1/jobs/${id}/results?format=ndjson`, auth);
    assert.match(ndjson.body, /"input":"=1\+1@\[127\.9\.7\.2\]"/);
  });
});

describe('smaller attacks', () => {
  it('wrong API keys from one address: 401 at first, then 429 with Retry-After; the right key still passes', async () => {
    const statuses: number[] = [];
    let retryAfter: string | string[] | undefined;
    for (let i = 0; i < 40; i++) {
      const answer = await call(server.url, 'GET', '/v1/jobs/0123456789abcdef0123456789abcdef', {
        authorization: `Bearer wrong-key-${String(i).padStart(12, '0')}`,
      });
      statuses.push(answer.status);
      if (answer.status === 429) retryAfter = answer.headers['retry-after'];
    }
    assert.deepEqual([...new Set(statuses.slice(0, 20))], [401]);
    assert.deepEqual([...new Set(statuses.slice(25))], [429], statuses.join(' '));
    assert.match(String(retryAfter), /^\d+$/);
    const right = await call(server.url, 'GET', '/v1/jobs/0123456789abcdef0123456789abcdef', {
      authorization: `Bearer ${KEY}`,
    });
    assert.equal(right.status, 404, right.body);
  });

  it('an empty text/plain or CSV job is refused with 400, not stored as a job of no rows', async () => {
    for (const [type, body] of [
      ['text/plain', ''],
      ['text/csv', ''],
      ['text/plain', '\n\n'],
    ] as const) {
      const answer = await call(
        server.url,
        'POST',
        '/v1/jobs',
        { authorization: `Bearer ${KEY}`, 'content-type': type },
        body,
      );
      assert.equal(answer.status, 400, `${type} ${JSON.stringify(body)}: ${answer.status} ${answer.body}`);
    }
  });

  it('a compressed body (Content-Encoding gzip, deflate, br) is 415 naming the coding, not "Malformed JSON" or binary data; identity is read', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    const cases = [
      ['/v1/verify', 'application/json', 'gzip', gzipSync('{"email":"alice@example.com"}')],
      ['/v1/jobs', 'application/json', 'gzip', gzipSync('{"emails":["alice@example.com"]}')],
      ['/v1/jobs', 'text/csv', 'deflate', deflateSync('email\nalice@example.com\n')],
      ['/v1/explain', 'text/plain', 'br', brotliCompressSync('550 5.1.1 user unknown')],
      ['/v1/bulk', 'application/json', 'gzip, br', gzipSync('{"input_type":"array","input":["a@b.c"]}')],
    ] as const;
    for (const [path, type, coding, body] of cases) {
      const answer = await call(
        server.url,
        'POST',
        path,
        { ...auth, 'content-type': type, 'content-encoding': coding },
        body,
      );
      assert.equal(answer.status, 415, `${path} ${coding}: ${answer.status} ${answer.body}`);
      assert.ok(answer.body.includes(`Content-Encoding ${coding} is not accepted`), answer.body);
      assert.equal(answer.headers['accept-encoding'], 'identity');
    }
    const identity = await call(
      server.url,
      'POST',
      '/v1/explain',
      { ...auth, 'content-type': 'text/plain', 'content-encoding': 'identity' },
      '550 5.1.1 user unknown',
    );
    assert.equal(identity.status, 200, identity.body);
  });

  it('a CSV upload without an address column: the error names the API way, not the CLI flag --column', async () => {
    const answer = await call(
      server.url,
      'POST',
      '/v1/jobs',
      { authorization: `Bearer ${KEY}`, 'content-type': 'text/csv' },
      'name,team\nAlice,red\n',
    );
    assert.equal(answer.status, 400);
    assert.match(answer.body, /no address column in the header \(name, team\)/);
    assert.doesNotMatch(answer.body, /--column/);
    assert.match(answer.body, /name the address column email, e-mail, address or mail/);
  });
});
