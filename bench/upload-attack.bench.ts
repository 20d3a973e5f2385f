/**
 * `npm run bench:upload`: what refusing oversized job lists costs `rcpt serve` (docs/attacks.md, row
 * 28), for each kind of list: JSON (`{"emails": [...]}`), `text/plain` and `text/csv`. For each kind a
 * fresh `rcpt serve` (its own process, on loopback, a SQLite job store in a temp folder) is sent, one
 * after another: a 60 MiB and a 200 MiB chunked list and a 60 MiB one with `Content-Length` (addresses
 * of 1,009 characters, as the attack test sends them), each over the 50 MiB upload limit; a chunked
 * list of 1,000,001 short addresses (over the count limit, under the size limit); and a 45 MiB list
 * that is accepted (then cancelled). Reported: each answer, the server's resident set before and its
 * peak (VmHWM) after the refusals and after the accepted list, and the job store's size on disk after
 * the refusals (a refused list leaves no job).
 *
 * Exit status 1 when an answer is not the expected one or the peak growth under the refusals is over
 * `--bound-mib` (default 160, the attack test's bound).
 *
 * Usage: node --import tsx bench/upload-attack.bench.ts [--kinds json,text,csv] [--bound-mib 160]
 */
import { request } from 'node:http';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { startServe, type ServeChild } from '../test/reliability/helpers/serve-child.js';

const { values } = parseArgs({
  options: {
    kinds: { type: 'string', default: 'json,text,csv' },
    'bound-mib': { type: 'string', default: '160' },
  },
});
const MiB = 1024 * 1024;
const KEY = 'bench-key-0123456789abcdef';
const BOUND = Number(values['bound-mib']) * MiB;

interface Kind {
  readonly type: string;
  readonly head: string;
  readonly separator: string;
  readonly tail: string;
  readonly quote: (address: string) => string;
}

const KINDS: Record<string, Kind> = {
  json: {
    type: 'application/json',
    head: '{"emails":[',
    separator: ',',
    tail: ']}',
    quote: (address) => JSON.stringify(address),
  },
  text: { type: 'text/plain', head: '', separator: '\n', tail: '\n', quote: (address) => address },
  csv: { type: 'text/csv', head: 'email\n', separator: '\n', tail: '\n', quote: (address) => address },
};

interface Answer {
  readonly status: number;
  readonly body: string;
  /** Bytes sent before the answer. */
  readonly sent: number;
}

/**
 * Sends `count` addresses (`address`, or `address` numbered when `numbered`) or as many as fit in
 * `size` bytes, in 64 KiB chunks generated as they go; stops writing once the server answers.
 */
function sendList(
  base: string,
  kind: Kind,
  shape: { readonly size?: number; readonly count?: number; readonly long: boolean },
  contentLength: boolean,
): Promise<Answer> {
  const address = (i: number) => (shape.long ? `${'x'.repeat(1000)}@pub.test` : `u${i}@pub.test`);
  // The long addresses are all alike: one chunk of them is built once and sent again and again.
  const longItem = Buffer.from(`${kind.quote(address(0))}${kind.separator}`);
  const perChunk = Math.floor((64 * 1024) / longItem.length);
  const longChunk = Buffer.from(longItem.toString().repeat(perChunk));
  const head = Buffer.from(kind.head);
  const last = Buffer.from(`${kind.quote(address(0))}${kind.tail}`);
  let total = 0;
  if (shape.long && shape.size !== undefined) {
    total =
      head.length +
      Math.floor((shape.size - head.length - last.length) / longChunk.length) * longChunk.length +
      last.length;
  }
  return new Promise((resolve, reject) => {
    let answered = false;
    let sent = 0;
    const req = request(
      `${base}/v1/jobs`,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${KEY}`,
          'content-type': kind.type,
          ...(contentLength ? { 'content-length': String(total) } : {}),
        },
      },
      (res) => {
        answered = true;
        let body = '';
        res.on('data', (data: Buffer) => (body += data.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body, sent });
        });
        res.on('error', reject);
      },
    );
    req.on('error', (error) => {
      // The server closes the connection after its 413: writing on is an EPIPE / reset.
      if (!answered) reject(error);
    });
    const write = (data: Buffer): Promise<void> =>
      new Promise((done) => {
        sent += data.length;
        if (req.write(data)) done();
        else req.once('drain', done);
      });
    const open = () => !answered && !req.destroyed;
    void (async () => {
      await write(head);
      if (shape.long && shape.size !== undefined) {
        for (
          let at = head.length + last.length;
          at + longChunk.length <= total && open();
          at += longChunk.length
        ) {
          await write(longChunk);
        }
      } else {
        const count = shape.count ?? 0;
        let pending: string[] = [];
        for (let i = 1; i < count && open(); i += 1) {
          pending.push(`${kind.quote(address(i))}${kind.separator}`);
          if (pending.length === 4096) {
            await write(Buffer.from(pending.join('')));
            pending = [];
          }
        }
        if (pending.length > 0 && open()) await write(Buffer.from(pending.join('')));
      }
      if (open()) req.end(last);
    })();
  });
}

async function diskBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
  return bytes;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const problems: string[] = [];

for (const name of values.kinds.split(',')) {
  const kind = KINDS[name];
  if (kind === undefined) throw new Error(`no such kind: ${name}`);
  const dir = await mkdtemp(join(tmpdir(), 'rcpt-upload-bench-'));
  let server: ServeChild | null = null;
  try {
    // A DNS server nobody answers on: the accepted list is cancelled before it matters.
    server = await startServe(['--db', join(dir, 'jobs.db'), '--dns-server', '127.0.0.1:9'], {
      RCPT_API_KEYS: KEY,
    });
    const before = server.memory();
    const lines: string[] = [];
    for (const [label, shape, contentLength, expected] of [
      ['60 MiB chunked', { size: 60 * MiB, long: true }, false, /larger than 52428800 bytes/],
      ['200 MiB chunked', { size: 200 * MiB, long: true }, false, /larger than 52428800 bytes/],
      ['60 MiB Content-Length', { size: 60 * MiB, long: true }, true, /larger than 52428800 bytes/],
      ['1,000,001 addresses', { count: 1_000_001, long: false }, false, /At most 1000000 addresses/],
    ] as const) {
      const started = performance.now();
      const answer = await sendList(server.url, kind, shape, contentLength);
      const ms = performance.now() - started;
      lines.push(
        `    ${label}: ${answer.status} after ${mib(answer.sent)} sent, ${(ms / 1000).toFixed(1)} s`,
      );
      if (answer.status !== 413 || !expected.test(answer.body)) {
        problems.push(`${name} ${label}: ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }
    const refused = server.memory();
    const disk = await diskBytes(dir);
    const accepted = await sendList(server.url, kind, { size: 45 * MiB, long: true }, false);
    if (accepted.status !== 202)
      problems.push(`${name} 45 MiB: ${accepted.status} ${accepted.body.slice(0, 200)}`);
    else {
      const { id } = JSON.parse(accepted.body) as { id: string };
      await fetch(`${server.url}/v1/jobs/${id}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${KEY}` },
      });
    }
    const after = server.memory();
    const growth = refused.peak - before.rss;
    console.log(
      `${name} (${kind.type}): RSS ${mib(before.rss)} before; peak ${mib(refused.peak)} after the refusals (growth ${mib(growth)}, bound ${mib(BOUND)}), job store ${mib(disk)} on disk; peak ${mib(after.peak)} after a 45 MiB list accepted (${accepted.status})`,
    );
    for (const line of lines) console.log(line);
    if (growth > BOUND) problems.push(`${name}: peak RSS grew by ${mib(growth)} under the refusals`);
  } finally {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
if (problems.length > 0) {
  console.error(`FAILED:\n${problems.join('\n')}`);
  process.exitCode = 1;
}
