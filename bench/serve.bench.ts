/**
 * `rcpt serve` on a real socket (loopback, port 0, a SQLite file in a temp folder, no network use
 * beyond loopback): how fast an upload streams into the job store, how much memory that costs, how fast
 * results stream out, and synchronous `/v1/verify` requests a second on addresses that end at syntax
 * (so the HTTP layer is measured, not SMTP servers).
 *
 * Usage: node --import tsx bench/serve.bench.ts [rows] [seconds]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createLogger } from '../src/server/logger.js';
import { startServer } from '../src/server/server.js';

const ROWS = Number(process.argv[2] ?? 200_000);
const SECONDS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 16;

const directory = mkdtempSync(join(tmpdir(), 'rcpt-serve-bench-'));
// A DNS server nobody answers on: the job is cancelled before it matters; nothing leaves loopback.
const server = await startServer({
  port: 0,
  verify: { dnsServers: ['127.0.0.1:9'], dnsTimeoutMs: 200, dnsTries: 1, helo: 'bench.rcpt.test' },
  db: join(directory, 'jobs.db'),
  rateLimit: null,
  limits: { maxUploadBytes: 1024 * 1024 * 1024, maxJobAddresses: 10_000_000 },
  logger: createLogger({ level: 'silent' }),
  processMetrics: false,
});

try {
  // 1. Upload: a CSV generated as it is sent, so the client holds no copy of it either.
  const encoder = new TextEncoder();
  let sent = 0;
  let row = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (row === 0) controller.enqueue(encoder.encode('name,email,company\n'));
      if (row >= ROWS) {
        controller.close();
        return;
      }
      let chunk = '';
      for (let i = 0; i < 1_000 && row < ROWS; i += 1, row += 1) {
        chunk += `Person ${row},person.${row}@domain${row % 5_000}.test,"Company ${row % 97}, Inc."\n`;
      }
      const bytes = encoder.encode(chunk);
      sent += bytes.byteLength;
      controller.enqueue(bytes);
    },
  });
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 20);
  let started = performance.now();
  const created = await fetch(`${server.url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body,
    duplex: 'half',
  });
  const uploadMs = performance.now() - started;
  clearInterval(sampler);
  const { id } = (await created.json()) as { id: string };
  if (created.status !== 202) throw new Error(`upload answered ${created.status}`);
  await fetch(`${server.url}/v1/jobs/${id}`, { method: 'DELETE' });
  console.log(
    `upload: ${ROWS} rows, ${(sent / 1024 / 1024).toFixed(1)} MiB in ${(uploadMs / 1000).toFixed(2)} s = ` +
      `${Math.round(ROWS / (uploadMs / 1000))} rows/s; RSS +${((rssPeak - rssBefore) / 1024 / 1024).toFixed(0)} MiB ` +
      `(client and server in one process)`,
  );

  // 2. Results: every row streamed back as CSV (most rows "not verified": the job was cancelled).
  started = performance.now();
  const results = await fetch(`${server.url}/v1/jobs/${id}/results?format=csv`);
  let bytes = 0;
  let lines = 0;
  for await (const chunk of results.body ?? []) {
    bytes += (chunk as Uint8Array).byteLength;
    for (const byte of chunk as Uint8Array) if (byte === 10) lines += 1;
  }
  const downloadMs = performance.now() - started;
  console.log(
    `results: ${lines - 1} rows, ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${(downloadMs / 1000).toFixed(2)} s = ` +
      `${Math.round((lines - 1) / (downloadMs / 1000))} rows/s`,
  );

  // 3. Synchronous requests: `{"email"}` that fails syntax, CONCURRENCY clients for SECONDS seconds.
  let requests = 0;
  const until = performance.now() + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < until) {
      const response = await fetch(`${server.url}/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email":"not an address"}',
      });
      if (response.status !== 200) throw new Error(`verify answered ${response.status}`);
      await response.arrayBuffer();
      requests += 1;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, client));
  console.log(
    `POST /v1/verify (syntax only): ${Math.round(requests / SECONDS)} requests/s with ${CONCURRENCY} clients`,
  );
} finally {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
}
