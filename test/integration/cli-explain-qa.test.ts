/**
 * `rcpt explain` on bounces as users paste and save them, through the real `rcpt` process: what it
 * prints is what they read.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { rcptProcess } from '../helpers/rcpt-process.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rcpt-explain-qa-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Office 365's non-delivery report as plain text (no delivery-status part), quoted-printable. */
const EXCHANGE_TEXT_NDR = [
  'From: postmaster@outlook.example',
  'To: sender@example.com',
  'Subject: Undeliverable: hello',
  'Date: Mon, 7 Dec 2026 09:00:00 +0000',
  'Message-ID: <ndr1@outlook.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset="us-ascii"',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Delivery has failed to these recipients or groups:',
  '',
  'carol@contoso.example',
  "The email address you entered couldn't be found.",
  '',
  'Diagnostic information for administrators:',
  '',
  'Generating server: BN6PR01MB1234.prod.exchangelabs.com',
  '',
  'carol@contoso.example',
  "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipie=",
  "nt carol@contoso.example not found by SMTP address lookup'",
  '',
].join('\r\n');

describe('rcpt explain: bounces as users have them', () => {
  it("Exchange's quoted reply (Remote Server returned '550 …') is shown without its closing quote", async () => {
    const file = join(dir, 'ndr.eml');
    await writeFile(file, EXCHANGE_TEXT_NDR);
    const { code, stdout, stderr } = await rcptProcess(['explain', file, '--json']);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      recipients: { address: string; explanation: { reason: string; reply: { text: string } } }[];
    };
    const [recipient] = report.recipients;
    assert.equal(recipient?.address, 'carol@contoso.example');
    assert.equal(recipient.explanation.reason, 'mailbox_not_found');
    // Before: "… not found by SMTP address lookup'", the quote Exchange closes the reply with.
    assert.equal(
      recipient.explanation.reply.text,
      'RESOLVER.ADR.RecipientNotFound; Recipient carol@contoso.example not found by SMTP address lookup',
    );
  });

  it('a whole bounce pasted as the argument is read as the message it is, not "no SMTP reply found"', async () => {
    // Before: exit 1, "NOT A REPLY … input "From: postmaster@outlook.example"".
    const { code, stdout, stderr } = await rcptProcess(['explain', EXCHANGE_TEXT_NDR]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^the argument: a bounce \(read from the MTA's text\)/);
    assert.match(stdout, /carol@contoso\.example {2}failed\n {4}reply {5}550 5\.1\.10 RESOLVER/);
    assert.match(stdout, /means {5}undeliverable \/ mailbox_not_found/);
  });

  it("a bounce's text copied from a mail client, without headers, on stdin: its recipient and reply", async () => {
    // Exchange 2007's report as Outlook shows it.
    const copied = [
      'Your message did not reach some or all of the intended recipients.',
      '',
      '      Subject:\thello',
      '      Sent:\t30/11/2026 10:00',
      '',
      'The following recipient(s) cannot be reached:',
      '',
      '      dave@contoso.example on 30/11/2026 10:00',
      '            The e-mail account does not exist at the organization this message was sent to.',
      '            <mx.contoso.example #5.1.1 smtp;550 5.1.1 User unknown>',
      '',
    ].join('\n');
    // Before: exit 1, "No SMTP reply code was found", the reply being in the text.
    const { code, stdout, stderr } = await rcptProcess(['explain', '-', '--json'], { stdin: copied });
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      source: string;
      kind: string;
      recipients: { address: string; explanation: { verdict: string; reason: string } }[];
    };
    assert.equal(report.source, 'stdin');
    assert.equal(report.kind, 'bounce');
    assert.deepEqual(
      report.recipients.map((r) => [r.address, r.explanation.verdict, r.explanation.reason]),
      [['dave@contoso.example', 'undeliverable', 'mailbox_not_found']],
    );
  });

  it("one line as Gmail and Outlook show a server's reply is explained, not refused as having no reply code", async () => {
    for (const [line, enhanced, text] of [
      [
        'The error that the other server returned was: 550-5.1.1 The email account that you tried to reach does not exist.',
        '5.1.1',
        'The email account that you tried to reach does not exist.',
      ],
      [
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'",
        '5.1.10',
        'RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup',
      ],
      [
        '#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##',
        '5.1.1',
        'RESOLVER.ADR.RecipNotFound; not found',
      ],
    ] as const) {
      const { code, stdout, stderr } = await rcptProcess(['explain', '--json', line]);
      assert.equal(code, 0, `${line}: ${stderr}`);
      const explanation = JSON.parse(stdout) as {
        reason: string;
        reply: { code: number; enhanced: string; text: string };
      };
      assert.deepEqual(
        [explanation.reason, explanation.reply.code, explanation.reply.enhanced, explanation.reply.text],
        ['mailbox_not_found', 550, enhanced, text],
      );
    }
    // Text that holds no reply at all still says so (exit 1).
    const none = await rcptProcess(['explain', 'Your message could not be delivered.']);
    assert.equal(none.code, 1);
    assert.match(none.stdout, /NOT A REPLY {2}No SMTP reply code was found/);
  });

  it('an enhanced code quoted without its reply code (5.1.1 user unknown) is read by its class, with a note', async () => {
    const { code, stdout, stderr } = await rcptProcess(['explain', '5.1.1 user unknown']);
    // Before: "NOT A REPLY  No SMTP reply code was found", exit 1.
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^5\.1\.1 {2}command not stated \(read as RCPT\) {2}UNDELIVERABLE {2}mailbox_not_found$/m,
    );
    assert.match(stdout, /category {2}mailbox unknown \(recipient side, permanent\)/);
    assert.match(stdout, /note {6}No reply code was given: read from the enhanced status code 5\.1\.1 alone/);
    const json = await rcptProcess(['explain', '--json', 'Diagnostic-Code: smtp; 4.2.2 mailbox over quota']);
    assert.equal(json.code, 0, json.stderr);
    const explanation = JSON.parse(json.stdout) as {
      reason: string;
      permanence: string;
      reply: { code: number | null; enhanced: string };
      note: string;
    };
    assert.deepEqual(
      [explanation.reply.code, explanation.reply.enhanced, explanation.reason, explanation.permanence],
      [null, '4.2.2', 'mailbox_full', 'temporary'],
    );
    assert.match(explanation.note, /class 4 means a temporary failure, as a 4xx reply code would/);
  });

  it("a bounce's source pasted from below its header, its parts quoted-printable and base64, is decoded", async () => {
    const report = [
      'Reporting-MTA: dns; mx.example.net',
      '',
      'Final-Recipient: rfc822; bob@example.org',
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown',
      '',
    ].join('\r\n');
    const notice = [
      '<bob@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 <bob@example.o=',
      'rg>: Recipient address rejected: User unknown in virtual mailbox table (in r=',
      'eply to RCPT TO command)',
    ];
    const body = [
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      ...notice,
      '',
      '--b1',
      'Content-Type: message/delivery-status',
      'Content-Transfer-Encoding: base64',
      '',
      ...(Buffer.from(report)
        .toString('base64')
        .match(/.{1,76}/g) ?? []),
      '--b1--',
      '',
    ].join('\r\n');
    // Before: the quoted-printable text read as a reply ("<bob@example.o= rg>"), the base64 report unread.
    const whole = await rcptProcess(['explain', '--json', '-'], { stdin: body });
    assert.equal(whole.code, 0, whole.stderr);
    const bounce = JSON.parse(whole.stdout) as {
      format: string;
      recipients: { address: string; status: string; explanation: { reason: string } }[];
    };
    assert.equal(bounce.format, 'dsn');
    assert.deepEqual(
      bounce.recipients.map((r) => [r.address, r.status, r.explanation.reason]),
      [['bob@example.org', '5.1.1', 'mailbox_not_found']],
    );
    // The quoted-printable part alone: its soft line breaks joined, the reply read as sent.
    const part = await rcptProcess(['explain', '--json', '-'], { stdin: notice.join('\n') });
    assert.equal(part.code, 0, part.stderr);
    const reply = JSON.parse(part.stdout) as { reply: { text: string; command: string } };
    assert.deepEqual(
      [reply.reply.text, reply.reply.command],
      ['<bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table', 'RCPT'],
    );
  });

  it('a --provider rcpt does not know is said on stderr, not silently ignored', async () => {
    const reply = '550 5.5.0 Requested action not taken: mailbox unavailable';
    // Outlook.com's unknown-user reply: undeliverable with its provider named, unknown without.
    const known = await rcptProcess(['explain', '--json', '--provider', 'outlook', reply]);
    assert.equal((JSON.parse(known.stdout) as { reason: string }).reason, 'mailbox_not_found');
    assert.equal(known.stderr, '');
    // Before: the same answer as without --provider, and nothing said.
    const unknown = await rcptProcess(['explain', '--json', '--provider', 'hotmail', reply]);
    assert.equal(unknown.code, 0);
    assert.equal((JSON.parse(unknown.stdout) as { reason: string }).reason, 'unexpected_reply');
    assert.match(
      unknown.stderr,
      /^rcpt: warning: --provider hotmail names no provider rcpt knows \(an id such as google, outlook, microsoft365 or yahoo, or an MX host name such as mx1\.hotmail\.com\): the reply is read without provider rules\n$/,
    );
  });

  it('a reply or a bounce saved as UTF-16 (PowerShell\'s >, Notepad\'s "Unicode") is read, not called binary data', async () => {
    const utf16le = (text: string) =>
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const reply = join(dir, 'reply-utf16.txt');
    await writeFile(
      reply,
      utf16le('550 5.1.1 <bob@example.com>: Recipient address rejected: User unknown\r\n'),
    );
    // Before: exit 1, "The input is binary data, not the text of an SMTP reply."
    const fromFile = await rcptProcess(['explain', '--json', reply]);
    assert.equal(fromFile.code, 0, fromFile.stdout);
    assert.equal((JSON.parse(fromFile.stdout) as { reason: string }).reason, 'mailbox_not_found');
    const fromStdin = await rcptProcess(['explain', '-', '--json'], { stdin: utf16le(EXCHANGE_TEXT_NDR) });
    assert.equal(fromStdin.code, 0, fromStdin.stdout);
    const report = JSON.parse(fromStdin.stdout) as { kind: string; recipients: { address: string }[] };
    assert.equal(report.kind, 'bounce');
    assert.deepEqual(
      report.recipients.map((r) => r.address),
      ['carol@contoso.example'],
    );
  });
});
