/**
 * What a job records of its settings and how a scale-out worker verifies it: the CLI's flags and the
 * library's options give the same recorded settings (proxies without their passwords), and a job's
 * profile takes the job's settings over the worker's flags, the worker's where the job set none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { sharedSettings, toVerifyOptions, type SharedFlags } from '../../../src/cli/common-options.js';
import { optionsOfSettings, recordedProxy, settingsOfOptions } from '../../../src/jobs/job-settings.js';
import { jobProfile } from '../../../src/jobs/postgres/job-profile.js';

const FLAGS: SharedFlags = {
  dnsServer: ['127.0.0.1:5353', '127.0.0.2'],
  smtpPort: 2525,
  helo: 'probe.example.net',
  mailFrom: 'verify@example.net',
  timeout: 9_000,
  greylistWait: 30,
  allowPrivateTargets: true,
  catchAll: false,
  transcript: true,
  proxy: ['socks5://probe:secret@192.0.2.7:1080', 'socks5://192.0.2.8:1080'],
  proxyFor: ['microsoft365=socks5://m365:pa55@192.0.2.9:1080', 'google=direct'],
  proxyDistinctEgress: true,
  hostRate: 120,
};

describe('recorded settings', () => {
  it('the CLI records from its flags what settingsOfOptions() records from the options they make', () => {
    const recorded = sharedSettings(FLAGS);
    assert.deepEqual(settingsOfOptions(toVerifyOptions(FLAGS)), recorded);
    assert.deepEqual(sharedSettings({}), settingsOfOptions(toVerifyOptions({})));
  });

  it('records proxies without their passwords', () => {
    const recorded = sharedSettings(FLAGS);
    assert.deepEqual(recorded['--proxy'], ['socks5://probe:***@192.0.2.7:1080', 'socks5://192.0.2.8:1080']);
    assert.deepEqual(recorded['--proxy-for'], [
      'microsoft365=socks5://m365:***@192.0.2.9:1080',
      'google=direct',
    ]);
    assert.equal(recorded['--proxy-distinct-egress'], true);
    assert.ok(!JSON.stringify(recorded).includes('secret') && !JSON.stringify(recorded).includes('pa55'));
    assert.equal(recordedProxy('socks5://a%40b:p%3Aw@[::1]:1080'), 'socks5://a%40b:***@[::1]:1080');
  });

  it('optionsOfSettings() gives back the options that decide verdicts (not proxies)', () => {
    const proxies = new Set(['proxy', 'proxyRoutes', 'proxyDistinctEgress']);
    const verdicts = Object.fromEntries(
      Object.entries(toVerifyOptions(FLAGS)).filter(([option]) => !proxies.has(option)),
    );
    assert.deepEqual(optionsOfSettings(sharedSettings(FLAGS)), verdicts);
  });
});

describe('jobProfile()', () => {
  const worker = {
    dnsServers: ['10.0.0.53'],
    smtpPort: 25,
    helo: 'worker1.example.net',
    mailFrom: 'worker@example.net',
    localAddress: '192.0.2.10',
    connectTimeoutMs: 3_000,
  };

  it('a job without recorded settings is verified with the worker options', () => {
    const profile = jobProfile(null, worker, 2);
    assert.deepEqual(profile.verify, worker);
    assert.deepEqual(profile.differences, []);
    assert.equal(profile.namespace, '');
    assert.equal(profile.hostConcurrency, 2);
  });

  it("the job's settings win over the worker's flags, which are reported; the rest is the worker's", () => {
    const profile = jobProfile(
      {
        '--smtp-port': 2525,
        '--mail-from': 'job@example.org',
        '--allow-private-targets': true,
        '--format': 'csv',
      },
      worker,
      2,
    );
    assert.deepEqual(profile.verify, {
      localAddress: '192.0.2.10',
      connectTimeoutMs: 3_000,
      dnsServers: ['10.0.0.53'],
      smtpPort: 2525,
      helo: 'worker1.example.net',
      mailFrom: 'job@example.org',
      allowPrivateTargets: true,
    });
    assert.deepEqual(profile.differences, [
      { name: '--mail-from', recorded: 'job@example.org', given: 'worker@example.net' },
      { name: '--smtp-port', recorded: 2525, given: 25 },
    ]);
    // Another SMTP port: answers kept apart in the shared cache.
    assert.notEqual(profile.namespace, '');
  });

  it('jobs verified alike share a key; the host cap is the job’s, at most the worker’s', () => {
    const same = jobProfile({ '--helo': 'worker1.example.net' }, worker, 2);
    assert.equal(same.key, jobProfile(null, worker, 2).key);
    assert.deepEqual(same.differences, []);
    assert.equal(same.namespace, '');
    assert.notEqual(jobProfile({ '--timeout': 5_000 }, worker, 2).key, same.key);
    assert.equal(jobProfile({ '--host-concurrency': 1 }, worker, 2).hostConcurrency, 1);
    assert.equal(jobProfile({ '--host-concurrency': 9 }, worker, 2).hostConcurrency, 2);
    // A ceiling on RCPTs per minute: the lower of the job's and the worker's; 0 is none.
    const rated = { ...worker, hostRate: 60 };
    assert.equal(jobProfile({ '--host-rate': 30 }, rated, 2).verify.hostRate, 30);
    assert.equal(jobProfile({ '--host-rate': 600 }, rated, 2).verify.hostRate, 60);
    assert.equal(jobProfile({ '--host-rate': 0 }, rated, 2).verify.hostRate, 60);
    assert.equal(jobProfile({ '--host-rate': 30 }, worker, 2).verify.hostRate, 30);
  });

  it("proxies stay the worker's (a job records no passwords); a job recorded with others is reported", () => {
    const withProxy = { ...worker, proxy: 'socks5://probe:secret@192.0.2.7:1080' };
    const profile = jobProfile({ '--proxy': ['socks5://probe:***@192.0.2.99:1080'] }, withProxy, 2);
    assert.equal(profile.verify.proxy, 'socks5://probe:secret@192.0.2.7:1080');
    assert.deepEqual(profile.differences, [
      {
        name: '--proxy',
        recorded: ['socks5://probe:***@192.0.2.99:1080'],
        given: ['socks5://probe:***@192.0.2.7:1080'],
      },
    ]);
    assert.deepEqual(
      jobProfile({ '--proxy': ['socks5://probe:***@192.0.2.7:1080'] }, withProxy, 2).differences,
      [],
    );
  });
});
