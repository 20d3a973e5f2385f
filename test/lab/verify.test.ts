/**
 * verify() against real mail servers (issue 5): Postfix (virtual mailbox table, catch-all, postgrey),
 * Exim and OpenSMTPD from Debian, with Knot serving the `test.` zone. Run by `npm run test:lab`, which
 * brings the lab up first (test/lab/up.sh, root, Debian 12); never part of `npm test`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier, verify, type Reason, type Verdict, type VerifyOptions } from '../../src/index.js';
import { LAB_ADDR, LAB_GREYLIST_DELAY_MS, LAB_MX, LAB_OPTIONS } from './lab.js';

const verifier = createVerifier(LAB_OPTIONS);

after(async () => {
  await verifier.close();
});

async function check(address: string, verdict: Verdict, reason: Reason, options?: VerifyOptions) {
  const result =
    options === undefined
      ? await verifier.verify(address)
      : await verify(address, { ...LAB_OPTIONS, ...options });
  const evidence = JSON.stringify({ dns: result.dns, reply: result.smtp?.reply ?? null });
  assert.equal(result.reason, reason, `${address}: ${evidence}`);
  assert.equal(result.verdict, verdict, address);
  return result;
}

describe('Postfix rejecting unknown users (virtual mailbox table)', () => {
  it('accepts a known mailbox, with the MX found in Knot and the 250 as evidence', async () => {
    const result = await check('alice@pf.test', 'deliverable', 'accepted');
    assert.deepEqual(result.dns, {
      mx: [{ exchange: LAB_MX.postfix, priority: 10 }],
      implicitMx: false,
      nullMx: false,
      error: null,
    });
    assert.equal(result.smtp?.host, LAB_MX.postfix);
    assert.equal(result.smtp?.ip, LAB_ADDR.postfix);
    assert.equal(result.smtp?.port, 25);
    assert.deepEqual(result.smtp?.reply, { stage: 'rcpt', code: 250, enhanced: '2.1.5', text: 'Ok' });
    assert.equal(result.smtp?.catchAll, false);
    assert.equal(result.flags.catchAll, false);
  });

  it("reads Postfix's 550 5.1.1 as a missing mailbox", async () => {
    const result = await check('bob@pf.test', 'undeliverable', 'mailbox_not_found');
    assert.equal(result.smtp?.reply?.code, 550);
    assert.equal(result.smtp?.reply?.enhanced, '5.1.1');
    assert.match(result.smtp?.reply?.text ?? '', /User unknown in virtual mailbox table/);
  });

  it('accepts known role addresses and flags them', async () => {
    for (const address of ['info@pf.test', 'postmaster@pf.test']) {
      const result = await check(address, 'deliverable', 'accepted');
      assert.equal(result.flags.role, true, address);
    }
  });

  it('a rejected role address is undeliverable: the evidence dominates the flag', async () => {
    const result = await check('sales@pf.test', 'undeliverable', 'mailbox_not_found');
    assert.equal(result.flags.role, true);
  });

  it('refuses to probe loopback targets unless allowPrivateTargets is set', async () => {
    const result = await check('alice@pf.test', 'unknown', 'target_not_allowed', {
      allowPrivateTargets: false,
    });
    assert.equal(result.smtp, null);
  });
});

describe('Postfix catch-all', () => {
  it('a 250 for a random address too makes every 250 risky/catch_all', async () => {
    const result = await check('anyone@catchall.test', 'risky', 'catch_all');
    assert.equal(result.flags.catchAll, true);
    assert.equal(result.smtp?.catchAll, true);
    assert.equal(result.smtp?.reply?.code, 250);
    assert.equal(result.smtp?.ip, LAB_ADDR.catchAll);
  });
});

describe('Postfix + postgrey greylisting', () => {
  it('first contact is unknown/greylisted, with a retry time when the retry does not fit the deadline', async () => {
    const result = await check('alice@grey.test', 'unknown', 'greylisted', {
      greylistWaitMs: LAB_GREYLIST_DELAY_MS + 1_000,
      timeoutMs: 3_000,
    });
    assert.equal(result.smtp?.reply?.code, 450);
    assert.equal(result.smtp?.reply?.enhanced, '4.2.0');
    assert.match(result.smtp?.reply?.text ?? '', /Greylisted, see http:\/\/postgrey/);
    assert.notEqual(result.retryAt, null);
  });

  it("waits out postgrey's delay within the deadline and gets the 250 on the retry", async () => {
    // postmaster@ is greylisted too: the lab turns off Debian's postmaster/abuse whitelist.
    const result = await check('postmaster@grey.test', 'deliverable', 'accepted', {
      greylistWaitMs: LAB_GREYLIST_DELAY_MS + 1_000,
      timeoutMs: 20_000,
    });
    assert.equal(result.smtp?.reply?.code, 250);
    assert.ok((result.smtp?.attempts ?? 0) >= 2, `attempts ${String(result.smtp?.attempts)}`);
    assert.ok(result.durationMs >= LAB_GREYLIST_DELAY_MS, `durationMs ${result.durationMs}`);
    assert.equal(result.retryAt, null);
  });

  it('a triplet greylisted earlier passes at once after the delay', async () => {
    // The first test greylisted alice more than the delay ago (the second test waited it out).
    const result = await check('alice@grey.test', 'deliverable', 'accepted', { greylistWaitMs: 0 });
    assert.equal(result.smtp?.attempts, 1);
  });

  it('rejects unknown users before asking postgrey: 550, never greylisted', async () => {
    const result = await check('nobody@grey.test', 'undeliverable', 'mailbox_not_found', {
      greylistWaitMs: 0,
    });
    assert.equal(result.smtp?.reply?.enhanced, '5.1.1');
  });
});

describe('Exim', () => {
  it('accepts a known user', async () => {
    const result = await check('alice@exim.test', 'deliverable', 'accepted');
    assert.equal(result.smtp?.ip, LAB_ADDR.exim);
    assert.equal(result.smtp?.reply?.code, 250);
  });

  it('reads "550 Unrouteable address" (verify = recipient, no enhanced code) as a missing mailbox', async () => {
    const result = await check('bob@exim.test', 'undeliverable', 'mailbox_not_found');
    assert.deepEqual(result.smtp?.reply, {
      stage: 'rcpt',
      code: 550,
      enhanced: null,
      text: 'Unrouteable address',
    });
  });

  it('role addresses: known accepted and flagged, unknown undeliverable', async () => {
    assert.equal((await check('info@exim.test', 'deliverable', 'accepted')).flags.role, true);
    assert.equal((await check('sales@exim.test', 'undeliverable', 'mailbox_not_found')).flags.role, true);
  });
});

describe('OpenSMTPD', () => {
  it('accepts a known user', async () => {
    const result = await check('alice@opensmtpd.test', 'deliverable', 'accepted');
    assert.equal(result.smtp?.ip, LAB_ADDR.opensmtpd);
    assert.equal(result.smtp?.reply?.enhanced, '2.1.5');
  });

  it('reads "550 Invalid recipient" as a missing mailbox', async () => {
    const result = await check('bob@opensmtpd.test', 'undeliverable', 'mailbox_not_found');
    assert.equal(result.smtp?.reply?.code, 550);
    assert.match(result.smtp?.reply?.text ?? '', /^Invalid recipient: <bob@opensmtpd\.test>/);
  });

  it('role addresses: known accepted and flagged, unknown undeliverable', async () => {
    assert.equal((await check('info@opensmtpd.test', 'deliverable', 'accepted')).flags.role, true);
    assert.equal(
      (await check('sales@opensmtpd.test', 'undeliverable', 'mailbox_not_found')).flags.role,
      true,
    );
  });
});

describe('DNS answers from Knot', () => {
  it('null MX (RFC 7505) is undeliverable without any SMTP', async () => {
    const result = await check('alice@nullmx.test', 'undeliverable', 'null_mx');
    assert.equal(result.dns?.nullMx, true);
    assert.equal(result.smtp, null);
  });

  it('no MX but an A record: the implicit MX (RFC 5321 §5.1) is probed (Exim)', async () => {
    const result = await check('alice@implicit.test', 'deliverable', 'accepted');
    assert.equal(result.dns?.implicitMx, true);
    assert.equal(result.smtp?.ip, LAB_ADDR.exim);
    await check('bob@implicit.test', 'undeliverable', 'mailbox_not_found');
  });

  it('NXDOMAIN (a name missing from the zone) is undeliverable/domain_not_found', async () => {
    const result = await check('alice@absent.test', 'undeliverable', 'domain_not_found');
    assert.equal(result.dns?.error, 'NXDOMAIN');
    assert.equal(result.smtp, null);
  });

  it('a REFUSED answer (a name outside Knot\'s zones) is unknown/dns_error, never "not found"', async () => {
    const result = await check('alice@rcpt-lab.invalid', 'unknown', 'dns_error');
    assert.equal(result.dns?.error, 'REFUSED');
  });

  it('a dead MX (nothing listening) is unknown/connection_failed', async () => {
    const result = await check('alice@dead.test', 'unknown', 'connection_failed');
    assert.deepEqual(result.dns?.mx, [{ exchange: 'mx.dead.test', priority: 10 }]);
  });

  it('falls back to the second MX when the first is down (OpenSMTPD answers)', async () => {
    const result = await check('alice@fallback.test', 'deliverable', 'accepted');
    assert.deepEqual(result.dns?.mx, [
      { exchange: 'mx1.fallback.test', priority: 10 },
      { exchange: 'mx2.fallback.test', priority: 20 },
    ]);
    assert.equal(result.smtp?.host, 'mx2.fallback.test');
    assert.equal(result.smtp?.ip, LAB_ADDR.opensmtpd);
    assert.ok((result.smtp?.attempts ?? 0) >= 2, `attempts ${String(result.smtp?.attempts)}`);
    await check('bob@fallback.test', 'undeliverable', 'mailbox_not_found');
  });
});
