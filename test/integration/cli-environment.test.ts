/**
 * `RCPT_*` variables as users set them, through the real `rcpt` process: a bad value is named by the
 * variable that holds it (there is no flag on the command line to fix), and a yes/no variable holding
 * another word is refused rather than read as off.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { rcptProcess } from '../helpers/rcpt-process.js';

// An address that fails syntax: nothing is resolved or connected to, whatever the settings.
const OFFLINE = 'not-an-address';

describe('RCPT_* variables', () => {
  it('a bad value from the environment is named by its variable, one on the command line by its flag', async () => {
    for (const [variable, value, said] of [
      ['RCPT_DNS_SERVER', 'not a server', /^rcpt: RCPT_DNS_SERVER: expected an IP address/m],
      ['RCPT_HELO', 'not a name!', /^rcpt: RCPT_HELO: expected a host name/m],
      ['RCPT_MAIL_FROM', 'no-at-sign', /^rcpt: RCPT_MAIL_FROM: expected an address/m],
    ] as const) {
      const { code, stderr } = await rcptProcess(['verify', OFFLINE], { env: { [variable]: value } });
      // Before: "rcpt: --dns-server: …", a flag the user never typed.
      assert.equal(code, 64, `${variable}: ${stderr}`);
      assert.match(stderr, said);
    }
    const flag = await rcptProcess(['verify', '--helo', 'not a name!', OFFLINE], {
      env: { RCPT_HELO: 'also bad!' },
    });
    assert.equal(flag.code, 64);
    assert.match(flag.stderr, /^rcpt: --helo: expected a host name/m);
  });

  it('RCPT_ALLOW_PRIVATE_TARGETS and RCPT_PROXY_DISTINCT_EGRESS take yes or no words only', async () => {
    for (const variable of ['RCPT_ALLOW_PRIVATE_TARGETS', 'RCPT_PROXY_DISTINCT_EGRESS']) {
      // Before: exit 2 (the address verified), the setting silently off.
      const refused = await rcptProcess(['verify', OFFLINE], { env: { [variable]: 'enabled' } });
      assert.equal(refused.code, 64, `${variable}: ${refused.stderr}`);
      assert.match(
        refused.stderr,
        new RegExp(
          `^rcpt: ${variable} must be 1, true, yes or on \\(0, false, no or off to leave it off\\)\\.$`,
          'm',
        ),
      );
      for (const value of ['off', 'No', '1', 'TRUE']) {
        const taken = await rcptProcess(['verify', '--json', OFFLINE], { env: { [variable]: value } });
        assert.equal(taken.code, 2, `${variable}=${value}: ${taken.stderr}`);
      }
    }
  });
});
