/**
 * `verifyMany()` end to end through `createVerifier()`, its SMTP sessions scripted
 * (`openSession`, test/helpers/fake-session.ts) and its DNS a fake `MailResolver`: the whole bulk path
 * (prepare, scheduler, decide, conclude) without a socket. The same paths against real servers are in
 * test/integration/scheduler/.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier } from '../../../src/verifier.js';
import type { MailResolver, MailRoute, Prober, VerifyResult } from '../../../src/types.js';
import { FakeSmtp, NO_SUCH_USER, OK, reply } from '../../helpers/fake-session.js';

const MX_IP = '192.0.2.25';

const resolver: MailResolver = {
  resolveMail(domain): Promise<MailRoute> {
    if (domain === 'nowhere.test') return Promise.resolve({ kind: 'nxdomain' });
    return Promise.resolve({
      kind: 'hosts',
      mx: [{ exchange: `mx.${domain}`, priority: 10 }],
      implicitMx: false,
      hosts: [{ exchange: `mx.${domain}`, priority: 10, addresses: [MX_IP] }],
    });
  },
};

/** A prober that must not be used: verifyMany() goes through the scheduler's sessions. */
const unusedProber: Prober = {
  probe: () => Promise.reject(new Error('verifyMany() used the prober')),
};

async function collect(results: AsyncIterable<VerifyResult>): Promise<Map<string, VerifyResult>> {
  const byInput = new Map<string, VerifyResult>();
  for await (const result of results) byInput.set(result.input, result);
  return byInput;
}

describe('verifyMany() with a scripted session', () => {
  it('gives each address the verdict of its own RCPT reply, through shared sessions', async () => {
    const smtp = new FakeSmtp({
      [MX_IP]: {
        rcpt: (recipient) =>
          recipient.startsWith('gone') ? NO_SUCH_USER : recipient.startsWith('r') ? NO_SUCH_USER : OK,
      },
    });
    const verifier = createVerifier({
      resolver,
      prober: unusedProber,
      openSession: smtp.factory,
      allowPrivateTargets: true,
      helo: 'probe.rcpt.test',
      mailFrom: 'verify@rcpt.test',
    });
    const inputs = [
      ...Array.from({ length: 20 }, (_, i) => `alice${String(i)}@example.test`),
      'gone@example.test',
      'bob@nowhere.test',
      'not an address',
    ];
    try {
      const results = await collect(verifier.verifyMany(inputs, { hostConcurrency: 1 }));
      assert.equal(results.size, inputs.length);
      assert.equal(results.get('alice3@example.test')?.reason, 'accepted');
      assert.equal(
        results.get('alice3@example.test')?.smtp?.catchAll,
        false,
        'the random address was refused',
      );
      assert.equal(results.get('gone@example.test')?.reason, 'mailbox_not_found');
      assert.equal(results.get('bob@nowhere.test')?.reason, 'domain_not_found');
      assert.equal(results.get('not an address')?.reason, 'invalid_syntax');
      // One session for 21 addresses at one host, and one more for the random address: refused after
      // gone@'s refusal at a host never seen to accept after a refusal, it is asked again on its own.
      assert.equal(smtp.sessions.length, 2, 'two sessions for 21 addresses and a probe at one host');
    } finally {
      await verifier.close();
    }
  });

  it('reaches the same verdict as verify() for a greylisting that passes on retry', async () => {
    const smtp = new FakeSmtp({
      [MX_IP]: { rcpt: (_recipient, n) => (n === 0 ? reply(450, '4.2.0', 'Greylisted, try again') : OK) },
    });
    const verifier = createVerifier({
      resolver,
      openSession: smtp.factory,
      allowPrivateTargets: true,
      helo: 'probe.rcpt.test',
      greylistWaitMs: 1,
      catchAll: false,
    });
    try {
      const results = await collect(verifier.verifyMany(['carol@example.test']));
      assert.equal(results.get('carol@example.test')?.reason, 'accepted');
      assert.equal(smtp.transactions.length, 2, 'asked, then asked again after the window');
    } finally {
      await verifier.close();
    }
  });
});
