import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resolveOptions, DEFAULT_SMTP_PORT } from '../../src/options.js';
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
