/** `rcpt explain`, run in-process through `run()`: inline, stdin, a file, --json, and bad input. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ReplyExplanation } from '../../src/index.js';
import { runCli, type Captured } from '../helpers/run-cli.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-explain-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const UNKNOWN =
  '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table';

function parseLines(stdout: string): ReplyExplanation[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ReplyExplanation);
}

describe('rcpt explain', () => {
  it('prints a readable report: verdict, category, what to do, the rule and its source', async () => {
    const { code, stdout, stderr } = await runCli(['explain', UNKNOWN]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^rcpt explain: 1 reply/);
    assert.match(
      stdout,
      /550 5\.1\.1 {2}command not stated \(read as RCPT\) {2}UNDELIVERABLE {2}mailbox_not_found/,
    );
    assert.match(stdout, /category {2}mailbox unknown \(recipient side, permanent\)/);
    assert.match(stdout, /→ Remove the address/);
    assert.match(stdout, /rule {6}mailbox-not-found-text · Postfix/);
  });

  it('prints one JSON object per reply with --json, and honours --command and --provider', async () => {
    const { code, stdout } = await runCli([
      'explain',
      '--json',
      '--command',
      'RCPT',
      '--provider',
      'outlook',
      '550 5.5.0 Requested action not taken: mailbox unavailable',
    ]);
    assert.equal(code, 0);
    const [e] = parseLines(stdout);
    assert.deepEqual([e?.reply.command, e?.provider, e?.reason], ['RCPT', 'outlook', 'mailbox_not_found']);
  });

  it('reads a transcript from stdin with -', async () => {
    const transcript =
      '220 mx.example.com ESMTP\r\nHELO probe.example.net\r\n250 mx.example.com\r\nMAIL FROM:<a@example.net>\r\n250 2.1.0 Ok\r\nRCPT TO:<b@example.com>\r\n452 4.2.2 Mailbox full\r\n';
    const { code, stdout } = await runCli(['explain', '--json', '-'], { stdin: transcript });
    assert.equal(code, 0);
    const explanations = parseLines(stdout);
    assert.deepEqual(
      explanations.map((e) => [e.reply.command, e.reason]),
      [
        ['CONNECT', 'unexpected_reply'],
        ['HELO', 'unexpected_reply'],
        ['MAIL', 'unexpected_reply'],
        ['RCPT', 'mailbox_full'],
      ],
    );
  });

  it('reads a file named as the argument', async () => {
    const path = join(dir, 'reply.txt');
    await writeFile(path, `${UNKNOWN}\n`);
    const { code, stdout } = await runCli(['explain', '--json', path]);
    assert.equal(code, 0);
    assert.equal(parseLines(stdout)[0]?.reason, 'mailbox_not_found');
    const folder = await runCli(['explain', dir]);
    assert.equal(folder.code, 64);
    assert.match(folder.stderr, /a directory with no \.eml files/);
  });

  it('exits 1 with a clear answer for empty, code-less and binary input', async () => {
    const empty = await runCli(['explain', '-'], { stdin: '' });
    assert.equal(empty.code, 1);
    assert.match(empty.stdout, /NOT A REPLY {2}The input is empty/);
    assert.match(empty.stderr, /no SMTP reply found/);
    const codeless = await runCli(['explain', 'User unknown']);
    assert.equal(codeless.code, 1);
    assert.match(codeless.stdout, /No SMTP reply code was found/);
    const path = join(dir, 'binary.bin');
    await writeFile(path, Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 131) % 256)));
    const binary = await runCli(['explain', '--json', path]);
    assert.equal(binary.code, 1);
    assert.match(parseLines(binary.stdout)[0]?.meaning ?? '', /binary/);
  });

  it('refuses an unknown --command as a usage error', async () => {
    const { code, stderr } = await runCli(['explain', '--command', 'LIST', UNKNOWN]);
    assert.equal(code, 64);
    assert.match(stderr, /LIST/);
  });

  it("reads a pipe named as the argument (the shell's <(…)): a reply, a bounce message, an mbox", async () => {
    const bounce = await readFile(new URL('../fixtures/bounces/postfix.eml', import.meta.url));
    const reply = await throughFifo(`${UNKNOWN}\n`, ['--json']);
    assert.equal(reply.code, 0, reply.stderr);
    assert.equal(parseLines(reply.stdout)[0]?.reason, 'mailbox_not_found');
    const message = await throughFifo(bounce, []);
    assert.equal(message.code, 0, message.stderr);
    assert.match(message.stdout, /: a bounce \(RFC 3464 delivery status report\)/);
    assert.match(message.stdout, /alice@example\.com {2}failed/);
    const mbox = await throughFifo(
      Buffer.concat([Buffer.from('From MAILER-DAEMON Mon Dec  7 03:00:00 2026\n'), bounce]),
      ['--format', 'ndjson'],
    );
    assert.equal(mbox.code, 0, mbox.stderr);
    assert.match(mbox.stdout, /"address":"alice@example\.com"/);
  });

  it('names a missing file, a socket and a path it cannot read in plain words (exit 64)', async () => {
    for (const name of ['bounce.eml', 'bounces/', './reply']) {
      const missing = await runCli(['explain', join(dir, name)]);
      assert.equal(missing.code, 64, name);
      assert.match(missing.stderr, /^rcpt: no such file: .*\n\(rcpt explain --help/, name);
    }
    // Words that are neither a reply nor a file name stay the reply side's answer.
    assert.equal((await runCli(['explain', 'mailbox unavailable'])).code, 1);
    const socketPath = join(dir, 'socket');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const socket = await runCli(['explain', socketPath]);
      assert.equal(socket.code, 64);
      assert.match(socket.stderr, /^rcpt: .*socket: not a file \(give a reply, a file holding one, or -\)\n/);
      assert.doesNotMatch(socket.stderr, /ENXIO/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

/** `rcpt explain FIFO` while another writer feeds the FIFO `content`, as the shell's `<(…)` does. */
async function throughFifo(content: string | Buffer, flags: readonly string[]): Promise<Captured> {
  const fifo = join(dir, `fifo-${Math.random().toString(36).slice(2)}`);
  execFileSync('mkfifo', [fifo]);
  const writer = createWriteStream(fifo);
  const written = new Promise<void>((resolve, reject) => {
    writer.on('error', reject);
    writer.end(content, resolve);
  });
  const [result] = await Promise.all([runCli(['explain', ...flags, fifo]), written]);
  return result;
}
