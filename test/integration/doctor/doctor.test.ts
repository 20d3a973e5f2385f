/**
 * `runDoctor()` against the loopback world of doctor-world.ts: every pass / warn / fail line of every
 * check, each produced by a real DNS server and real SMTP servers on 127.0.0.0/8.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  OptionsError,
  runDoctor,
  type DoctorCheck,
  type DoctorCheckId,
  type DoctorOptions,
  type DoctorReport,
  type DoctorStatus,
} from '../../../src/index.js';
import {
  BROKEN_PTR_IP,
  GENERIC_IP,
  GOOD_IP,
  GOOD_IP6,
  LISTED_IP,
  MISMATCH_IP,
  NO_PTR_IP,
  startDoctorWorld,
  type DoctorWorld,
} from './doctor-world.js';

let world: DoctorWorld;
before(async () => {
  world = await startDoctorWorld();
});
after(async () => {
  await world.close();
});

function line(report: DoctorReport, id: DoctorCheckId, subject: string | null = null): DoctorCheck {
  const found = report.checks.find((check) => check.id === id && check.subject === subject);
  assert.ok(found, `no ${id} line${subject === null ? '' : ` for ${subject}`}`);
  return found;
}

/** Runs the doctor with `overrides` and checks one line's status and summary. */
async function expectLine(
  overrides: DoctorOptions,
  id: DoctorCheckId,
  status: DoctorStatus,
  summary: RegExp,
  subject: string | null = null,
): Promise<DoctorCheck> {
  const report = await runDoctor(world.options(overrides));
  const check = line(report, id, subject);
  assert.equal(check.status, status, `${id}: ${check.summary}`);
  assert.match(check.summary, summary);
  if (status === 'pass') assert.equal(check.advice, null);
  else assert.ok(check.advice !== null && check.advice.length > 20, `${id} ${status} says what to do`);
  return check;
}

describe('runDoctor: a well-configured machine', () => {
  it('passes every check, in the documented order, and says so in the report', async () => {
    const report = await runDoctor(world.options({ blocklists: ['zen.spamhaus.org', 'bl.test'] }));
    assert.deepEqual(
      report.checks.map((check) => [check.id, check.subject, check.status]),
      [
        ['port25', null, 'pass'],
        ['source_address', null, 'pass'],
        ['ptr', null, 'pass'],
        ['fcrdns', null, 'pass'],
        ['helo_name', null, 'pass'],
        ['helo_dns', null, 'pass'],
        ['mail_from', null, 'pass'],
        ['spf', null, 'pass'],
        ['blocklist', 'zen.spamhaus.org', 'pass'],
        ['blocklist', 'bl.test', 'pass'],
      ],
    );
    assert.equal(report.status, 'pass');
    assert.equal(report.ok, true);
    assert.deepEqual(report.counts, { pass: 10, warn: 0, fail: 0 });
    assert.equal(report.sourceIp, GOOD_IP);
    assert.equal(report.sourceIpOrigin, 'option');
    assert.equal(report.helo, 'probe.good.test');
    assert.equal(report.heloOrigin, 'option');
    assert.equal(report.mailFrom, 'verify@good.test');
    assert.ok(!Number.isNaN(Date.parse(report.checkedAt)));
    // JSON-stable: it survives a round trip unchanged.
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
  });

  it('asks only the loopback DNS server it was given', async () => {
    const before = world.dns.queries;
    await runDoctor(world.options());
    assert.ok(world.dns.queries > before + 5);
  });
});

describe('port 25', () => {
  it('pass: the provider greets; only the greeting and QUIT, never MAIL or RCPT', async () => {
    const connections = world.open.stats.connections;
    const check = await expectLine({}, 'port25', 'pass', /1 of 1 providers' MX hosts greeted us/);
    assert.match(check.evidence[0] ?? '', /^open\.test: mx\.open\.test \[127\.0\.10\.1\]:\d+ greeted "220 /);
    assert.equal(world.open.stats.connections, connections + 1);
    assert.deepEqual(world.open.stats.verbs, []);
  });

  it('warn: one provider greets, the others refuse, stay silent or reject us at the greeting', async () => {
    const check = await expectLine(
      { providers: ['open.test', 'refused.test', 'silent.test', 'rejecting.test'], greetingTimeoutMs: 300 },
      'port25',
      'warn',
      /3 of 4 providers' MX hosts did not greet us/,
    );
    assert.match(check.evidence[1] ?? '', /^refused\.test: .*ECONNREFUSED/);
    assert.match(check.evidence[2] ?? '', /^silent\.test: .*sent no greeting within 300 ms/);
    assert.match(check.evidence[3] ?? '', /^rejecting\.test: .*refused us at the greeting: "554 5\.7\.1/);
    assert.match(check.advice ?? '', /firewall may filter port 25/);
    assert.match(check.advice ?? '', /reputation/);
  });

  it('fail: connections refused, and the advice names the cloud port-25 blocks', async () => {
    const check = await expectLine({ providers: ['refused.test'] }, 'port25', 'fail', /0 of 1/);
    assert.match(check.advice ?? '', /port 25 looks blocked.*AWS/);
    // Before: only "run rcpt where port 25 is open", not the proxy way the README and proxies.md give.
    assert.match(
      check.advice ?? '',
      /run rcpt where port 25 is open, or verify through a SOCKS5 proxy on a host whose port 25 is open \(--proxy socks5:\/\/user:pass@host:1080, checked with rcpt doctor --proxy; docs\/proxies\.md\)$/,
    );
  });

  it('fail: connected, but no server ever greets (tarpit or intercepting middlebox)', async () => {
    const accepted = world.rawConnections();
    const check = await expectLine(
      { providers: ['silent.test'], greetingTimeoutMs: 200 },
      'port25',
      'fail',
      /every verification would end "unknown"/,
    );
    assert.match(check.advice ?? '', /no server greeted/);
    assert.equal(world.rawConnections(), accepted + 1);
  });

  it('fail: the only provider rejects us at the greeting', async () => {
    const check = await expectLine({ providers: ['rejecting.test'] }, 'port25', 'fail', /0 of 1/);
    assert.match(check.advice ?? '', /refused this address at the greeting/);
  });

  it("fail: the providers' MX hosts cannot be found", async () => {
    const check = await expectLine({ providers: ['nowhere.test'] }, 'port25', 'fail', /0 of 1/);
    assert.match(check.evidence[0] ?? '', /nowhere\.test: the domain does not exist \(NXDOMAIN\)/);
    assert.match(check.advice ?? '', /check DNS/);
  });

  it('fail: loopback MX addresses are not greeted unless allowPrivateTargets is set', async () => {
    const connections = world.open.stats.connections;
    const check = await expectLine({ allowPrivateTargets: false }, 'port25', 'fail', /0 of 1/);
    assert.match(check.evidence[0] ?? '', /is a loopback address; not connecting/);
    assert.equal(world.open.stats.connections, connections);
  });
});

describe('source address', () => {
  it('pass: a public address given as an option', async () => {
    await expectLine(
      {},
      'source_address',
      'pass',
      /^probing address 11\.0\.25\.25 \(given with --source-ip\)$/,
    );
  });

  it('warn: a private address (receivers see the NAT address)', async () => {
    const check = await expectLine(
      { sourceIp: '10.1.2.3' },
      'source_address',
      'warn',
      /10\.1\.2\.3 .*is a private address/,
    );
    assert.match(check.advice ?? '', /--source-ip/);
  });

  it('warn: a documentation address is not public either', async () => {
    await expectLine({ sourceIp: NO_PTR_IP }, 'source_address', 'warn', /documentation address/);
  });

  it('without sourceIp, takes an interface address and says so', async () => {
    const rest: { -readonly [K in keyof DoctorOptions]: DoctorOptions[K] } = { ...world.options() };
    delete rest.sourceIp;
    const report = await runDoctor({ ...rest, blocklists: ['bl.test'] });
    const check = line(report, 'source_address');
    if (report.sourceIp === null) {
      // A machine with only loopback interfaces: nothing to check, and the line says what to do.
      assert.equal(check.status, 'fail');
      assert.equal(line(report, 'ptr').status, 'warn');
      assert.match(line(report, 'blocklist', 'bl.test').summary, /not checked/);
    } else {
      assert.equal(report.sourceIpOrigin, 'interface');
      assert.match(check.summary, /taken from interface \S+ \(no --source-ip given\)/);
    }
  });

  it('normalises an IPv6 source address (and checks its ip6.arpa PTR)', async () => {
    const report = await runDoctor(
      world.options({ sourceIp: '2001:DB8:25:0::25', helo: 'probe6.good.test' }),
    );
    assert.equal(report.sourceIp, GOOD_IP6);
    assert.equal(line(report, 'ptr').status, 'pass');
    assert.equal(line(report, 'fcrdns').status, 'pass');
    assert.equal(line(report, 'spf').status, 'pass');
  });
});

describe('reverse DNS', () => {
  it('fail, fail: no PTR record, so nothing to confirm', async () => {
    const report = await runDoctor(world.options({ sourceIp: NO_PTR_IP }));
    const ptr = line(report, 'ptr');
    assert.equal(ptr.status, 'fail');
    assert.match(ptr.summary, /192\.0\.2\.26 has no PTR record \(NXDOMAIN\)/);
    assert.match(ptr.advice ?? '', /GMX and Web\.de/);
    assert.equal(line(report, 'fcrdns').status, 'fail');
    assert.match(line(report, 'fcrdns').summary, /no PTR name to confirm/);
  });

  it('warn: a generic, address-derived PTR name (which does resolve back)', async () => {
    const report = await runDoctor(world.options({ sourceIp: GENERIC_IP }));
    const ptr = line(report, 'ptr');
    assert.equal(ptr.status, 'warn');
    assert.match(ptr.summary, /27-2-0-192\.dsl\.pool\.isp\.test, which looks generic/);
    assert.equal(line(report, 'fcrdns').status, 'pass');
  });

  it('fail: the PTR name resolves to another address', async () => {
    const check = await expectLine(
      { sourceIp: MISMATCH_IP },
      'fcrdns',
      'fail',
      /host\.mismatch\.test does not resolve back to 192\.0\.2\.28/,
    );
    assert.deepEqual(check.evidence, ['host.mismatch.test A: 192.0.2.99']);
  });

  it('warn, warn: the reverse zone fails (SERVFAIL): cannot tell', async () => {
    const report = await runDoctor(world.options({ sourceIp: BROKEN_PTR_IP }));
    assert.equal(line(report, 'ptr').status, 'warn');
    assert.match(line(report, 'ptr').summary, /cannot tell/);
    assert.equal(line(report, 'fcrdns').status, 'warn');
  });
});

describe('HELO name', () => {
  const bad: readonly [string, RegExp][] = [
    ['localhost', /localhost/],
    ['localhost.localdomain', /localhost/],
    ['192.0.2.25', /bare IP address/],
    ['[192.0.2.25]', /address literal/],
    ['mailserver1', /not fully qualified/],
    ['gmail.com', /claims to be gmail\.com/],
    ['mx.outlook.com', /claims to be outlook\.com/],
    ['probe.corp.internal', /never resolves on the public Internet/],
  ];
  for (const [helo, why] of bad) {
    it(`fail: ${helo}`, async () => {
      const report = await runDoctor(world.options({ helo }));
      const check = line(report, 'helo_name');
      assert.equal(check.status, 'fail');
      assert.match(check.summary, why);
      assert.match(check.summary, /given with --helo/);
      assert.equal(line(report, 'helo_dns').status, 'fail');
    });
  }

  it('pass: the PTR name, which resolves to the probing address', async () => {
    await expectLine(
      {},
      'helo_dns',
      'pass',
      /probe\.good\.test is the PTR name of 11\.0\.25\.25 and resolves to it/,
    );
  });

  it('warn: resolves to the probing address, but is not its PTR name', async () => {
    const check = await expectLine(
      { helo: 'alias.good.test' },
      'helo_dns',
      'warn',
      /alias\.good\.test resolves to 11\.0\.25\.25, but the PTR of 11\.0\.25\.25 names probe\.good\.test/,
    );
    assert.match(check.advice ?? '', /--helo probe\.good\.test/);
  });

  it('warn: resolves, but to another address', async () => {
    await expectLine(
      { helo: 'elsewhere.good.test' },
      'helo_dns',
      'warn',
      /resolves to 192\.0\.2\.200, not to the probing address/,
    );
  });

  it('fail: a fully qualified name that does not resolve', async () => {
    const check = await expectLine(
      { helo: 'nothing.good.test' },
      'helo_dns',
      'fail',
      /nothing\.good\.test does not resolve \(NXDOMAIN\)/,
    );
    assert.match(check.advice ?? '', /A record nothing\.good\.test → 11\.0\.25\.25/);
  });

  it('warn: its lookup fails', async () => {
    await expectLine({ helo: 'broken-helo.test' }, 'helo_dns', 'warn', /cannot tell/);
  });

  it('defaults to the host name, and says so', async () => {
    const rest: { -readonly [K in keyof DoctorOptions]: DoctorOptions[K] } = { ...world.options() };
    delete rest.helo;
    const report = await runDoctor(rest);
    assert.equal(report.heloOrigin, 'hostname');
    assert.match(line(report, 'helo_name').summary, /the host name; set --helo/);
  });
});

describe('MAIL FROM', () => {
  it('pass: the domain has MX records', async () => {
    await expectLine({}, 'mail_from', 'pass', /good\.test receives mail \(MX mx\.good\.test\)/);
  });

  it('pass: no MX, but an address record (implicit MX)', async () => {
    await expectLine({ mailFrom: 'verify@implicit.test' }, 'mail_from', 'pass', /implicit MX/);
  });

  it('warn: <> (and the advice says why a real sender is better)', async () => {
    const check = await expectLine({ mailFrom: '' }, 'mail_from', 'warn', /MAIL FROM is <>/);
    assert.match(
      check.advice ?? '',
      /RFC 5321 §4\.5\.5.*never the address under test|never the address under test.*RFC 5321/,
    );
  });

  const failing: readonly [string, RegExp][] = [
    ['verify@missing.test', /does not exist \(NXDOMAIN\)/],
    ['verify@nullmx.test', /null MX/],
    ['verify@nomail.test', /no MX and no A\/AAAA record/],
    ['someone@gmail.com', /uses gmail\.com, a domain you do not control/],
    ['verify@example.org', /uses example\.org/],
    ['a..b@good.test', /not a valid address/],
  ];
  for (const [mailFrom, why] of failing) {
    it(`fail: ${mailFrom}`, async () => {
      await expectLine({ mailFrom }, 'mail_from', 'fail', why);
    });
  }

  it('warn: its lookup fails', async () => {
    await expectLine({ mailFrom: 'verify@broken-mx.test' }, 'mail_from', 'warn', /cannot tell/);
  });
});

describe('SPF', () => {
  it('pass: through an include, and the evidence names the deciding term', async () => {
    const check = await expectLine(
      {},
      'spf',
      'pass',
      /the SPF record of good\.test authorises 11\.0\.25\.25/,
    );
    assert.ok(check.evidence.includes('decided by include:_spf.good.test → ip4:11.0.25.0/24'));
    assert.ok(check.evidence.includes('good.test TXT "v=spf1 include:_spf.good.test -all"'));
  });

  it('fail: -all without the probing address', async () => {
    const check = await expectLine({ mailFrom: 'v@spf-fail.test' }, 'spf', 'fail', /may not send for it/);
    assert.match(check.advice ?? '', /add "ip4:11\.0\.25\.25" to the SPF record of spf-fail\.test/);
  });

  it('warn: softfail', async () => {
    await expectLine({ mailFrom: 'v@spf-soft.test' }, 'spf', 'warn', /soft-fails/);
  });

  it('warn: neutral', async () => {
    await expectLine({ mailFrom: 'v@spf-neutral.test' }, 'spf', 'warn', /neither authorises nor refuses/);
  });

  it('warn: no SPF record, with the record to publish', async () => {
    const check = await expectLine({ mailFrom: 'v@spf-none.test' }, 'spf', 'warn', /publishes no SPF record/);
    assert.match(check.advice ?? '', /"v=spf1 ip4:11\.0\.25\.25 -all"/);
  });

  it('fail: a malformed record is a permerror', async () => {
    await expectLine({ mailFrom: 'v@spf-perm.test' }, 'spf', 'fail', /permerror.*prefix length out of range/);
  });

  it('warn: a DNS failure inside the evaluation is a temperror', async () => {
    await expectLine({ mailFrom: 'v@spf-temp.test' }, 'spf', 'warn', /cannot tell/);
  });

  it('with <>, checks the HELO name (RFC 7208 §2.4)', async () => {
    await expectLine({ mailFrom: '' }, 'spf', 'pass', /HELO name probe\.good\.test \(MAIL FROM is <>/);
  });

  it('with <> and an unusable HELO name, cannot check', async () => {
    await expectLine({ mailFrom: '', helo: 'localhost' }, 'spf', 'warn', /not checked/);
  });
});

describe('blocklists', () => {
  it('fail: listed, with the Spamhaus return codes explained', async () => {
    const report = await runDoctor(
      world.options({
        sourceIp: LISTED_IP,
        helo: 'listed.good.test',
        blocklists: ['zen.spamhaus.org', 'bl.test'],
      }),
    );
    const zen = line(report, 'blocklist', 'zen.spamhaus.org');
    assert.equal(zen.status, 'fail');
    assert.match(
      zen.summary,
      /192\.0\.2\.30 is listed on zen\.spamhaus\.org: 127\.0\.0\.4 XBL.*; 127\.0\.0\.11 PBL \(Spamhaus-maintained\)/,
    );
    assert.match(zen.advice ?? '', /https:\/\/check\.spamhaus\.org\//);
    assert.ok(zen.evidence.some((fact) => /1\.0\.0\.127\.zen\.spamhaus\.org A: NXDOMAIN/.test(fact)));
    const bl = line(report, 'blocklist', 'bl.test');
    assert.equal(bl.status, 'fail');
    assert.match(bl.summary, /listed on bl\.test: 127\.0\.0\.2 listed/);
    assert.equal(report.ok, false);
    assert.equal(report.status, 'fail');
  });

  it('pass: not listed (NXDOMAIN)', async () => {
    await expectLine({}, 'blocklist', 'pass', /11\.0\.25\.25 is not listed on bl\.test/, 'bl.test');
  });

  it('warn: the list refuses the resolver (127.255.255.254), which is not a listing', async () => {
    const check = await expectLine(
      { blocklists: ['refusing.test'] },
      'blocklist',
      'warn',
      /cannot tell: refusing\.test refused to answer/,
      'refusing.test',
    );
    assert.ok(check.evidence.some((fact) => /public or open resolver/.test(fact)));
  });

  it('warn: an answer outside 127.0.0.0/8', async () => {
    await expectLine(
      { blocklists: ['parked.test'] },
      'blocklist',
      'warn',
      /outside 127\.0\.0\.0\/8/,
      'parked.test',
    );
  });

  it('warn: a list that lists even 127.0.0.1 (RFC 5782 §5)', async () => {
    await expectLine(
      { blocklists: ['everything.test'] },
      'blocklist',
      'warn',
      /lists even 127\.0\.0\.1/,
      'everything.test',
    );
  });

  it('warn: the lookup fails', async () => {
    await expectLine(
      { blocklists: ['broken-bl.test'] },
      'blocklist',
      'warn',
      /the lookup failed/,
      'broken-bl.test',
    );
  });

  it('queries IPv6 addresses in nibble format', async () => {
    const before = world.dns.log.length;
    await runDoctor(world.options({ sourceIp: GOOD_IP6, helo: 'probe6.good.test' }));
    const names = world.dns.log.slice(before).map((entry) => entry.name);
    assert.ok(names.includes('5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.5.2.0.0.8.b.d.0.1.0.0.2.bl.test'));
  });
});

describe('options', () => {
  const bad: readonly [DoctorOptions, string][] = [
    [{ sourceIp: 'not-an-ip' }, 'sourceIp'],
    [{ providers: [] }, 'providers'],
    [{ blocklists: ['no spaces allowed.test'] }, 'blocklists'],
    [{ dnsServers: ['dns.example.test'] }, 'dnsServers'],
    [{ smtpPort: 0 }, 'smtpPort'],
  ];
  for (const [options, name] of bad) {
    it(`rejects a bad ${name} with OptionsError before any query`, async () => {
      const before = world.dns.queries;
      await assert.rejects(runDoctor(world.options(options)), (error: unknown) => {
        assert.ok(error instanceof OptionsError);
        assert.equal(error.option, name);
        return true;
      });
      assert.equal(world.dns.queries, before);
    });
  }

  it('rejects with the reason when its signal aborts', async () => {
    const controller = new AbortController();
    const running = runDoctor(
      world.options({ providers: ['silent.test'], greetingTimeoutMs: 5_000, signal: controller.signal }),
    );
    setTimeout(() => {
      controller.abort(new Error('stop'));
    }, 50);
    await assert.rejects(running, /stop|deadline|abort/i);
  });
});
