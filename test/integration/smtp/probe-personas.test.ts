/**
 * The prober against real SMTP servers (`smtp-server` personas) on loopback: what it sends, what it
 * reports, how it moves between hosts. Every server is closed in `after()`.
 */
import { after, afterEach, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { CHANNELS } from '../../../src/diagnostics.js';
import { createProber, type ProberOptions } from '../../../src/smtp/probe.js';
import type { ProbeRequest } from '../../../src/types.js';
import {
  startWatchedPersona,
  type WatchedPersona as Persona,
  type WatchedPersonaOptions,
} from '../../helpers/watched-persona.js';
import { seenVerbs } from '../../helpers/smtp-verb-log.js';

const MX = 'mx.rcpt.test';
const servers: Persona[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function persona(options: WatchedPersonaOptions = {}): Promise<Persona> {
  const server = await startWatchedPersona(options);
  servers.push(server);
  return server;
}

/** Binding attempts when another socket holds the first address's free port on the second. */
const PORT_ATTEMPTS = 5;

/**
 * Two personas on one port (the prober has one `port` for every target), on `first.host` and
 * `second.host`: the first binds a free port (port 0, read back), the second that same port. The
 * kernel only checked the port on the first address, so the second may find it taken (EADDRINUSE):
 * then both are closed and another free port is tried.
 */
async function onOnePort(
  first: WatchedPersonaOptions & { readonly host: string },
  second: WatchedPersonaOptions & { readonly host: string },
): Promise<[Persona, Persona]> {
  const { host: firstHost, ...firstOptions } = first;
  const { host: secondHost, ...secondOptions } = second;
  for (let attempt = 1; ; attempt += 1) {
    const a = await startWatchedPersona({ ...firstOptions, listen: { host: firstHost, port: 0 } });
    try {
      const b = await startWatchedPersona({ ...secondOptions, listen: { host: secondHost, port: a.port } });
      servers.push(a, b);
      return [a, b];
    } catch (error) {
      await a.close();
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

function proberFor(port: number, overrides: Partial<ProberOptions> = {}) {
  return createProber({
    port,
    helo: 'probe.rcpt.test',
    mailFrom: 'verify@rcpt.test',
    connectTimeoutMs: 1_000,
    greetingTimeoutMs: 2_000,
    commandTimeoutMs: 2_000,
    startTls: true,
    transcript: true,
    localAddress: null,
    ...overrides,
  });
}

function request(server: Persona, overrides: Partial<ProbeRequest> = {}): ProbeRequest {
  return {
    targets: [{ host: MX, ip: server.host }],
    recipients: ['alice@rcpt.test'],
    catchAllRecipient: 'x7q2zr9k@rcpt.test',
    smtputf8: false,
    ...overrides,
  };
}

const verbs = (server: Persona): string[] => server.commands.map((line) => line.split(/[ :]/, 1)[0] ?? '');

describe('prober against smtp-server personas', () => {
  it('an accept-all server: every RCPT 250, catch-all reply captured', async () => {
    const server = await persona();
    const result = await proberFor(server.port).probe(request(server));
    assert.equal(result.failure, null);
    assert.equal(result.host, MX);
    assert.equal(result.ip, '127.0.0.1');
    assert.equal(result.port, server.port);
    assert.equal(result.attempts, 1);
    assert.equal(result.tls, false);
    assert.match(result.banner ?? '', /mx\.rcpt\.test ESMTP/);
    assert.ok(result.extensions.includes('PIPELINING'));
    assert.deepEqual(
      result.replies.map((r) => [r.recipient, r.reply.stage, r.reply.code, r.reply.enhanced]),
      [['alice@rcpt.test', 'rcpt', 250, '2.1.5']],
    );
    assert.equal(result.catchAll?.code, 250);
    assert.deepEqual(server.commands, [
      'EHLO probe.rcpt.test',
      'MAIL FROM:<verify@rcpt.test>',
      'RCPT TO:<alice@rcpt.test>',
      'RCPT TO:<x7q2zr9k@rcpt.test>',
      'QUIT',
    ]);
    assert.ok(result.transcript !== null);
    assert.deepEqual(
      result.transcript.filter((e) => e.dir === '>').map((e) => e.line),
      server.commands,
    );
    assert.ok(result.transcript.every((e, i, all) => i === 0 || e.ms >= (all[i - 1]?.ms ?? 0)));
    await server.settled();
    assert.equal(await server.openConnections(), 0);
  });

  it('a server that rejects unknown users: 550 5.1.1 is data, the session goes on', async () => {
    const server = await persona({ users: ['alice@rcpt.test'] });
    const result = await proberFor(server.port).probe(
      request(server, { recipients: ['bob@rcpt.test', 'alice@rcpt.test'] }),
    );
    assert.equal(result.failure, null);
    assert.deepEqual(
      result.replies.map((r) => [r.recipient, r.reply.code, r.reply.enhanced, r.reply.text]),
      [
        ['bob@rcpt.test', 550, '5.1.1', 'User unknown'],
        ['alice@rcpt.test', 250, '2.1.5', 'Accepted'],
      ],
    );
    assert.deepEqual(
      [result.catchAll?.stage, result.catchAll?.code, result.catchAll?.enhanced],
      ['rcpt', 550, '5.1.1'],
    );
  });

  it('the null reverse-path is sent as MAIL FROM:<>', async () => {
    const server = await persona();
    const result = await proberFor(server.port, { mailFrom: '' }).probe(request(server));
    assert.equal(result.failure, null);
    assert.ok(server.commands.includes('MAIL FROM:<>'));
  });

  it('with PIPELINING: one recipient + catch-all costs 3 round trips after connect', async () => {
    const server = await persona({ pipelining: true });
    const result = await proberFor(server.port).probe(request(server));
    assert.equal(result.failure, null);
    // Round trips: the greeting, EHLO, then MAIL+RCPT+RCPT+QUIT in one write (RFC 2920).
    // The client's bytes arrive at the server exactly twice: EHLO, and the pipelined group.
    assert.deepEqual(server.flights, [2]);
    assert.equal(result.replies.length + (result.catchAll === null ? 0 : 1), 2);
  });

  it('without PIPELINING: one command per round trip, same answers', async () => {
    const server = await persona({ pipelining: false, users: ['alice@rcpt.test'] });
    const result = await proberFor(server.port).probe(request(server));
    assert.equal(result.failure, null);
    assert.ok(!result.extensions.includes('PIPELINING'));
    assert.deepEqual(server.flights, [5]);
    assert.equal(result.replies[0]?.reply.code, 250);
    assert.equal(result.catchAll?.code, 550);
  });

  it('STARTTLS offered: upgrades, re-EHLOs, tolerates and records the self-signed certificate', async () => {
    const server = await persona({ startTls: 'offered' });
    const result = await proberFor(server.port).probe(request(server));
    assert.equal(result.failure, null);
    assert.equal(result.tls, true);
    assert.match(result.tlsCertificateError ?? '', /SELF_SIGNED/);
    assert.equal(result.tlsFallback, null);
    assert.deepEqual(verbs(server), ['EHLO', 'STARTTLS', 'EHLO', 'MAIL', 'RCPT', 'RCPT', 'QUIT']);
    assert.ok(!result.extensions.includes('STARTTLS'), 'extensions are those of the TLS session');
    assert.equal(result.replies[0]?.reply.code, 250);
  });

  it('STARTTLS offered but disabled: stays in plaintext', async () => {
    const server = await persona({ startTls: 'offered' });
    const result = await proberFor(server.port, { startTls: false }).probe(request(server));
    assert.equal(result.failure, null);
    assert.equal(result.tls, false);
    assert.ok(result.extensions.includes('STARTTLS'));
    assert.ok(!verbs(server).includes('STARTTLS'));
  });

  it('STARTTLS required (530 at MAIL): goes TLS and carries on', async () => {
    const server = await persona({ startTls: 'required', users: ['alice@rcpt.test'] });
    const result = await proberFor(server.port, { startTls: false }).probe(request(server));
    assert.equal(result.failure, null);
    assert.equal(result.tls, true);
    // QUIT stays out of the plaintext group: the 530 cure needs the connection.
    assert.deepEqual(verbs(server), [
      'EHLO',
      'MAIL',
      'RCPT',
      'RCPT',
      'STARTTLS',
      'EHLO',
      'MAIL',
      'RCPT',
      'RCPT',
      'QUIT',
    ]);
    assert.equal(result.replies[0]?.reply.code, 250);
    assert.equal(result.catchAll?.code, 550);
    assert.equal(result.attempts, 1);
  });

  it('SMTPUTF8 offered: MAIL FROM carries the SMTPUTF8 parameter', async () => {
    const server = await persona({ smtputf8: true });
    const result = await proberFor(server.port).probe(
      request(server, { recipients: ['jörg@rcpt.test'], smtputf8: true }),
    );
    assert.equal(result.failure, null);
    assert.ok(result.extensions.includes('SMTPUTF8'));
    assert.equal(server.mailArgs[0]?.SMTPUTF8, true);
    assert.ok(server.commands.includes('RCPT TO:<jörg@rcpt.test>'));
    assert.equal(result.replies[0]?.reply.code, 250);
  });

  it('SMTPUTF8 needed but not offered: smtputf8_unsupported, and no MAIL is sent', async () => {
    const server = await persona({ smtputf8: false });
    const result = await proberFor(server.port).probe(
      request(server, { recipients: ['jörg@rcpt.test'], smtputf8: true }),
    );
    assert.equal(result.failure?.kind, 'smtputf8_unsupported');
    assert.equal(result.failure.stage, 'mail');
    assert.deepEqual(result.replies, []);
    assert.equal(result.catchAll, null);
    assert.deepEqual(verbs(server), ['EHLO', 'QUIT']);
  });

  it('EHLO rejected (500): falls back to HELO, without extensions', async () => {
    const server = await persona({ ehlo: false, users: ['alice@rcpt.test'] });
    const result = await proberFor(server.port).probe(request(server));
    assert.equal(result.failure, null);
    assert.deepEqual(result.extensions, []);
    assert.deepEqual(verbs(server), ['EHLO', 'HELO', 'MAIL', 'RCPT', 'RCPT', 'QUIT']);
    assert.equal(result.replies[0]?.reply.code, 250);
    assert.equal(result.catchAll?.code, 550);
  });

  describe('several hosts on one port (127.66.0.2, .3: addresses no other test listens on)', () => {
    // Each test's servers close when it ends: a port one of them holds on 127.66.0.3 would not be
    // free there for a later test that got it on 127.66.0.2.
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((server) => server.close()));
    });

    it('421 at the greeting: the next target answers', async () => {
      const [deferring, good] = await onOnePort(
        { host: '127.66.0.2', greeting: { code: 421, text: '4.7.0 Try again later, closing connection' } },
        { host: '127.66.0.3' },
      );
      const result = await proberFor(deferring.port).probe({
        ...request(good),
        targets: [
          { host: 'mx1.rcpt.test', ip: deferring.host },
          { host: 'mx2.rcpt.test', ip: good.host },
        ],
      });
      assert.equal(result.failure, null);
      assert.equal(result.attempts, 2);
      assert.equal(result.host, 'mx2.rcpt.test');
      assert.equal(result.ip, '127.66.0.3');
      assert.equal(result.replies[0]?.reply.code, 250);
      assert.deepEqual(deferring.commands, []);
      assert.ok(result.transcript?.some((e) => e.line.startsWith('421 ')));
    });

    it('connection refused: the next target answers', async () => {
      const good = await persona({ listen: { host: '127.66.0.3', port: 0 } });
      const result = await proberFor(good.port).probe({
        ...request(good),
        targets: [
          { host: 'mx1.rcpt.test', ip: '127.0.0.4' },
          { host: 'mx2.rcpt.test', ip: good.host },
        ],
      });
      assert.equal(result.failure, null);
      assert.equal(result.attempts, 2);
      assert.equal(result.host, 'mx2.rcpt.test');
    });

    it('every target refuses: connection_failed at connect, naming host and port', async () => {
      const good = await persona({ listen: { host: '127.66.0.3', port: 0 } });
      await good.close();
      const result = await proberFor(good.port).probe({
        ...request(good),
        targets: [
          { host: 'mx1.rcpt.test', ip: '127.0.0.4' },
          { host: 'mx2.rcpt.test', ip: '127.66.0.3' },
        ],
      });
      assert.equal(result.failure?.kind, 'connection_failed');
      assert.equal(result.failure.stage, 'connect');
      assert.match(
        result.failure.message,
        new RegExp(`mx2\\.rcpt\\.test \\(127\\.66\\.0\\.3:${good.port}\\)`),
      );
      assert.match(result.failure.message, /ECONNREFUSED/);
      assert.equal(result.attempts, 2);
      assert.equal(result.host, null);
    });

    it('a 554 greeting is an answer: no next target', async () => {
      const [refusing, good] = await onOnePort(
        { host: '127.66.0.2', greeting: { code: 554, text: 'No SMTP service here' } },
        { host: '127.66.0.3' },
      );
      const result = await proberFor(refusing.port).probe({
        ...request(good),
        targets: [
          { host: 'mx1.rcpt.test', ip: refusing.host },
          { host: 'mx2.rcpt.test', ip: good.host },
        ],
      });
      assert.equal(result.failure?.kind, 'reply');
      assert.equal(result.failure.stage, 'greeting');
      assert.equal(result.failure.reply?.code, 554);
      assert.equal(result.attempts, 1);
      assert.equal(result.host, 'mx1.rcpt.test');
      assert.equal(good.connections(), 0);
    });

    it('every target says 421: the last 421 is the failure', async () => {
      const [first, second] = await onOnePort(
        { host: '127.66.0.2', greeting: { code: 421, text: 'busy' } },
        { host: '127.66.0.3', greeting: { code: 421, text: 'busy too' } },
      );
      const result = await proberFor(first.port).probe({
        ...request(first),
        targets: [
          { host: 'mx1.rcpt.test', ip: first.host },
          { host: 'mx2.rcpt.test', ip: second.host },
        ],
      });
      assert.equal(result.failure?.kind, 'reply');
      assert.equal(result.failure.reply?.code, 421);
      assert.equal(result.failure.reply.text, 'busy too');
      assert.equal(result.host, 'mx2.rcpt.test');
      assert.equal(result.attempts, 2);
    });
  });

  it('no targets: connection_failed without any connection', async () => {
    const result = await proberFor(25).probe({
      targets: [],
      recipients: ['alice@rcpt.test'],
      catchAllRecipient: null,
      smtputf8: false,
    });
    assert.equal(result.failure?.kind, 'connection_failed');
    assert.equal(result.attempts, 0);
  });

  it('publishes every line on the smtp line channel, and keeps no transcript unless asked', async () => {
    const server = await persona();
    const seen: unknown[] = [];
    const listener = (message: unknown): void => {
      seen.push(message);
    };
    subscribe(CHANNELS.smtpLine, listener);
    try {
      const result = await proberFor(server.port, { transcript: false }).probe(request(server));
      assert.equal(result.transcript, null);
    } finally {
      unsubscribe(CHANNELS.smtpLine, listener);
    }
    const first = seen[0] as { host: string; ip: string; dir: string; line: string };
    assert.deepEqual([first.host, first.ip, first.dir], [MX, '127.0.0.1', '<']);
    assert.match(first.line, /^220 /);
    assert.ok(seen.some((m) => (m as { dir: string; line: string }).line === 'RCPT TO:<alice@rcpt.test>'));
  });

  it('rejects bad options at creation, naming the option', () => {
    assert.throws(() => proberFor(0), { name: 'OptionsError', option: 'port' });
    assert.throws(() => proberFor(25, { helo: 'bad name' }), { name: 'OptionsError', option: 'helo' });
    assert.throws(() => proberFor(25, { mailFrom: 'a@b\r\nDATA' }), {
      name: 'OptionsError',
      option: 'mailFrom',
    });
    assert.throws(() => proberFor(25, { commandTimeoutMs: 0 }), {
      name: 'OptionsError',
      option: 'commandTimeoutMs',
    });
  });

  it('no persona ever received DATA or BDAT', () => {
    const seen = seenVerbs();
    assert.ok(!seen.has('DATA') && !seen.has('BDAT'), `verbs seen: ${[...seen.keys()].join(' ')}`);
    for (const verb of ['EHLO', 'HELO', 'STARTTLS', 'MAIL', 'RCPT', 'QUIT']) assert.ok(seen.has(verb), verb);
  });
});
