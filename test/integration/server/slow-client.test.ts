/**
 * A body still arriving when its answer is written, through a real listener and raw sockets: the
 * client reads the whole answer however late it reads (within the server's bound), the server
 * never reads more than its bound nor holds the connection open without end, and a connection whose
 * body ended carries the next request (lingering-close.ts). Clients that read only after a second
 * lost their 413 to a reset at about 520 ms before (@hono/node-server's clean-up closing the
 * connection under them: EPIPE in a client still sending).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { createLogger } from '../../../src/server/logger.js';
import { startServer, type RunningServer } from '../../../src/server/server.js';
import { KEY_A } from './helpers.js';

const MiB = 1024 * 1024;
/** The job upload limit of this test's server, so that a chunked upload crosses it soon. */
const UPLOAD_LIMIT = 1 * MiB;

/** A raw connection: what it has read, how it ended, and what it sent. */
interface Raw {
  readonly socket: Socket;
  /** Everything read so far. */
  text(): string;
  /** Writes `data`, counted in `sent()`; false while the connection holds it back. */
  write(data: Buffer | string): boolean;
  /** Bytes written so far. */
  sent(): number;
  /** Resolves when the connection is closed, with the error it closed on, if any. */
  readonly closed: Promise<string | null>;
  /** Whether the server's end of the connection (its FIN) was read. */
  ended(): boolean;
}

/**
 * Opens a connection that reads only once `read()` is called. At the server's end (its FIN) it ends
 * its own side, as clients do, unless `sendOnAfterEnd`.
 */
async function open(port: number, sendOnAfterEnd = false): Promise<Raw & { read(): void }> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  let text = '';
  let ended = false;
  let sent = 0;
  let error: string | null = null;
  socket.on('error', (e: NodeJS.ErrnoException) => (error ??= e.code ?? e.message));
  socket.on('end', () => {
    ended = true;
    if (!sendOnAfterEnd) socket.end();
  });
  return {
    socket,
    write(data) {
      sent += Buffer.byteLength(data);
      return socket.write(data);
    },
    text: () => text,
    sent: () => sent,
    ended: () => ended,
    closed: new Promise((resolve) => {
      socket.once('close', () => {
        resolve(error);
      });
    }),
    read() {
      socket.on('data', (data: Buffer) => {
        text += data.toString('latin1');
      });
      socket.resume();
    },
  };
}

/** The head and body of the one response in `text`, the body cut at its Content-Length; null while incomplete. */
function response(text: string): { status: number; head: string; body: string } | null {
  const at = text.indexOf('\r\n\r\n');
  if (at < 0) return null;
  const head = text.slice(0, at);
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
  if (text.length < at + 4 + length) return null;
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
    head,
    body: text.slice(at + 4, at + 4 + length),
  };
}

/** Writes `chunk` again and again, waiting while the connection holds it back, until `stop()` or a failed write. */
async function sendOn(raw: Raw, chunk: Buffer, stop: () => boolean, pauseMs = 0): Promise<void> {
  while (!stop() && !raw.socket.destroyed && raw.socket.writable) {
    if (!raw.write(chunk)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          clearTimeout(timer);
          raw.socket.off('drain', go);
          resolve();
        };
        const timer = setTimeout(go, 50);
        raw.socket.once('drain', go);
      });
    }
    if (pauseMs > 0) await sleep(pauseMs);
  }
}

/** Asserts a complete 413 from the job upload route, sent with `Connection: close`, and the server's end after it. */
function assertWhole413(raw: Raw, label: string): void {
  const answer = response(raw.text());
  assert.ok(
    answer !== null,
    `${label}: no whole response read (${raw.text().length} bytes: ${raw.text().slice(0, 120)})`,
  );
  assert.equal(answer.status, 413, `${label}: ${answer.head}`);
  assert.match(answer.head, /\r\nconnection: close/i, label);
  const body = JSON.parse(answer.body) as { error: string; message: string };
  assert.equal(body.error, 'payload_too_large', label);
  assert.match(body.message, new RegExp(`larger than ${UPLOAD_LIMIT} bytes`), label);
  assert.ok(raw.ended(), `${label}: the server's end of the connection was not read after the 413`);
}

const uploadHead = (length: string | null) =>
  'POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
  `Authorization: Bearer ${KEY_A}\r\nContent-Type: text/plain\r\n` +
  (length === null ? 'Transfer-Encoding: chunked\r\n' : `Content-Length: ${length}\r\n`) +
  '\r\n';

/** 64 KiB of addresses, as a chunk of a chunked body when `chunked`. */
function bodyChunk(chunked: boolean): Buffer {
  const data = 'someone@example.test\n'.repeat(Math.floor((64 * 1024) / 21));
  return Buffer.from(chunked ? `${data.length.toString(16)}\r\n${data}\r\n` : data);
}

let server: RunningServer;
let directory: string;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'rcpt-slow-client-'));
  server = await startServer({
    port: 0,
    apiKeys: [KEY_A],
    db: join(directory, 'jobs.db'),
    limits: { maxUploadBytes: UPLOAD_LIMIT },
    logger: createLogger({ level: 'silent' }),
    processMetrics: false,
  });
});

after(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('an upload over the limit, answered while its body still arrives', () => {
  it('a client that sent 1 MiB of a 60 MiB Content-Length body and reads only after 1 s reads the whole 413, then the connection ends', async () => {
    const raw = await open(server.port);
    raw.write(uploadHead(String(60 * MiB)));
    for (let i = 0; i < 16; i += 1) raw.write(bodyChunk(false));
    await sleep(1_000);
    raw.read();
    const error = await raw.closed;
    assertWhole413(raw, 'late reader');
    assert.equal(error, null, `the connection closed on ${error}`);
  });

  /** Sends as fast as the connection takes it, reading nothing for 1 s, then reads; asserts the whole 413. */
  async function fastSenderReadingLate(chunked: boolean): Promise<void> {
    const framing = chunked ? 'chunked' : 'Content-Length';
    const raw = await open(server.port);
    raw.write(uploadHead(chunked ? null : String(60 * MiB)));
    let reading = false;
    const sending = sendOn(raw, bodyChunk(chunked), () => reading);
    await sleep(1_000);
    reading = true;
    raw.read();
    await sending;
    await raw.closed;
    assertWhole413(raw, framing);
    // What went in: the limit, what is dropped after the answer (16 MiB, twice at most: while the
    // answer is made and after it is written), and the sockets' buffers (a few MiB on loopback).
    assert.ok(raw.sent() < UPLOAD_LIMIT + 3 * 16 * MiB, `${framing}: ${raw.sent()} bytes went in`);
  }

  it('a client that keeps sending a 60 MiB Content-Length body as fast as it can and reads only after 1 s reads the whole 413; the server reads a bounded amount', async () => {
    await fastSenderReadingLate(false);
  });

  it('a client that keeps sending a chunked body as fast as it can and reads only after 1 s reads the whole 413; the server reads a bounded amount', async () => {
    await fastSenderReadingLate(true);
  });

  it('a client that keeps sending slowly, whatever it reads, reads the whole 413 at once, and the server closes the connection within its bound', async () => {
    const raw = await open(server.port, true);
    raw.read();
    raw.write(uploadHead(String(60 * MiB)));
    // 4 KiB every 20 ms, never stopping on its own: only the server's close ends it.
    await sendOn(raw, Buffer.alloc(4096, 0x61), () => false, 20);
    await raw.closed;
    await sleep(3000);
    assertWhole413(raw, 'slow sender');
    assert.ok(raw.sent() < 2 * MiB, `${raw.sent()} bytes went in`);
  });
});

describe('a body left unread by an answer that is not about it', () => {
  it('a 401 before a body was read: the body is dropped as it comes and the connection carries the next request', async () => {
    const raw = await open(server.port);
    raw.read();
    const body = 'x'.repeat(200 * 1024);
    raw.write(
      `POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    while (response(raw.text()) === null) await sleep(10);
    assert.equal(response(raw.text())?.status, 401);
    raw.write(body);
    const first = raw.text().length;
    raw.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await raw.closed;
    await sleep(3000);
    assert.equal(response(raw.text().slice(first))?.status, 200, raw.text().slice(first, first + 200));
  });

  it('a 401 whose body never ends: the connection is closed, not held', async () => {
    const raw = await open(server.port);
    raw.read();
    raw.write(
      `POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${10 * MiB}\r\n\r\n{"email":`,
    );
    await raw.closed;
    await sleep(3000);
    assert.equal(response(raw.text())?.status, 401);
  });
});
