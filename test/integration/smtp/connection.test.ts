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
        assert.throws(() => connection.pipeline([line]), { name: 'SmtpProtocolError' }, line);
      }
      // A forbidden line anywhere in a group stops the whole group before anything is written.
      assert.throws(() => connection.send(['MAIL FROM:<>', 'DATA']), { name: 'SmtpProtocolError' });
      assert.throws(() => connection.pipeline(['RCPT TO:<a@b.test>', 'data']), { name: 'SmtpProtocolError' });
      // A RCPT line in any case passes; the line after it is still checked.
      assert.throws(() => connection.pipeline(['Rcpt TO:<a@b.test>', 'BDAT 1']), {
        name: 'SmtpProtocolError',
      });
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

  it('pipeline(): one promise for a group, its replies in order, or those before the connection ended', async () => {
    const server = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      await c.trickle('250-first\r\n250 line\r\n550 5.1.1 second\r\n251 2.1.5 third\r\n', 1);
      // The second group: one reply of three, then the server hangs up.
      await c.readLine();
      c.write('250 ok\r\n');
      await c.delay(20);
      c.end();
    });
    const connection = await SmtpConnection.connect(options(server));
    try {
      await connection.greeting();
      const whole = await connection.pipeline(['MAIL FROM:<>', 'RCPT TO:<a@b.test>', 'RCPT TO:<c@b.test>']);
      assert.equal(whole.error, null);
      assert.deepEqual(
        whole.replies.map((r) => [r.code, r.enhanced, r.text]),
        [
          [250, null, 'first\nline'],
          [550, '5.1.1', 'second'],
          [251, '2.1.5', 'third'],
        ],
      );
      const cut = await connection.pipeline(['RSET', 'MAIL FROM:<>', 'RCPT TO:<a@b.test>']);
      assert.deepEqual(
        cut.replies.map((r) => r.code),
        [250],
      );
      assert.equal(cut.error?.name, 'SmtpConnectError');
      // Once closed, a group gets no reply and the error that closed it, at once.
      const late = await connection.pipeline(['NOOP']);
      assert.deepEqual([late.replies.length, late.error?.code], [0, cut.error?.code]);
    } finally {
      connection.close();
    }
    // A reply that never comes ends the group with the timeout, naming the command still waiting.
    const silent = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      c.write('250 sender ok\r\n');
      await c.closed;
    });
    const timed = await SmtpConnection.connect(options(silent, { commandTimeoutMs: 200 }));
    try {
      await timed.greeting();
      const { replies, error } = await timed.pipeline(['MAIL FROM:<a@rcpt.test>', 'RCPT TO:<b@rcpt.test>']);
      assert.deepEqual(
        replies.map((r) => r.code),
        [250],
      );
      assert.equal(error?.name, 'SmtpTimeoutError');
      assert.match(error?.message ?? '', /the reply to RCPT from .* took longer than 200 ms/);
    } finally {
      timed.close();
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

  it('a group cut by a hang-up keeps the replies before it; without PIPELINING a refused MAIL sends no RCPT', async () => {
    const session = (server: RawServer) =>
      new SmtpSession({
        host: 'mx.rcpt.test',
        ip: server.host,
        port: server.port,
        helo: 'probe.rcpt.test',
        localAddress: null,
        connectTimeoutMs: 500,
        greetingTimeoutMs: 500,
        commandTimeoutMs: 500,
        startTls: false,
        transcript: null,
      });
    const hangUp = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      c.write('250-mx.rcpt.test\r\n250 PIPELINING\r\n');
      await c.readLine();
      c.write('250 ok\r\n250 2.1.5 ok\r\n');
      await c.delay(20);
      c.end();
    });
    const cut = session(hangUp);
    try {
      assert.equal(await cut.open(), null);
      const result = await cut.transaction({
        mailFrom: '',
        recipients: ['a@rcpt.test', 'b@rcpt.test', 'c@rcpt.test'],
        smtputf8: false,
      });
      assert.deepEqual(
        [
          result.mail?.code,
          result.recipients.map((r) => r.code),
          result.failure?.stage,
          result.failure?.kind,
        ],
        [250, [250], 'rcpt', 'connection_failed'],
      );
    } finally {
      cut.close();
    }
    const lines: string[] = [];
    const plain = await raw(async (c) => {
      c.write('220 hi\r\n');
      await c.readLine();
      c.write('250 mx.rcpt.test\r\n');
      for (;;) {
        const line = await c.readLine();
        if (line === null) return;
        lines.push(line);
        c.write(line.startsWith('MAIL') ? '550 5.7.1 sender refused\r\n' : '250 ok\r\n');
      }
    });
    const refused = session(plain);
    try {
      assert.equal(await refused.open(), null);
      const result = await refused.transaction({
        mailFrom: 'probe@rcpt.test',
        recipients: ['a@rcpt.test', 'b@rcpt.test'],
        smtputf8: false,
        reset: true,
      });
      assert.deepEqual(
        [result.mail?.code, result.recipients.length, result.failure?.stage, result.failure?.kind],
        [550, 0, 'mail', 'reply'],
      );
      await refused.quit();
    } finally {
      refused.close();
    }
    await plain.settled();
    assert.deepEqual(lines, ['RSET', 'MAIL FROM:<probe@rcpt.test>', 'QUIT']);
  });
});
