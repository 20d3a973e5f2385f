/**
 * `npm run bench:upload`: what refusing oversized job lists costs `rcpt serve` (docs/attacks.md, row
 * 28), for each kind of list: JSON (`{"emails": [...]}`), `text/plain` and `text/csv`. For each kind a
 * fresh `rcpt serve` (its own process, on loopback, a SQLite job store in a temp folder) is sent, one
 * after another: a 60 MiB and a 200 MiB chunked list and a 60 MiB one with `Content-Length` (addresses
 * of 1,009 characters, as the attack test sends them), each over the 50 MiB upload limit; a chunked
 * list of 1,000,001 short addresses (over the count limit, under the size limit); and a 45 MiB list
 * that is accepted (then cancelled). Reported: each answer, the server's resident set before and its
 * peak (VmHWM) after the refusals and after the accepted list, and what the refusals left in the job
 * store (its files' bytes after them less before them: every kind of list waits in an unlinked spool
 * until it is whole, so a refused one writes nothing).
 *
 * Exit status 1 when an answer is not the expected one, the peak growth under the refusals is over
 * `--bound-mib` (default 160, the attack test's bound), or a refusal left a byte in the store.
 *
 * Usage: node --import tsx bench/upload-attack.bench.ts [--kinds json,text,csv] [--bound-mib 160]
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { startServe, type ServeChild } from '../test/reliability/helpers/serve-child.js';
import { LIST_KINDS, sendList } from '../test/reliability/helpers/upload-list.js';

const { values } = parseArgs({
  options: {
    kinds: { type: 'string', default: 'json,text,csv' },
    'bound-mib': { type: 'string', default: '160' },
  },
});
const MiB = 1024 * 1024;
const KEY = 'bench-key-0123456789abcdef';
const BOUND = Number(values['bound-mib']) * MiB;

async function diskBytes(dir: string): Promise<number> {
  let bytes = 0;
  for (const name of await readdir(dir)) bytes += (await stat(join(dir, name))).size;
  return bytes;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
const problems: string[] = [];

for (const name of values.kinds.split(',')) {
  const kind = LIST_KINDS[name];
  if (kind === undefined) throw new Error(`no such kind: ${name}`);
  const dir = await mkdtemp(join(tmpdir(), 'rcpt-upload-bench-'));
  let server: ServeChild | null = null;
  try {
    // A DNS server nobody answers on: the accepted list is cancelled before it matters.
    server = await startServe(['--db', join(dir, 'jobs.db'), '--dns-server', '127.0.0.1:9'], {
      RCPT_API_KEYS: KEY,
    });
    const before = server.memory();
    const storeBefore = await diskBytes(dir);
    const lines: string[] = [];
    for (const [label, shape, contentLength, expected] of [
      ['60 MiB chunked', { size: 60 * MiB, long: true }, false, /larger than 52428800 bytes/],
      ['200 MiB chunked', { size: 200 * MiB, long: true }, false, /larger than 52428800 bytes/],
      ['60 MiB Content-Length', { size: 60 * MiB, long: true }, true, /larger than 52428800 bytes/],
      ['1,000,001 addresses', { count: 1_000_001, long: false }, false, /At most 1000000 addresses/],
    ] as const) {
      const started = performance.now();
      const answer = await sendList(server.url, KEY, kind, shape, contentLength);
      const ms = performance.now() - started;
      lines.push(
        `    ${label}: ${answer.status} after ${mib(answer.sent)} sent, ${(ms / 1000).toFixed(1)} s`,
      );
      if (answer.status !== 413 || !expected.test(answer.body)) {
        problems.push(`${name} ${label}: ${answer.status} ${answer.body.slice(0, 200)}`);
      }
    }
    const refused = server.memory();
    const left = (await diskBytes(dir)) - storeBefore;
    const accepted = await sendList(server.url, KEY, kind, { size: 45 * MiB, long: true }, false);
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
      `${name} (${kind.type}): RSS ${mib(before.rss)} before; peak ${mib(refused.peak)} after the refusals (growth ${mib(growth)}, bound ${mib(BOUND)}), ${left} bytes left in the store (${mib(left)}); peak ${mib(after.peak)} after a 45 MiB list accepted (${accepted.status})`,
    );
    for (const line of lines) console.log(line);
    if (growth > BOUND) problems.push(`${name}: peak RSS grew by ${mib(growth)} under the refusals`);
    if (left !== 0) problems.push(`${name}: the refusals left ${left} bytes in the store`);
  } finally {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
if (problems.length > 0) {
  console.error(`FAILED:\n${problems.join('\n')}`);
  process.exitCode = 1;
}
