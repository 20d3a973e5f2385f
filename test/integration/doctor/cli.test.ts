/** `rcpt doctor` run in-process through `run()` against the doctor's loopback world. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startupDoctor } from '../../../src/cli/doctor.js';
import type { DoctorReport } from '../../../src/index.js';
import { runCli, type Captured } from '../../helpers/run-cli.js';
import { GOOD_IP, NO_PTR_IP, startDoctorWorld, type DoctorWorld } from './doctor-world.js';

function rcpt(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Captured> {
  return runCli(args, { env });
}

let world: DoctorWorld;
before(async () => {
  world = await startDoctorWorld();
});
after(async () => {
  await world.close();
});

describe('rcpt doctor', () => {
  it('prints a checklist and exits 0 when every check passes', async () => {
    const { code, stdout, stderr } = await rcpt([
      'doctor',
      ...world.cliFlags(),
      '--source-ip',
      GOOD_IP,
      '--helo',
      'probe.good.test',
      '--mail-from',
      'verify@good.test',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^rcpt doctor: probing address 11\.0\.25\.25 · HELO probe\.good\.test · MAIL FROM verify@good\.test$/m,
    );
    for (const label of [
      'port 25',
      'source address',
      'reverse DNS',
      'FCrDNS',
      'HELO name',
      'HELO DNS',
      'MAIL FROM',
      'SPF',
      'blocklist',
    ]) {
      assert.match(stdout, new RegExp(`^PASS  ${label} +\\S`, 'm'), label);
    }
    assert.match(stdout, /^9 passed, 0 warnings, 0 failed \(\d+ ms\)$/m);
    assert.doesNotMatch(stdout, /→/, 'no advice when all pass');
  });

  it('exits 1 when a check fails, with the advice under the failing line', async () => {
    const { code, stdout, stderr } = await rcpt([
      'doctor',
      ...world.cliFlags(),
      '--source-ip',
      NO_PTR_IP,
      '--helo',
      'localhost',
    ]);
    assert.equal(code, 1);
    assert.match(stdout, /^FAIL {2}reverse DNS +192\.0\.2\.26 has no PTR record/m);
    assert.match(stdout, /^FAIL {2}HELO name +"localhost" is localhost/m);
    assert.match(stdout, /^ +→ ask the owner of the address/m);
    assert.match(stdout, /^WARN {2}MAIL FROM +MAIL FROM is <>/m);
    assert.match(stdout, /fix the failures before verifying$/m);
    assert.match(stderr, /rcpt doctor: \d+ check\(s\) failed\./);
  });

  it('exits 0 with warnings only', async () => {
    const { code, stdout } = await rcpt([
      'doctor',
      ...world.cliFlags(),
      '--source-ip',
      GOOD_IP,
      '--helo',
      'probe.good.test',
    ]);
    assert.equal(code, 0);
    assert.match(stdout, /^WARN {2}MAIL FROM/m);
    assert.match(stdout, /1 warning, 0 failed/);
  });

  it('prints one JSON report with --json, and reads RCPT_* variables', async () => {
    const { code, stdout } = await rcpt(['doctor', '--json', ...world.cliFlags()], {
      RCPT_SOURCE_IP: GOOD_IP,
      RCPT_HELO: 'probe.good.test',
      RCPT_MAIL_FROM: 'verify@good.test',
    });
    assert.equal(code, 0);
    const report = JSON.parse(stdout) as DoctorReport;
    assert.equal(report.status, 'pass');
    assert.equal(report.sourceIp, GOOD_IP);
    assert.equal(report.helo, 'probe.good.test');
    assert.equal(report.checks.length, 9);
  });

  it('shows the evidence of passing lines with --verbose', async () => {
    const { stdout } = await rcpt([
      'doctor',
      '--verbose',
      ...world.cliFlags(),
      '--source-ip',
      GOOD_IP,
      '--helo',
      'probe.good.test',
      '--mail-from',
      'verify@good.test',
    ]);
    assert.match(stdout, /· decided by include:_spf\.good\.test → ip4:11\.0\.25\.0\/24/);
  });

  it('exits 64 on a bad option', async () => {
    const { code, stderr } = await rcpt(['doctor', ...world.cliFlags(), '--source-ip', 'nope']);
    assert.equal(code, 64);
    assert.match(stderr, /sourceIp/);
  });
});

describe('the start-up check of rcpt serve', () => {
  it('warns with one line naming the failed checks', async () => {
    const lines: string[] = [];
    const check = startupDoctor(world.options({ helo: 'localhost' }), {}, (line) => lines.push(line));
    await check.done;
    assert.deepEqual(lines, [
      'rcpt doctor: 2 check(s) failed (HELO name, HELO DNS); run "rcpt doctor" for what to do',
    ]);
  });

  it('says nothing when no check fails', async () => {
    const lines: string[] = [];
    await startupDoctor(world.options({ mailFrom: '' }), {}, (line) => lines.push(line)).done;
    assert.deepEqual(lines, []);
  });

  it('is skipped with RCPT_DOCTOR=0', async () => {
    const queries = world.dns.queries;
    const lines: string[] = [];
    await startupDoctor(world.options({ helo: 'localhost' }), { RCPT_DOCTOR: '0' }, (line) =>
      lines.push(line),
    ).done;
    assert.deepEqual(lines, []);
    assert.equal(world.dns.queries, queries);
  });

  it('stops at shutdown without a warning', async () => {
    const lines: string[] = [];
    const check = startupDoctor(
      world.options({ helo: 'localhost', providers: ['silent.test'], greetingTimeoutMs: 5_000 }),
      {},
      (line) => lines.push(line),
    );
    check.stop();
    await check.done;
    assert.deepEqual(lines, []);
  });
});
