/**
 * `SmtpConnection` and `SmtpSession` directly, against a raw server and an smtp-server persona: the
 * FIFO, the refusal to send DATA, local binding, and session reuse for several transactions.
 */
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { performance } from 'node:perf_hooks';
import { SmtpConnection, type ConnectionOptions } from '../../../src/smtp/connection.js';
import { SmtpSession } from '../../../src/smtp/session.js';
import type { TranscriptEntry } from '../../../src/types.js';
import { startRawServer, type RawScript, type RawServer } from '../../helpers/smtp-raw-server.js';
import { startWatchedPersona, type WatchedPersona } from '../../helpers/watched-persona.js';

const raws: RawServer[] = [];
const personas: WatchedPersona[] = [];
after(async () => {
  await Promise.all([...raws.map((s) => s.close()), ...personas.map((s) => s.close())]);
});

async function raw(script: RawScript): Promise<RawServer> {
  const server = await startRawServer(script);
  raws.push(server);
  return server;
}

function options(server: { host: string; port: number }, extra: Partial<ConnectionOptions> = {}) {
  return {
    host: 'mx.rcpt.test',
    ip: server.host,
    port: server.port,
    localAddress: null,
    connectTimeoutMs: 500,
    greetingTimeoutMs: 500,
    commandTimeoutMs: 500,
    transcript: null,
    startedAt: performance.now(),
    ...extra,
  } satisfies ConnectionOptions;
}

describe('SmtpConnection', () => {
  it('refuses to send DATA, BDAT, STARTTLS outside startTls(), and lines with CR or LF', async () => {
    const server = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.closed;
    });
    const connection = await SmtpConnection.connect(options(server));
    try {
      await connection.greeting();
      for (const line of [
        'DATA',
        'data',
        'BDAT 10 LAST',
        'STARTTLS',
        'RCPT TO:<a@b.test>\r\nDATA',
        'NOOP\n',
      ]) {
        assert.throws(() => connection.send([line]), { name: 'SmtpProtocolError' }, line);
      }
      // A forbidden line anywhere in a group stops the whole group before anything is written.
      assert.throws(() => connection.send(['MAIL FROM:<>', 'DATA']), { name: 'SmtpProtocolError' });
      const noop = connection.command('NOOP');
      connection.close();
      await assert.rejects(noop, { code: 'ERR_RCPT_CLOSED' });
    } finally {
      connection.close();
    }
    await server.settled();
    assert.deepEqual(server.lines, ['NOOP']);
  });

  it('matches pipelined replies to commands in order, even when they arrive byte by byte', async () => {
    const server = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      await c.trickle('250-first\r\n250 line\r\n550 5.1.1 second\r\n251 2.1.5 third\r\n', 1);
      await c.closed;
    });
    const transcript: TranscriptEntry[] = [];
    const connection = await SmtpConnection.connect(options(server, { transcript }));
    try {
      await connection.greeting();
      const replies = await Promise.all(
        connection.send(['MAIL FROM:<>', 'RCPT TO:<a@b.test>', 'RCPT TO:<c@b.test>']),
      );
      assert.deepEqual(
        replies.map((r) => [r.code, r.enhanced, r.text]),
        [
          [250, null, 'first\nline'],
          [550, '5.1.1', 'second'],
          [251, '2.1.5', 'third'],
        ],
      );
      assert.deepEqual(
        transcript.map((e) => `${e.dir} ${e.line}`),
        [
          '< 220 hi',
          '> MAIL FROM:<>',
          '> RCPT TO:<a@b.test>',
          '> RCPT TO:<c@b.test>',
          '< 250-first',
          '< 250 line',
          '< 550 5.1.1 second',
          '< 251 2.1.5 third',
        ],
      );
    } finally {
      connection.close();
    }
  });

  it('each pipelined reply gets its own full command timeout, counted from the previous reply', async () => {
    const server = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      // Each reply comes 150 ms after the previous one: 450 ms in all, over a 300 ms timeout.
      for (const reply of ['250 a\r\n', '250 b\r\n', '250 c\r\n']) {
        await c.delay(150);
        c.write(reply);
      }
      await c.closed;
    });
    const connection = await SmtpConnection.connect(options(server, { commandTimeoutMs: 300 }));
    try {
      await connection.greeting();
      const replies = await Promise.all(connection.send(['NOOP', 'NOOP', 'NOOP']));
      assert.deepEqual(
        replies.map((r) => r.text),
        ['a', 'b', 'c'],
      );
    } finally {
      connection.close();
    }
  });

  it('a pipelined command whose reply never comes times out under its own name and timeout', async () => {
    const server = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      await c.delay(20);
      c.write('250 sender ok\r\n');
      await c.readLine();
      await c.readLine();
      await c.closed;
    });
    const connection = await SmtpConnection.connect(options(server, { commandTimeoutMs: 200 }));
    try {
      await connection.greeting();
      const [mail, rcpt] = connection.send(['MAIL FROM:<a@rcpt.test>', 'RCPT TO:<b@rcpt.test>']);
      assert.equal((await mail)?.code, 250);
      // The timeout names RCPT, the command still waiting once MAIL is answered.
      await assert.rejects(rcpt ?? Promise.resolve(), (error: Error) => {
        assert.equal(error.name, 'SmtpTimeoutError');
        assert.equal((error as Error & { phase: string }).phase, 'command');
        assert.match(error.message, /the reply to RCPT from .* took longer than 200 ms/);
        return true;
      });
    } finally {
      connection.close();
    }
    // A command of another timeout, next in line, gets a timer of its own when its turn comes.
    const quiet = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      await c.readLine();
      c.write('250 ok\r\n');
      await c.closed;
    });
    const second = await SmtpConnection.connect(options(quiet, { commandTimeoutMs: 5_000 }));
    try {
      await second.greeting();
      const noop = second.command('NOOP');
      const quit = second.command('QUIT', { timeoutMs: 100 });
      assert.equal((await noop).code, 250);
      await assert.rejects(quit, /the reply to QUIT .* took longer than 100 ms/);
    } finally {
      second.close();
    }
  });

  it('binds to the local address it is given', async () => {
    let peer: string | undefined;
    const server = await raw(async (c) => {
      peer = c.socket.remoteAddress;
      c.write('220 hi\r\n');
      await c.closed;
    });
    const connection = await SmtpConnection.connect(options(server, { localAddress: '127.0.0.5' }));
    try {
      await connection.greeting();
      assert.equal(peer, '127.0.0.5');
    } finally {
      connection.close();
    }
  });

  it('talks to an IPv6 target (::1), naming it [::1] in messages', async () => {
    const server = await startWatchedPersona({ listen: { host: '::1', port: 0 } });
    personas.push(server);
    const connection = await SmtpConnection.connect(options(server));
    try {
      assert.equal(connection.where, `mx.rcpt.test ([::1]:${server.port})`);
      assert.equal((await connection.greeting()).code, 220);
    } finally {
      connection.close();
    }
  });

  it('a refused connection is an SmtpConnectError naming host and port, with the cause kept', async () => {
    const server = await raw(() => Promise.resolve());
    await server.close();
    await assert.rejects(SmtpConnection.connect(options(server)), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(error.name, 'SmtpConnectError');
      assert.match(
        error.message,
        new RegExp(`mx\\.rcpt\\.test \\(127\\.0\\.0\\.1:${server.port}\\).*ECONNREFUSED`),
      );
      assert.equal((error.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
      return true;
    });
  });
});

describe('SmtpSession', () => {
  it('runs several transactions on one connection, RSET pipelined between them', async () => {
    const server = await startWatchedPersona({ users: ['alice@rcpt.test', 'carol@rcpt.test'] });
    personas.push(server);
    const session = new SmtpSession({
      host: 'mx.rcpt.test',
      ip: server.host,
      port: server.port,
      helo: 'probe.rcpt.test',
      localAddress: null,
      connectTimeoutMs: 500,
      greetingTimeoutMs: 1_000,
      commandTimeoutMs: 1_000,
      startTls: true,
      transcript: null,
    });
    try {
      assert.equal(await session.open(), null);
      const first = await session.transaction({
        mailFrom: '',
        recipients: ['alice@rcpt.test', 'bob@rcpt.test'],
        smtputf8: false,
      });
      const second = await session.transaction({
        mailFrom: '',
        recipients: ['carol@rcpt.test'],
        smtputf8: false,
        reset: true,
        quit: true,
      });
      assert.deepEqual(
        [first.failure, first.mail?.code, ...first.recipients.map((r) => r.code)],
        [null, 250, 250, 550],
      );
      assert.deepEqual([second.failure, second.mail?.code, second.recipients[0]?.code], [null, 250, 250]);
      await session.quit();
    } finally {
      session.close();
    }
    assert.deepEqual(server.commands, [
      'EHLO probe.rcpt.test',
      'MAIL FROM:<>',
      'RCPT TO:<alice@rcpt.test>',
      'RCPT TO:<bob@rcpt.test>',
      'RSET',
      'MAIL FROM:<>',
      'RCPT TO:<carol@rcpt.test>',
      'QUIT',
    ]);
    // EHLO, the first group, and RSET+MAIL+RCPT+QUIT as the second group.
    assert.deepEqual(server.flights, [3]);
    assert.equal(server.connections(), 1);
  });
});
