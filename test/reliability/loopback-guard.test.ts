/**
 * The loopback guard (scripts/loopback-guard.cjs, docs/reliability.md): a process that preloads it
 * reaches nothing off loopback over TCP, TLS or UDP, and neither does a process it starts with an
 * environment of its own; loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.1) still works; every refusal is
 * in the report file; and a run of scripts/run-tests.mjs whose test connected off loopback fails even
 * though that test passed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const GUARD = join(REPO, 'scripts/loopback-guard.cjs');
const CONNECT = join(REPO, 'test/fixtures/loopback-guard/connect.mjs');
const LOOKUPS = 'test/fixtures/loopback-guard/lookup-offender.fixture.ts';
const { isLoopback } = createRequire(import.meta.url)(GUARD) as {
  isLoopback: (address: string) => boolean;
};

interface Attempt {
  readonly target: string;
  readonly outcome: 'connected' | 'sent' | 'error' | 'timeout';
  readonly code?: string;
  readonly message?: string;
}

let dir: string;
let tcp: Server;
let tcpPort = 0;
let udp: UdpSocket;
let udpPort = 0;
const datagrams: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-loopback-guard-'));
  tcp = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end();
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  tcpPort = (tcp.address() as { port: number }).port;
  udp = createSocket('udp4', (message) => datagrams.push(message.toString()));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  udpPort = udp.address().port;
});
after(async () => {
  await new Promise((resolve) => tcp.close(resolve));
  udp.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the connect fixture with the guard preloaded, its refusals reported to a file of its own. */
async function attempts(
  targets: readonly string[],
): Promise<{ results: Attempt[]; stderr: string; report: string }> {
  const report = join(dir, `report-${Math.random().toString(36).slice(2)}.txt`);
  const child = spawn(process.execPath, ['--require', GUARD, CONNECT, ...targets], {
    env: { PATH: process.env.PATH, RCPT_NET_GUARD_REPORT: report },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  const results = stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Attempt);
  return { results, stderr, report: await readFile(report, 'utf8').catch(() => '') };
}

describe('the loopback guard', () => {
  it('tells loopback addresses (127.0.0.0/8, ::1, IPv4-mapped 127.x) from every other', () => {
    for (const address of [
      '127.0.0.1',
      '127.9.7.2',
      '127.255.255.254',
      '::1',
      '0:0:0:0:0:0:0:1',
      '::ffff:127.0.0.1',
    ])
      assert.equal(isLoopback(address), true, address);
    for (const address of [
      '192.0.2.1',
      '203.0.113.1',
      '10.255.255.53',
      '0.0.0.0',
      '128.0.0.1',
      '::',
      '::ffff:192.0.2.1',
      'fd00::2',
      'localhost',
    ])
      assert.equal(isLoopback(address), false, address);
  });

  it('refuses TCP, TLS and UDP to 192.0.2.1, 203.0.113.1 and fd00::1 with an error naming the target, also from a child started with { PATH } alone; loopback connects', async () => {
    const { results, stderr, report } = await attempts([
      `tcp:127.0.0.1:${tcpPort}`,
      `tcp:::ffff:127.0.0.1:${tcpPort}`,
      `udp:127.0.0.1:${udpPort}`,
      'tcp:192.0.2.1:25',
      'tcp:203.0.113.1:25',
      'tls:203.0.113.1:443',
      'tcp:fd00::1:25',
      'udp:192.0.2.1:53',
      `child:tcp:127.0.0.1:${tcpPort}`,
      'child:tcp:203.0.113.1:2525',
    ]);
    const byTarget = new Map(results.map((result) => [result.target, result]));
    assert.equal(results.length, 10, JSON.stringify(results));
    for (const target of [
      `tcp:127.0.0.1:${tcpPort}`,
      `tcp:::ffff:127.0.0.1:${tcpPort}`,
      `child:tcp:127.0.0.1:${tcpPort}`,
    ])
      assert.equal(byTarget.get(target)?.outcome, 'connected', target);
    assert.equal(byTarget.get(`udp:127.0.0.1:${udpPort}`)?.outcome, 'sent');
    for (const [target, named] of [
      ['tcp:192.0.2.1:25', '192.0.2.1:25'],
      ['tcp:203.0.113.1:25', '203.0.113.1:25'],
      ['tls:203.0.113.1:443', '203.0.113.1:443'],
      ['tcp:fd00::1:25', 'fd00::1:25'],
      ['udp:192.0.2.1:53', '192.0.2.1:53'],
      ['child:tcp:203.0.113.1:2525', '203.0.113.1:2525'],
    ] as const) {
      const result = byTarget.get(target);
      assert.equal(result?.outcome, 'error', `${target}: ${JSON.stringify(result)}`);
      assert.equal(result.code, 'EACCES', target);
      assert.ok(result.message?.includes(named), `${target}: ${result.message}`);
    }
    assert.match(stderr, /^loopback guard: TCP connect to 192\.0\.2\.1:25 refused/m);
    assert.match(stderr, /^loopback guard: UDP send to 192\.0\.2\.1:53 refused/m);
    const refused = report
      .trim()
      .split('\n')
      .map((line) => line.replace(/ \(pid .*$/, ''));
    assert.deepEqual(refused.sort(), [
      'TCP connect to 192.0.2.1:25',
      'TCP connect to 203.0.113.1:25',
      'TCP connect to 203.0.113.1:2525',
      'TCP connect to 203.0.113.1:443',
      'TCP connect to [fd00::1]:25',
      'UDP send to 192.0.2.1:53',
    ]);
    assert.deepEqual(datagrams, ['x'], 'the loopback datagram arrived');
  });

  it('a run of scripts/run-tests.mjs whose test connected off loopback fails, listing the target, although the test passed', () => {
    const run = spawnSync(
      process.execPath,
      ['scripts/run-tests.mjs', 'test/fixtures/loopback-guard/offender.fixture.mjs'],
      // Not as a subtest of this run: node --test reports to its parent when NODE_TEST_CONTEXT is set.
      { cwd: REPO, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    );
    assert.match(run.stdout, /^ℹ pass 1$/m, run.stdout);
    assert.match(run.stdout, /^ℹ fail 0$/m, run.stdout);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /loopback guard: refused 1 connection/);
    assert.match(run.stderr, /^ {2}TCP connect to 203\.0\.113\.1:25 \(pid \d+/m);
  });

  it('a run whose tests sent names to the system resolver fails, naming each (rcpt verify() without dnsServers, dns.lookup, fetch, dns.Resolver), although they passed', () => {
    // In a network namespace of its own where the machine allows one, so that a guard that let a name
    // through could not send it anywhere.
    const isolated = spawnSync('unshare', ['--net', '--map-root-user', 'true']).status === 0;
    const args = ['scripts/run-tests.mjs', LOOKUPS];
    const run = spawnSync(
      isolated ? 'unshare' : process.execPath,
      isolated ? ['--net', '--map-root-user', process.execPath, ...args] : args,
      { cwd: REPO, encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    );
    assert.match(run.stdout, /^ℹ pass 3$/m, run.stdout);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /loopback guard: refused \d+ connection\(s\) or name lookup\(s\)/);
    for (const refused of [
      /^ {2}UDP (?:connect|send) to \S+ \(the system resolver: give a DNS server on loopback, dnsServers or --dns-server\) \(pid/m,
      /^ {2}name lookup \(getaddrinfo\) of lookup\.leak\.rcpt\.invalid \(the system resolver\)/m,
      /^ {2}name lookup \(getaddrinfo\) of fetch\.leak\.rcpt\.invalid \(the system resolver\)/m,
      /^ {2}DNS query \(queryMx\) of resolve\.leak\.rcpt\.invalid to \S+/m,
    ])
      assert.match(run.stderr, refused);
  });

  it('lets a name be looked up when it stays on this machine: localhost, a dns.Resolver whose servers are on loopback', async () => {
    const { results, report } = await attempts(['lookup:localhost', `resolve:127.0.0.1:${udpPort}`]);
    assert.deepEqual(
      results.map(({ target, outcome }) => ({ target, outcome })),
      [
        { target: 'lookup:localhost', outcome: 'resolved' },
        { target: `resolve:127.0.0.1:${udpPort}`, outcome: 'asked' },
      ],
    );
    assert.equal(report, '');
  });

  it('runs every bench and the fuzz under it: each npm script that starts a file of bench/ starts it through scripts/loopback-guarded.mjs', () => {
    const { scripts } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const unguarded = Object.entries(scripts).flatMap(([name, command]) =>
      command
        .split('&&')
        .map((part) => part.trim())
        .filter(
          (part) => /\bbench\//.test(part) && !part.startsWith('node scripts/loopback-guarded.mjs node '),
        )
        .map((part) => `${name}: ${part}`),
    );
    assert.ok(Object.keys(scripts).filter((name) => /^(bench:|fuzz)/.test(name)).length >= 10);
    assert.deepEqual(unguarded, []);
  });
});
