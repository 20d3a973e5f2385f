/** `rcpt explain`, run in-process through `run()`: inline, stdin, a file, --json, and bad input. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { ReplyExplanation } from '../../src/index.js';
import { runCli } from '../helpers/run-cli.js';

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
});
