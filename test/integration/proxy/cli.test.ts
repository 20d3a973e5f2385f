/**
 * `--proxy`, `--proxy-for` and `RCPT_PROXY` on the command line: a malformed URL is refused at start
 * (exit 64) with the reason, for every verb that probes; a good one carries the probe through Dante.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startDemoWorld, type DemoWorld } from '../../../src/demo/world.js';
import { startDante, type RunningDante } from '../../helpers/dante.js';
import { runCli } from '../../helpers/run-cli.js';
import { loopbackFlags } from '../../helpers/world-options.js';

let world: DemoWorld;
let dante: RunningDante;

before(async () => {
  world = await startDemoWorld();
  dante = await startDante({ internal: '127.0.28.41', external: '127.0.28.141' });
});

after(async () => {
  await Promise.all([world.close(), dante.close()]);
});

function worldFlags(): string[] {
  return [...loopbackFlags(world), '--greylist-wait', '0'];
}

describe('rcpt --proxy', () => {
  it('refuses a malformed proxy URL at start, exit 64, with the reason', async () => {
    const cases: [string[], RegExp][] = [
      [['--proxy', 'http://127.0.0.1:3128'], /unsupported scheme "http:\/\/"/],
      [['--proxy', 'socks5://127.0.0.1'], /missing port/],
      [['--proxy', 'socks5://probe@127.0.0.1:1080'], /user:password/],
      [['--proxy-for', 'microsoft=direct'], /not a provider id|microsoft/],
      [['--proxy-for', 'example.com'], /MATCH=URL/],
      [['--proxy-for', 'example.com=socks5://h'], /missing port/],
    ];
    for (const verb of [['verify', 'alice@acme.test'], ['bulk', '-'], ['serve'], ['worker'], ['doctor']]) {
      // The doctor checks one proxy: it takes --proxy, not routes.
      for (const [flags, reason] of cases.filter(([f]) => verb[0] !== 'doctor' || f[0] === '--proxy')) {
        const run = await runCli([...verb, ...flags]);
        assert.equal(run.code, 64, `${verb.join(' ')} ${flags.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, reason, `${verb.join(' ')} ${flags.join(' ')}`);
      }
    }
  });

  it('refuses a malformed RCPT_PROXY the same way', async () => {
    const run = await runCli(['verify', 'alice@acme.test'], { env: { RCPT_PROXY: 'socks5://h' } });
    assert.equal(run.code, 64);
    assert.match(run.stderr, /RCPT_PROXY: missing port/);
  });

  it('verifies through the proxy given by flag or by RCPT_PROXY, naming it in the result', async () => {
    const byFlag = await runCli([
      'verify',
      '--json',
      ...worldFlags(),
      '--proxy',
      dante.url,
      'alice@acme.test',
    ]);
    const byEnv = await runCli(['verify', '--json', ...worldFlags(), 'alice@acme.test'], {
      env: { RCPT_PROXY: dante.url },
    });
    for (const run of [byFlag, byEnv]) {
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout) as { reason: string; smtp: { proxy: string | null } };
      assert.equal(result.reason, 'accepted');
      assert.equal(result.smtp.proxy, dante.url);
    }
    const table = await runCli(['verify', ...worldFlags(), '--proxy', dante.url, 'bob@acme.test']);
    assert.match(table.stdout, new RegExp(`via ${dante.url.replace(/\./g, '\\.')}`));
  });

  it('--proxy-for sends one domain direct while the rest use the proxy', async () => {
    const run = await runCli([
      'verify',
      '--json',
      ...worldFlags(),
      '--proxy',
      dante.url,
      '--proxy-for',
      'catchall.test=direct',
      'alice@acme.test',
      'x@catchall.test',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const results = run.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { input: string; smtp: { proxy: string | null } });
    const proxyOf = new Map(results.map((r) => [r.input, r.smtp.proxy]));
    assert.equal(proxyOf.get('alice@acme.test'), dante.url);
    assert.equal(proxyOf.get('x@catchall.test'), null);
  });
});
