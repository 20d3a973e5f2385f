/** The `rcpt` command line, run in-process through `run()` with captured output. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import type { VerifyResult } from '../../src/index.js';
import { runCli, type Captured } from '../helpers/run-cli.js';

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

const worldFlags = () => [
  '--dns-server',
  world.dnsServer,
  '--smtp-port',
  String(world.smtpPort),
  '--allow-private-targets',
  '--helo',
  'probe.rcpt.test',
];

describe('rcpt verify', () => {
  it('prints one JSON result per line with --json, in input order', async () => {
    const { code, stdout } = await rcpt([
      'verify',
      '--json',
      ...worldFlags(),
      'alice@acme.test',
      'nobody@acme.test',
    ]);
    assert.equal(code, 0);
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
    assert.equal(code, 0);
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
