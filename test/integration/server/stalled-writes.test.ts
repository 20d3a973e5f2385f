/**
 * A client that stops reading the answer it asked for (connection-limits.ts, `writeStallTimeoutMs`),
 * against a real `rcpt serve` in this process and raw sockets that stop reading: a results download
 * larger than the kernel's buffers stalls in the server's write buffer, and the connection is closed
 * once nothing of it has drained for the bound, with one log line; a client that reads with pauses
 * shorter than the bound gets the whole download; an event stream with nothing to send is never cut.
 * Before, nothing but the connection caps bounded a download nobody read: it held its socket, and the
 * job store's read behind it, for ever.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { startServer, type RunningServer } from '../../../src/server/server.js';
import { capturedLogger } from './helpers.js';

const KEY = 'stalled-writes-0123456789abcdef';
/** The bound of this test's server, in ms. */
const STALL_MS = 2_000;
/** Rows of the big job, each with a note this long: 12 MB of results, past any loopback buffer. */
const ROWS = 600;
const NOTE_CHARS = 20_000;
const CLOSED_LINE = 'connections closed: a client stopped reading its answer';

let silentDns: UdpSocket;
let directory: string;
let server: RunningServer;
let log: ReturnType<typeof capturedLogger>;

before(async () => {
  // The running job of the event stream asks a DNS server that never answers.
  silentDns = createSocket('udp4');
  await new Promise<void>((resolve) => silentDns.bind(0, '127.0.0.1', resolve));
  directory = mkdtempSync(join(tmpdir(), 'rcpt-stalled-writes-'));
  log = capturedLogger();
  server = await startServer({
    port: 0,
    verify: {
      dnsServers: [`127.0.0.1:${silentDns.address().port}`],
      helo: 'probe.rcpt.test',
      dnsTimeoutMs: 600_000,
      timeoutMs: 600_000,
    },
    apiKeys: [KEY],
    db: join(directory, 'jobs.db'),
    rateLimit: null,
    processMetrics: false,
    connections: { writeStallTimeoutMs: STALL_MS },
    logger: log.logger,
  });
});

after(async () => {
  await server.close();
  silentDns.close();
  rmSync(directory, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${KEY}` };

async function createJob(type: string, body: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { ...auth, 'content-type': type },
    body,
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

/** A finished job whose CSV results are about 12 MB: rows without an address, each with a long note. */
async function bigDoneJob(): Promise<string> {
  const note = 'n'.repeat(NOTE_CHARS);
  const id = await createJob('text/csv', `email,note\n${`,${note}\n`.repeat(ROWS)}`);
  for (let tries = 0; tries < 600; tries += 1) {
    const job = (await (await fetch(`${server.url}/v1/jobs/${id}`, { headers: auth })).json()) as {
      status: string;
    };
    if (job.status === 'done') return id;
    await sleep(50);
  }
  assert.fail(`job ${id} did not end`);
}

/** A raw connection that sends `GET path` and reads nothing until `read()`. */
interface Reader {
  readonly socket: Socket;
  /** Bytes read so far. */
  received(): number;
  /** The text read so far (latin1). */
  text(): string;
  /** Starts reading; resolves when the connection has ended. */
  read(): Promise<void>;
}

async function request(path: string): Promise<Reader> {
  const socket = connect({ port: server.port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  let received = 0;
  const ended = new Promise<void>((resolve) =>
    socket.once('close', () => {
      resolve();
    }),
  );
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
  return {
    socket,
    received: () => received,
    text: () => Buffer.concat(chunks).toString('latin1'),
    read() {
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
      });
      socket.resume();
      return ended;
    },
  };
}

function closedLines(): { closed: number; writeStallTimeoutSeconds: number }[] {
  return log
    .lines()
    .map((line) => JSON.parse(line) as { msg: string; closed: number; writeStallTimeoutSeconds: number })
    .filter((entry) => entry.msg === CLOSED_LINE);
}

describe('a client that stops reading its answer', () => {
  let id: string;
  let whole: number;
  before(async () => {
    id = await bigDoneJob();
    const response = await fetch(`${server.url}/v1/jobs/${id}/results?format=csv`, { headers: auth });
    whole = (await response.arrayBuffer()).byteLength;
    assert.ok(whole > ROWS * NOTE_CHARS, `the download is ${whole} bytes`);
  });

  it('two downloads nobody reads are closed once nothing has drained for the bound, with one log line', async () => {
    const stalled = await Promise.all([1, 2].map(() => request(`/v1/jobs/${id}/results?format=csv`)));
    // Both answers have begun (what a paused socket holds unread): their stalls begin about now.
    const started = Date.now();
    while (stalled.some((reader) => reader.socket.readableLength === 0) && Date.now() - started < 30_000) {
      await sleep(10);
    }
    while (closedLines().length === 0 && Date.now() - started < 30_000) await sleep(50);
    const lines = closedLines();
    assert.equal(lines.length, 1, 'no log line: the stalled connections were not closed');
    assert.equal(lines[0]?.writeStallTimeoutSeconds, STALL_MS / 1000);
    // The other is closed within a beat or two of the first, unlogged: its count waits for the next line.
    await sleep(STALL_MS);
    for (const reader of stalled) {
      await reader.read();
      assert.ok(reader.received() < whole, `read ${reader.received()} of ${whole} bytes`);
      assert.doesNotMatch(reader.text(), /\r\n0\r\n\r\n$/, 'the chunked answer ended whole');
    }
    assert.equal(closedLines().length, 1, 'a second log line within the minute');
    // Closing them is no failure of the routes behind them.
    assert.deepEqual(
      log.lines().filter((line) => (JSON.parse(line) as { level: number }).level >= 50),
      [],
    );
  });

  it('a client that reads with pauses shorter than the bound gets the whole download', async () => {
    const slow = await request(`/v1/jobs/${id}/results?format=csv`);
    const done = slow.read();
    let ended = false;
    void done.then(() => (ended = true));
    // Most of the bound paused, then a moment reading: the buffers fill in every pause, and the
    // server's write of a page of results (megabytes) takes several moments to go out.
    while (!ended) {
      slow.socket.pause();
      await sleep(STALL_MS * 0.7);
      slow.socket.resume();
      await sleep(5);
      if (slow.text().endsWith('\r\n0\r\n\r\n')) slow.socket.end();
    }
    const text = slow.text();
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(text.endsWith('\r\n0\r\n\r\n'), `the download ended early, at ${slow.received()} bytes`);
    assert.ok(slow.received() > whole, `read ${slow.received()} bytes, the body alone is ${whole}`);
  });
});

describe('an event stream with nothing to send', () => {
  it('is not closed, however long it is quiet and unread, and carries its end event', async () => {
    const linesBefore = closedLines().length;
    // A job that stays running: its DNS server never answers, so its progress never changes.
    const id = await createJob('text/plain', 'someone@quiet.example\n');
    const stream = await request(`/v1/jobs/${id}/events`);
    await sleep(STALL_MS * 2.5);
    assert.equal(closedLines().length, linesBefore, 'a connection was closed for a stalled answer');
    const cancelled = await fetch(`${server.url}/v1/jobs/${id}`, { method: 'DELETE', headers: auth });
    assert.equal(cancelled.status, 200, await cancelled.text());
    const ended = stream.read();
    const started = Date.now();
    while (!/event: end/.test(stream.text()) && Date.now() - started < 20_000) await sleep(50);
    assert.match(stream.text(), /^HTTP\/1\.1 200 /);
    assert.match(stream.text(), /event: progress/);
    assert.match(stream.text(), /event: end/);
    stream.socket.destroy();
    await ended;
  });
});
