import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  MAX_BOUNCE_BYTES,
  explainBounce,
  explainBounceText,
  looksLikeMessage,
} from '../../../src/explain/bounce.js';
import type { BounceKind, BounceRecipient } from '../../../src/explain/bounce-types.js';
import type { Reason } from '../../../src/types.js';

const fixture = (name: string): Buffer =>
  readFileSync(new URL(`../../fixtures/bounces/${name}`, import.meta.url));

interface Expected {
  readonly address: string;
  readonly action: BounceRecipient['action'];
  readonly command?: string | null;
  readonly remoteMta?: string | null;
  /** The start of the reply as quoted, or null when the bounce quotes none. */
  readonly reply?: string | null;
  readonly status?: string | null;
  readonly reason: Reason;
}

interface Case {
  readonly file: string;
  readonly kind: BounceKind;
  readonly format: 'dsn' | 'ses' | 'text' | null;
  readonly recipients: readonly Expected[];
}

/** One fixture per MTA family (test/fixtures/bounces/README.md) and what it must yield. */
const CASES: readonly Case[] = [
  {
    file: 'postfix.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'alice@example.com',
        action: 'failed',
        command: 'RCPT',
        remoteMta: 'mx.example.com',
        reply:
          '550 5.1.1 <alice@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
        status: '5.1.1',
        reason: 'mailbox_not_found',
      },
      {
        address: 'bob@example.com',
        action: 'failed',
        command: 'RCPT',
        status: '4.2.2',
        reason: 'mailbox_full',
      },
    ],
  },
  {
    file: 'exim.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [
      {
        address: 'carol@example.org',
        action: 'failed',
        command: 'RCPT',
        remoteMta: 'mx.example.org',
        reply: '550 5.2.1 <carol@example.org>: mailbox disabled',
        reason: 'mailbox_disabled',
      },
    ],
  },
  {
    file: 'qmail.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [
      {
        address: 'erin@example.com',
        action: 'failed',
        command: 'RCPT',
        remoteMta: '192.0.2.30',
        reply: '550 sorry, no mailbox here by that name. (#5.1.1)',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    file: 'sendmail.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'frank@example.com',
        action: 'failed',
        command: 'DATA',
        remoteMta: 'mx.example.com',
        reply: '554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org',
        reason: 'sender_blocked',
      },
    ],
  },
  {
    file: 'office365.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'grace@example.com',
        action: 'failed',
        reply: '550 5.1.10 RESOLVER.ADR.RecipientNotFound',
        status: '5.1.10',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    file: 'gmail.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [
      {
        address: 'heidi@example.org',
        action: 'failed',
        remoteMta: 'mx.example.org',
        reply:
          '550 5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users, and has been blocked. The sender must authenticate with at least one of SPF or DKIM.',
        reason: 'sender_blocked',
      },
    ],
  },
  {
    file: 'yahoo.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [
      {
        address: 'ivan@example.com',
        action: 'failed',
        command: 'RCPT',
        reply: '552 1 Requested mail action aborted, mailbox not found [RCPT_TO]',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    file: 'amazonses.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'judy@example.com',
        action: 'failed',
        status: '4.4.7',
        reply: '554 4.4.7 Message expired',
        reason: 'unexpected_reply',
      },
    ],
  },
  {
    file: 'global-dsn.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'jörg@example.de',
        action: 'failed',
        remoteMta: 'mx.example.de',
        status: '5.1.1',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    file: 'delay.eml',
    kind: 'delay',
    format: 'dsn',
    recipients: [{ address: 'kim@example.com', action: 'delayed', command: 'RCPT', reason: 'greylisted' }],
  },
  {
    file: 'exchange2003.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [{ address: 'leo@example.com', action: 'failed', reply: null, reason: 'mailbox_not_found' }],
  },
  {
    file: 'amazonses-notification.eml',
    kind: 'bounce',
    format: 'ses',
    recipients: [
      {
        address: 'quinn@example.com',
        action: 'failed',
        status: '5.1.1',
        reply: '550 5.1.1 user unknown',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    // The declared boundary matches no part: the raw body is read.
    file: 'mismatched-boundary.eml',
    kind: 'bounce',
    format: 'dsn',
    recipients: [
      {
        address: 'rita@example.com',
        action: 'failed',
        command: 'RCPT',
        status: '5.1.1',
        reason: 'mailbox_not_found',
      },
    ],
  },
  {
    // The bounce names no recipient: the returned message's X-Original-To does (its To names nobody).
    file: 'delivered-to.eml',
    kind: 'bounce',
    format: 'text',
    recipients: [
      {
        address: 'grace@example.com',
        action: 'failed',
        reply: '552 5.2.2 Mailbox full',
        reason: 'mailbox_full',
      },
    ],
  },
  { file: 'vacation.eml', kind: 'auto_reply', format: null, recipients: [] },
  { file: 'arf.eml', kind: 'feedback_report', format: null, recipients: [] },
  { file: 'not-a-bounce.eml', kind: 'not_a_bounce', format: null, recipients: [] },
];

describe('explainBounce: one fixture per MTA family', () => {
  for (const testCase of CASES) {
    for (const input of ['bytes', 'string'] as const) {
      it(`${testCase.file} (${input}) → ${testCase.kind}`, async () => {
        const raw = fixture(testCase.file);
        const explained = await explainBounce(input === 'bytes' ? raw : raw.toString('utf8'));
        assert.equal(explained.kind, testCase.kind);
        assert.equal(explained.format, testCase.format);
        assert.equal(explained.truncated, false);
        assert.deepEqual(
          explained.recipients.map((r) => r.address),
          testCase.recipients.map((r) => r.address),
        );
        testCase.recipients.forEach((expected, index) => {
          const got = explained.recipients[index];
          assert.ok(got !== undefined);
          assert.equal(got.action, expected.action, `${expected.address} action`);
          if (expected.command !== undefined)
            assert.equal(got.command, expected.command, `${expected.address} command`);
          if (expected.remoteMta !== undefined)
            assert.equal(got.remoteMta, expected.remoteMta, `${expected.address} remote MTA`);
          if (expected.status !== undefined)
            assert.equal(got.status, expected.status, `${expected.address} status`);
          if (expected.reply === null) assert.equal(got.reply, null);
          else if (expected.reply !== undefined)
            assert.ok(
              got.reply?.startsWith(expected.reply),
              `${expected.address} reply: ${got.reply ?? 'null'}`,
            );
          assert.equal(got.explanation?.reason, expected.reason, `${expected.address} reason`);
        });
      });
    }
  }

  it('an ARF report names its feedback type', async () => {
    const explained = await explainBounce(fixture('arf.eml'));
    assert.equal(explained.feedbackType, 'abuse');
  });

  it('a bounce without a reply explains the diagnosis in words (Exchange 2003)', async () => {
    const explained = await explainBounce(fixture('exchange2003.eml'));
    assert.equal(explained.recipients[0]?.explainedFrom, 'diagnostic');
    assert.match(explained.recipients[0]?.diagnostic ?? '', /recipient name is not recognized/);
  });
});

describe('explainBounce: the returned message names the recipient when the bounce does not', () => {
  /** A bounce that names no recipient, returning a message with these header lines. */
  const returning = (headers: readonly string[]): string =>
    [
      'From: MAILER-DAEMON@mail.example.com',
      'To: sender@example.net',
      'Subject: Delivery failure',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="R"',
      '',
      '--R',
      'Content-Type: text/plain',
      '',
      'Delivery failed: 550 5.1.1 User unknown',
      '',
      '--R',
      'Content-Type: message/rfc822',
      '',
      'From: sender@example.net',
      ...headers,
      'Subject: hello',
      '',
      'Hello.',
      '--R--',
      '',
    ].join('\r\n');
  const found = async (headers: readonly string[]): Promise<string[]> =>
    (await explainBounce(returning(headers))).recipients.map((r) => r.address);

  it('Delivered-To alone (qmail-local records the envelope recipient in it) over a To naming a list', async () => {
    assert.deepEqual(await found(['Delivered-To: ivan@example.com', 'To: team@lists.example.com']), [
      'ivan@example.com',
    ]);
  });

  it('X-Original-To (the address as received, before aliasing) over Delivered-To and To', async () => {
    assert.deepEqual(
      await found([
        'X-Original-To: Judy@example.com',
        'Delivered-To: judy.smith@store.example.com',
        'To: Judy <judy@example.com>',
      ]),
      ['Judy@example.com'],
    );
  });

  it('the same address written twice is one recipient; different ones say nothing: To decides', async () => {
    assert.deepEqual(
      await found(['Delivered-To: kim@example.com', 'Delivered-To: <KIM@example.com>', 'To: x@example.org']),
      ['kim@example.com'],
    );
    // Delivered, then forwarded: which delivery failed is not said.
    assert.deepEqual(
      await found([
        'Delivered-To: leo@example.org',
        'Delivered-To: leo.forward@example.com',
        'To: leo@example.org',
      ]),
      ['leo@example.org'],
    );
  });

  it("the bounce's own addresses in them are not the recipient", async () => {
    assert.deepEqual(await found(['Delivered-To: MAILER-DAEMON@mail.example.com', 'To: mia@example.com']), [
      'mia@example.com',
    ]);
  });

  it('a bounce that names its recipient is not second-guessed by Delivered-To', async () => {
    const text = returning(['Delivered-To: ned@example.com', 'To: ned@example.com']).replace(
      'Delivery failed: 550 5.1.1 User unknown',
      '<olive@example.com>:\r\nRemote host said: 550 5.1.1 User unknown',
    );
    assert.deepEqual(
      (await explainBounce(text)).recipients.map((r) => r.address),
      ['olive@example.com'],
    );
  });

  it('a bounce naming its own recipient as the one that failed (a copy to oneself) beats the returned To and Cc', async () => {
    // Exim's wording (src/src/deliver.c: "The following address(es) failed:"), returned to the sender,
    // who had copied themselves: the returned headers name both recipients, the text only the one that failed.
    const bounce = [
      'From: Mail Delivery System <Mailer-Daemon@mx.example.com>',
      'To: pia@example.com',
      'Subject: Mail delivery failed: returning message to sender',
      'Auto-Submitted: auto-replied',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  pia@example.com',
      '    host mx.example.com [192.0.2.30]',
      '    SMTP error from remote mail server after RCPT TO:<pia@example.com>:',
      '    552 5.2.2 Mailbox full',
      '',
      '------ This is a copy of the message, including all the headers. ------',
      '',
      'From: Pia <pia@example.com>',
      'To: quinn@example.org',
      'Cc: pia@example.com',
      'Subject: minutes',
      '',
      'Attached.',
      '',
    ].join('\r\n');
    const explained = await explainBounce(bounce);
    assert.deepEqual(
      explained.recipients.map((r) => [r.address, r.explanation?.category]),
      [['pia@example.com', 'mailbox_full']],
    );
  });
});

describe('explainBounce: bad input gets a clear answer', () => {
  it('an empty input', async () => {
    for (const input of ['', '   \r\n\r\n', new Uint8Array(0)]) {
      const explained = await explainBounce(input);
      assert.equal(explained.kind, 'empty');
      assert.match(explained.problem ?? '', /empty/);
      assert.deepEqual(explained.recipients, []);
    }
  });

  it('a binary file', async () => {
    // A PNG signature and header: NUL bytes within the first bytes.
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
    const explained = await explainBounce(png);
    assert.equal(explained.kind, 'binary');
    assert.match(explained.problem ?? '', /binary/);
  });

  it('text that is not a message (a bare reply)', async () => {
    const explained = await explainBounce('550 5.1.1 <a@example.com>: User unknown');
    assert.equal(explained.kind, 'not_a_message');
    assert.match(explained.problem ?? '', /no message header/);
  });

  it('a message with no bounce in it', async () => {
    const explained = await explainBounce(fixture('not-a-bounce.eml'));
    assert.equal(explained.kind, 'not_a_bounce');
    assert.equal(explained.problem, null);
    assert.deepEqual(explained.recipients, []);
  });

  it('broken MIME (an unclosed multipart, bad base64, an unterminated parameter)', async () => {
    const explained = await explainBounce(fixture('broken-mime.eml'));
    assert.equal(explained.kind, 'bounce');
    assert.equal(explained.recipients[0]?.address, 'paul@example.com');
    assert.equal(explained.recipients[0]?.status, '5.1.1');
  });

  it('MIME nested past any sane depth is unreadable, not a crash', async () => {
    const depth = 200;
    let body = 'Final-Recipient: rfc822; deep@example.com\r\n';
    for (let level = depth; level > 0; level--) {
      body = `Content-Type: multipart/mixed; boundary="b${level}"\r\n\r\n--b${level}\r\n${body}\r\n--b${level}--\r\n`;
    }
    const explained = await explainBounce(`From: MAILER-DAEMON@example.net\r\nSubject: x\r\n${body}`);
    assert.equal(explained.kind, 'unreadable');
    assert.match(explained.problem ?? '', /MIME structure could not be parsed: .*nesting depth/);
  });

  it('a 30 MB message is read up to MAX_BOUNCE_BYTES and says so', async () => {
    const head = fixture('postfix.eml').toString('utf8');
    const cut = head.lastIndexOf('--A1B2C3');
    const filler = `${'x'.repeat(76)}\r\n`.repeat(Math.ceil((30 * 1024 * 1024) / 78));
    const huge = Buffer.from(`${head.slice(0, cut)}${filler}${head.slice(cut)}`);
    assert.ok(huge.byteLength > 30 * 1024 * 1024);
    const explained = await explainBounce(huge);
    assert.equal(explained.truncated, true);
    assert.ok(MAX_BOUNCE_BYTES < huge.byteLength);
    assert.equal(explained.kind, 'bounce');
    assert.deepEqual(
      explained.recipients.map((r) => r.address),
      ['alice@example.com', 'bob@example.com'],
    );
  });

  it('one 30 MB line without line ends is a clear answer too', async () => {
    const explained = await explainBounce(
      `From: a@example.com\r\nSubject: x\r\n\r\n${'a'.repeat(30 * 1024 * 1024)}`,
    );
    assert.equal(explained.truncated, true);
    assert.equal(explained.kind, 'not_a_bounce');
  });
});

describe('looksLikeMessage', () => {
  it('tells a pasted message from a reply or a transcript', () => {
    assert.equal(looksLikeMessage(fixture('postfix.eml')), true);
    assert.equal(looksLikeMessage('From MAILER-DAEMON Mon Nov 30 10:00:00 2026\nSubject: x\n\nbody'), true);
    assert.equal(looksLikeMessage('550 5.1.1 <a@example.com>: User unknown'), false);
    assert.equal(
      looksLikeMessage('S: 220 mx.example.com ESMTP\nC: EHLO client.example.net\nS: 250 ok'),
      false,
    );
    assert.equal(looksLikeMessage(''), false);
  });
});

describe("explainBounce: a bounce's dates", () => {
  const dsn = (date: string, arrival: string) =>
    [
      'From: MAILER-DAEMON@mx.example.net',
      'To: sender@example.com',
      'Subject: Undelivered Mail Returned to Sender',
      `Date: ${date}`,
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Your message could not be delivered.',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.net',
      `Arrival-Date: ${arrival}`,
      '',
      'Final-Recipient: rfc822; bob@example.org',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 User unknown',
      '--b1--',
      '',
    ].join('\r\n');

  it('reads Date and Arrival-Date with a zone name such as JST or KST as the instant they name', async () => {
    // Before: both as written ('Thu, 9 Apr 2006 23:34:45 JST').
    const bounce = await explainBounce(dsn('Thu, 9 Apr 2006 23:34:45 JST', 'Thu, 9 Apr 2006 23:30:00 KST'));
    assert.equal(bounce.date, '2006-04-09T14:34:45.000Z');
    assert.deepEqual(
      bounce.recipients.map((r) => [r.address, r.date]),
      [['bob@example.org', '2006-04-09T14:30:00.000Z']],
    );
  });

  it('keeps them as written when the instant is not known (no zone, IST), never in the zone of the machine reading them', async () => {
    // Before: '2007-05-03T23:34:45.000Z', this machine's zone (UTC) taken for the sender's.
    const bounce = await explainBounce(dsn('Wed, 3 May 2007 23:34:45', 'Wed, 3 May 2007 23:30:00 IST'));
    assert.equal(bounce.date, 'Wed, 3 May 2007 23:34:45');
    assert.deepEqual(
      bounce.recipients.map((r) => r.date),
      ['Wed, 3 May 2007 23:30:00 IST'],
    );
  });
});

describe('explainBounceText', () => {
  it("reads a bounce's text without its headers as the bounce, with no subject of its own", async () => {
    const bounce = await explainBounceText(
      [
        'Delivery has failed to these recipients or groups:',
        '',
        'erin@example.com',
        "The e-mail address you entered couldn't be found.",
        '',
        'Diagnostic information for administrators:',
        'Generating server: mail.example.net',
        '',
        'erin@example.com',
        '<mx.example.com #5.1.1 smtp;550 5.1.1 User unknown>',
      ].join('\n'),
    );
    assert.equal(bounce?.subject, null);
    assert.deepEqual(
      bounce?.recipients.map((r) => [r.address, r.explanation?.reason]),
      [['erin@example.com', 'mailbox_not_found']],
    );
  });

  it('reads it when pasted still quoted-printable (one soft line break) or base64, as its source shows it', async () => {
    const reply =
      '<mx.example.com #5.1.1 smtp;550 5.1.1 <erin@example.com>: Recipient address rejected: User unknown in virtual mailbox table>';
    // Cut once as a quoted-printable encoder cuts (76 characters with the '=').
    const cut = `${reply.slice(0, 75)}=\n${reply.slice(75)}`;
    const text = ['Delivery has failed to these recipients or groups:', '', 'erin@example.com', cut].join(
      '\n',
    );
    const expected = [
      [
        'erin@example.com',
        'mailbox_not_found',
        'mx.example.com #5.1.1 smtp;550 5.1.1 : Recipient address rejected: User unknown in virtual mailbox table',
      ],
    ];
    const answer = (bounce: Awaited<ReturnType<typeof explainBounceText>>) =>
      bounce?.recipients.map((r) => [r.address, r.explanation?.reason, r.diagnostic]);
    // Before: the diagnosis read as '… Recipient address= rejected …'.
    assert.deepEqual(answer(await explainBounceText(text)), expected);
    const base64 = (
      Buffer.from(text.replace(/=\n/, ''))
        .toString('base64')
        .match(/.{1,76}/g) ?? []
    ).join('\n');
    // Before: null (no recipient found in the base64).
    assert.deepEqual(answer(await explainBounceText(base64)), expected);
  });

  it('is null for text that names no recipient to explain', async () => {
    assert.equal(await explainBounceText(''), null);
    assert.equal(await explainBounceText('  \n'), null);
    assert.equal(await explainBounceText('Thanks for your message, see you on Monday.'), null);
  });
});
