/**
 * Good citizenship (issue 9): in every kind of run (single `verify()`, `verifyMany()` bulk, the
 * provider persona world) rcpt never sends DATA or BDAT, never has more sessions open to one MX host
 * than its cap, ends every session it did not see the server end with QUIT, and presents itself with
 * the configured HELO name and MAIL FROM. Everything is read from the servers' own logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startDnsServer, type DnsServer, type DnsZones } from '../../src/demo/dns-server.js';
import { createVerifier, type VerifyOptions, type VerifyResult } from '../../src/index.js';
import { PERSONA_ZONES, startPersonaWorld, type PersonaWorld } from '../personas/personas.js';
import { startMxServer, type MxServer, type MxSession, type SessionCounter } from './helpers/mx-server.js';

const HELO = 'probe.citizen.test';
const MAIL_FROM = 'verify@citizen.test';
/** Good hosts on 127.9.1.1–.8, each serving three domains. */
const HOSTS = 8;
const DOMAINS_PER_HOST = 3;

let dns: DnsServer;
let servers: MxServer[] = [];
let port = 0;
/** How far TCP connections (until the server saw each close) went over the cap; reported, not asserted. */
let socketOvershoot = 0;

const users = new Set(Array.from({ length: 200 }, (_, i) => `ok${i}`));

function domainsOf(host: number): string[] {
  return Array.from({ length: DOMAINS_PER_HOST }, (_, d) => `d${host}-${d}.citizen.test`);
}

before(async () => {
  for (let attempt = 0; ; attempt++) {
    try {
      const first = await startMxServer({ host: '127.9.1.1', port: 0, users, rcptDelayMs: 2 });
      servers = [first];
      for (let i = 2; i <= HOSTS; i++) {
        servers.push(await startMxServer({ host: `127.9.1.${i}`, port: first.port, users, rcptDelayMs: 2 }));
      }
      port = first.port;
      break;
    } catch (error) {
      await Promise.all(servers.map((server) => server.close()));
      if (attempt >= 4) throw error;
    }
  }
  const zones: Record<string, DnsZones[string]> = {};
  for (let h = 1; h <= HOSTS; h++) {
    zones[`mx${h}.citizen.test`] = { A: [`127.9.1.${h}`] };
    for (const domain of domainsOf(h)) {
      zones[domain] = { MX: [{ priority: 10, exchange: `mx${h}.citizen.test` }] };
    }
  }
  dns = await startDnsServer({ host: '127.0.0.1', port: 0, zones });
});

after(async () => {
  await Promise.all([dns.close(), ...servers.map((server) => server.close())]);
});

function options(): VerifyOptions {
  return {
    dnsServers: [dns.address],
    smtpPort: port,
    allowPrivateTargets: true,
    helo: HELO,
    mailFrom: MAIL_FROM,
    timeoutMs: 10_000,
    greylistWaitMs: 0,
  };
}

/** The list: for every domain, `ok` and unknown local parts interleaved. */
function list(perDomain: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < perDomain; i++) {
    for (let h = 1; h <= HOSTS; h++) {
      for (const domain of domainsOf(h)) out.push(`${i % 3 === 0 ? 'nobody' : 'ok'}${i}@${domain}`);
    }
  }
  return out;
}

/** Checks every session: no DATA/BDAT, HELO and MAIL FROM as configured, QUIT last (unless cut off). */
function assertPolite(sessions: readonly MxSession[], where: string): { sessions: number; quits: number } {
  let quits = 0;
  for (const [index, session] of sessions.entries()) {
    const name = `${where} session ${index}`;
    assert.ok(session.closed, `${name} still open`);
    const verbs = session.commands.map((line) => (line.split(/[ :]/, 1)[0] ?? '').toUpperCase());
    assert.ok(!verbs.includes('DATA') && !verbs.includes('BDAT'), `${name}: ${verbs.join(' ')}`);
    for (const line of session.commands) {
      if (/^(EHLO|HELO) /i.test(line)) assert.equal(line.slice(5), HELO, name);
      if (/^MAIL FROM:/i.test(line)) {
        assert.match(line, new RegExp(`^MAIL FROM:<${MAIL_FROM}>( |$)`, 'i'), name);
      }
    }
    if (!session.serverClosedFirst) {
      assert.equal(verbs.at(-1), 'QUIT', `${name} ended without QUIT: ${verbs.join(' ')}`);
      quits += 1;
    }
  }
  return { sessions: sessions.length, quits };
}

async function settle(): Promise<void> {
  await Promise.all(servers.map((server) => server.settled()));
}

describe('good citizenship', () => {
  it('single verify(): HELO, MAIL FROM, QUIT; never DATA', async () => {
    const before = servers.map((server) => server.sessions.length);
    const verifier = createVerifier(options());
    try {
      for (const address of list(2).slice(0, 12)) {
        const result = await verifier.verify(address);
        assert.ok(['accepted', 'mailbox_not_found'].includes(result.reason), `${address}: ${result.reason}`);
      }
    } finally {
      await verifier.close();
    }
    await settle();
    const checked = servers.map((server, i) =>
      assertPolite(server.sessions.slice(before[i]), `${server.host} verify`),
    );
    assert.ok(checked.reduce((sum, c) => sum + c.sessions, 0) >= 12);
  });

  for (const hostConcurrency of [1, 2, 3]) {
    it(`verifyMany() of 1,200 addresses, hostConcurrency ${hostConcurrency}: never more sessions per host`, async () => {
      for (const server of servers) server.resetPeak();
      const before = servers.map((server) => server.sessions.length);
      const verifier = createVerifier(options());
      const results: VerifyResult[] = [];
      const addresses = list(50);
      try {
        for await (const result of verifier.verifyMany(addresses, { hostConcurrency })) results.push(result);
      } finally {
        await verifier.close();
      }
      await settle();
      assert.equal(results.length, addresses.length);
      for (const result of results) {
        const expected = result.input.startsWith('ok') ? 'accepted' : 'mailbox_not_found';
        assert.equal(result.reason, expected, result.input);
      }
      for (const [i, server] of servers.entries()) {
        assert.ok(
          server.sessionPeak() <= hostConcurrency,
          `${server.host}: ${server.sessionPeak()} sessions at once > ${hostConcurrency}`,
        );
        socketOvershoot = Math.max(socketOvershoot, server.peak() - hostConcurrency);
        assertPolite(server.sessions.slice(before[i]), `${server.host} bulk`);
      }
    });
  }
});

after(() => {
  if (socketOvershoot > 0) {
    process.stdout.write(
      `# TCP connections over the per-host cap until the server processed a FIN: ${socketOvershoot}\n`,
    );
  }
});

describe('the global session cap (maxSessions)', () => {
  let capped: MxServer[] = [];
  let cappedDns: DnsServer;
  const shared: SessionCounter = { live: 0, peak: 0 };
  before(async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        const first = await startMxServer({ host: '127.9.5.1', port: 0, users, rcptDelayMs: 5, shared });
        capped = [first];
        for (let i = 2; i <= HOSTS; i++) {
          capped.push(
            await startMxServer({ host: `127.9.5.${i}`, port: first.port, users, rcptDelayMs: 5, shared }),
          );
        }
        break;
      } catch (error) {
        await Promise.all(capped.map((server) => server.close()));
        if (attempt >= 4) throw error;
      }
    }
    const zones: Record<string, DnsZones[string]> = {};
    for (let h = 1; h <= HOSTS; h++) {
      zones[`mx${h}.capped.test`] = { A: [`127.9.5.${h}`] };
      zones[`d${h}.capped.test`] = { MX: [{ priority: 10, exchange: `mx${h}.capped.test` }] };
    }
    cappedDns = await startDnsServer({ host: '127.0.0.1', port: 0, zones });
  });
  after(async () => {
    await Promise.all([cappedDns.close(), ...capped.map((server) => server.close())]);
  });

  for (const maxSessions of [1, 3]) {
    it(`maxSessions ${maxSessions} over ${HOSTS} hosts × hostConcurrency 2: never more sessions at once in total`, async () => {
      shared.peak = shared.live;
      const addresses: string[] = [];
      for (let i = 0; i < 40; i++)
        for (let h = 1; h <= HOSTS; h++) addresses.push(`ok${i}@d${h}.capped.test`);
      const verifier = createVerifier({
        ...options(),
        dnsServers: [cappedDns.address],
        smtpPort: capped[0]?.port ?? 0,
      });
      let accepted = 0;
      try {
        for await (const result of verifier.verifyMany(addresses, { hostConcurrency: 2, maxSessions })) {
          if (result.reason === 'accepted') accepted += 1;
        }
      } finally {
        await verifier.close();
      }
      assert.equal(accepted, addresses.length);
      assert.ok(shared.peak <= maxSessions, `${shared.peak} sessions at once > ${maxSessions}`);
      assert.ok(shared.peak >= 1);
      await Promise.all(capped.map((server) => server.settled()));
    });
  }
});

describe('good citizenship in the provider persona world', () => {
  let world: PersonaWorld;
  before(async () => {
    world = await startPersonaWorld();
  });
  after(async () => {
    await world.close();
  });

  it('verifyMany() over every persona domain (hostile ones included): no DATA/BDAT, HELO and MAIL FROM as configured', async () => {
    const domains = Object.entries(PERSONA_ZONES)
      .filter(([, entry]) => entry.MX !== undefined)
      .map(([name]) => name);
    const addresses = domains.flatMap((domain) => [`alice@${domain}`, `nobody@${domain}`, `info@${domain}`]);
    const verifier = createVerifier({
      dnsServers: [world.dnsServer],
      smtpPort: world.smtpPort,
      allowPrivateTargets: true,
      helo: HELO,
      mailFrom: MAIL_FROM,
      timeoutMs: 4_000,
      connectTimeoutMs: 500,
      greetingTimeoutMs: 1_000,
      commandTimeoutMs: 1_000,
      greylistWaitMs: 0,
    });
    let count = 0;
    try {
      for await (const result of verifier.verifyMany(addresses, {
        hostTries: 2,
        backoffMs: 50,
        maxBackoffMs: 200,
        greylistRetries: 0,
      })) {
        assert.ok(result.verdict.length > 0);
        count += 1;
      }
    } finally {
      await verifier.close();
    }
    assert.equal(count, addresses.length);
    let commands = 0;
    for (const server of world.servers) {
      for (const line of server.log.commands) {
        commands += 1;
        const verb = (line.split(/[ :]/, 1)[0] ?? '').toUpperCase();
        assert.ok(verb !== 'DATA' && verb !== 'BDAT', `${server.name}: ${line}`);
        if (verb === 'EHLO' || verb === 'HELO') assert.equal(line.slice(5), HELO, server.name);
        if (verb === 'MAIL')
          assert.match(line, new RegExp(`^MAIL FROM:<${MAIL_FROM}>( |$)`, 'i'), server.name);
      }
    }
    assert.ok(commands > addresses.length, `${commands} commands seen`);
  });
});
