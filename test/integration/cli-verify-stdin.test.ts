/**
 * `rcpt verify -`: addresses on standard input, as `rcpt bulk -` and `rcpt explain -` read it, through the
 * real `rcpt` process against the demo world on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import type { VerifyResult } from '../../src/index.js';
import { rcptProcess } from '../helpers/rcpt-process.js';
import { loopbackFlags } from '../helpers/world-options.js';

let world: DemoWorld;
before(async () => {
  world = await startDemoWorld();
});
after(async () => {
  await world.close();
});

describe('rcpt verify -', () => {
  it('verifies the addresses of standard input, one a line, among those given as arguments', async () => {
    const { code, stdout, stderr } = await rcptProcess(
      ['verify', '--json', ...loopbackFlags(world), 'info@acme.test', '-'],
      // A lone CR ends a line too (classic Mac line ends): before, it joined two addresses into one.
      { stdin: ' alice@acme.test \r\n\nnobody@acme.test\rcarol@shop.test\n' },
    );
    // Before: "-" was verified as an address (undeliverable, no "@"), standard input never read.
    assert.equal(code, 2, stderr);
    const results = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as VerifyResult);
    assert.deepEqual(
      results.map((result) => [result.input, result.reason]),
      [
        ['info@acme.test', 'accepted'],
        ['alice@acme.test', 'accepted'],
        ['nobody@acme.test', 'mailbox_not_found'],
        ['carol@shop.test', 'domain_not_found'],
      ],
    );
  });

  it('an empty standard input is a usage error saying what to give, not a verdict about "-"', async () => {
    const { code, stdout, stderr } = await rcptProcess(['verify', ...loopbackFlags(world), '-'], {
      stdin: '\n  \n',
    });
    assert.equal(code, 64);
    assert.equal(stdout, '');
    assert.match(stderr, /^rcpt: -: standard input holds no address: give one address per line\n/);
    assert.match(stderr, /\(rcpt verify --help lists its options\)/);
  });

  it('binary standard input is refused in one line, never echoed', async () => {
    const { code, stderr } = await rcptProcess(['verify', ...loopbackFlags(world), '-'], {
      stdin: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0x1b, 0x5b]),
    });
    assert.equal(code, 64);
    assert.match(stderr, /^rcpt: -: standard input is not text \(a NUL byte at byte 5\)/);
    // eslint-disable-next-line no-control-regex -- the point of the test
    assert.doesNotMatch(stderr, /[\u0000\u001b]/);
  });

  it('a list too long for verify points to rcpt bulk -', async () => {
    const list = Array.from({ length: 60_000 }, (_, index) => `user${index}@acme.test`).join('\n');
    const { code, stderr } = await rcptProcess(['verify', ...loopbackFlags(world), '-'], { stdin: list });
    assert.equal(code, 64);
    assert.match(stderr, /standard input holds more than 1048576 bytes; verify a list with rcpt bulk -/);
  });
});
