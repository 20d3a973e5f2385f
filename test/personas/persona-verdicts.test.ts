/**
 * Issue 4's persona suite: `verify()` end to end against in-process servers that answer like Google,
 * Microsoft 365, Outlook.com, Yahoo/AOL, iCloud, Zoho, Yandex, Mail.ru, GMX/Web.de, Proofpoint,
 * Mimecast, Barracuda, IronPort and Trend Micro (the real reply lines of research/providers.md §B), plus
 * generic MTAs (Spamhaus blocks, STARTTLS required, postgrey, 521/556) and hostile servers. Every
 * persona is reached through the loopback DNS under its provider's MX names, so `smtp.provider` is
 * matched as in production. The last test checks that every reason code of docs/result.md was produced.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  REASONS,
  createVerifier,
  verify,
  type Reason,
  type SmtpStage,
  type Verdict,
  type VerifyOptions,
  type VerifyResult,
} from '../../src/index.js';
import {
  IRONPORT_DHAP_THRESHOLD,
  PERSONA_GREYLIST_WINDOW_MS,
  startPersonaWorld,
  type PersonaWorld,
} from './personas.js';
import { startRawSocksServer, type RawSocksBehaviour } from '../helpers/socks-raw-server.js';
import { loopbackOptions } from '../helpers/world-options.js';

let world: PersonaWorld;
let base: VerifyOptions;
/** Active `Timeout` handles before any verification ran. */
let baselineTimers = 0;

before(async () => {
  world = await startPersonaWorld();
  base = {
    ...loopbackOptions(world),
    timeoutMs: 5_000,
    connectTimeoutMs: 500,
    greetingTimeoutMs: 1_000,
    commandTimeoutMs: 1_000,
    dnsTimeoutMs: 500,
    greylistWaitMs: 0,
  };
  baselineTimers = activeResources('Timeout');
});

after(async () => {
  await world.close();
});

/** Reason codes produced by the tests in this file (checked at the end). */
const seen = new Set<Reason>();

/** Promise rejections nobody handled, however hostile the server (checked at the end). */
const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

function activeResources(kind: string): number {
  return process.getActiveResourcesInfo().filter((resource) => resource === kind).length;
}

async function run(address: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const result = await verify(address, { ...base, ...options });
  seen.add(result.reason);
  return result;
}

/** `verdict/reason`, as a row states its expectation. */
type Outcome = `${Verdict}/${Reason}`;

/** One expectation: an address at a persona, the verdict and reason, and the evidence behind them. */
interface Row {
  readonly address: string;
  readonly outcome: Outcome;
  /** The code of the reply that decided (`smtp.reply.code`); absent when no reply decided. */
  readonly code?: number;
  /** The stage of that reply. Default `rcpt`. */
  readonly stage?: SmtpStage;
  readonly role?: boolean;
  readonly free?: boolean;
  /** Why this row is here, when the address alone does not say. */
  readonly note?: string;
  readonly options?: VerifyOptions;
}

function row(
  address: string,
  outcome: Outcome,
  code?: number,
  extra: Omit<Row, 'address' | 'outcome'> = {},
): Row {
  return { address, outcome, ...(code === undefined ? {} : { code }), ...extra };
}

/** Options for the rows that let rcpt retry a greylisted address within the deadline. */
const RETRY: VerifyOptions = {
  greylistWaitMs: PERSONA_GREYLIST_WINDOW_MS + 150,
  // The verifier retries only when the wait plus its 5 s margin fits in the deadline.
  timeoutMs: 8_000,
};

/** A greylisting retry fits (250 ms + the 5 s margin), more than one does not. */
const STUBBORN: VerifyOptions = { greylistWaitMs: 250, timeoutMs: 5_600 };

/** Per persona: a title, the `smtp.provider` expected (`null` for generic MTAs), and its rows. */
const TABLE: readonly (readonly [string, string | null, readonly Row[]])[] = [
  [
    'Google (Gmail, Workspace)',
    'google',
    [
      row('alice@gmail.com', 'deliverable/accepted', 250, { free: true }),
      row('nobody@gmail.com', 'undeliverable/mailbox_not_found', 550, {
        note: 'multi-line 550-5.1.1 NoSuchUser',
      }),
      row('olduser@gmail.com', 'undeliverable/mailbox_disabled', 550, { note: 'multi-line 550-5.2.1' }),
      row('inactive@gmail.com', 'undeliverable/mailbox_disabled', 550),
      row('fulluser@gmail.com', 'risky/mailbox_full', 552, { note: '552-5.2.2 OverQuotaPerm' }),
      row('nospace@gmail.com', 'risky/mailbox_full', 552, { note: 'inbox out of storage space' }),
      row('tempfull@gmail.com', 'risky/mailbox_full', 452, { note: 'the one 4xx that proves a mailbox' }),
      row('popular@gmail.com', 'unknown/rate_limited', 450, { note: '450-4.2.1 ReceivingRate' }),
      row('popularperm@gmail.com', 'unknown/rate_limited', 550, { note: '5.2.1 ReceivingRatePerm' }),
      row('postmaster@gmail.com', 'deliverable/accepted', 250, { role: true }),
      row('info@acme-workspace.test', 'deliverable/accepted', 250, { role: true, free: false }),
      row('admin@acme-workspace.test', 'undeliverable/mailbox_not_found', 550, { role: true }),
      row('anyone@catchall-workspace.test', 'risky/catch_all', 250, { note: 'catch-all routing' }),
      row('alice@busy-workspace.test', 'unknown/rate_limited', 421, {
        stage: 'ehlo',
        note: '421 4.7.0 at EHLO',
      }),
      row('alice@fallback-workspace.test', 'deliverable/accepted', 250, { note: 'first MX says 421 first' }),
    ],
  ],
  [
    'Microsoft 365',
    'microsoft365',
    [
      row('alice@contoso.test', 'deliverable/accepted', 250),
      row('nobody@contoso.test', 'undeliverable/mailbox_not_found', 550, {
        note: 'DBEB 5.4.1 Access denied',
      }),
      row('legacy@contoso.test', 'undeliverable/mailbox_not_found', 550, { note: '5.7.504' }),
      row('busy@contoso.test', 'unknown/rate_limited', 451, { note: '451 4.7.500 Server busy' }),
      row('info@contoso.test', 'deliverable/accepted', 250, { role: true }),
      row('admin@contoso.test', 'undeliverable/mailbox_not_found', 550, { role: true }),
      row('nobody@fabrikam.test', 'risky/catch_all', 250, { note: 'tenant without DBEB' }),
      row('alice@contoso.test', 'unknown/rate_limited', 451, {
        stage: 'mail',
        note: '4.7.650 IP reputation',
        options: { mailFrom: 'verify@lowrep.test' },
      }),
      row('alice@contoso.test', 'unknown/sender_blocked', 550, {
        stage: 'mail',
        note: 'MAIL FROM domain on Spamhaus, S8002',
        options: { mailFrom: 'verify@listed.test' },
      }),
    ],
  ],
  [
    'Outlook.com',
    'outlook',
    [
      row('alice@hotmail.com', 'deliverable/accepted', 250, { free: true }),
      row('nobody@hotmail.com', 'undeliverable/mailbox_not_found', 550, {
        note: '5.5.0 mailbox unavailable',
      }),
      row('alice@live.com', 'unknown/sender_blocked', 550, { note: 'S3150 block list' }),
    ],
  ],
  [
    'Yahoo / AOL',
    'yahoo',
    [
      row('alice@yahoo.com', 'risky/accept_all_provider', 250),
      row('nobody-at-all@yahoo.com', 'risky/accept_all_provider', 250, { note: 'refused only after DATA' }),
      row('abuse@aol.com', 'risky/accept_all_provider', 250, { role: true }),
      row('alice@yahoo.com', 'unknown/rate_limited', 421, {
        stage: 'mail',
        note: '[TSS04] at MAIL FROM',
        options: { mailFrom: 'verify@complaints.test' },
      }),
    ],
  ],
  [
    'Apple iCloud',
    'apple',
    [
      row('alice@icloud.com', 'deliverable/accepted', 250),
      row('nobody@icloud.com', 'undeliverable/mailbox_not_found', 550),
      row('sleepy@icloud.com', 'undeliverable/mailbox_disabled', 550, {
        note: '5.1.1 inactive email address',
      }),
      row('hoarder@icloud.com', 'risky/mailbox_full', 552),
      row('moved@icloud.com', 'undeliverable/mailbox_not_found', 550, { note: '5.1.6 no longer on server' }),
    ],
  ],
  [
    'Zoho',
    'zoho',
    [
      row('alice@zoho.com', 'deliverable/accepted', 250),
      row('nobody@zoho.com', 'undeliverable/mailbox_not_found', 550),
      row('restricted@zoho.com', 'unknown/unexpected_reply', 552, { note: 'disabled or full: not guessed' }),
      row('flaky@zoho.com', 'unknown/unexpected_reply', 452),
      row('alice@notzoho.test', 'unknown/sender_blocked', 553, { note: 'Relaying disallowed' }),
    ],
  ],
  [
    'Yandex',
    'yandex',
    [
      row('alice@yandex.ru', 'deliverable/accepted', 250),
      row('nobody@yandex.ru', 'undeliverable/mailbox_not_found', 550, { note: '550 5.7.1 No such user!' }),
      row('hoarder@yandex.ru', 'risky/mailbox_full', 552),
      row('popular@yandex.ru', 'unknown/rate_limited', 450),
      row('guarded@yandex.ru', 'undeliverable/mailbox_disabled', 550, {
        note: 'Policy rejection on the target: a blocked account, per Yandex',
      }),
    ],
  ],
  [
    'Mail.ru',
    'mailru',
    [
      row('alice@mail.ru', 'deliverable/accepted', 250),
      row('nobody@mail.ru', 'undeliverable/mailbox_not_found', 550),
      row('frozen@mail.ru', 'undeliverable/mailbox_disabled', 550),
    ],
  ],
  [
    'GMX / Web.de',
    'gmx',
    [
      row('alice@gmx.net', 'deliverable/accepted', 250),
      row('nobody@gmx.net', 'unknown/unexpected_reply', 550, { note: 'bare "mailbox unavailable"' }),
      row('policy@gmx.net', 'unknown/sender_blocked', 550, { note: '… Reject due to policy restrictions' }),
      row('hoarder@gmx.net', 'risky/mailbox_full', 552),
      row('nobody@web.de', 'unknown/unexpected_reply', 550, { note: 'same servers under web.de' }),
      row('alice@gmx.de', 'unknown/sender_blocked', 554, { stage: 'greeting', note: 'Nemesis 554, bad PTR' }),
    ],
  ],
  [
    'Proofpoint',
    'proofpoint',
    [
      row('alice@ppcustomer.test', 'unknown/greylisted', 421, { note: '4.1.1 verification in progress' }),
      row('bob@ppcustomer.test', 'deliverable/accepted', 250, { note: 'on the retry', options: RETRY }),
      row('nobody@ppcustomer.test', 'undeliverable/mailbox_not_found', 550, {
        note: 'on the retry',
        options: RETRY,
      }),
      row('alice@ppessentials.test', 'deliverable/accepted', 250),
      row('nobody@ppessentials.test', 'undeliverable/mailbox_not_found', 550, {
        note: '5.7.1 marked as invalid',
      }),
      row('alice@ppblocked.test', 'unknown/sender_blocked', 550, { note: 'prs.proofpoint.com' }),
    ],
  ],
  [
    'Mimecast',
    'mimecast',
    [
      row('alice@mimecustomer.test', 'unknown/greylisted', 451, { note: 'no wait allowed' }),
      row('bob@mimecustomer.test', 'undeliverable/mailbox_not_found', 550, {
        note: 'on the retry',
        options: RETRY,
      }),
      row('alice@mimeblock.test', 'unknown/sender_blocked', 550, { note: 'envelope blocked' }),
    ],
  ],
  [
    'Barracuda',
    'barracuda',
    [
      row('alice@cudacustomer.test', 'deliverable/accepted', 250),
      row('nobody@cudacustomer.test', 'undeliverable/mailbox_not_found', 550, { note: 'cuda_nsu 5.1.1' }),
      row('ghost@cudacustomer.test', 'undeliverable/mailbox_not_found', 550, { note: 'No such user' }),
      row('abuser@cudacustomer.test', 'unknown/sender_blocked', 450, { note: 'Policy Rejection- Abuse' }),
      row('later@cudacustomer.test', 'unknown/rate_limited', 421),
      row('info@cudacustomer.test', 'deliverable/accepted', 250, { role: true }),
      row('sales@cudacustomer.test', 'undeliverable/mailbox_not_found', 550, { role: true }),
    ],
  ],
  [
    'Cisco IronPort',
    'ironport',
    [
      row('alice@ironcustomer.test', 'deliverable/accepted', 250),
      row('nobody@ironcustomer.test', 'undeliverable/mailbox_not_found', 550, {
        note: '#5.1.0 Address rejected.',
      }),
      row('alice@ironreject.test', 'unknown/sender_blocked', 554, { stage: 'greeting', note: 'HAT REJECT' }),
    ],
  ],
  [
    'Trend Micro',
    'trendmicro',
    [
      row('alice@trendcustomer.test', 'deliverable/accepted', 250),
      row('nobody@trendcustomer.test', 'undeliverable/mailbox_not_found', 554, {
        note: '5.7.1 Access denied',
      }),
    ],
  ],
  [
    'Generic MTAs',
    null,
    [
      row('alice@blocklisted.test', 'unknown/sender_blocked', 554, { note: 'Spamhaus at RCPT' }),
      row('alice@strict-rbl.test', 'unknown/sender_blocked', 554, {
        stage: 'mail',
        note: 'Spamhaus at MAIL',
      }),
      row('alice@greylist.test', 'unknown/greylisted', 450, { note: 'postgrey, no wait allowed' }),
      row('alice@nomail521.test', 'undeliverable/domain_rejects_mail', 521, { stage: 'greeting' }),
      row('alice@parked.test', 'undeliverable/domain_rejects_mail', 556, { note: '556 5.1.10 nullMX' }),
      row('temp123@mailinator.com', 'risky/disposable', 250),
      row('jösé@greylist.test', 'unknown/smtputf8_unsupported', undefined, { note: 'no SMTPUTF8' }),
    ],
  ],
];

describe('providers and gateways: verdicts from their real reply lines', () => {
  for (const [persona, provider, rows] of TABLE) {
    describe(persona, () => {
      for (const expected of rows) {
        const note = expected.note === undefined ? '' : ` (${expected.note})`;
        it(`${expected.address} → ${expected.outcome}${note}`, async () => {
          const result = await run(expected.address, expected.options);
          const evidence = JSON.stringify(result.smtp?.reply ?? result.dns);
          assert.equal(`${result.verdict}/${result.reason}`, expected.outcome, evidence);
          assert.equal(result.smtp?.provider ?? null, provider);
          if (expected.code === undefined) {
            assert.equal(result.smtp?.reply ?? null, null, evidence);
          } else {
            assert.equal(result.smtp?.reply?.code, expected.code, evidence);
            assert.equal(result.smtp.reply.stage, expected.stage ?? 'rcpt');
          }
          if (expected.role !== undefined) assert.equal(result.flags.role, expected.role);
          if (expected.free !== undefined) assert.equal(result.flags.free, expected.free);
        });
      }
    });
  }
});

describe('what the personas saw and what rcpt made of it', () => {
  it('Gmail: the multi-line reply reaches the result whole, over TLS', async () => {
    const result = await run('nobody@gmail.com');
    assert.equal(result.smtp?.tls, true);
    assert.equal(result.smtp?.reply?.enhanced, '5.1.1');
    const lines = result.smtp?.reply?.text.split('\n') ?? [];
    assert.equal(lines.length, 4);
    assert.match(lines[3] ?? '', /p=NoSuchUser .* - gsmtp$/);
    assert.equal(result.smtp?.host, 'gmail-smtp-in.l.google.com');
  });

  it('Gmail: an internationalised local part goes out with MAIL FROM … SMTPUTF8', async () => {
    const google = world.server('mx.google.com');
    const before = google.log.commands.length;
    const result = await run('jösé@gmail.com');
    assert.equal(result.reason, 'mailbox_not_found');
    const commands = google.log.commands.slice(before);
    assert.ok(
      commands.some((line) => /^MAIL FROM:<verify@rcpt\.test> SMTPUTF8$/.test(line)),
      commands.join('\n'),
    );
  });

  it('STARTTLS required: opportunistic TLS gets there first', async () => {
    const result = await run('alice@tlsonly.test');
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.tls, true);
  });

  it('STARTTLS required: with STARTTLS off, the 530 at MAIL makes rcpt go TLS and carry on', async () => {
    const persona = world.server('mx.tlsonly.test');
    const before = persona.log.commands.length;
    const known = await run('alice@tlsonly.test', { startTls: false });
    assert.equal(known.reason, 'accepted');
    assert.equal(known.smtp?.tls, true);
    const verbs = persona.log.commands.slice(before).map((line) => line.split(/[ :]/, 1)[0]);
    const firstMail = verbs.indexOf('MAIL');
    assert.ok(firstMail !== -1 && firstMail < verbs.indexOf('STARTTLS'), verbs.join(' '));
    const unknown = await run('nobody@tlsonly.test', { startTls: false });
    assert.equal(unknown.reason, 'mailbox_not_found');
    assert.equal(unknown.smtp?.tls, true);
  });

  it('a failed TLS handshake on a server that only offers TLS: plaintext fallback, real answers', async () => {
    const persona = world.server('mx.flakytls.test');
    const known = await run('alice@flakytls.test');
    assert.equal(known.reason, 'accepted');
    assert.equal(known.smtp?.tls, false);
    assert.equal(known.smtp?.attempts, 2);
    const unknown = await run('nobody@flakytls.test');
    assert.equal(unknown.reason, 'mailbox_not_found');
    // Every connection that said STARTTLS was followed by one that did not.
    const starttls = persona.log.commands.filter((line) => line === 'STARTTLS').length;
    assert.equal(starttls, 2);
    assert.equal(persona.log.connections, 4);
  });

  it('postgrey: retried with the same MAIL FROM after the window, and let through', async () => {
    const persona = world.server('mx.greylist.test');
    const result = await run('carol-retry@greylist.test', RETRY);
    // carol-retry is no mailbox there: the retry's answer (550 5.1.1) is what counts.
    assert.equal(result.reason, 'mailbox_not_found');
    assert.equal(result.retryAt, null);
    assert.ok(result.durationMs >= PERSONA_GREYLIST_WINDOW_MS, `${result.durationMs} ms`);
    const attempts = persona.log.rcpts.filter(([recipient]) => recipient === 'carol-retry@greylist.test');
    assert.equal(attempts.length, 2);
    assert.deepEqual(
      attempts.map(([, mailFrom]) => mailFrom),
      ['verify@rcpt.test', 'verify@rcpt.test'],
    );
    const known = await run('alice@greylist.test', RETRY);
    assert.equal(known.reason, 'accepted');
  });

  it('Mimecast: a known mailbox passes greylisting on the retry', async () => {
    const result = await run('alice@mimecustomer.test', { ...RETRY, mailFrom: 'other@rcpt.test' });
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.attempts, 2);
  });

  it('Barracuda: "Greylisted for 5 minutes" is longer than the deadline: unknown, retry in 5 minutes', async () => {
    const started = Date.now();
    const result = await run('alice@cudagrey.test', { greylistWaitMs: 1_000 });
    assert.equal(result.reason, 'greylisted');
    assert.equal(result.smtp?.provider, 'barracuda');
    assert.ok(result.retryAt !== null);
    const waitMs = Date.parse(result.retryAt) - started;
    assert.ok(waitMs >= 290_000 && waitMs <= 310_000, `retry after ${waitMs} ms`);
  });

  it('a 421 greeting from the first MX sends rcpt to the next one', async () => {
    const result = await run('alice@fallback-workspace.test');
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.host, 'alt1.aspmx.l.google.com');
    assert.equal(result.smtp?.attempts, 2);
    assert.ok(world.server('mx1.fallback-workspace.test').log.connections >= 1);
  });

  it('a greylister that keeps deferring: retried within the deadline, then greylisted with retryAt', async () => {
    const persona = world.server('mx.stubborn.test');
    const before = persona.log.rcpts.filter(([recipient]) => recipient === 'bob@stubborn.test').length;
    const result = await run('bob@stubborn.test', STUBBORN);
    assert.equal(result.reason, 'greylisted');
    assert.ok((result.smtp?.attempts ?? 0) >= 2, `attempts ${result.smtp?.attempts}`);
    assert.ok(result.durationMs < 5_600, `${result.durationMs} ms`);
    assert.ok(result.retryAt !== null);
    const asked = persona.log.rcpts.filter(([recipient]) => recipient === 'bob@stubborn.test').length;
    assert.equal(asked - before, result.smtp?.attempts);
  });

  it('Outlook.com: the 452 that a second RCPT draws never becomes a verdict', async () => {
    const persona = world.server('BN8NAM11FT015.mail.protection.outlook.com');
    const before = persona.log.rcpts.length;
    const result = await run('alice@hotmail.com');
    assert.equal(result.reason, 'accepted');
    assert.equal(result.smtp?.reply?.code, 250);
    // The address and the catch-all probe were both asked.
    assert.equal(persona.log.rcpts.length - before, 2);
  });

  it('Outlook.com (one RCPT per transaction): the catch-all probe gets a transaction of its own', async () => {
    const persona = world.server('BN8NAM11FT015.mail.protection.outlook.com');
    const before = persona.log.commands.length;
    const result = await run('alice@hotmail.com');
    const verbs = persona.log.commands.slice(before).map((line) => line.split(/[ :]/, 1)[0]);
    const mail = verbs.indexOf('MAIL');
    assert.notDeepEqual(verbs.slice(mail, mail + 3), ['MAIL', 'RCPT', 'RCPT'], verbs.join(' '));
    // Asked alone after RSET, the random address gets Outlook.com's own unknown-user reply: not catch-all.
    assert.deepEqual(verbs.slice(mail, mail + 5), ['MAIL', 'RCPT', 'RSET', 'MAIL', 'RCPT'], verbs.join(' '));
    assert.equal(result.smtp?.catchAll, false);
    assert.equal(result.reason, 'accepted');
  });

  it('Mimecast without directory sync: greylisted, then accept-all on the retry → risky/catch_all', async () => {
    const result = await run('nobody@mimeopen.test', RETRY);
    assert.equal(result.reason, 'catch_all');
  });

  it('IronPort past its DHAP threshold: a silent accept of a dead address is not reported deliverable', async () => {
    const verifier = createVerifier(base);
    try {
      const known = await verifier.verify('alice@harvest.test');
      assert.equal(known.reason, 'accepted');
      const reasons: Reason[] = [];
      for (let i = 1; i <= IRONPORT_DHAP_THRESHOLD + 2; i += 1) {
        reasons.push((await verifier.verify(`nobody${i}@harvest.test`)).reason);
      }
      assert.ok(!reasons.includes('accepted'), reasons.join(' '));
    } finally {
      await verifier.close();
    }
  });

  it('no persona ever received DATA or BDAT', () => {
    for (const server of world.servers) {
      const verbs = server.log.commands.map((line) => (line.split(/[ :]/, 1)[0] ?? '').toUpperCase());
      assert.ok(!verbs.includes('DATA') && !verbs.includes('BDAT'), server.name);
    }
  });
});

describe('DNS outcomes and configuration', () => {
  it('invalid syntax, NXDOMAIN, null MX, no mail server, SERVFAIL', async () => {
    const cases: readonly [string, Reason][] = [
      ['alice..smith@gmail.com', 'invalid_syntax'],
      ['alice@nowhere.test', 'domain_not_found'],
      ['alice@nullmx.test', 'null_mx'],
      ['alice@nomail.test', 'no_mail_server'],
      ['alice@servfail.test', 'dns_error'],
    ];
    for (const [address, reason] of cases) {
      const result = await run(address);
      assert.equal(result.reason, reason, address);
      assert.equal(result.smtp, null);
    }
  });

  it('a provider MX on a loopback address is refused unless private targets are allowed', async () => {
    const result = await run('alice@gmail.com', { allowPrivateTargets: false });
    assert.equal(result.reason, 'target_not_allowed');
    assert.equal(result.smtp, null);
  });
});

describe('hostile servers: unknown with the right reason, within the deadline, nothing leaked', () => {
  const HOSTILE: VerifyOptions = {
    timeoutMs: 1_500,
    connectTimeoutMs: 300,
    greetingTimeoutMs: 300,
    commandTimeoutMs: 300,
  };

  /** Waits until the persona saw the client close, then checks no client socket or timer is left. */
  async function assertClosedAndClean(personaName: string | null): Promise<void> {
    // Waits, not time limits: on a loaded machine closing can take longer than a second.
    if (personaName !== null) await world.server(personaName).settled(5_000);
    const until = Date.now() + 5_000;
    while (activeResources('TCPSocketWrap') > 0 || activeResources('Timeout') > baselineTimers) {
      if (Date.now() > until) {
        assert.fail(`left behind: ${JSON.stringify(process.getActiveResourcesInfo())}`);
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  const cases: readonly (readonly [string, string | null, Reason, string])[] = [
    ['a@tarpit.test', 'mx.tarpit.test', 'timeout', 'never sends a banner'],
    ['a@trickle.test', 'mx.trickle.test', 'timeout', 'trickles its banner a byte a second'],
    ['a@longline.test', 'mx.longline.test', 'protocol_error', 'sends a 1 MB line'],
    ['a@endless.test', 'mx.endless.test', 'protocol_error', 'sends continuation lines forever'],
    ['a@reset.test', 'mx.reset.test', 'connection_failed', 'resets the connection mid-reply'],
    ['a@halfway.test', 'mx.halfway.test', 'connection_failed', 'closes halfway through a 550-5.1.1'],
    ['a@garbage.test', 'mx.garbage.test', 'protocol_error', 'speaks HTTP'],
    ['a@eager.test', 'mx.eager.test', 'protocol_error', 'answers a RCPT that was never sent'],
    ['a@badtls.test', 'mx.badtls.test', 'tls_error', 'fails the TLS handshake and requires TLS'],
    ['a@refused.test', null, 'connection_failed', 'refuses the connection'],
  ];
  for (const [address, personaName, reason, what] of cases) {
    it(`a server that ${what} → unknown/${reason}`, async () => {
      const result = await run(address, HOSTILE);
      assert.equal(result.reason, reason, JSON.stringify(result.smtp));
      assert.equal(result.verdict, 'unknown');
      assert.ok(result.durationMs < 1_500 + 500, `${result.durationMs} ms`);
      await assertClosedAndClean(personaName);
    });
  }

  it('the overall deadline bounds a tarpit even with the default (30 s) phase timeouts', async () => {
    const result = await run('b@tarpit.test', { timeoutMs: 500 });
    assert.equal(result.reason, 'timeout');
    assert.ok(result.durationMs < 1_500, `${result.durationMs} ms`);
    await assertClosedAndClean('mx.tarpit.test');
  });
});

describe('through a SOCKS5 proxy that fails (docs/proxies.md): never a verdict about the mailbox', () => {
  const cases: [RawSocksBehaviour | 'dead', Reason][] = [
    ['dead', 'proxy_unreachable'],
    [{ kind: 'auth_fail' }, 'proxy_auth_failed'],
    [{ kind: 'reply', code: 2 }, 'proxy_refused'],
    [{ kind: 'reply', code: 4 }, 'proxy_target_unreachable'],
    [{ kind: 'stall' }, 'proxy_timeout'],
  ];
  for (const [behaviour, reason] of cases) {
    it(`${reason}: unknown, naming the proxy`, async () => {
      const raw = behaviour === 'dead' ? null : await startRawSocksServer('127.0.30.1', behaviour);
      const url = (raw?.url ?? 'socks5://127.0.30.2:1080').replace('socks5://', 'socks5://probe:pw@');
      try {
        const result = await run('alice@gmail.com', { proxy: url });
        assert.equal(result.verdict, 'unknown');
        assert.equal(result.reason, reason);
        assert.equal(result.smtp?.proxy, url.replace(':pw@', '@'));
      } finally {
        await raw?.close();
      }
    });
  }
});

describe('at the end', () => {
  it('no promise rejection went unhandled', () => {
    assert.deepEqual(unhandled, []);
  });

  it('every reason code of docs/result.md is produced by a test in this file', () => {
    // unreadable_row and no_address are a bulk job's, for a row that could not be read and one with
    // an empty address cell (test/integration/cli-bulk.test.ts).
    const bulkOnly = ['unreadable_row', 'no_address'];
    const missing = Object.keys(REASONS).filter(
      (reason) => !seen.has(reason as Reason) && !bulkOnly.includes(reason),
    );
    assert.deepEqual(missing, []);
  });
});
