/**
 * Hostile and broken servers (a raw `net` server, byte-exact): each probe must end within a small
 * deadline with the right failure kind and stage, and leave no socket or timer behind.
 */
import { after, describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import { performance } from 'node:perf_hooks';
import { createProber, type ProberOptions } from '../../../src/smtp/probe.js';
import type { ProbeRequest, ProbeResult } from '../../../src/types.js';
import {
  answer,
  startRawServer,
  type RawConnection,
  type RawScript,
  type RawServer,
} from '../../helpers/smtp-raw-server.js';
import { seenVerbs } from '../../helpers/smtp-verb-log.js';

const TIMEOUT_MS = 200;
const servers: RawServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

const EHLO_PIPELINING = '250-mx.rcpt.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n';
const EHLO_STARTTLS = '250-mx.rcpt.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n';
const OK: Record<string, string> = {
  EHLO: EHLO_PIPELINING,
  MAIL: '250 2.1.0 Ok\r\n',
  RCPT: '250 2.1.5 Ok\r\n',
  RSET: '250 2.0.0 Ok\r\n',
  QUIT: '221 2.0.0 Bye\r\n',
};

function counts(): Record<string, number> {
  const result: Record<string, number> = {};
  for (const resource of process.getActiveResourcesInfo()) result[resource] = (result[resource] ?? 0) + 1;
  return result;
}

interface Run {
  readonly result: ProbeResult & { readonly tlsFallback: string | null };
  readonly elapsedMs: number;
  readonly server: RawServer;
}

/**
 * Runs one probe against a raw server, then checks that the client closed every connection (the
 * server sees them all closed) and that no timer or socket outlived the probe.
 */
async function run(
  script: RawScript,
  overrides: Partial<ProberOptions> = {},
  requestOverrides: Partial<ProbeRequest> = {},
): Promise<Run> {
  const server = await startRawServer(script);
  servers.push(server);
  const before = counts();
  const prober = createProber({
    port: server.port,
    helo: 'probe.rcpt.test',
    mailFrom: 'verify@rcpt.test',
    connectTimeoutMs: TIMEOUT_MS,
    greetingTimeoutMs: TIMEOUT_MS,
    commandTimeoutMs: TIMEOUT_MS,
    startTls: true,
    transcript: true,
    localAddress: null,
    ...overrides,
  });
  const started = performance.now();
  const result = await prober.probe({
    targets: [{ host: 'mx.rcpt.test', ip: server.host }],
    recipients: ['alice@rcpt.test'],
    catchAllRecipient: 'x7q2zr9k@rcpt.test',
    smtputf8: false,
    ...requestOverrides,
  });
  const elapsedMs = performance.now() - started;
  await server.settled(5_000);
  const leftover = counts();
  for (const kind of ['Timeout', 'TCPSocketWrap', 'TLSWrap']) {
    assert.ok((leftover[kind] ?? 0) <= (before[kind] ?? 0), `${kind} leaked: ${JSON.stringify(leftover)}`);
  }
  return { result, elapsedMs, server };
}

const greet = (connection: RawConnection): void => {
  connection.write('220 mx.rcpt.test ESMTP\r\n');
};

describe('prober against hostile servers', () => {
  it('a tarpit that never sends a banner: timeout at greeting', async () => {
    const { result, elapsedMs } = await run((c) => c.closed);
    assert.equal(result.failure?.kind, 'timeout');
    assert.equal(result.failure.stage, 'greeting');
    assert.match(result.failure.message, /mx\.rcpt\.test \(127\.0\.0\.1:\d+\).*200 ms/);
    assert.equal(result.host, 'mx.rcpt.test');
    assert.equal(result.attempts, 1);
    assert.ok(elapsedMs >= TIMEOUT_MS - 5 && elapsedMs < TIMEOUT_MS + 500, `took ${elapsedMs} ms`);
  });

  it('a banner trickled a byte at a time: the timeout covers the whole reply', async () => {
    const { result, elapsedMs } = await run((c) => c.trickle(`220 ${'x'.repeat(200)}\r\n`, 20));
    assert.equal(result.failure?.kind, 'timeout');
    assert.equal(result.failure.stage, 'greeting');
    assert.ok(elapsedMs < TIMEOUT_MS + 500, `took ${elapsedMs} ms`);
  });

  it('a RCPT reply trickled: timeout at rcpt, earlier replies kept', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write(EHLO_PIPELINING);
      await c.readLine(); // MAIL, RCPT, RCPT, QUIT arrive as one group
      c.write('250 2.1.0 Ok\r\n550 5.1.1 <alice@rcpt.test>: User unknown\r\n');
      await c.trickle('250 2.1.5 Ok, eventually\r\n', 30);
    });
    assert.equal(result.failure?.kind, 'timeout');
    assert.equal(result.failure.stage, 'rcpt');
    assert.deepEqual(
      result.replies.map((r) => [r.recipient, r.reply.code, r.reply.enhanced]),
      [['alice@rcpt.test', 550, '5.1.1']],
    );
    assert.equal(result.catchAll, null);
  });

  it('a 1 MB single line: protocol error at the line cap', async () => {
    const { result, elapsedMs } = await run((c) => {
      c.write(`220 ${'a'.repeat(1024 * 1024)}`);
      return c.closed;
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.equal(result.failure.stage, 'greeting');
    assert.match(result.failure.message, /longer than 4096 octets/);
    assert.ok(elapsedMs < TIMEOUT_MS, `took ${elapsedMs} ms`);
  });

  it('endless continuation lines: protocol error at the line-count cap', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      await c.flood('250-mx.rcpt.test says hello again\r\n');
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.equal(result.failure.stage, 'ehlo');
    assert.match(result.failure.message, /more than 256 lines/);
  });

  it('a connection closed mid-reply: connection_failed, saying so', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write('250-mx.rcpt.test\r\n250-PIPELI');
      c.end();
    });
    assert.equal(result.failure?.kind, 'connection_failed');
    assert.equal(result.failure.stage, 'ehlo');
    assert.match(result.failure.message, /closed the connection while waiting for the reply to EHLO/);
    assert.match(result.failure.message, /incomplete reply/);
  });

  it('a disconnect after the first RCPT reply: that reply is kept', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write(EHLO_PIPELINING);
      await c.readLine();
      c.write('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n');
      c.socket.destroy();
    });
    assert.equal(result.failure?.kind, 'connection_failed');
    assert.equal(result.failure.stage, 'rcpt');
    assert.equal(result.replies[0]?.reply.code, 250);
    assert.equal(result.catchAll, null);
  });

  it('garbage instead of SMTP: protocol error', async () => {
    const { result } = await run((c) => {
      c.write('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
      return c.closed;
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.equal(result.failure.stage, 'greeting');
    assert.match(result.failure.message, /not an SMTP reply line.*HTTP\/1\.1 400/);
  });

  it('mismatched codes in a multi-line reply: protocol error', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write('250-mx.rcpt.test\r\n550 surprise\r\n');
      await c.closed;
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.equal(result.failure.stage, 'ehlo');
  });

  it('an unsolicited reply (two replies to EHLO): protocol error', async () => {
    const { result, server } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write(`${EHLO_PIPELINING}250 and another thing\r\n`);
      await answer(c, OK);
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.match(
      result.failure.message,
      /unexpected reply .*with no command waiting for it: 250 and another thing/,
    );
    assert.deepEqual(result.replies, []);
    assert.ok(!server.lines.some((line) => line.startsWith('MAIL')), 'nothing sent after the protocol error');
  });

  it('a second greeting before EHLO: protocol error', async () => {
    const { result } = await run(async (c) => {
      c.write('220 mx.rcpt.test ESMTP\r\n220 mx.rcpt.test ESMTP again\r\n');
      await answer(c, OK);
    });
    assert.equal(result.failure?.kind, 'protocol_error');
  });

  it('TLS handshake failure after STARTTLS 220: reconnects once in plaintext, and records it', async () => {
    const { result, server } = await run(async (c) => {
      greet(c);
      if (c.index === 0) {
        await c.readLine();
        c.write(EHLO_STARTTLS);
        await c.readLine();
        c.write('220 2.0.0 Ready to start TLS\r\n');
        await c.readLine(); // the ClientHello, as far as a line reader is concerned
        c.write('this is not TLS at all\r\n');
        await c.closed;
        return;
      }
      await answer(c, { ...OK, EHLO: EHLO_STARTTLS });
    });
    assert.equal(result.failure, null);
    assert.equal(result.tls, false);
    assert.match(result.tlsFallback ?? '', /TLS handshake with mx\.rcpt\.test \(127\.0\.0\.1:\d+\) failed/);
    assert.equal(result.attempts, 2);
    assert.equal(server.connections(), 2);
    assert.equal(result.replies[0]?.reply.code, 250);
    assert.equal(server.lines.filter((line) => line === 'STARTTLS').length, 1);
  });

  it('a server that stalls the TLS handshake: timeout, then the plaintext retry', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      if (c.index === 0) {
        await c.readLine();
        c.write(EHLO_STARTTLS);
        await c.readLine();
        c.write('220 2.0.0 Ready to start TLS\r\n');
        await c.closed;
        return;
      }
      await answer(c, { ...OK, EHLO: EHLO_STARTTLS });
    });
    assert.equal(result.failure, null);
    assert.match(result.tlsFallback ?? '', /TLS handshake .* took longer than 200 ms/);
    assert.equal(result.attempts, 2);
  });

  it('TLS required (530) and the handshake fails: tls_error at starttls', async () => {
    const { result } = await run(
      async (c) => {
        greet(c);
        await c.readLine();
        c.write(EHLO_STARTTLS);
        await c.readLine(); // MAIL + RCPTs arrive in one group; answer them all
        c.write('530 5.7.0 Must issue a STARTTLS command first\r\n');
        c.write('503 5.5.1 Error: need MAIL command\r\n'.repeat(2));
        for (;;) {
          const line = await c.readLine();
          if (line === null) return;
          if (line === 'STARTTLS') break;
        }
        c.write('220 2.0.0 Ready to start TLS\r\n');
        await c.delay(20);
        c.write('garbage, not a ServerHello\r\n');
        await c.closed;
      },
      { startTls: false },
    );
    assert.equal(result.failure?.kind, 'tls_error');
    assert.equal(result.failure.stage, 'starttls');
    assert.equal(result.attempts, 1);
  });

  it('plaintext injected after the STARTTLS 220 (CVE-2011-0411 style): protocol error, no fallback', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await c.readLine();
      c.write(EHLO_STARTTLS);
      await c.readLine();
      c.write('220 2.0.0 Ready to start TLS\r\n250 injected\r\n');
      await c.closed;
    });
    assert.equal(result.failure?.kind, 'protocol_error');
    assert.equal(result.failure.stage, 'starttls');
    assert.equal(result.tlsFallback, null);
    assert.equal(result.attempts, 1);
  });

  it('the overall deadline (AbortSignal) ends a slow session and tries no further host', async () => {
    const { result, elapsedMs } = await run(
      (c) => c.closed,
      { greetingTimeoutMs: 10_000 },
      { signal: AbortSignal.timeout(150) },
    );
    assert.equal(result.failure?.kind, 'timeout');
    assert.equal(result.failure.stage, 'greeting');
    assert.match(result.failure.message, /overall deadline/);
    assert.ok(elapsedMs < 1_000, `took ${elapsedMs} ms`);
  });

  it('an already-aborted signal makes no connection', async () => {
    const { result, server } = await run((c) => c.closed, {}, { signal: AbortSignal.abort() });
    assert.equal(result.failure?.kind, 'timeout');
    assert.equal(server.connections(), 0);
  });

  it('a 421 to EHLO is reported as a reply at ehlo', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await answer(c, { ...OK, EHLO: '421 4.7.0 Try again later, closing connection\r\n' });
    });
    assert.equal(result.failure?.kind, 'reply');
    assert.equal(result.failure.stage, 'ehlo');
    assert.equal(result.failure.reply?.code, 421);
  });

  it('MAIL FROM refused: a reply failure at mail, RCPT replies of the group discarded', async () => {
    const { result } = await run(async (c) => {
      greet(c);
      await answer(c, {
        ...OK,
        MAIL: '550 5.7.1 Service unavailable; client [127.0.0.1] blocked using Spamhaus\r\n',
        RCPT: '503 5.5.1 Error: need MAIL command\r\n',
      });
    });
    assert.equal(result.failure?.kind, 'reply');
    assert.equal(result.failure.stage, 'mail');
    assert.equal(result.failure.reply?.enhanced, '5.7.1');
    assert.deepEqual(result.replies, []);
  });

  it('no raw server ever received DATA or BDAT', () => {
    const seen = seenVerbs();
    assert.ok(!seen.has('DATA') && !seen.has('BDAT'), `verbs seen: ${[...seen.keys()].join(' ')}`);
  });
});
