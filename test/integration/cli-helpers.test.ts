/**
 * The CLI test helpers (test/helpers/run-cli.ts, in-process; test/helpers/rcpt-process.ts, a child
 * process) point `rcpt` at a loopback DNS server where nothing answers unless the test names one: a
 * test that forgot to is answered `unknown/dns_error` at once. Before, it went to the system resolver,
 * which the loopback guard refuses (a `loopback guard:` line, and the whole run failed).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

import type { VerifyResult } from '../../src/index.js';
import { rcptProcess, UNANSWERED_DNS_SERVER } from '../helpers/rcpt-process.js';
import { runCli } from '../helpers/run-cli.js';

const ARGS = ['verify', '--json', '--helo', 'probe.rcpt.test', 'someone@forgotten.example'];

/** What the loopback guard has reported in this run (scripts/run-tests.mjs names the file). */
function guardReport(): string {
  const file = process.env.RCPT_NET_GUARD_REPORT;
  return file !== undefined && existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function assertRefusedLookup(code: number | null, stdout: string, stderr: string): void {
  assert.doesNotMatch(stderr, /loopback guard/);
  assert.equal(code, 3, stderr);
  const result = JSON.parse(stdout) as VerifyResult;
  assert.equal(result.verdict, 'unknown');
  assert.equal(result.reason, 'dns_error');
}

describe('the CLI test helpers without a DNS server from the test', () => {
  it(`runCli() asks ${UNANSWERED_DNS_SERVER} on loopback, which refuses at once`, async () => {
    const reported = guardReport();
    const { code, stdout, stderr } = await runCli(ARGS);
    // In-process, the guard's line goes to this process's standard error, and its report to the file.
    assert.equal(guardReport(), reported, 'the loopback guard refused a connection');
    assertRefusedLookup(code, stdout, stderr);
  });

  it(`rcptProcess() asks ${UNANSWERED_DNS_SERVER} on loopback, which refuses at once`, async () => {
    const { code, stdout, stderr } = await rcptProcess(ARGS);
    assertRefusedLookup(code, stdout, stderr);
  });

  it("a test's own RCPT_DNS_SERVER replaces the default", async () => {
    const env = { RCPT_DNS_SERVER: 'not a server' };
    for (const { code, stderr } of [await runCli(ARGS, { env }), await rcptProcess(ARGS, { env })]) {
      assert.equal(code, 64, stderr);
      assert.match(stderr, /^rcpt: RCPT_DNS_SERVER: /m);
    }
  });
});
