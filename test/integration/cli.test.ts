/** The `rcpt` command line, run in-process through `run()` with captured output. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { parse } from 'csv-parse/sync';

import { run } from '../../src/cli/main.js';
import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import type { VerifyResult } from '../../src/index.js';
import { runCli, type Captured } from '../helpers/run-cli.js';
import { loopbackFlags } from '../helpers/world-options.js';

function rcpt(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  return runCli(args, { env });
}

let world: DemoWorld;
before(async () => {
  world = await startDemoWorld();
});
after(async () => {
  await world.close();
});

const worldFlags = () => loopbackFlags(world);

describe('rcpt verify', () => {
  it('prints one JSON result per line with --json, in input order', async () => {
    const { code, stdout } = await rcpt([
      'verify',
      '--json',
      ...worldFlags(),
      'alice@acme.test',
      'nobody@acme.test',
    ]);
    // An undeliverable address: exit status 2 (--fail-on, below).
    assert.equal(code, 2);
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as VerifyResult);
    assert.deepEqual(
      results.map((r) => [r.input, r.verdict, r.reason]),
      [
        ['alice@acme.test', 'deliverable', 'accepted'],
        ['nobody@acme.test', 'undeliverable', 'mailbox_not_found'],
      ],
    );
    assert.equal(results[0]?.smtp?.transcript, null);
  });

  it('includes the transcript with --transcript', async () => {
    const { stdout } = await rcpt(['verify', '--json', '--transcript', ...worldFlags(), 'alice@acme.test']);
    const result = JSON.parse(stdout) as VerifyResult;
    assert.ok((result.smtp?.transcript?.length ?? 0) > 4);
  });

  it('prints a table and a summary by default', async () => {
    const { code, stdout } = await rcpt(['verify', ...worldFlags(), 'alice@acme.test', 'user@nullmx.test']);
    assert.equal(code, 2);
    assert.match(stdout, /^ADDRESS\s+VERDICT\s+REASON\s+EVIDENCE/m);
    assert.match(stdout, /alice@acme\.test\s+deliverable\s+accepted/);
    assert.match(stdout, /user@nullmx\.test\s+undeliverable\s+null_mx/);
    assert.match(stdout, /2 addresses: 1 deliverable, 1 undeliverable, 0 risky, 0 unknown/);
  });

  it('takes options from RCPT_* environment variables', async () => {
    const { code, stdout } = await rcpt(['verify', '--json', 'alice@acme.test'], {
      RCPT_DNS_SERVER: world.dnsServer,
      RCPT_SMTP_PORT: String(world.smtpPort),
      RCPT_ALLOW_PRIVATE_TARGETS: '1',
      RCPT_HELO: 'probe.rcpt.test',
    });
    assert.equal(code, 0);
    assert.equal((JSON.parse(stdout) as VerifyResult).reason, 'accepted');
  });

  it('warns when the HELO name is not fully qualified', async () => {
    const { stderr } = await rcpt([
      'verify',
      '--json',
      ...worldFlags(),
      '--helo',
      'justahost',
      'alice@acme.test',
    ]);
    assert.match(stderr, /warning: HELO name "justahost" is not a fully qualified domain name/);
  });

  it('exits 64 on usage errors', async () => {
    assert.equal((await rcpt(['verify'])).code, 64);
    assert.equal((await rcpt(['verify', '--smtp-port', 'abc', 'a@b.test'])).code, 64);
    assert.equal((await rcpt(['verify', '--mail-from', 'no-at-sign', 'a@b.test'])).code, 64);
    assert.equal((await rcpt(['no-such-verb'])).code, 64);
    const fromEnv = await rcpt(['verify', 'a@b.test'], { RCPT_SMTP_PORT: 'abc' });
    assert.equal(fromEnv.code, 64);
    assert.match(fromEnv.stderr, /RCPT_SMTP_PORT must be an integer/);
  });

  it('refuses a malformed --host-rate (or RCPT_HOST_RATE) in every verb that takes it, with 64 and the rule', async () => {
    for (const verb of [['verify', 'a@b.test'], ['bulk', '-'], ['serve'], ['worker']]) {
      for (const value of ['abc', '-1', '1.5', '100001', '']) {
        const result = await rcpt([...verb, '--host-rate', value]);
        assert.equal(result.code, 64, `${verb.join(' ')} --host-rate ${JSON.stringify(value)}`);
        assert.match(result.stderr, /^rcpt: --host-rate: must be an integer from 0 to 100000/m);
      }
    }
    const fromEnv = await rcpt(['verify', 'a@b.test'], { RCPT_HOST_RATE: 'fast' });
    assert.equal(fromEnv.code, 64);
    assert.match(fromEnv.stderr, /RCPT_HOST_RATE must be an integer from 0 to 100000/);
  });

  it('lists every verb of docs/cli.md in its help', async () => {
    const { code, stdout } = await rcpt(['--help']);
    assert.equal(code, 0);
    for (const verb of ['verify', 'bulk', 'serve', 'worker', 'demo', 'doctor']) {
      assert.match(stdout, new RegExp(`^\\s+${verb}\\b`, 'm'), verb);
    }
  });

  it('reports an unreadable bulk input as an operational failure (exit 1)', async () => {
    const { code, stderr } = await rcpt(['bulk', '/nonexistent/list.csv']);
    assert.equal(code, 1);
    assert.match(stderr, /list\.csv/);
  });
});

describe('rcpt demo', () => {
  it('verifies the sample list against its own world and prints the table', async () => {
    const { code, stdout } = await rcpt(['demo']);
    assert.equal(code, 0);
    assert.match(stdout, /Nothing leaves this machine/);
    assert.match(stdout, /alice@acme\.test\s+deliverable\s+accepted/);
    assert.match(stdout, /nobody@acme\.test\s+undeliverable\s+mailbox_not_found/);
    assert.match(stdout, /anyone@catchall\.test\s+risky\s+catch_all/);
    assert.match(stdout, /user@greylist\.test\s+deliverable\s+accepted/);
    assert.match(
      stdout,
      /alice@gmial\.com\s+undeliverable\s+domain_not_found.*did you mean alice@gmail\.com\?/,
    );
    assert.match(stdout, /\d+ addresses: \d+ deliverable/);
  });
});

describe('rcpt for a new user (issue 15)', () => {
  it('rcpt --version prints the package version', async () => {
    const { code, stdout } = await rcpt(['--version']);
    assert.equal(code, 0);
    const { version } = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string;
    };
    assert.equal(stdout, `${version}\n`);
  });

  it('verify exits with a status a script can use, chosen with --fail-on', async () => {
    const status = async (addresses: string[], failOn?: string) =>
      (
        await rcpt([
          'verify',
          '--json',
          ...worldFlags(),
          ...(failOn === undefined ? [] : ['--fail-on', failOn]),
          ...addresses,
        ])
      ).code;
    // Default --fail-on unknown: 2 for an undeliverable address (before unknown), 3 for unknown.
    assert.equal(await status(['alice@acme.test', 'anyone@catchall.test']), 0);
    assert.equal(await status(['alice@acme.test', 'nobody@acme.test', 'user@broken-dns.test']), 2);
    assert.equal(await status(['alice@acme.test', 'user@broken-dns.test']), 3);
    assert.equal(await status(['user@broken-dns.test'], 'undeliverable'), 0);
    assert.equal(await status(['anyone@catchall.test'], 'risky'), 4);
    assert.equal(await status(['nobody@acme.test'], 'never'), 0);
    assert.equal((await rcpt(['verify', '--fail-on', 'sometimes', 'a@b.test'])).code, 64);
  });

  it('verify --format csv writes the bulk columns for the addresses given', async () => {
    const { code, stdout } = await rcpt([
      'verify',
      '--format',
      'csv',
      '--fail-on',
      'never',
      ...worldFlags(),
      'alice@acme.test',
      'nobody@acme.test',
    ]);
    assert.equal(code, 0);
    const rows: Record<string, string>[] = parse(stdout, { columns: true });
    assert.deepEqual(
      rows.map((row) => [row.email, row.verdict, row.reason, row.smtp_code]),
      [
        ['alice@acme.test', 'deliverable', 'accepted', '250'],
        ['nobody@acme.test', 'undeliverable', 'mailbox_not_found', '550'],
      ],
    );
  });

  it('verify --transcript shows the transcript in the table output too', async () => {
    const { code, stdout } = await rcpt(['verify', '--transcript', ...worldFlags(), 'alice@acme.test']);
    assert.equal(code, 0);
    assert.match(stdout, /^Transcript of alice@acme\.test \(mx1\.acme\.test 127\.0\.0\.2\):$/m);
    assert.match(stdout, /^\s+\d+ ms > RCPT TO:<alice@acme\.test>$/m);
    assert.match(stdout, /^\s+\d+ ms < 250 /m);
  });

  it('verify trims surrounding white space as bulk does', async () => {
    const { code, stdout } = await rcpt(['verify', '--json', ...worldFlags(), '  alice@acme.test\t']);
    assert.equal(code, 0);
    const result = JSON.parse(stdout) as VerifyResult;
    assert.deepEqual([result.input, result.reason], ['alice@acme.test', 'accepted']);
  });

  it('verify escapes control characters from addresses and replies in its table', async () => {
    const hostile = 'b@x.test\r\nok  deliverable\u001b[2J\u202e';
    const { stdout } = await rcpt(['verify', ...worldFlags(), hostile]);
    // eslint-disable-next-line no-control-regex -- the point of the test
    assert.doesNotMatch(stdout, /[\r\u001b\u202e]/);
    assert.match(stdout, /^b@x\.test\\r\\nok {2}deliverable\\x1b\[2J\\u202e\s+undeliverable/m);
    // Header, one row, blank line, summary: the address did not add a line.
    assert.equal(stdout.trimEnd().split('\n').length, 4, stdout);
  });

  it('says errors in the user’s words: flag names, a one-line hint, not the whole help', async () => {
    const badDns = await rcpt(['verify', '--dns-server', 'not a server!', 'a@b.test']);
    assert.equal(badDns.code, 64);
    assert.match(badDns.stderr, /^rcpt: --dns-server: /);
    assert.doesNotMatch(badDns.stderr, /dnsServers|Invalid option/);
    assert.match(badDns.stderr, /\(rcpt verify --help lists its options\)\n$/);
    const badHelo = await rcpt(['verify', '--helo', 'not a name', 'a@b.test']);
    assert.equal(badHelo.code, 64);
    assert.match(badHelo.stderr, /^rcpt: --helo: /);
    const unknown = await rcpt(['verify', '--dns-servers', '127.0.0.1', 'a@b.test']);
    assert.equal(unknown.code, 64);
    assert.match(unknown.stderr, /^rcpt: --dns-servers: no such option \(did you mean --dns-server\?\)$/m);
    assert.match(unknown.stderr, /\(rcpt verify --help lists its options\)/);
    assert.doesNotMatch(unknown.stderr, /Options:|--greylist-wait/, 'not the whole help');
    assert.ok(unknown.stderr.trim().split('\n').length <= 3, unknown.stderr);
  });

  it('refuses a binary input with one clear line, and never echoes raw bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rcpt-cli-'));
    try {
      const binary = join(dir, 'list.xlsx');
      await writeFile(
        binary,
        Buffer.concat([Buffer.from('PK\u0003\u0004\u0014\u0000\u0006\u0000'), randomBytes(1400)]),
      );
      const result = await rcpt(['bulk', binary, '--db', join(dir, 'jobs.db')]);
      assert.equal(result.code, 64);
      assert.match(
        result.stderr,
        /^rcpt: .*list\.xlsx: this is an Excel or LibreOffice workbook \(\.xlsx, \.ods: a ZIP archive\), not a CSV: open it there and save it as "CSV UTF-8"/,
      );
      assert.equal(result.stderr.split('\n').filter(Boolean).length, 2, result.stderr); // the message, the hint
      // eslint-disable-next-line no-control-regex -- the point of the test
      assert.doesNotMatch(result.stderr, /[\u0000-\u0009\u000b-\u001f\u007f]/);
      // Text with terminal escapes in its header is quoted escaped.
      const escapes = join(dir, 'escapes.csv');
      await writeFile(escapes, 'id,\u001b[31mname\u001b]0;owned\u0007\n1,Alice\n');
      const quoted = await rcpt(['bulk', escapes, '--db', join(dir, 'jobs.db')]);
      assert.equal(quoted.code, 64);
      assert.match(
        quoted.stderr,
        /no address column in the header \(id, \\x1b\[31mname\\x1b\]0;owned\\x07\)/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rcpt demo --world keeps the world running and prints the flags that point at it', async () => {
    let out = '';
    const stdout = new PassThrough();
    stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const stderr = new PassThrough();
    stderr.resume();
    const running = run(['node', 'rcpt', 'demo', '--world'], { stdout, stderr, env: {} });
    const deadline = Date.now() + 10_000;
    while (!out.includes('\n') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    const flags = out.trim().split(' ');
    assert.deepEqual(
      [flags[0], flags[2], flags[4]],
      ['--dns-server', '--smtp-port', '--allow-private-targets'],
    );
    const verified = await rcpt([
      'verify',
      '--json',
      ...flags,
      '--helo',
      'probe.rcpt.test',
      'alice@acme.test',
    ]);
    assert.equal((JSON.parse(verified.stdout) as VerifyResult).reason, 'accepted');
    process.emit('SIGINT');
    assert.equal(await running, 0);
  });
});
