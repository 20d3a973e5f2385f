import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkInteger,
  integerOption,
  resolveOptions,
  DEFAULT_SMTP_PORT,
  MAX_HOST_RATE,
} from '../../src/options.js';
import { createDnsClient } from '../../src/dns/client.js';
import { createProber } from '../../src/smtp/probe.js';
import { createVerifier } from '../../src/verifier.js';
import { OptionsError, isVerifyError } from '../../src/errors.js';

describe('resolveOptions', () => {
  it('applies defaults', () => {
    const options = resolveOptions();
    assert.equal(options.smtpPort, DEFAULT_SMTP_PORT);
    assert.equal(options.allowPrivateTargets, false);
    assert.equal(options.catchAll, true);
    assert.equal(options.mailFrom, '');
    assert.equal(options.dnsServers, null);
  });

  const bad: [string, object][] = [
    ['smtpPort', { smtpPort: 0 }],
    ['smtpPort', { smtpPort: 70000 }],
    ['timeoutMs', { timeoutMs: 1.5 }],
    ['dnsServers', { dnsServers: [] }],
    ['dnsServers', { dnsServers: ['not a server'] }],
    ['dnsServers', { dnsServers: ['dns.example.net'] }],
    ['dnsServers', { dnsServers: ['localhost:53'] }],
    ['helo', { helo: 'bad name!' }],
    ['mailFrom', { mailFrom: 'no-at-sign' }],
    ['mailFrom', { mailFrom: 'a@b.c\r\nDATA' }],
    ['allowPrivateTargets', { allowPrivateTargets: 'yes' }],
  ];
  for (const [option, value] of bad) {
    it(`rejects a bad ${option}: ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => resolveOptions(value),
        (error: unknown) => error instanceof OptionsError && error.option === option && isVerifyError(error),
      );
    });
  }

  it('accepts DNS servers with ports and IPv6 literals', () => {
    const options = resolveOptions({ dnsServers: ['127.0.0.1:5353', '[::1]:53', '10.0.0.1'] });
    assert.deepEqual(options.dnsServers, ['127.0.0.1:5353', '[::1]:53', '10.0.0.1']);
  });
});

describe('integer options: one check wherever they are read', () => {
  const prober = {
    port: 25,
    helo: 'probe.rcpt.test',
    mailFrom: '',
    connectTimeoutMs: 1,
    greetingTimeoutMs: 1,
    commandTimeoutMs: 1,
    startTls: true,
    transcript: false,
    localAddress: null,
  };
  const message = (min: number, max: number, got: string) =>
    `expected an integer from ${min} to ${max}, got ${got}`;
  const cases: [string, () => unknown, string, string][] = [
    ['the verifier', () => resolveOptions({ timeoutMs: 1.5 }), 'timeoutMs', message(1, 2 ** 31 - 1, '1.5')],
    [
      'verifyMany()',
      () => createVerifier().verifyMany([], { hostTries: 0 }),
      'hostTries',
      message(1, 2 ** 31 - 1, '0'),
    ],
    ['hostRate', () => resolveOptions({ hostRate: -1 }), 'hostRate', message(0, MAX_HOST_RATE, '-1')],
    [
      'the SMTP prober',
      () => createProber({ ...prober, connectTimeoutMs: 2 ** 31 }),
      'connectTimeoutMs',
      message(1, 2 ** 31 - 1, String(2 ** 31)),
    ],
    ['the SMTP prober', () => createProber({ ...prober, port: 70_000 }), 'port', message(1, 65_535, '70000')],
    // A DNS timeout over 2^31-1 ms used to pass and then fire at once (Node's timer limit).
    [
      'the DNS client',
      () => createDnsClient({ servers: ['127.0.0.1'], timeoutMs: 2 ** 31, tries: 1 }),
      'dnsTimeoutMs',
      message(1, 2 ** 31 - 1, String(2 ** 31)),
    ],
    [
      'the DNS client',
      () => createDnsClient({ servers: ['127.0.0.1'], timeoutMs: 1, tries: 0 }),
      'dnsTries',
      message(1, 2 ** 31 - 1, '0'),
    ],
  ];
  for (const [where, call, option, text] of cases) {
    it(`${where}: ${option}`, () => {
      assert.throws(call, (error: unknown) => {
        assert.ok(error instanceof OptionsError);
        assert.equal(error.option, option);
        assert.equal(error.message, `Invalid option \`${option}\`: ${text}`);
        return true;
      });
    });
  }

  it('checkInteger() and integerOption() accept the bounds and fall back when absent', () => {
    assert.equal(checkInteger('x', 1), 1);
    assert.equal(checkInteger('x', 2 ** 31 - 1), 2 ** 31 - 1);
    assert.equal(checkInteger('x', 0, 0, 5), 0);
    assert.equal(integerOption('x', undefined, 7), 7);
    assert.throws(() => checkInteger('x', '3'), /got string/);
    assert.throws(() => integerOption('x', Number.NaN, 7), /got NaN/);
  });
});
