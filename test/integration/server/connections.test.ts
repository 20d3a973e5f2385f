/**
 * The bounds on connections of `rcpt serve` (connection-limits.ts), through real listeners and raw
 * sockets: a cap on connections in all and per client address, answered 503 past it; a deadline for a
 * request's headers (slowloris); an idle bound for keep-alive connections. Before, nothing bounded
 * how many sockets a client held nor how slowly it sent its headers (Node's 60 s, checked every 30 s).
 * Outcomes are asserted exactly; times only with generous upper bounds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ConnectionLimits } from '../../../src/server/connection-limits.js';
import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';

/** A raw connection: the bytes it read, whether it was closed, and what it sent. */
interface Raw {
  readonly socket: Socket;
  text(): string;
  isClosed(): boolean;
  readonly closed: Promise<void>;
}

async function open(port: number, localAddress = '127.0.0.1'): Promise<Raw> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  let text = '';
  let closed = false;
  socket.on('data', (data: Buffer) => {
    text += data.toString('latin1');
  });
  // A reset of a refused connection is one of the outcomes looked at, not a failure of the test.
  socket.on('error', () => {});
  const whenClosed = new Promise<void>((resolve) => {
    socket.once('close', () => {
      closed = true;
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, text: () => text, isClosed: () => closed, closed: whenClosed };
}

interface Answer {
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** The responses whole in `text`, in order (bodies by Content-Length). */
function answers(text: string): Answer[] {
  const found: Answer[] = [];
  let rest = text;
  for (;;) {
    const at = rest.indexOf('\r\n\r\n');
    if (at < 0) return found;
    const head = rest.slice(0, at);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (rest.length < at + 4 + length) return found;
    found.push({
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
      head,
      body: rest.slice(at + 4, at + 4 + length),
    });
    rest = rest.slice(at + 4 + length);
  }
}

/** Waits until `done()` or the connection closed, for at most `limitMs` (a generous bound). */
async function until(raw: Raw, done: () => boolean, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!done() && !raw.isClosed() && Date.now() - start < limitMs) await sleep(10);
}

/** Sends `GET /healthz` and waits for its answer (or the connection's end): the answers so far. */
async function get(raw: Raw, close = false): Promise<Answer[]> {
  const before = answers(raw.text()).length;
  raw.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${close ? 'Connection: close\r\n' : ''}\r\n`);
  await until(raw, () => answers(raw.text()).length > before);
  return answers(raw.text());
}

function assertRefused(answer: Answer | undefined, label: string): void {
  assert.ok(answer !== undefined, `${label}: no answer`);
  assert.equal(answer.status, 503, `${label}: ${answer.head}`);
  assert.match(answer.head, /\r\nretry-after: 1\r\n/i, label);
  assert.match(answer.head, /\r\nconnection: close/i, label);
  const body = JSON.parse(answer.body) as { error: string; message: string };
  assert.equal(body.error, 'unavailable', label);
  assert.match(body.message, /as many connections as it may/, label);
}

async function serve(connections: ConnectionLimits): Promise<RunningServer> {
  return startServer({
    port: 0,
    connections,
    logger: createLogger({ level: 'silent' }),
    processMetrics: false,
  });
}

describe('a cap on connections in all', () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({ maxConnections: 4, maxConnectionsPerClient: 0, headersTimeoutMs: 120_000 });
  });
  after(async () => {
    await server.close();
  });

  it('a client holding 4 idle connections of 4: the 5th is answered 503 with Retry-After and Connection: close, the 4 are served, and a new connection once they closed', async () => {
    const held = await Promise.all([1, 2, 3, 4].map(() => open(server.port)));
    const fifth = await open(server.port);
    await get(fifth);
    await until(fifth, () => false);
    assert.ok(fifth.isClosed(), 'the refused connection was not closed');
    assertRefused(answers(fifth.text())[0], '5th');
    assert.equal(answers(fifth.text()).length, 1);
    for (const raw of held) assert.equal((await get(raw, true))[0]?.status, 200);
    await Promise.all(held.map((raw) => raw.closed));
    // The server counts a connection out when its own side has closed, a moment after the client saw it.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt += 1) {
      const next = await open(server.port);
      status = (await get(next, true))[0]?.status ?? 0;
      next.socket.destroy();
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200);
  });

  it('a keep-alive client makes 50 requests on one connection while the others of the cap sit idle', async () => {
    const idle = await Promise.all([1, 2, 3].map(() => open(server.port)));
    const client = await open(server.port);
    for (let i = 0; i < 50; i += 1) await get(client);
    const statuses = answers(client.text()).map((answer) => answer.status);
    assert.deepEqual(statuses, Array<number>(50).fill(200));
    assert.equal(client.isClosed(), false);
    for (const raw of [...idle, client]) raw.socket.destroy();
  });
});

describe('a cap on connections per client address', () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({ maxConnections: 2_000, maxConnectionsPerClient: 3, headersTimeoutMs: 120_000 });
  });
  after(async () => {
    await server.close();
  });

  it('127.0.0.2 holding 3 idle connections of 3: its 4th is answered 503, another address is served, and its 3 are', async () => {
    const held = await Promise.all([1, 2, 3].map(() => open(server.port, '127.0.0.2')));
    const fourth = await open(server.port, '127.0.0.2');
    assertRefused((await get(fourth))[0], '4th from 127.0.0.2');
    const other = await open(server.port, '127.0.0.3');
    assert.equal((await get(other, true))[0]?.status, 200);
    for (const raw of held) assert.equal((await get(raw, true))[0]?.status, 200);
  });

  it('1,000 connections at once from one address, each sending a request: exactly 3 served, the rest answered 503 or closed unanswered; another address is served meanwhile and the server after', async () => {
    const flood = await Promise.all(Array.from({ length: 1_000 }, () => open(server.port, '127.0.0.4')));
    const during = await open(server.port, '127.0.0.5');
    const sent = Promise.all(flood.map((raw) => get(raw)));
    assert.equal((await get(during, true))[0]?.status, 200);
    await sent;
    let served = 0;
    let refused = 0;
    let unanswered = 0;
    for (const raw of flood) {
      const first = answers(raw.text())[0];
      if (first === undefined) {
        assert.ok(raw.isClosed(), 'a connection neither answered nor closed');
        unanswered += 1;
      } else if (first.status === 200) {
        served += 1;
      } else {
        assertRefused(first, 'flooding connection');
        refused += 1;
      }
    }
    assert.equal(served, 3);
    assert.equal(served + refused + unanswered, 1_000);
    assert.ok(refused > 0, 'no flooding connection was answered 503');
    for (const raw of flood) raw.socket.destroy();
    const next = await open(server.port, '127.0.0.5');
    assert.equal((await get(next, true))[0]?.status, 200);
  });
});

describe("a cap met by Node's fetch()", () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({ maxConnectionsPerClient: 3 });
  });
  after(async () => {
    await server.close();
  });

  it('200 requests at once from another process, 3 connections allowed: each is answered, 200 or 503 with Retry-After, none left pending', async () => {
    // Closing refused connections unanswered at once left Node's fetch() pending for ever: the
    // process ended with its top-level await unsettled (exit 13).
    const script = `
      const statuses = await Promise.all(Array.from({ length: 200 }, () =>
        fetch(process.argv[1] + '/healthz')
          .then(async (r) => { await r.arrayBuffer(); return r.status + (r.headers.get('retry-after') ? '+ra' : ''); })
          .catch((e) => 'error:' + e.message)));
      const counts = {};
      for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
      console.log(JSON.stringify(counts));`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, server.url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    const counts = JSON.parse(out) as Record<string, number>;
    assert.equal((counts['200'] ?? 0) + (counts['503+ra'] ?? 0), 200, out);
    assert.ok((counts['200'] ?? 0) >= 3, out);
  });
});

describe('deadlines: headers and idle keep-alive', () => {
  let server: RunningServer;
  before(async () => {
    server = await serve({ headersTimeoutMs: 1_000, keepAliveTimeoutMs: 1_000 });
  });
  after(async () => {
    await server.close();
  });

  it('a slowloris sending its headers a byte every 100 ms is answered 408 and closed at the headers deadline', async () => {
    const raw = await open(server.port);
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const started = Date.now();
    let sent = 0;
    // Each header line is sent whole eventually, so only a deadline on the headers as a whole ends it.
    while (!raw.isClosed() && Date.now() - started < 20_000) {
      raw.socket.write('X-Slow: a\r\n'[sent % 11] ?? '');
      sent += 1;
      await sleep(100);
    }
    assert.ok(raw.isClosed(), `still open after ${Date.now() - started} ms`);
    const answer = answers(raw.text())[0];
    assert.equal(answer?.status, 408, raw.text().slice(0, 200));
    assert.equal(
      (JSON.parse(answer.body) as { message: string }).message,
      'The request did not arrive in time',
    );
  });

  it('a connection that sends nothing is closed at the headers deadline', async () => {
    const raw = await open(server.port);
    await until(raw, () => false);
    assert.ok(raw.isClosed());
    assert.equal(answers(raw.text()).length <= 1, true);
  });

  it('a keep-alive client keeps its connection for back-to-back requests, and an idle one is closed without an error answer', async () => {
    const raw = await open(server.port);
    for (let i = 0; i < 20; i += 1) await get(raw);
    assert.deepEqual(
      answers(raw.text()).map((answer) => answer.status),
      Array<number>(20).fill(200),
    );
    await until(raw, () => false);
    assert.ok(raw.isClosed(), 'the idle keep-alive connection was not closed');
    assert.equal(answers(raw.text()).length, 20, 'an answer after the last request');
  });
});
