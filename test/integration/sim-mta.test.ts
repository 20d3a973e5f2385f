/**
 * The simulated MTA of the bulk benchmark and the scheduler tests (bench/sim-mta.ts) answers pipelined
 * commands in command order (RFC 2920 §3.1), whatever the latency and the error-limit sleeps do to the
 * time each reply is due: a whole session is written at once, many times over, and every reply must
 * be the one for its command. Replies are told apart by the address they name.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { startSimMta, type SimMta } from '../../bench/sim-mta.js';

/** Reads whole replies (a `250-` line continues, `250 ` ends one) until the connection closes. */
function session(host: string, port: number, commands: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const replies: string[] = [];
    let buffer = '';
    let current: string[] = [];
    let sent = false;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end !== -1; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        current.push(line);
        if (line[3] === '-') continue;
        replies.push(current.join('\n'));
        current = [];
      }
      // The greeting first, then the whole session in one write: every later command is pipelined.
      if (!sent && replies.length > 0) {
        sent = true;
        socket.write(commands.map((command) => `${command}\r\n`).join(''));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      resolve(replies);
    });
  });
}

/** A session whose replies all differ: refused RCPTs name their address, NOOPs and RSETs in between. */
function script(round: number): { commands: string[]; expected: RegExp[] } {
  const commands = ['EHLO probe.test', 'MAIL FROM:<bounce@probe.test>'];
  const expected = [/^220 /, /^250-mx\.order\.test\n(250-.*\n)*250 SMTPUTF8$/, /^250 2\.1\.0 /];
  for (let i = 0; i < 40; i++) {
    const address = `${i % 3 === 0 ? 'ok' : 'no'}${round}x${i}@order.test`;
    commands.push(`RCPT TO:<${address}>`);
    expected.push(i % 3 === 0 ? /^250 2\.1\.5 Ok$/ : new RegExp(`^550 5\\.1\\.1 <${address}>: `));
    if (i % 7 === 6) {
      commands.push('NOOP');
      expected.push(/^250 2\.0\.0 Ok$/);
    }
    if (i % 13 === 12) {
      commands.push('RSET', 'MAIL FROM:<bounce@probe.test>');
      expected.push(/^250 2\.0\.0 Ok$/, /^250 2\.1\.0 Ok$/);
    }
  }
  commands.push('QUIT');
  expected.push(/^221 /);
  return { commands, expected };
}

describe('sim-mta reply order (RFC 2920)', () => {
  const servers: SimMta[] = [];

  before(async () => {
    for (const [latencyMs, index] of [
      [0, 1],
      [1, 2],
      [3, 3],
    ] as const) {
      servers.push(
        await startSimMta({
          name: 'order.test',
          host: `127.0.0.${index}`,
          port: 0,
          latencyMs,
          recipient: (address) =>
            address.startsWith('no')
              ? { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` }
              : null,
          // From the 5th error on, every reply waits 1 ms more: replies due at uneven times.
          errorLimits: { soft: 5, hard: 10_000, sleepMs: 1 },
        }),
      );
    }
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  it('answers every pipelined command in order, 600 sessions, 10 at a time', async () => {
    let checked = 0;
    for (let round = 0; round < 60; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, slot) => {
          const server = servers[slot % servers.length];
          assert.ok(server !== undefined);
          const { commands, expected } = script(round * 10 + slot);
          const replies = await session(server.host, server.port, commands);
          assert.equal(replies.length, expected.length, `${server.host}: ${replies.length} replies`);
          expected.forEach((pattern, i) => {
            assert.match(
              replies[i] ?? '',
              pattern,
              `${server.host} reply ${i} to ${i === 0 ? 'the greeting' : commands[i - 1]}`,
            );
          });
          checked += 1;
        }),
      );
    }
    assert.equal(checked, 600);
  });
});
