/**
 * `rcpt worker`, `rcpt serve` and `rcpt bulk` with a `postgres://` job store where no PostgreSQL
 * listens (a loopback port just freed): each a real process that exits 1 with one line saying where it
 * looked, what went wrong and which option names the database, instead of the driver's
 * `rcpt: connect ECONNREFUSED 127.0.0.1:PORT`; the URL's password is never shown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(REPO, 'test/fixtures/bulk/rcpt-entry.ts');

let dir: string;
let port: number;

/** A loopback port nothing listens on: one the kernel gave a listener that is closed again. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: free } = server.address() as { port: number };
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  return free;
}

/** `rcpt ARGS…` as its own process; its exit status and standard error. */
function rcpt(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, ...args], {
    cwd: REPO,
    // No start-up check of the machine (rcpt doctor): the line under test is the only one.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, RCPT_DOCTOR: '0', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      resolve({ code, stderr });
    });
  });
}

/** The lines of `stderr` other than warnings about this machine (the HELO name). */
const said = (stderr: string): string[] =>
  stderr
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('rcpt: warning:') && !line.startsWith('{'));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-pg-down-'));
  port = await freePort();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a postgres:// job store where nothing listens', () => {
  const why = (at: string) =>
    `cannot reach PostgreSQL at ${at}: connection refused; is it running? (--db or RCPT_DB names it)`;

  it('rcpt worker: exit 1, one line naming host:port and --db / RCPT_DB', async () => {
    const url = `postgres://rcpt:s3cret@127.0.0.1:${port}/rcpt`;
    const run = await rcpt(['worker', '--db', url, '--helo', 'probe.rcpt.test']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(said(run.stderr), [`rcpt: worker: ${why(`127.0.0.1:${port}`)}`]);
    assert.doesNotMatch(run.stderr, /s3cret|ECONNREFUSED/);
    // The same from RCPT_DB, and through a name that resolves to both ::1 and 127.0.0.1.
    const fromEnv = await rcpt(['worker', '--helo', 'probe.rcpt.test'], {
      RCPT_DB: `postgresql://rcpt:s3cret@localhost:${port}/rcpt`,
    });
    assert.equal(fromEnv.code, 1, fromEnv.stderr);
    assert.deepEqual(said(fromEnv.stderr), [`rcpt: worker: ${why(`localhost:${port}`)}`]);
  });

  it('rcpt serve: exit 1, the same line', async () => {
    const url = `postgres://rcpt:s3cret@127.0.0.1:${port}/rcpt`;
    const run = await rcpt(['serve', '--db', url, '--port', '0', '--helo', 'probe.rcpt.test']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(said(run.stderr), [`rcpt: serve: ${why(`127.0.0.1:${port}`)}`]);
    assert.doesNotMatch(run.stderr, /s3cret|ECONNREFUSED/);
  });

  it('rcpt bulk: exit 1, the same line, nothing verified', async () => {
    const input = join(dir, 'list.txt');
    await writeFile(input, 'someone@example.test\n');
    const url = `postgres://rcpt:s3cret@127.0.0.1:${port}/rcpt`;
    const run = await rcpt([
      'bulk',
      input,
      '-o',
      join(dir, 'out.csv'),
      '--db',
      url,
      '--helo',
      'probe.rcpt.test',
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(said(run.stderr), [`rcpt: ${why(`127.0.0.1:${port}`)}; nothing was verified`]);
    assert.doesNotMatch(run.stderr, /s3cret|ECONNREFUSED/);
  });
});
