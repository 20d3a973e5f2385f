/**
 * `rcpt verify`'s table says what a verdict reached without a server's reply rests on, and which flag
 * changes it: the real `rcpt` process against the demo world on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

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
