/**
 * verify() end to end against real servers on loopback: the demo world's DNS server (real DNS packets
 * over UDP/TCP) and its smtp-server personas, plus raw TCP servers for misbehaviour.
 */
import { createHook } from 'node:async_hooks';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';

import { DEMO_GREYLIST_WINDOW_MS, startDemoWorld, type DemoWorld } from '../../src/demo/world.js';
import { startDnsServer, type DnsServer } from '../../src/demo/dns-server.js';
import { startPersona, mailboxes, type RunningPersona } from '../../src/demo/smtp-persona.js';
import {
  ArgumentError,
  createVerifier,
  isVerifyError,
  verify,
  type Reason,
  type Verdict,
  type VerifyOptions,
} from '../../src/index.js';
import { REASONS } from '../../src/types.js';
import { worldOptions } from '../helpers/world-options.js';

let world: DemoWorld;
let base: VerifyOptions;

before(async () => {
  world = await startDemoWorld();
  base = worldOptions(world);
});

after(async () => {
  await world.close();
});

/**
 * A raw SMTP server script: greets, then hands each received line (upper-cased, trimmed) to `onLine`,
 * which writes whatever bytes the test needs.
 */
function lineServer(onLine: (line: string, socket: Socket) => void): (socket: Socket) => void {
  return (socket) => {
    socket.write('220 raw ESMTP\r\n');
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let end = buffer.indexOf('\n'); end !== -1; end = buffer.indexOf('\n')) {
        const line = buffer.slice(0, end).trim().toUpperCase();
        buffer = buffer.slice(end + 1);
        onLine(line, socket);
      }
    });
  };
}

/** Reason codes produced by the tests in this file (checked at the end). */
const seen = new Set<Reason>();

async function check(address: string, verdict: Verdict, reason: Reason, options: VerifyOptions = {}) {
  const result = await verify(address, { ...base, ...options });
  seen.add(result.reason);
  assert.equal(result.reason, reason, `${address}: ${JSON.stringify(result.smtp?.reply ?? result.dns)}`);
  assert.equal(result.verdict, verdict);
  assert.equal(result.input, address);
  return result;
}

describe('verify() against the demo world', () => {
  it('accepts a known mailbox, with the MX and the reply as evidence', async () => {
    const result = await check('alice@acme.test', 'deliverable', 'accepted');
    assert.equal(result.address, 'alice@acme.test');
    assert.deepEqual(result.dns?.mx, [{ exchange: 'mx1.acme.test', priority: 10 }]);
    assert.equal(result.smtp?.host, 'mx1.acme.test');
    assert.equal(result.smtp?.ip, '127.0.0.2');
    assert.equal(result.smtp?.port, world.smtpPort);
    assert.equal(result.smtp?.reply?.stage, 'rcpt');
    assert.equal(result.smtp?.reply?.code, 250);
    assert.equal(result.smtp?.catchAll, false);
    assert.equal(result.flags.catchAll, false);
    assert.equal(result.smtp?.transcript, null);
    assert.equal(typeof result.durationMs, 'number');
    assert.ok(!Number.isNaN(Date.parse(result.checkedAt)));
  });

  it('normalises the domain and keeps the local part as typed', async () => {
    const result = await check('Bob@ACME.test', 'deliverable', 'accepted');
    assert.equal(result.address, 'Bob@acme.test');
  });

  it('reads 550 5.1.1 as a missing mailbox', async () => {
    const result = await check('nobody@acme.test', 'undeliverable', 'mailbox_not_found');
    assert.equal(result.smtp?.reply?.code, 550);
    assert.equal(result.smtp?.reply?.enhanced, '5.1.1');
  });

  it('reads 552 5.2.2 as a full mailbox and 550 5.2.1 as a disabled one', async () => {
    await check('carol@acme.test', 'risky', 'mailbox_full');
    await check('dave@acme.test', 'undeliverable', 'mailbox_disabled');
  });

  it('flags role addresses without changing the verdict', async () => {
    const result = await check('info@acme.test', 'deliverable', 'accepted');
    assert.equal(result.flags.role, true);
  });

  it('falls back to the next MX when the first refuses connections', async () => {
    const result = await check('bob@fallback.test', 'deliverable', 'accepted');
    assert.equal(result.smtp?.host, 'mx1.acme.test');
    assert.equal(result.smtp?.attempts, 2);
  });

  it('detects a catch-all domain', async () => {
    const result = await check('anyone@catchall.test', 'risky', 'catch_all');
    assert.equal(result.flags.catchAll, true);
    assert.equal(result.smtp?.catchAll, true);
  });

  it('marks a disposable domain risky', async () => {
    const result = await check('temp123@mailinator.com', 'risky', 'disposable');
    assert.equal(result.flags.disposable, true);
  });

  it('uses the A record when there is no MX (implicit MX)', async () => {
    const result = await check('hello@implicit.test', 'deliverable', 'accepted');
    assert.equal(result.dns?.implicitMx, true);
    assert.equal(result.smtp?.ip, '127.0.0.4');
  });

  it('waits for a slow greeting within the deadline', async () => {
    await check('ann@slow.test', 'deliverable', 'accepted');
  });

  it('times out on a server slower than the deadline', async () => {
    const result = await check('ann@slow.test', 'unknown', 'timeout', {
      timeoutMs: 400,
      greetingTimeoutMs: 300,
    });
    assert.ok(result.durationMs < 5_000);
  });

  it('reports greylisting with a retry time when it cannot wait', async () => {
    const result = await check('first@greylist.test', 'unknown', 'greylisted', { greylistWaitMs: 60_000 });
    assert.ok(result.retryAt !== null && Date.parse(result.retryAt) > Date.now());
    assert.equal(result.smtp?.reply?.code, 450);
  });

  it('retries a greylisted address with the same MAIL FROM and gets through', async () => {
    const result = await check('second@greylist.test', 'deliverable', 'accepted', {
      greylistWaitMs: DEMO_GREYLIST_WINDOW_MS + 300,
    });
    assert.ok(result.durationMs >= DEMO_GREYLIST_WINDOW_MS);
    assert.equal(result.retryAt, null);
  });

  it('never calls a 250 from an accept-all provider deliverable', async () => {
    const result = await check('someone@bigmail.test', 'risky', 'accept_all_provider');
    assert.equal(result.smtp?.provider, 'yahoo');
  });

  it('reads a blocklist rejection as being about the sender', async () => {
    await check('alice@blocked.test', 'unknown', 'sender_blocked');
  });

  it('answers from DNS alone for null MX, no mail server, NXDOMAIN and SERVFAIL', async () => {
    const nullMx = await check('user@nullmx.test', 'undeliverable', 'null_mx');
    assert.equal(nullMx.dns?.nullMx, true);
    assert.equal(nullMx.smtp, null);
    await check('user@nomail.test', 'undeliverable', 'no_mail_server');
    const nx = await check('user@nowhere.test', 'undeliverable', 'domain_not_found');
    assert.equal(nx.dns?.error, 'NXDOMAIN');
    const servfail = await check('user@broken-dns.test', 'unknown', 'dns_error');
    assert.equal(servfail.dns?.error, 'SERVFAIL');
  });

  it('an address that is not a string: ArgumentError (a VerifyError), from verify() and a verifier', async () => {
    const refused = (given: string) => (error: unknown) => {
      assert.ok(error instanceof ArgumentError && isVerifyError(error), String(error));
      assert.equal(error.code, 'ERR_RCPT_ARGUMENT');
      assert.equal(error.argument, 'address');
      assert.equal(error.message, `verify(): the address must be a string, got ${given}`);
      return true;
    };
    await assert.rejects(verify(42 as unknown as string, base), refused('number'));
    await assert.rejects(verify(null as unknown as string, base), refused('null'));
    const verifier = createVerifier(base);
    try {
      await assert.rejects(verifier.verify(['a@acme.test'] as unknown as string), refused('an array'));
      // The verifier goes on.
      assert.equal((await verifier.verify('alice@acme.test')).reason, 'accepted');
    } finally {
      await verifier.close();
    }
  });

  it('rejects bad syntax before any lookup and suggests typo fixes', async () => {
    const bad = await check('alice..smith@acme.test', 'undeliverable', 'invalid_syntax');
    assert.equal(bad.syntax.valid, false);
    assert.equal(bad.syntax.error?.code, 'CONSECUTIVE_DOTS');
    assert.equal(bad.dns, null);
    const typo = await check('alice@gmial.com', 'undeliverable', 'domain_not_found');
    assert.equal(typo.suggestion, 'alice@gmail.com');
  });

  it('refuses loopback MX targets unless allowed', async () => {
    const result = await check('alice@acme.test', 'unknown', 'target_not_allowed', {
      allowPrivateTargets: false,
    });
    assert.equal(result.smtp, null);
  });

  it('keeps the transcript when asked, and never sends DATA', async () => {
    const result = await check('alice@acme.test', 'deliverable', 'accepted', { transcript: true });
    const lines = result.smtp?.transcript?.map((entry) => `${entry.dir} ${entry.line}`) ?? [];
    assert.ok(
      lines.some((line) => line.startsWith('> RCPT TO:<alice@acme.test>')),
      lines.join('\n'),
    );
    assert.ok(lines.some((line) => line.startsWith('> MAIL FROM:<verify@rcpt.test>')));
    assert.ok(!lines.some((line) => /^> (DATA|BDAT)/i.test(line)));
    for (const persona of world.personas) assert.ok(!persona.stats.verbs.includes('DATA'), persona.name);
  });

  it('probes catch-all once per domain per verifier', async () => {
    const persona = world.personas.find((p) => p.name === 'acme.test');
    assert.ok(persona);
    const verifier = createVerifier(base);
    try {
      const before = persona.stats.rcpts;
      await verifier.verify('alice@acme.test');
      await verifier.verify('bob@acme.test');
      // Two addresses and one random catch-all probe.
      assert.equal(persona.stats.rcpts - before, 3);
    } finally {
      await verifier.close();
    }
  });
});

describe('verify() resources', () => {
  it("ends each call's deadline timer with the call", async () => {
    // AbortSignal.timeout() timers are unreferenced, so process.getActiveResourcesInfo() does not list
    // them: async_hooks sees every Timeout created and destroyed (cleared or fired).
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout') live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    });
    const calls = 2_000;
    const verifier = createVerifier(base);
    try {
      // The DNS answer is cached after the first call: the rest are quick, DNS-only verifications.
      assert.equal((await verifier.verify('user@nullmx.test')).reason, 'null_mx');
      const referenced = activeTimeouts();
      hook.enable();
      try {
        for (let i = 0; i < calls; i += 1) {
          assert.equal((await verifier.verify(`user${i}@nullmx.test`)).reason, 'null_mx');
        }
        assert.ok(activeTimeouts() <= referenced, `${activeTimeouts() - referenced} more referenced timers`);
        // Destroy hooks run a turn later.
        for (let turn = 0; turn < 5 && live.size > 0; turn += 1) await new Promise(setImmediate);
      } finally {
        hook.disable();
      }
      assert.equal(live.size, 0, `${live.size} timers of ${calls} verify() calls are still alive`);
    } finally {
      await verifier.close();
    }
  });
});

function activeTimeouts(): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
}

describe('verifyMany()', () => {
  it('yields one result per input, each carrying its input, from a lazy async input', async () => {
    const inputs = [
      'alice@acme.test',
      'nobody@acme.test',
      'user@nullmx.test',
      'anyone@catchall.test',
      'bad..dots@acme.test',
    ];
    let pulled = 0;
    async function* source() {
      for (const input of inputs) {
        pulled += 1;
        yield await Promise.resolve(input);
      }
    }
    const verifier = createVerifier(base);
    try {
      const reasons = new Map<string, Reason>();
      for await (const result of verifier.verifyMany(source(), { concurrency: 2 }))
        reasons.set(result.input, result.reason);
      assert.equal(pulled, inputs.length);
      assert.deepEqual(Object.fromEntries(reasons), {
        'alice@acme.test': 'accepted',
        'nobody@acme.test': 'mailbox_not_found',
        'user@nullmx.test': 'null_mx',
        'anyone@catchall.test': 'catch_all',
        'bad..dots@acme.test': 'invalid_syntax',
      });
    } finally {
      await verifier.close();
    }
  });

  it('stops reading the input when the consumer stops', async () => {
    let pulled = 0;
    function* endless() {
      for (;;) {
        pulled += 1;
        yield `user${pulled}@nullmx.test`;
      }
    }
    const verifier = createVerifier(base);
    try {
      let count = 0;
      for await (const result of verifier.verifyMany(endless(), { concurrency: 3 })) {
        assert.equal(result.reason, 'null_mx');
        if (++count === 5) break;
      }
      assert.ok(pulled <= 5 + 3, `pulled ${pulled}`);
    } finally {
      await verifier.close();
    }
  });

  it('rejects a bad concurrency', async () => {
    const verifier = createVerifier(base);
    assert.throws(() => verifier.verifyMany([], { concurrency: 0 }), /concurrency/);
    await verifier.close();
  });
});

describe('verify() against misbehaving servers', () => {
  let dns: DnsServer;
  let raw: Server;
  let rawPort: number;
  let noUtf8: RunningPersona;
  let rawBehaviour: (socket: Socket) => void = () => undefined;
  const sockets = new Set<Socket>();

  before(async () => {
    raw = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      rawBehaviour(socket);
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.20', resolve));
    rawPort = (raw.address() as { port: number }).port;
    noUtf8 = await startPersona(
      { name: 'ascii.test', smtputf8: false, onRcptTo: mailboxes(['bob']) },
      '127.0.0.21',
      rawPort,
    );
    dns = await startDnsServer({
      zones: {
        'raw.test': { MX: [{ priority: 10, exchange: 'mx.raw.test' }] },
        'mx.raw.test': { A: ['127.0.0.20'] },
        'ascii.test': { A: ['127.0.0.21'] },
        'dead.test': { MX: [{ priority: 10, exchange: 'mx.dead.test' }] },
        'mx.dead.test': { A: ['127.0.0.22'] },
        'silent.test': { behaviour: 'silent' },
      },
    });
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all([dns.close(), noUtf8.close(), new Promise((resolve) => raw.close(resolve))]);
  });

  const options = (): VerifyOptions => ({
    ...base,
    dnsServers: [dns.address],
    smtpPort: rawPort,
    dnsTimeoutMs: 200,
    dnsTries: 1,
    timeoutMs: 3_000,
    commandTimeoutMs: 500,
    greetingTimeoutMs: 500,
  });

  it('reports connection_failed when no MX accepts connections', async () => {
    await check('a@dead.test', 'unknown', 'connection_failed', options());
  });

  it('reports dns_error when the DNS server is silent', async () => {
    const result = await check('a@silent.test', 'unknown', 'dns_error', options());
    assert.equal(result.dns?.error, 'TIMEOUT');
  });

  it('reports protocol_error on garbage', async () => {
    rawBehaviour = (socket) => socket.write('this is not smtp\r\n');
    await check('a@raw.test', 'unknown', 'protocol_error', options());
  });

  it('reports unexpected_reply on a reply it cannot read as anything', async () => {
    rawBehaviour = lineServer((line, socket) => {
      if (line.startsWith('EHLO')) socket.write('250 raw\r\n');
      else if (line.startsWith('RCPT')) socket.write('550 the moon is in the wrong phase\r\n');
      else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
      else socket.write('250 ok\r\n');
    });
    await check('a@raw.test', 'unknown', 'unexpected_reply', options());
  });

  it('reports smtputf8_unsupported for an internationalised local part on a server without SMTPUTF8', async () => {
    const result = await check('jösé@ascii.test', 'unknown', 'smtputf8_unsupported', options());
    assert.equal(result.syntax.smtputf8, true);
  });

  it('reports tls_error when the server requires TLS and the handshake fails', async () => {
    rawBehaviour = lineServer((line, socket) => {
      if (line.startsWith('EHLO')) socket.write('250-raw\r\n250 STARTTLS\r\n');
      else if (line.startsWith('STARTTLS')) {
        // Garbage where the TLS ServerHello should be (sent apart from the 220, which would be injection).
        socket.write('220 go ahead\r\n');
        setTimeout(() => socket.write('not a TLS handshake\r\n'.repeat(20)), 20);
      } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
      else socket.write('530 5.7.0 Must issue a STARTTLS command first\r\n');
    });
    await check('a@raw.test', 'unknown', 'tls_error', options());
  });
});

describe('reason coverage', () => {
  it('every reason code of issue 3 is produced by a test in this file', () => {
    const required: Reason[] = [
      'accepted',
      'invalid_syntax',
      'domain_not_found',
      'null_mx',
      'no_mail_server',
      'mailbox_not_found',
      'mailbox_disabled',
      'mailbox_full',
      'catch_all',
      'disposable',
      'greylisted',
      'timeout',
      'connection_failed',
      'dns_error',
      'tls_error',
      'protocol_error',
      'smtputf8_unsupported',
      'target_not_allowed',
      'unexpected_reply',
      'accept_all_provider',
      'sender_blocked',
    ];
    for (const reason of required) {
      assert.ok(reason in REASONS);
      assert.ok(seen.has(reason), `no test produced ${reason}`);
    }
  });
});
