/**
 * `rcpt verify`'s table says what a verdict reached without a server's reply rests on, and which flag
 * changes it: the real `rcpt` process against the demo world on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { rcptProcess } from '../helpers/rcpt-process.js';

let world: DemoWorld;
before(async () => {
  world = await startDemoWorld();
});
after(async () => {
  await world.close();
});

describe('rcpt verify: evidence without a reply', () => {
  it('an MX on loopback without --allow-private-targets names the host and the flag', async () => {
    const { code, stdout } = await rcptProcess([
      'verify',
      '--dns-server',
      world.dnsServer,
      '--smtp-port',
      String(world.smtpPort),
      '--helo',
      'probe.rcpt.test',
      'alice@acme.test',
    ]);
    assert.equal(code, 3);
    // Before: "alice@acme.test  unknown  target_not_allowed" and nothing else on the line.
    assert.match(
      stdout,
      /^alice@acme\.test\s+unknown\s+target_not_allowed\s+mx1\.acme\.test: a private address; --allow-private-targets probes it$/m,
    );
  });

  it('no connection names the MX hosts and the port; no mail server says what DNS lacks', async () => {
    const { code, stdout } = await rcptProcess([
      'verify',
      '--dns-server',
      world.dnsServer,
      // Nothing listens on port 1 of the demo world's hosts: refused at once.
      '--smtp-port',
      '1',
      '--allow-private-targets',
      '--helo',
      'probe.rcpt.test',
      '--timeout',
      '5000',
      'alice@acme.test',
      'user@nomail.test',
    ]);
    assert.equal(code, 2);
    assert.match(
      stdout,
      /^alice@acme\.test\s+unknown\s+connection_failed\s+no connection to mx1\.acme\.test on port 1$/m,
    );
    assert.match(stdout, /^user@nomail\.test\s+undeliverable\s+no_mail_server\s+no MX, A or AAAA record$/m);
  });
});

describe('rcpt verify and rcpt bulk: no MX host answered (a blocked port 25)', () => {
  const flags = (port: number) => [
    '--dns-server',
    world.dnsServer,
    '--smtp-port',
    String(port),
    '--allow-private-targets',
    '--helo',
    'probe.rcpt.test',
    '--timeout',
    '5000',
  ];
  const hint =
    /^rcpt (verify|bulk): no mail server answered on port 1 \(mx1\.acme\.test, mail\.catchall\.test\): if this machine's outbound port 1 is blocked \(port 25 is, on most cloud VMs and home connections\), every verdict will be unknown; "rcpt doctor" checks it, and docs\/proxies\.md shows how to verify through a SOCKS5 proxy where port 25 is open$/m;

  it('says once what a run where no server answered likely means, and where to go', async () => {
    const addresses = ['alice@acme.test', 'anyone@catchall.test', 'user@nowhere.test'];
    // Before: a column of unknown/connection_failed and nothing else said.
    const verify = await rcptProcess(['verify', ...flags(1), ...addresses]);
    assert.match(verify.stderr, hint);
    assert.equal(verify.stderr.match(/no mail server answered/g)?.length, 1, verify.stderr);
    const dir = await mkdtemp(join(tmpdir(), 'rcpt-unreached-'));
    try {
      const bulk = await rcptProcess(['bulk', '-', ...flags(1), '--db', join(dir, 'jobs.db')], {
        stdin: addresses.join('\n'),
      });
      assert.equal(bulk.code, 0, bulk.stderr);
      assert.match(bulk.stderr, hint);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says nothing when a server answered, even if another could not be reached', async () => {
    const { stderr } = await rcptProcess([
      'verify',
      ...flags(world.smtpPort),
      'alice@acme.test',
      'x@dead.test',
    ]);
    assert.doesNotMatch(stderr, /no mail server answered/);
  });
});
