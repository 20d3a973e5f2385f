/**
 * verify() through real SOCKS5 proxies (issue 17): two Dante instances of the lab (test/lab/up.sh), one
 * open, one with RFC 1929 user/password against a system user, each connecting out from its own
 * address, in front of the lab's Postfix, postgrey, Exim and OpenSMTPD.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { verify, type VerifyOptions, type VerifyResult } from '../../src/index.js';
import { LAB_DANTE, LAB_GREYLIST_DELAY_MS, LAB_MAIL_FROM, LAB_OPTIONS, LAB_RUN } from './lab.js';

const OPEN: VerifyOptions = { ...LAB_OPTIONS, proxy: LAB_DANTE.open.url };
const AUTH: VerifyOptions = { ...LAB_OPTIONS, proxy: LAB_DANTE.auth.url };

/** One address per behaviour of every lab domain (test/lab/verify.test.ts has the direct expectations). */
const ADDRESSES = [
  'alice@pf.test',
  'bob@pf.test',
  'info@pf.test',
  'anyone@catchall.test',
  'nobody@grey.test',
  'alice@exim.test',
  'bob@exim.test',
  'alice@opensmtpd.test',
  'bob@opensmtpd.test',
  'alice@nullmx.test',
  'alice@implicit.test',
  'bob@implicit.test',
  'alice@absent.test',
  'alice@rcpt-lab.invalid',
  'alice@fallback.test',
  'bob@fallback.test',
  'alice@dead.test',
];

function postfixLog(instance: string): string {
  return readFileSync(`${LAB_RUN}/postfix-${instance}/maillog`, 'utf8');
}

function outcome(result: VerifyResult) {
  return { verdict: result.verdict, reason: result.reason, code: result.smtp?.reply?.code ?? null };
}

describe('through Dante', () => {
  it('every lab domain gets the same verdict through each proxy as directly', async () => {
    for (const address of ADDRESSES) {
      const direct = await verify(address, LAB_OPTIONS);
      for (const [options, name] of [
        [OPEN, LAB_DANTE.open.url],
        [AUTH, LAB_DANTE.auth.name],
      ] as const) {
        const proxied = await verify(address, options);
        const where = `${address} via ${name}: ${JSON.stringify(proxied.smtp)}`;
        if (address === 'alice@dead.test') {
          // Nothing listens at the MX: directly the connect is refused; through the proxy, the proxy
          // says so (SOCKS reply 0x05), and the verdict is the same `unknown`.
          assert.equal(direct.reason, 'connection_failed');
          assert.equal(proxied.reason, 'proxy_target_unreachable', where);
          assert.equal(proxied.verdict, direct.verdict);
        } else {
          assert.deepEqual(outcome(proxied), outcome(direct), where);
        }
        if (direct.smtp !== null) {
          assert.equal(proxied.smtp?.proxy, name, where);
          assert.equal(proxied.smtp?.ip ?? null, direct.smtp.ip, where);
        }
      }
    }
  });

  it("Postfix logs each proxy's external address as the client, not this host's", async () => {
    assert.equal((await verify('alice@pf.test', OPEN)).reason, 'accepted');
    assert.equal((await verify('alice@pf.test', AUTH)).reason, 'accepted');
    const log = postfixLog('reject');
    assert.match(log, new RegExp(`connect from \\S+\\[${LAB_DANTE.open.external.replace(/\./g, '\\.')}\\]`));
    assert.match(log, new RegExp(`connect from \\S+\\[${LAB_DANTE.auth.external.replace(/\./g, '\\.')}\\]`));
  });

  it('a greylisted address passes on the retry through the same proxy; another egress starts over', async () => {
    // A sender of this test's own: a new triplet for postgrey, whatever ran before.
    const mailFrom = `proxy-${LAB_MAIL_FROM}`;
    const wait = {
      greylistWaitMs: LAB_GREYLIST_DELAY_MS + 1_000,
      timeoutMs: 20_000,
      mailFrom,
      catchAll: false,
    };
    const passed = await verify('postmaster@grey.test', {
      ...LAB_OPTIONS,
      ...wait,
      proxy: LAB_DANTE.open.url,
    });
    assert.equal(passed.reason, 'accepted', JSON.stringify(passed.smtp));
    assert.ok((passed.smtp?.attempts ?? 0) >= 2, `attempts ${String(passed.smtp?.attempts)}`);
    const log = postfixLog('grey');
    const greylisted = log
      .split('\n')
      .filter((line) => line.includes('Greylisted') && line.includes(mailFrom));
    assert.ok(greylisted.length >= 1, 'postgrey greylisted the first attempt');
    for (const line of greylisted) assert.ok(line.includes(`[${LAB_DANTE.open.external}]`), line);
    // postgrey's triplet has the client's /24: the other proxy's egress is a new client.
    const other = await verify('postmaster@grey.test', {
      ...LAB_OPTIONS,
      mailFrom,
      catchAll: false,
      greylistWaitMs: 0,
      proxy: LAB_DANTE.auth.url,
    });
    assert.equal(other.reason, 'greylisted');
  });
});

describe('proxy failures are unknown, naming the proxy', () => {
  it('a dead proxy', async () => {
    const dead = 'socks5://127.0.25.44:1080';
    const result = await verify('alice@pf.test', { ...LAB_OPTIONS, proxy: dead });
    assert.deepEqual(
      [result.verdict, result.reason, result.smtp?.proxy],
      ['unknown', 'proxy_unreachable', dead],
    );
  });

  it('wrong credentials (Dante, socksmethod username)', async () => {
    const wrong = LAB_DANTE.auth.url.replace(':lab-proxy-secret@', ':wrong@');
    const result = await verify('alice@pf.test', { ...LAB_OPTIONS, proxy: wrong });
    assert.deepEqual(
      [result.verdict, result.reason, result.smtp?.proxy],
      ['unknown', 'proxy_auth_failed', LAB_DANTE.auth.name],
    );
  });

  it("the proxy's ruleset refusing the MX (reply 0x02)", async () => {
    const result = await verify('alice@refused.test', OPEN);
    assert.deepEqual(
      [result.verdict, result.reason, result.smtp?.proxy],
      ['unknown', 'proxy_refused', LAB_DANTE.open.url],
    );
    // Through the other proxy the same MX is simply not there (nothing listens): Dante says so.
    assert.equal((await verify('alice@refused.test', AUTH)).reason, 'proxy_target_unreachable');
  });

  it('a loopback MX stays refused through a proxy unless allowPrivateTargets', async () => {
    for (const options of [OPEN, AUTH]) {
      const result = await verify('alice@pf.test', { ...options, allowPrivateTargets: false });
      assert.equal(result.reason, 'target_not_allowed');
      assert.equal(result.smtp, null);
    }
  });
});
