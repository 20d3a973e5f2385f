/**
 * `SessionTransaction.cutAt`: a transaction cut at a reply gives the replies up to it and a failure,
 * never a reply for an RCPT that had none. Pipelined, the connection is dropped at once, so the server
 * sends none of the replies still owed (each a second late past its soft error limit) and no QUIT is
 * waited for; one command at a time, the RCPTs after the cut are never sent. Against the sim-MTA on
 * loopback with Postfix's error limits (every reply after a session's 2nd refusal a second late),
 * counted by the server: replies owed late, and those it sent.
 */
import { after, before, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { SmtpSession } from '../../../src/smtp/session.js';
import { okExists } from '../../helpers/sim-world.js';

const RECIPIENTS = ['no1@cut.test', 'no2@cut.test', 'ok3@cut.test', 'ok4@cut.test', 'ok5@cut.test'];

const servers = new Map<boolean, SimMta>();

before(async () => {
  for (const [pipelining, host] of [
    [true, '127.0.6.1'],
    [false, '127.0.6.2'],
  ] as const)
    servers.set(
      pipelining,
      await startSimMta({
        name: 'cut.test',
        host,
        port: 0,
        banner: 'mx.cut.test ESMTP',
        pipelining,
        recipient: okExists,
        errorLimits: { soft: 2, hard: 10, sleepMs: 1_000 },
        record: true,
      }),
    );
});

after(async () => {
  await Promise.all([...servers.values()].map((server) => server.close()));
});

for (const pipelining of [true, false]) {
  describe(`a transaction cut at a reply, ${pipelining ? 'pipelined' : 'one command at a time'}`, () => {
    it('gives the replies up to the cut and a failure, and the server sends no reply after it', async () => {
      const server = servers.get(pipelining);
      assert.ok(server !== undefined);
      const session = new SmtpSession({
        host: 'mx.cut.test',
        ip: server.host,
        port: server.port,
        helo: 'probe.rcpt.test',
        localAddress: null,
        connectTimeoutMs: 2_000,
        greetingTimeoutMs: 2_000,
        commandTimeoutMs: 5_000,
        startTls: false,
        transcript: null,
      });
      const codes: number[] = [];
      try {
        assert.equal(await session.open(), null);
        // Cut at the reply to ok3, the first one past the server's limit (MAIL's, no1's, no2's, ok3's).
        const result = await session.transaction({
          mailFrom: '',
          recipients: RECIPIENTS,
          smtputf8: false,
          cutAt: (code) => codes.push(code) === 4,
        });
        assert.deepEqual(codes, [250, 550, 550, 250]);
        assert.deepEqual(
          result.recipients.map((reply) => reply.code),
          [550, 550, 250],
        );
        assert.equal(result.failure?.stage, 'rcpt');
        assert.match(result.failure.message, /cut at a late reply/);
        await session.quit();
      } finally {
        session.close();
      }
      await server.settled(5_000);
      const [seen] = server.sessions;
      assert.ok(seen !== undefined);
      // The one late reply read; pipelined, the two RCPTs after it were taken up (owed late) but
      // their replies never sent, and no QUIT followed; one at a time they were never sent, and QUIT was.
      assert.equal(seen.sleptRepliesSent, 1);
      const rcpts = seen.commands.filter((line) => line.startsWith('RCPT'));
      if (pipelining) {
        assert.equal(rcpts.length, 5);
        assert.equal(seen.sleptReplies, 3);
        assert.equal(seen.commands.includes('QUIT'), false);
      } else {
        assert.equal(rcpts.length, 3);
        assert.equal(seen.commands.at(-1), 'QUIT');
      }
    });
  });
}
