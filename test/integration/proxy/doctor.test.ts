/**
 * `rcpt doctor --proxy` / `runDoctor({ proxy })` against the doctor's loopback world through Dante: the
 * proxy answers and accepts us, port 25 works through it, and the egress address is read from the
 * provider's EHLO reply; and what the doctor says for a dead proxy, refused credentials and a ruleset
 * that refuses port 25.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { runDoctor, type DoctorReport } from '../../../src/index.js';
import { startDoctorWorld, type DoctorWorld } from '../doctor/doctor-world.js';
import { startDante, type RunningDante } from '../../helpers/dante.js';
import { startRawSocksServer } from '../../helpers/socks-raw-server.js';
import { runCli } from '../../helpers/run-cli.js';
import { startupDoctor } from '../../../src/cli/doctor.js';
import { doctorRoutes, type RoutesDoctorReport } from '../../../src/server/doctor-route.js';
import { startServer } from '../../../src/server/server.js';
import { createLogger } from '../../../src/server/logger.js';

const EXTERNAL = '127.0.31.141';
let world: DoctorWorld;
let dante: RunningDante;
let blocking: RunningDante;

before(async () => {
  world = await startDoctorWorld();
  dante = await startDante({ internal: '127.0.31.41', external: EXTERNAL });
  // Refuses the "provider" at 127.0.10.1 by its ruleset.
  blocking = await startDante({
    internal: '127.0.31.42',
    external: '127.0.31.142',
    block: ['127.0.10.1/32'],
  });
});

after(async () => {
  await Promise.all([world.close(), dante.close(), blocking.close()]);
});

function line(report: DoctorReport, id: string) {
  const found = report.checks.find((check) => check.id === id);
  assert.ok(found !== undefined, id);
  return found;
}

describe('rcpt doctor --proxy', () => {
  it('the proxy answers, port 25 works through it, and the egress address comes from the EHLO reply', async () => {
    const options = { ...world.options({ proxy: dante.url }) };
    delete options.sourceIp;
    const report = await runDoctor(options);
    assert.deepEqual(
      report.checks.slice(0, 3).map((check) => [check.id, check.status]),
      [
        ['proxy', 'pass'],
        ['port25', 'pass'],
        ['source_address', 'warn'],
      ],
    );
    assert.match(
      line(report, 'proxy').summary,
      new RegExp(`proxy ${dante.url.replace(/\./g, '\\.')} answers`),
    );
    assert.match(
      line(report, 'port25').evidence.join('\n'),
      new RegExp(`through socks5://.*it saw us as ${EXTERNAL}`),
    );
    // The address the provider saw is Dante's `external:`, and the other checks are about it.
    assert.equal(report.sourceIp, EXTERNAL);
    assert.equal(report.sourceIpOrigin, 'greeting');
    assert.match(
      line(report, 'source_address').summary,
      /egress address, as a provider's EHLO reply echoed it/,
    );
    assert.match(line(report, 'ptr').summary, new RegExp(EXTERNAL.replace(/\./g, '\\.')));
  });

  it('with --source-ip, the given address is checked and EHLO is not needed', async () => {
    const report = await runDoctor(world.options({ proxy: dante.url }));
    assert.equal(report.sourceIpOrigin, 'option');
    assert.equal(line(report, 'proxy').status, 'pass');
    assert.equal(line(report, 'port25').status, 'pass');
    assert.equal(line(report, 'ptr').status, 'pass');
  });

  it('a dead proxy fails the proxy line, and port 25 with it', async () => {
    const dead = 'socks5://127.0.31.99:1080';
    const report = await runDoctor(world.options({ proxy: dead }));
    assert.equal(line(report, 'proxy').status, 'fail');
    assert.match(line(report, 'proxy').summary, /cannot be reached/);
    assert.equal(line(report, 'port25').status, 'fail');
    assert.equal(report.ok, false);
  });

  it('a dead proxy is never a pass when no MX host was found to reach through it: not checked', async () => {
    const dead = 'socks5://127.0.31.99:1080';
    // nowhere.test has no MX in the world's DNS: the port 25 check never asks the proxy for anything.
    const report = await runDoctor(world.options({ proxy: dead, providers: ['nowhere.test'] }));
    assert.equal(line(report, 'port25').status, 'fail');
    assert.equal(line(report, 'proxy').status, 'warn');
    assert.match(line(report, 'proxy').summary, /not checked: no provider's MX host was found/);
    assert.match(line(report, 'proxy').advice ?? '', /port 25 line/);
    // One provider found and its connection refused by the dead proxy: that fails, as before.
    const mixed = await runDoctor(world.options({ proxy: dead, providers: ['nowhere.test', 'open.test'] }));
    assert.equal(line(mixed, 'proxy').status, 'fail');
    assert.match(line(mixed, 'proxy').summary, /cannot be reached/);
  });

  it('refused credentials and a ruleset that refuses port 25 each fail the proxy line, saying which', async () => {
    const raw = await startRawSocksServer('127.0.31.50', { kind: 'auth_fail' });
    try {
      const report = await runDoctor(
        world.options({ proxy: raw.url.replace('socks5://', 'socks5://probe:wrong@') }),
      );
      assert.equal(line(report, 'proxy').status, 'fail');
      assert.match(line(report, 'proxy').summary, /refused the user name and password/);
      assert.match(line(report, 'proxy').advice ?? '', /credentials/);
    } finally {
      await raw.close();
    }
    const report = await runDoctor(world.options({ proxy: blocking.url }));
    assert.equal(line(report, 'proxy').status, 'fail');
    assert.match(line(report, 'proxy').summary, /ruleset/);
    assert.match(line(report, 'proxy').advice ?? '', /port = 25/);
  });

  it("a server's start-up check goes through each configured proxy, and names the one that fails", async () => {
    const dead = 'socks5://probe:s3cret@127.0.31.98:1080';
    const lines: string[] = [];
    const check = startupDoctor(world.options({}), {}, (line) => lines.push(line), [dante.url, dead]);
    await check.done;
    // The first proxy passes every check; the second, which a check of the first alone never saw, fails.
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /^rcpt doctor \(through socks5:\/\/probe@127\.0\.31\.98:1080\): \d+ check\(s\) failed \(proxy socks5:\/\/probe@127\.0\.31\.98:1080/,
    );
    assert.ok(!(lines[0] ?? '').includes('s3cret'));
  });

  it('a server starting with routes that send some mail direct checks the direct route too, naming it', async () => {
    const routes = doctorRoutes({
      proxy: dante.url,
      proxyRoutes: [{ match: 'google', via: 'direct' }],
    });
    assert.deepEqual(routes, [dante.url, null]);
    // A provider that never greets: every route fails, so each one that ran says so.
    const lines: string[] = [];
    const check = startupDoctor(
      world.options({ providers: ['silent.test'] }),
      {},
      (line) => lines.push(line),
      routes,
    );
    await check.done;
    assert.equal(lines.length, 2, lines.join('\n'));
    assert.match(
      lines[0] ?? '',
      /^rcpt doctor \(through socks5:\/\/127\.0\.31\.41:\d+\): \d+ check\(s\) failed/,
    );
    assert.match(lines[1] ?? '', /^rcpt doctor \(direct\): \d+ check\(s\) failed \(port 25\)/);
  });

  it("the ways verifications leave: the pool, the routes' proxies, and direct when some mail goes direct", () => {
    const a = 'socks5://127.0.31.61:1080';
    const b = 'socks5://u:p@127.0.31.62:1080';
    assert.deepEqual(doctorRoutes({}), [null]);
    assert.deepEqual(doctorRoutes({ proxy: [a, b] }), [a, b]);
    assert.deepEqual(doctorRoutes({ proxy: a, proxyRoutes: [{ match: 'yahoo', via: b }] }), [a, b]);
    // No pool: mail no route matches goes direct.
    assert.deepEqual(doctorRoutes({ proxyRoutes: [{ match: 'yahoo', via: b }] }), [b, null]);
    assert.deepEqual(doctorRoutes({ proxy: [a], proxyRoutes: [{ match: 'x.test', via: 'DIRECT' }] }), [
      a,
      null,
    ]);
  });

  it('GET /v1/doctor reports through every configured proxy and the direct route, not just the first', async () => {
    const server = await startServer({
      port: 0,
      jobs: null,
      processMetrics: false,
      verify: {
        dnsServers: [world.dns.address],
        allowPrivateTargets: true,
        proxy: [dante.url, blocking.url],
        proxyRoutes: [{ match: 'example.com', via: 'direct' }],
      },
      doctor: world.options(),
      logger: createLogger({ level: 'silent' }),
    });
    try {
      const response = await fetch(`${server.url}/v1/doctor`);
      assert.equal(response.status, 200);
      const report = (await response.json()) as RoutesDoctorReport;
      // Dante answers and greets the provider; the blocking Dante refuses it by its ruleset.
      assert.deepEqual(
        report.routes.map((route) => [route.through, route.status === 'fail' ? 'fail' : 'ok']),
        [
          [dante.url, 'ok'],
          [blocking.url, 'fail'],
          [null, 'ok'],
        ],
      );
      assert.equal(report.status, 'fail');
      assert.equal(report.ok, false);
      const refused = report.checks.find((check) => check.id === 'proxy' && check.through === blocking.url);
      assert.equal(refused?.status, 'fail');
      assert.match(refused?.summary ?? '', /ruleset/);
      const working = report.checks.find((check) => check.id === 'proxy' && check.through === dante.url);
      assert.equal(working?.status, 'pass');
      assert.equal(
        report.checks.find((check) => check.id === 'port25' && check.through === null)?.status,
        'pass',
      );
      assert.equal(report.counts.fail, report.checks.filter((check) => check.status === 'fail').length);
    } finally {
      await server.close();
    }
  });

  it('on the command line: the proxy line first, and a malformed URL is exit 64', async () => {
    const flags = [
      'doctor',
      ...world.cliFlags(),
      '--source-ip',
      '11.0.25.25',
      '--helo',
      'probe.good.test',
      '--mail-from',
      'verify@good.test',
    ];
    const run = await runCli([...flags, '--proxy', dante.url]);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout.split('\n')[2] ?? '', /^PASS\s+proxy\s+proxy socks5:\/\//);
    const bad = await runCli([...flags, '--proxy', 'socks5://127.0.0.1']);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /missing port/);
  });
});
