/**
 * The browser test without Chromium: reported as skipped on a developer's machine (node:test leaves a
 * skipped describe out of its summary, so a skip must be a test of its own), and a failure under CI.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));

function runBrowserTest(env: NodeJS.ProcessEnv): { status: number | null; output: string } {
  // Without the runner's own NODE_TEST_CONTEXT, which makes a nested `node --test` skip its files.
  const rest = { ...process.env };
  delete rest.CI;
  delete rest.NODE_TEST_CONTEXT;
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', 'test/browser/web-page.test.ts'],
    { cwd: repo, env: { ...rest, RCPT_TEST_CHROMIUM: '/nonexistent/chromium', ...env }, encoding: 'utf8' },
  );
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('the browser test when Chromium is missing', () => {
  it('is reported as skipped, not passed', () => {
    const { status, output } = runBrowserTest({});
    assert.equal(status, 0, output);
    assert.match(output, /ℹ skipped 1/);
    assert.match(output, /ℹ pass 0/);
    assert.match(output, /\/nonexistent\/chromium is absent/);
  });

  it('fails under CI', () => {
    const { status, output } = runBrowserTest({ CI: 'true' });
    assert.notEqual(status, 0, output);
    assert.match(output, /ℹ fail 1/);
    assert.match(output, /CI must run the browser test/);
  });
});
