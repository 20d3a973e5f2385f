/**
 * verifyMany() through the scheduler, against real servers on loopback (127.0.2.x): a Postfix-like MTA
 * with small error limits (sleeps, then `421 … too many errors`), one with a 3-recipient limit
 * (`452 4.5.3`), a greylisting one, an Outlook.com-shaped one (one RCPT per transaction), an
 * accept-all provider and a shared host serving several domains under their own MX names (smtp-server
 * personas), a dead first MX, and a host that always answers 421. Bulk verdicts must equal
 * address-by-address verdicts; connections, RCPTs and peak connections are counted at the servers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';

import { startSimMta, type SimMta } from '../../../bench/sim-mta.js';
import { startDnsServer, type DnsServer } from '../../../src/demo/dns-server.js';
import { mailboxes, startPersona, type RunningPersona } from '../../../src/demo/smtp-persona.js';
import { createVerifier, type VerifyOptions, type VerifyResult } from '../../../src/index.js';
import { verdictOf, verifyManyResults } from '../../helpers/verify-many-results.js';
import { loopbackOptions } from '../../helpers/world-options.js';

const GREYLIST_MS = 1_000;
/** Mailboxes exist when their local part starts with "ok". */
const okOnly = (address: string) =>
  address.startsWith('ok')
    ? null
    : {
        code: 550,
        text: `5.1.1 <${address}>: Recipient address rejected: User unknown in local recipient table`,
      };

let dns: DnsServer;
let port: number;
let postfix: SimMta;
let limited: SimMta;
let grey: SimMta;
let outlook: SimMta;
let yahoo: RunningPersona;
let shared: RunningPersona;
let blocking: RunningPersona;
let deferring: Server;
let deferringConnections = 0;
const rawSockets = new Set<Socket>();
let base: VerifyOptions;

const range = (prefix: string, count: number, domain: string): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${i + 1}@${domain}`);

/** The list: interleaved good and bad addresses at each kind of server, plus DNS-only and syntax cases. */
const LIST: readonly string[] = [
  ...range('ok', 12, 'big.test').flatMap((ok, i) => [ok, `no${i + 1}@big.test`]),
  ...range('ok', 6, 'limit.test'),
  ...range('no', 3, 'limit.test'),
  'ok1@grey.test',
  'ok2@grey.test',
  'no1@grey.test',
  'ok1@hot.test',
  'no1@hot.test',
  'ok2@hot.test',
  'anyone@aa.test',
  'someone@bb.test',
  ...['s1', 's2', 's3', 's4'].flatMap((d) => [`alice@${d}.test`, `bob@${d}.test`, `zed@${d}.test`]),
  'bob@fallback.test',
  'carol@fallback.test',
  'a@deferring.test',
  'b@deferring.test',
  'user@nullmx.test',
  'user@nowhere.test',
  'bad..dots@s1.test',
];

before(async () => {
  postfix = await startSimMta({
    name: 'big.test',
    host: '127.0.2.2',
    port: 0,
    recipient: okOnly,
    errorLimits: { soft: 3, hard: 6, sleepMs: 100 },
  });
  port = postfix.port;
  limited = await startSimMta({
    name: 'limit.test',
    host: '127.0.2.3',
    port,
    recipient: okOnly,
    recipientLimit: 3,
    record: true,
  });
  grey = await startSimMta({
    name: 'grey.test',
    host: '127.0.2.4',
    port,
    recipient: okOnly,
    greylistMs: GREYLIST_MS,
  });
  outlook = await startSimMta({
    name: 'olc.protection.outlook.com',
    host: '127.0.2.5',
    port,
    recipient: (address) =>
      address.startsWith('ok')
        ? null
        : { code: 550, text: '5.5.0 Requested action not taken: mailbox unavailable' },
    recipientLimit: 1,
  });
  yahoo = await startPersona(
    { name: 'yahoodns.net', banner: 'mta5.am0.yahoodns.net ESMTP ready' },
    '127.0.2.6',
    port,
  );
  shared = await startPersona(
    { name: 'shared.test', onRcptTo: mailboxes(['alice', 'bob']) },
    '127.0.2.7',
    port,
  );
  deferring = createServer((socket) => {
    deferringConnections += 1;
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
    socket.on('error', () => undefined);
    socket.end('421 4.7.0 mx.deferring.test Service temporarily unavailable, try again later\r\n');
  });
  await new Promise<void>((resolve) => deferring.listen(port, '127.0.2.8', resolve));
  blocking = await startPersona(
    {
      name: 'blocking.test',
      onRcptTo: () => ({
        code: 554,
        text: '5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org',
      }),
    },
    '127.0.2.10',
    port,
  );
  const mx = (exchange: string) => ({ MX: [{ priority: 10, exchange }] });
  dns = await startDnsServer({
    zones: {
      'big.test': mx('mx.big.test'),
      'mx.big.test': { A: ['127.0.2.2'] },
      'limit.test': mx('mx.limit.test'),
      'mx.limit.test': { A: ['127.0.2.3'] },
      'grey.test': mx('mx.grey.test'),
      'mx.grey.test': { A: ['127.0.2.4'] },
      'hot.test': mx('hot-test.olc.protection.outlook.com'),
      'hot-test.olc.protection.outlook.com': { A: ['127.0.2.5'] },
      'aa.test': mx('mta5.am0.yahoodns.net'),
      'bb.test': mx('mta6.am0.yahoodns.net'),
      'mta5.am0.yahoodns.net': { A: ['127.0.2.6'] },
      'mta6.am0.yahoodns.net': { A: ['127.0.2.6'] },
      // Four domains, four MX names, one server address: one queue, one cap.
      's1.test': mx('mx.s1.test'),
      's2.test': mx('mx.s2.test'),
      's3.test': mx('mx.s3.test'),
      's4.test': mx('mx.s4.test'),
      'mx.s1.test': { A: ['127.0.2.7'] },
      'mx.s2.test': { A: ['127.0.2.7'] },
      'mx.s3.test': { A: ['127.0.2.7'] },
      'mx.s4.test': { A: ['127.0.2.7'] },
      'fallback.test': {
        MX: [
          { priority: 10, exchange: 'mx-dead.fallback.test' },
          { priority: 20, exchange: 'mx.s1.test' },
        ],
      },
      // Nothing listens on 127.0.2.9.
      'mx-dead.fallback.test': { A: ['127.0.2.9'] },
      'deferring.test': mx('mx.deferring.test'),
      'mx.deferring.test': { A: ['127.0.2.8'] },
      'nullmx.test': { MX: [{ priority: 0, exchange: '.' }] },
      'blocking.test': mx('mx.blocking.test'),
      'mx.blocking.test': { A: ['127.0.2.10'] },
    },
  });
  base = {
    ...loopbackOptions({ dnsServer: dns.address, smtpPort: port }),
    timeoutMs: 8_000,
    connectTimeoutMs: 1_000,
    greylistWaitMs: GREYLIST_MS,
  };
});

after(async () => {
  for (const socket of rawSockets) socket.destroy();
  await Promise.all([
    dns.close(),
    postfix.close(),
    limited.close(),
    grey.close(),
    outlook.close(),
    yahoo.close(),
    shared.close(),
    blocking.close(),
    new Promise((resolve) => deferring.close(resolve)),
  ]);
});

const fast = { backoffMs: 20, maxBackoffMs: 100, hostTries: 3 } as const;

const bulk = (list: readonly string[], options = {}, verifyOptions: VerifyOptions = {}) =>
  verifyManyResults({ ...base, ...verifyOptions }, list, { ...fast, ...options });

function counters() {
  return {
    postfix: { ...postfix.stats },
    limited: { ...limited.stats },
    grey: { ...grey.stats },
    outlook: { ...outlook.stats },
    shared: { ...shared.stats },
    yahoo: { ...yahoo.stats },
  };
}

describe('verifyMany() through the scheduler', () => {
  let bulkResults: Map<string, VerifyResult>;
  let used: Record<string, { connections: number; rcpts: number; peak: number; mails?: number }>;

  let deferringUsed = 0;
  let hardLimitHits = 0;
  /** The RCPTs of each session the run opened at the host with a 3-recipient limit. */
  let limitedSessions: string[][] = [];

  before(async () => {
    const start = counters();
    const startDeferring = deferringConnections;
    const startHard = postfix.stats.hardLimitHits;
    const startLimited = limited.sessions.length;
    for (const server of [postfix, limited, grey, outlook]) server.stats.peak = 0;
    for (const persona of [shared, yahoo]) persona.stats.peak = 0;
    bulkResults = await bulk(LIST);
    limitedSessions = limited.sessions
      .slice(startLimited)
      .map((session) => session.commands.filter((line) => /^RCPT TO:/i.test(line)));
    deferringUsed = deferringConnections - startDeferring;
    hardLimitHits = postfix.stats.hardLimitHits - startHard;
    const end = counters();
    used = Object.fromEntries(
      Object.entries(end).map(([name, stats]) => {
        const before = start[name as keyof typeof start];
        return [
          name,
          {
            connections: stats.connections - before.connections,
            rcpts: stats.rcpts - before.rcpts,
            peak: stats.peak,
            ...('mails' in stats && 'mails' in before ? { mails: stats.mails - before.mails } : {}),
          },
        ];
      }),
    );
  });

  it('yields exactly one result per input', () => {
    assert.equal(bulkResults.size, LIST.length);
    for (const input of LIST) assert.ok(bulkResults.has(input), input);
  });

  it('gives the verdicts that address-by-address verification gives', async () => {
    const verifier = createVerifier(base);
    try {
      const mismatches: string[] = [];
      for (const input of LIST) {
        const single = await verifier.verify(input);
        const many = bulkResults.get(input);
        if (verdictOf(single) !== verdictOf(many))
          mismatches.push(`${input}: single ${verdictOf(single)}, bulk ${verdictOf(many)}`);
        if (single.flags.catchAll !== many?.flags.catchAll)
          mismatches.push(`${input}: catch-all flag differs`);
      }
      assert.deepEqual(mismatches, []);
    } finally {
      await verifier.close();
    }
  });

  it('reads each server the way a person would', () => {
    const expect: Record<string, string> = {
      'ok1@big.test': 'deliverable/accepted',
      'no12@big.test': 'undeliverable/mailbox_not_found',
      'ok6@limit.test': 'deliverable/accepted',
      'no3@limit.test': 'undeliverable/mailbox_not_found',
      'ok1@grey.test': 'deliverable/accepted',
      'no1@grey.test': 'undeliverable/mailbox_not_found',
      'ok2@hot.test': 'deliverable/accepted',
      'no1@hot.test': 'undeliverable/mailbox_not_found',
      'anyone@aa.test': 'risky/accept_all_provider',
      'bob@s3.test': 'deliverable/accepted',
      'zed@s4.test': 'undeliverable/mailbox_not_found',
      'carol@fallback.test': 'undeliverable/mailbox_not_found',
      'user@nullmx.test': 'undeliverable/null_mx',
      'user@nowhere.test': 'undeliverable/domain_not_found',
      'bad..dots@s1.test': 'undeliverable/invalid_syntax',
    };
    for (const [input, verdict] of Object.entries(expect)) {
      assert.equal(verdictOf(bulkResults.get(input)), verdict, input);
    }
    assert.equal(bulkResults.get('bob@fallback.test')?.smtp?.host, 'mx.s1.test');
  });

  it('reschedules greylisted addresses after the window, with the same MAIL FROM', () => {
    const result = bulkResults.get('ok2@grey.test');
    assert.equal(verdictOf(result), 'deliverable/accepted');
    assert.equal(result?.retryAt, null);
    assert.ok((result?.durationMs ?? 0) >= GREYLIST_MS, `durationMs ${String(result?.durationMs)}`);
    // Each address was asked twice (first deferred, then passed); the catch-all probe once.
    assert.equal(used.grey?.rcpts, 3 * 2 + 1);
  });

  it('ends addresses at a host that keeps deferring as unknown, after a bounded number of sessions', () => {
    for (const input of ['a@deferring.test', 'b@deferring.test']) {
      const result = bulkResults.get(input);
      assert.equal(result?.verdict, 'unknown', input);
      assert.equal(result?.smtp?.reply?.code, 421);
    }
    // Both addresses share the host's sessions: hostTries sessions in all, not per address.
    assert.ok(deferringUsed <= fast.hostTries, `connections ${deferringUsed}`);
  });

  it('stays under the Postfix error limits after the first 421, reconnecting for the rest', () => {
    // 12 refusals + 1 catch-all refusal cannot fit in one session under a 6-error hard limit.
    assert.ok((used.postfix?.connections ?? 0) >= 3, `connections ${String(used.postfix?.connections)}`);
    // Addresses cut off by the 421 were asked again; nothing was asked more than twice.
    assert.ok((used.postfix?.rcpts ?? 0) <= 24 + 1 + 6, `rcpts ${String(used.postfix?.rcpts)}`);
    // The limit is learned from the first 421: at most one more by the other session open at the time.
    assert.ok(hardLimitHits <= 2, `hard limit hit ${hardLimitHits} times`);
  });

  it('sends the rest of a batch in the next transaction after 452 4.5.3, not as a verdict', () => {
    // 9 addresses and a catch-all probe: 10 RCPTs answered, plus the 452s of the first pipelined batch
    // (up to all 10 sent before the limit of 3 was known); after that, batches of 3.
    assert.ok((used.limited?.rcpts ?? 0) <= 10 + (10 - 3), `rcpts ${String(used.limited?.rcpts)}`);
    // The rest goes in the next transaction of the same session: the two sessions the queue justifies
    // ask every address. Another session may ask the catch-all probe alone: one refused after a
    // refusal of its session, at a host not yet seen to accept after one, proves nothing and is asked
    // again in a fresh session (whether the addresses before it were refused depends on how the
    // batches fell). One opened for a queue the other sessions drained asks nothing.
    const asked = limitedSessions.map((rcpts) => rcpts.join(' ') || '(none)').join(' | ');
    const withAddresses = limitedSessions.filter((rcpts) => rcpts.some((line) => /<(ok|no)\d/.test(line)));
    const probeAlone = limitedSessions.filter((rcpts) => !withAddresses.includes(rcpts) && rcpts.length > 0);
    assert.ok(withAddresses.length <= 2, asked);
    assert.ok(probeAlone.length <= 1 && probeAlone.every((rcpts) => rcpts.length === 1), asked);
  });

  it('sends one RCPT per transaction to Outlook.com', () => {
    assert.equal(used.outlook?.rcpts, used.outlook?.mails);
    // 3 addresses and the catch-all probe; the probe once more when its first asking came after the
    // refusal of no1@ in a session before the host was seen to accept anything after a refusal.
    const rcpts = used.outlook?.rcpts ?? 0;
    assert.ok(rcpts === 3 + 1 || rcpts === 3 + 2, `${rcpts} RCPTs`);
  });

  it('shares sessions between domains whose MX names resolve to one address', () => {
    // 12 addresses at 4 domains (+ 4 catch-all probes) and bob@fallback.test, carol@fallback.test
    // (+ 1): 19 RCPTs, each once, in far fewer connections than addresses.
    assert.equal(used.shared?.rcpts, 12 + 4 + 2 + 1);
    assert.ok((used.shared?.connections ?? 0) <= 3, `connections ${String(used.shared?.connections)}`);
    // Two domains, two MX names, one address: a second session only once four addresses queue there.
    assert.ok((used.yahoo?.connections ?? 0) <= 2, `connections ${String(used.yahoo?.connections)}`);
  });

  it('never opens more connections to a host than the cap (2)', () => {
    for (const [name, stats] of Object.entries(used))
      assert.ok(stats.peak <= 2, `${name} peak ${stats.peak}`);
  });
});

describe('verifyMany() politeness and memory', () => {
  it('takes a permanent block of our sender as the answer for each address, without asking again', async () => {
    const before = blocking.stats.rcpts;
    const list = ['a@blocking.test', 'b@blocking.test', 'c@blocking.test'];
    const results = await bulk(list);
    for (const input of list) assert.equal(verdictOf(results.get(input)), 'unknown/sender_blocked', input);
    // One RCPT per address and at most one catch-all probe: no retries after backoffs.
    assert.ok(blocking.stats.rcpts - before <= list.length + 1, `${blocking.stats.rcpts - before} RCPTs`);
    // A block says nothing about catch-all.
    assert.equal(results.get('a@blocking.test')?.smtp?.catchAll, null);
  });

  it('holds the cap of 1 connection per host address', async () => {
    const list = ['s1', 's2', 's3', 's4'].flatMap((d) => range('alice', 15, `${d}.test`));
    shared.stats.peak = 0;
    const before = shared.stats.connections;
    const results = await bulk(list, { hostConcurrency: 1 });
    assert.equal(results.size, list.length);
    assert.equal(shared.stats.peak, 1);
    // 60 refused addresses and 4 refused probes, nine refusals a session at most.
    assert.ok(shared.stats.connections - before <= Math.ceil(64 / 8), `${shared.stats.connections - before}`);
  });

  it('reaches but never exceeds a cap of 2 on a long list', async () => {
    const list = ['s1', 's2'].flatMap((d) => range('bob', 40, `${d}.test`));
    shared.stats.peak = 0;
    const results = await bulk(list, { hostConcurrency: 2 }, { catchAll: false });
    assert.equal(results.size, list.length);
    assert.equal(shared.stats.peak, 2);
  });

  it('reads the input lazily: never more than `concurrency` addresses read and not yet yielded', async () => {
    let pulled = 0;
    let yielded = 0;
    let widest = 0;
    function* source() {
      for (let i = 0; i < 120; i += 1) {
        pulled += 1;
        widest = Math.max(widest, pulled - yielded);
        yield `user${i}@${i % 3 === 0 ? 'nullmx.test' : 's2.test'}`;
      }
    }
    const verifier = createVerifier(base);
    try {
      for await (const result of verifier.verifyMany(source(), { concurrency: 10 })) {
        assert.ok(result.input.startsWith('user'), result.input);
        yielded += 1;
      }
    } finally {
      await verifier.close();
    }
    assert.equal(yielded, 120);
    assert.ok(widest <= 10, `widest window ${widest}`);
  });

  it('lets timers run while answers come from the DNS cache alone', async () => {
    // Cached answers settle as promise jobs only: without turns of the event loop, a progress timer or
    // Ctrl-C would wait until the whole list is done.
    const count = 20_000;
    const list = Array.from({ length: count }, (_, i) => `user${i}@nullmx.test`);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks += 1;
    }, 1);
    let ticksAtFirst = -1;
    let seen = 0;
    const verifier = createVerifier(base);
    try {
      for await (const result of verifier.verifyMany(list)) {
        assert.equal(verdictOf(result), 'undeliverable/null_mx');
        seen += 1;
        if (seen === 1_000) ticksAtFirst = ticks;
      }
    } finally {
      clearInterval(timer);
      await verifier.close();
    }
    assert.equal(seen, count);
    assert.ok(ticks > ticksAtFirst, `the timer never ran after result 1,000 (ticks ${ticks})`);
  });

  it('ends every address in flight as unknown/timeout when the caller aborts', async () => {
    const controller = new AbortController();
    const list = ['ok1@grey.test', 'ok9@grey.test', 'user@nullmx.test'];
    const verifier = createVerifier(base);
    const results: VerifyResult[] = [];
    setTimeout(() => {
      controller.abort();
    }, 300);
    try {
      for await (const result of verifier.verifyMany(list, { signal: controller.signal }))
        results.push(result);
    } finally {
      await verifier.close();
    }
    assert.equal(results.length, list.length);
    // ok9 is greylisted (new triplet) and waiting for its retry when the abort comes.
    const waiting = results.find((r) => r.input === 'ok9@grey.test');
    assert.equal(verdictOf(waiting), 'unknown/timeout');
    assert.equal(verdictOf(results.find((r) => r.input === 'user@nullmx.test')), 'undeliverable/null_mx');
  });

  it('rejects bad scheduler options naming the option', async () => {
    const verifier = createVerifier(base);
    assert.throws(() => verifier.verifyMany([], { hostConcurrency: 0 }), /hostConcurrency/);
    assert.throws(() => verifier.verifyMany([], { hostTries: 1.5 }), /hostTries/);
    assert.throws(() => verifier.verifyMany([], { greylistRetries: -1 }), /greylistRetries/);
    await verifier.close();
  });
});
