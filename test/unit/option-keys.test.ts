/**
 * Unknown option keys are refused, named, with the nearest known key, in every entry of the library:
 * before, `{ dnsServer: [...] }` was ignored and the system's resolver used without a word. Every case
 * here throws before any DNS or SMTP, so no world is needed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  createVerifier,
  OptionsError,
  UnknownOptionError,
  verify,
  verifyMany,
  type VerifyOptions,
} from '../../src/index.js';
import { nearestKey } from '../../src/option-keys.js';
import { VERIFY_OPTION_KEYS } from '../../src/options.js';

/** An options object as JavaScript callers and spread objects make them: keys TypeScript would refuse. */
const loose = (options: Record<string, unknown>): VerifyOptions => options;

function unknownOption(key: string, suggestion: string | null) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof UnknownOptionError, String(error));
    assert.ok(error instanceof OptionsError, 'an UnknownOptionError is an OptionsError');
    assert.equal(error.code, 'ERR_RCPT_OPTIONS');
    assert.equal(error.option, key);
    assert.equal(error.suggestion, suggestion);
    assert.ok(error.message.includes(`\`${key}\``), error.message);
    if (suggestion !== null)
      assert.ok(error.message.includes(`did you mean \`${suggestion}\`?`), error.message);
    return true;
  };
}

describe('unknown option keys', () => {
  it('createVerifier() refuses them with the nearest key', () => {
    assert.throws(
      () => createVerifier(loose({ dnsServer: ['127.0.0.1:53'] })),
      unknownOption('dnsServer', 'dnsServers'),
    );
    assert.throws(
      () => createVerifier(loose({ mailfrom: 'a@b.test' })),
      unknownOption('mailfrom', 'mailFrom'),
    );
    assert.throws(() => createVerifier(loose({ 'smtp-port': 2525 })), unknownOption('smtp-port', 'smtpPort'));
  });

  it('verify() rejects with them, and takes `signal`', async () => {
    await assert.rejects(verify('a@b.test', loose({ timeout: 5 })), unknownOption('timeout', 'timeoutMs'));
    await assert.rejects(
      verify('a@b.test', loose({ allowPrivateTarget: true })),
      unknownOption('allowPrivateTarget', 'allowPrivateTargets'),
    );
    // A valid call with a signal: invalid syntax is decided before any network.
    const result = await verify('not an address', { signal: new AbortController().signal });
    assert.equal(result.reason, 'invalid_syntax');
  });

  it("a verifier's verify() and verifyMany() refuse unknown call options", async () => {
    const verifier = createVerifier();
    try {
      await assert.rejects(
        verifier.verify('a@b.test', { sginal: undefined } as never),
        unknownOption('sginal', 'signal'),
      );
      assert.throws(
        () => verifier.verifyMany([], { hostConcurency: 1 } as never),
        unknownOption('hostConcurency', 'hostConcurrency'),
      );
    } finally {
      await verifier.close();
    }
  });

  it('the top-level verifyMany() refuses them at the call, before reading the input', () => {
    let read = 0;
    function* addresses() {
      read += 1;
      yield 'a@b.test';
    }
    assert.throws(
      () => verifyMany(addresses(), loose({ dnsServer: ['127.0.0.1'] })),
      unknownOption('dnsServer', 'dnsServers'),
    );
    assert.throws(
      () => verifyMany(addresses(), loose({ maxSession: 3 })),
      unknownOption('maxSession', 'maxSessions'),
    );
    // A bad value of a known option is refused at the call too.
    assert.throws(() => verifyMany(addresses(), { hostConcurrency: 0 }), OptionsError);
    assert.equal(read, 0);
  });

  it('a key far from every known one is named with the list of options', () => {
    assert.throws(
      () => createVerifier(loose({ colour: 'blue' })),
      (error: unknown) => {
        assert.ok(error instanceof UnknownOptionError);
        assert.equal(error.suggestion, null);
        assert.ok(error.message.includes('`colour`'));
        for (const key of VERIFY_OPTION_KEYS) assert.ok(error.message.includes(`\`${key}\``), key);
        return true;
      },
    );
  });

  it('nearestKey() ignores case, - and _, and stays silent beyond a few edits', () => {
    assert.equal(nearestKey('DNS_SERVERS', VERIFY_OPTION_KEYS), 'dnsServers');
    assert.equal(nearestKey('dns-server', VERIFY_OPTION_KEYS), 'dnsServers');
    assert.equal(nearestKey('greylistWait', VERIFY_OPTION_KEYS), 'greylistWaitMs');
    assert.equal(nearestKey('helo', VERIFY_OPTION_KEYS), 'helo');
    assert.equal(nearestKey('tls', VERIFY_OPTION_KEYS), null);
    assert.equal(nearestKey('database', VERIFY_OPTION_KEYS), null);
  });
});
