/**
 * The lab keeps to loopback (issue 5: "nothing relays, nothing leaves loopback"): every daemon sees
 * the lab's Knot as its only resolver, and no Postfix instance has a way to send mail anywhere.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { LAB_DNS, LAB_RUN } from './lab.js';

const PID_FILES = {
  knot: `${LAB_RUN}/knot/knot.pid`,
  postgrey: `${LAB_RUN}/postgrey/postgrey.pid`,
  'postfix (reject)': `${LAB_RUN}/postfix-reject/queue/pid/master.pid`,
  'postfix (catchall)': `${LAB_RUN}/postfix-catchall/queue/pid/master.pid`,
  'postfix (grey)': `${LAB_RUN}/postfix-grey/queue/pid/master.pid`,
  'postfix (hidden)': `${LAB_RUN}/postfix-hidden/queue/pid/master.pid`,
  exim: `${LAB_RUN}/exim/log/exim.pid`,
  opensmtpd: `${LAB_RUN}/opensmtpd/smtpd.pid`,
  'dante (open)': `${LAB_RUN}/dante-open/danted.pid`,
  'dante (auth)': `${LAB_RUN}/dante-auth/danted.pid`,
} as const;

const POSTFIX_INSTANCES = ['reject', 'catchall', 'grey', 'hidden'] as const;

function postconf(instance: string, ...args: string[]): string {
  return execFileSync('postconf', ['-c', `${LAB_RUN}/postfix-${instance}`, ...args], { encoding: 'utf8' });
}

describe('lab isolation', () => {
  it("every daemon resolves names through the lab's Knot only", () => {
    const dnsAddress = LAB_DNS.split(':')[0];
    for (const [name, pidFile] of Object.entries(PID_FILES)) {
      const pid = readFileSync(pidFile, 'utf8').trim();
      // /proc/PID/root is the daemon's own view of the file system, its mount namespace included.
      const resolvConf = readFileSync(`/proc/${pid}/root/etc/resolv.conf`, 'utf8');
      const servers = [...resolvConf.matchAll(/^nameserver\s+(\S+)/gm)].map((m) => m[1]);
      assert.deepEqual(servers, [dnsAddress], `${name} (pid ${pid})`);
    }
  });

  it('no Postfix instance relays or has an outbound transport', () => {
    for (const instance of POSTFIX_INSTANCES) {
      const settings = Object.fromEntries(
        postconf(
          instance,
          'relayhost',
          'relay_domains',
          'mydestination',
          'default_transport',
          'relay_transport',
        )
          .trim()
          .split('\n')
          // `name = value`, and `name =` when the value is empty.
          .map((line) => [line.replace(/ =.*$/, ''), line.replace(/^\S+ = ?/, '')]),
      );
      assert.equal(settings.relayhost, '', instance);
      assert.equal(settings.relay_domains, '', instance);
      assert.equal(settings.mydestination, '', instance);
      assert.match(settings.default_transport ?? '', /^error:/, instance);
      assert.match(settings.relay_transport ?? '', /^error:/, instance);
      const services = postconf(instance, '-M')
        .trim()
        .split('\n')
        .map((line) => line.split(/\s+/)[0]);
      for (const outbound of ['smtp', 'relay', 'lmtp', 'local', 'virtual', 'pipe']) {
        assert.ok(!services.includes(outbound), `${instance} has a ${outbound} service`);
      }
    }
  });
});
