/**
 * Bounce formats and wordings added for issue 18's accuracy goals, each in a message written for this
 * project after the format its source documents (the source is named in each test). Addresses and
 * hosts are RFC 2606 / RFC 5737 documentation names.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { explainBounce } from '../../../src/explain/bounce.js';

const message = (lines: readonly string[]): string => `${lines.join('\r\n')}\r\n`;

/** A multipart/report with a text part and a delivery-status part (RFC 3464 §2). */
function dsn(options: {
  readonly from?: string;
  readonly text: readonly string[];
  readonly perMessage: readonly string[];
  readonly perRecipient: readonly string[];
}): string {
  return message([
    `From: ${options.from ?? 'MAILER-DAEMON@mx.example.net'}`,
    'To: sender@example.org',
    'Subject: Delivery Status Notification (Failure)',
    'Date: Sun, 06 Dec 2026 10:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="RCPT18"',
    '',
    '--RCPT18',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...options.text,
    '',
    '--RCPT18',
    'Content-Type: message/delivery-status',
    '',
    ...options.perMessage,
    '',
    ...options.perRecipient,
    '',
    '--RCPT18--',
  ]);
}

describe('explainBounce: provider and report formats', () => {
  it('a report without Remote-MTA: the reporting host is the provider that answered (RFC 3464 §2.3.5)', async () => {
    const explained = await explainBounce(
      dsn({
        text: ['Delivery to the following recipients failed.', '', '       ivan@example.com'],
        perMessage: ['Reporting-MTA: dns;BAY0-MC1-F22.hotmail.com'],
        perRecipient: [
          'Final-Recipient: rfc822;ivan@example.com',
          'Action: failed',
          'Status: 5.5.0',
          'Diagnostic-Code: smtp;550 Requested action not taken: mailbox unavailable',
        ],
      }),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.remoteMta, 'BAY0-MC1-F22.hotmail.com');
    assert.equal(recipient?.explanation?.provider, 'outlook');
    assert.equal(recipient?.explanation?.category, 'mailbox_unknown');
  });

  it("the same reply relayed (a Remote-MTA that names no provider) stays RFC 5321's ambiguous text", async () => {
    const explained = await explainBounce(
      dsn({
        text: ['Delivery failed.'],
        perMessage: ['Reporting-MTA: dns;relay.example.org'],
        perRecipient: [
          'Final-Recipient: rfc822;ivan@example.com',
          'Action: failed',
          'Status: 5.0.0',
          'Remote-MTA: dns;mx.example.com',
          'Diagnostic-Code: smtp;550 Requested action not taken: mailbox unavailable',
        ],
      }),
    );
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_unavailable');
  });

  it("Postfix's address verification report: Action deliverable is a delivery report", async () => {
    const explained = await explainBounce(
      dsn({
        from: 'MAILER-DAEMON@relay.example.org (Mail Delivery System)',
        text: ['Enclosed is the mail delivery report that you requested.'],
        perMessage: ['Reporting-MTA: dns; relay.example.org'],
        perRecipient: [
          'Final-Recipient: rfc822; judy@example.com',
          'Action: deliverable',
          'Status: 2.1.5',
          'Remote-MTA: dns; mx.example.com',
          'Diagnostic-Code: smtp; 250 2.1.5 Ok',
        ],
      }),
    );
    assert.equal(explained.kind, 'delivery_report');
    assert.equal(explained.recipients[0]?.action, 'delivered');
  });

  it("Amazon SES's own Diagnostic-Code: the remote reply it quotes is explained", async () => {
    const explained = await explainBounce(
      dsn({
        from: 'MAILER-DAEMON@amazonses.com',
        text: ['An error occurred while trying to deliver the mail to the following recipients:'],
        perMessage: ['Reporting-MTA: dns; a1-2.smtp-out.amazonses.com'],
        perRecipient: [
          'Final-Recipient: rfc822; karl@example.com',
          'Action: failed',
          'Status: 5.0.0',
          "Diagnostic-Code: smtp; 5.1.0 - Unknown address error 550-'5.1.1 <karl@example.com>... User unknown' (delivery attempts: 0)",
        ],
      }),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.reply, '550 5.1.1 <karl@example.com>... User unknown');
    assert.equal(recipient?.explanation?.category, 'mailbox_unknown');
  });

  it('an Amazon SES Delivery notification is a delivery report, one row per recipient', async () => {
    const json =
      '{"notificationType":"Delivery","mail":{"timestamp":"2026-12-06T10:00:00.000Z","source":"news@example.org","destination":["lena@example.com"]},"delivery":{"timestamp":"2026-12-06T10:00:02.000Z","recipients":["lena@example.com"],"smtpResponse":"250 2.6.0 Message received","reportingMTA":"a1-2.smtp-out.amazonses.com"}}';
    const explained = await explainBounce(
      message([
        'From: no-reply@sns.amazonaws.com',
        'To: ops@example.org',
        'Subject: AWS Notification Message',
        '',
        json,
      ]),
    );
    assert.equal(explained.kind, 'delivery_report');
    assert.equal(explained.format, 'ses');
    assert.deepEqual(
      explained.recipients.map((r) => [r.address, r.action]),
      [['lena@example.com', 'delivered']],
    );
  });

  it('an Amazon SES bounce inside an SNS envelope (the notification is a JSON string in "Message")', async () => {
    const inner = JSON.stringify({
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bouncedRecipients: [
          {
            emailAddress: 'mona@example.com',
            action: 'failed',
            status: '5.1.1',
            diagnosticCode: 'smtp; 550 5.1.1 user unknown',
          },
        ],
        reportingMTA: 'dsn; a1-2.smtp-out.amazonses.com',
      },
    });
    const envelope = `{\n  "Type" : "Notification",\n  "MessageId" : "0f1e2d3c",\n  "Message" : ${JSON.stringify(inner)}\n}`;
    const explained = await explainBounce(
      message([
        'From: no-reply@sns.amazonaws.com',
        'To: ops@example.org',
        'Subject: AWS Notification Message',
        '',
        envelope,
      ]),
    );
    assert.equal(explained.kind, 'bounce');
    assert.equal(explained.recipients[0]?.address, 'mona@example.com');
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_unknown');
  });

  it("Microsoft's JMRP complaint (a copy of the message from staff@hotmail.com) is a feedback report", async () => {
    const explained = await explainBounce(
      message([
        'From: staff@hotmail.com',
        'To: fbl@example.org',
        'Subject: complaint about message from 192.0.2.9',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="JMRP"',
        '',
        '--JMRP',
        'Content-Type: message/rfc822',
        'Content-Disposition: inline',
        '',
        'X-HmXmrOriginalRecipient: nina@example.com',
        'From: news@example.org',
        'To: nina@example.com',
        'Subject: Our December offers',
        '',
        'Hello',
        '',
        '--JMRP--',
      ]),
    );
    assert.equal(explained.kind, 'feedback_report');
    assert.equal(explained.feedbackType, 'abuse');
  });
});

describe('explainBounce: text bounces', () => {
  it("Exim's X-Failed-Recipients stands even when a header repeats the address; the full mailbox is why retries timed out", async () => {
    const explained = await explainBounce(
      message([
        'From: Mail Delivery System <Mailer-Daemon@mx.example.net>',
        'To: sender@example.org',
        'Reply-To: olga@example.net',
        'X-Failed-Recipients: olga@example.net',
        'Subject: Mail delivery failed: returning message to sender',
        '',
        'This message was created automatically by mail delivery software.',
        '',
        'A message that you sent could not be delivered to one or more of its',
        'recipients. This is a permanent error. The following address(es) failed:',
        '',
        '  save to /var/mail/olga',
        '    generated by olga@example.net',
        '    mailbox is full: retry timeout exceeded',
        '',
        '------ This is a copy of the message, including all the headers. ------',
      ]),
    );
    assert.equal(explained.recipients[0]?.address, 'olga@example.net');
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_full');
  });

  it('GMX-style quoted recipients with enhanced codes only: each recipient its own reason', async () => {
    const explained = await explainBounce(
      message([
        'From: Mail Delivery System <mailer-daemon@gmx.example>',
        'To: sender@example.org',
        'Subject: Mail delivery failed: returning message to sender',
        '',
        'A message that you sent could not be delivered to one or more of',
        'its recipients. This is a permanent error. The following address',
        'failed:',
        '',
        '"paula@example.com":',
        'SMTP error from remote server after RCPT command:',
        'host: mx.example.com',
        '5.1.1 <paula@example.com>... User unknown',
        '"quinn@example.com":',
        'SMTP error from remote server after RCPT command:',
        'host: mx.example.com',
        '5.2.2 <quinn@example.com>... Mailbox full',
      ]),
    );
    assert.deepEqual(
      explained.recipients.map((r) => [r.address, r.explanation?.category]),
      [
        ['paula@example.com', 'mailbox_unknown'],
        ['quinn@example.com', 'mailbox_full'],
      ],
    );
  });

  it("a gateway's alert quoting Microsoft's DBEB refusal: the recipient does not exist", async () => {
    const explained = await explainBounce(
      message([
        'From: postmaster <postmaster@gateway.example.org>',
        'To: sender@example.org',
        'Subject: [Postmaster] Email Delivery Failure',
        '',
        'An email that you attempted to send to the following address could not be delivered:',
        '-- rosa@example.com',
        '',
        'The problem appears to be :',
        '-- Recipient email address is possibly incorrect',
        '',
        'Additional information follows :',
        '-- 5.4.1 Recipient address rejected: Access denied. [AB1CD2.prod.outlook.example]',
      ]),
    );
    assert.equal(explained.recipients[0]?.address, 'rosa@example.com');
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_unknown');
  });

  it("Postfix's notice to the postmaster: the reply that failed, not the transcript's first 220", async () => {
    const explained = await explainBounce(
      message([
        'From: MAILER-DAEMON@mx.example.org (Mail Delivery System)',
        'To: postmaster@mx.example.org (Postmaster)',
        'Subject: Postfix SMTP server: errors from relay.example.net[192.0.2.5]',
        '',
        'Transcript of session follows.',
        '',
        ' Out: 220 mx.example.org ESMTP',
        ' In:  EHLO relay.example.net',
        ' Out: 250 mx.example.org',
        ' In:  MAIL FROM:<news@example.net>',
        ' Out: 250 2.1.0 Ok',
        ' In:  RCPT TO:<sam@example.org>',
        ' Out: 250 2.1.5 Ok',
        ' In:  DATA',
        ' Out: 354 End data with <CR><LF>.<CR><LF>',
        ' Out: 451 4.3.0 Error: queue file write error',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.reply, '451 4.3.0 Error: queue file write error');
    assert.equal(recipient?.explanation?.category, 'server_error');
  });

  it('qmail-remote "my name was rejected": the reply answered HELO and refuses the name', async () => {
    const explained = await explainBounce(
      message([
        'From: MAILER-DAEMON@mx.example.net',
        'To: sender@example.org',
        'Subject: failure notice',
        '',
        'Hi. This is the qmail-send program at mx.example.net.',
        "I'm afraid I wasn't able to deliver your message to the following addresses.",
        '',
        '<tina@example.com>:',
        'Connected to 192.0.2.12 but my name was rejected.',
        'Remote host said: 501 5.0.0 Invalid domain name',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.command, 'HELO');
    assert.equal(recipient?.explanation?.category, 'sender_helo');
    assert.notEqual(recipient?.explanation?.verdict, 'undeliverable');
  });

  it('a command named in a quoted Received header is not the command the reply answered', async () => {
    const explained = await explainBounce(
      message([
        'From: MAILER-DAEMON@mx.example.net',
        'To: sender@example.org',
        'Subject: Undeliverable mail',
        '',
        'The following address could not be delivered:',
        'uma@example.com',
        '550 5.1.1 <uma@example.com>: Recipient address rejected: User unknown in local recipient table',
        '',
        'Received: from unknown (HELO relay.example.org) (192.0.2.28)',
        '  by mx.example.net with SMTP; Sun, 06 Dec 2026 10:00:00 +0000',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.command, null);
    assert.equal(recipient?.explanation?.category, 'mailbox_unknown');
  });

  it('a reply in brackets after "error message:" (X6-style), to DATA', async () => {
    const explained = await explainBounce(
      message([
        'From: mailer-daemon',
        'To: sender@example.org',
        'Subject: There was an error sending your mail',
        '',
        'We had trouble delivering your message. Full details follow:',
        '',
        'The following recipients returned permanent errors: vera@example.com. Reason: SMTP Server <192.0.2.3> refused to accept your message (DATA), with the following error message: [554 5.4.6 Hop count exceeded - possible mail loop]',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.reply, '554 5.4.6 Hop count exceeded - possible mail loop');
    assert.equal(recipient?.explanation?.category, 'network_error');
  });

  it("an MMS gateway's notice: the recipient from the original's To after 'Original Message:'", async () => {
    const explained = await explainBounce(
      message([
        'From: MMSC NDR Administrator <sysadmin@mms.example.net>',
        'To: sender@example.org',
        'Subject: Undeliverable Message',
        '',
        'Message could not be delivered to mobile.',
        'Error: No valid recipients for this MM',
        '',
        '',
        'Original Message:',
        'From: sender@example.org',
        'To: 5550100@mms.example.net',
        'Subject: hello',
      ]),
    );
    assert.equal(explained.recipients[0]?.address, '5550100@mms.example.net');
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_unknown');
  });

  it("procmail's own failure is the delivery program's, whatever the lines it quotes say", async () => {
    const explained = await explainBounce(
      dsn({
        text: ['The mail system', '', '<walt@mail.example.org>: Command died with status 73: "procmail"'],
        perMessage: ['Reporting-MTA: dns; mail.example.org'],
        perRecipient: [
          'Final-Recipient: rfc822; walt@mail.example.org',
          'Action: failed',
          'Status: 5.2.0',
          'Diagnostic-Code: x-unix; procmail: Lock failure on "/var/mail/walt.lock" procmail: Error while writing to "/var/mail/walt"',
        ],
      }),
    );
    assert.equal(explained.recipients[0]?.bounceRule, 'procmail');
    assert.equal(explained.recipients[0]?.explanation?.category, 'server_error');
  });
  it("Gmail's 'Send mail as' refusal is about the sender's own address", async () => {
    const explained = await explainBounce(
      message([
        'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
        'To: xena@example.org',
        'Subject: Delivery Status Notification (Failure)',
        '',
        '** Message not delivered **',
        '',
        "You're sending this from a different address or alias using the 'Send mail as' feature. The settings for",
        "your 'Send mail as' account are misconfigured or out of date. Check those settings and try resending.",
        '',
        'Learn more here: https://support.google.com/mail/?p=CustomFromDenied',
        '',
        '----- Original message -----',
        'To: team@example.com',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.address, 'team@example.com');
    assert.equal(recipient?.bounceRule, 'send-mail-as');
    assert.equal(recipient?.explanation?.category, 'sender_address');
  });

  it("a gateway's notice that forwards the MTA's report as an attachment: the report is read", async () => {
    const inner = dsn({
      text: ['   ----- The following addresses had permanent fatal errors -----', 'yara@example.com'],
      perMessage: ['Reporting-MTA: dns; mx.example.net'],
      perRecipient: [
        'Final-Recipient: RFC822; yara@example.com',
        'Action: failed',
        'Status: 5.1.1',
        'Remote-MTA: DNS; mx.example.com',
        'Diagnostic-Code: SMTP; 550 5.1.1 <yara@example.com>... User unknown',
      ],
    });
    const explained = await explainBounce(
      message([
        'From: MAILER-DAEMON@gateway.example.net',
        'To: notify@gateway.example.net',
        'Subject: Returned mail: User unknown',
        'MIME-Version: 1.0',
        'Content-Type: multipart/mixed; boundary="WRAP"',
        '',
        '--WRAP',
        'Content-Type: text/plain',
        '',
        '----- The following addresses had permanent delivery errors -----',
        '',
        '--WRAP',
        'Content-Type: message/rfc822',
        '',
        inner,
        '--WRAP--',
      ]),
    );
    assert.equal(explained.format, 'dsn');
    assert.equal(explained.recipients[0]?.address, 'yara@example.com');
    assert.equal(explained.recipients[0]?.explanation?.category, 'mailbox_unknown');
  });
  it("Sendmail's transcript: the server's <<< reply and the >>> command it answered, not the summary line", async () => {
    const explained = await explainBounce(
      message([
        'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>',
        'To: zoe@example.org',
        'Subject: Returned mail: Remote protocol error',
        '',
        '   ----- Transcript of session follows -----',
        'While talking to mx.example.com:',
        '>>> MAIL From:<zoe@example.org>',
        '<<< 501 <zoe@example.org>... no access from mail server [192.0.2.44] which is an open relay.',
        '554 <adam@example.com>... Remote protocol error',
        'While talking to mx.example.edu:',
        '>>> RCPT To:<beth@example.edu>',
        '<<< 550 <beth@example.edu>... User unknown',
        '550 <beth@example.edu>... User unknown',
        '',
        '   ----- Unsent message follows -----',
      ]),
    );
    assert.deepEqual(
      explained.recipients.map((r) => [r.address, r.command, r.reply?.slice(0, 3), r.explanation?.category]),
      [
        ['adam@example.com', 'MAIL', '501', 'sender_blocklisted'],
        ['beth@example.edu', 'RCPT', '550', 'mailbox_unknown'],
      ],
    );
  });
  it('a greeting that turned negative (220- then 421), quoted by Postfix: the 421 to the connection is the reply', async () => {
    const explained = await explainBounce(
      message([
        'From: MAILER-DAEMON@relay.example.org (Mail Delivery System)',
        'To: sender@example.org',
        'Subject: Undelivered Mail Returned to Sender',
        '',
        '<carl@example.net>: host mx.example.net[192.0.2.61] refused to talk',
        '    to me: 220-mx 421 4.2.1 Service refused, please try later. XYZ001_100',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.reply, '421 4.2.1 Service refused, please try later. XYZ001_100');
    assert.equal(recipient?.command, 'CONNECT');
    assert.equal(recipient?.explanation?.category, 'rate_limited');
  });
  it('a reply that is a banner (554 host ESMTP …) answered the connection: the client was refused', async () => {
    const explained = await explainBounce(
      message([
        'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
        'To: sender@example.org',
        'Subject: Returned mail: see transcript for details',
        '',
        '   ----- The following addresses had permanent fatal errors -----',
        '<dora@example.com>',
        '    (reason: 554 in1.mx.example.com ESMTP not accepting connections)',
      ]),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.command, 'CONNECT');
    assert.equal(recipient?.explanation?.category, 'sender_policy');
  });
  it("Exim's delivery to a pipe: the recipient is the address it was generated by, the program failed", async () => {
    const explained = await explainBounce(
      dsn({
        from: 'Mail Delivery System <Mailer-Daemon@mail.example.org>',
        text: [
          'This message was created automatically by mail delivery software.',
          '',
          'A message that you sent could not be delivered to one or more of its',
          'recipients. This is a permanent error. The following address(es) failed:',
          '',
          '  pipe to |/usr/local/bin/autoresponder /home/gina/.responder/gina@example.org',
          '    generated by gina@example.org',
        ],
        perMessage: ['Reporting-MTA: dns; mail.example.org'],
        perRecipient: [
          'Action: failed',
          'Final-Recipient: rfc822;|/usr/local/bin/autoresponder /home/gina/.responder/gina@example.org',
          'Status: 5.0.0',
        ],
      }),
    );
    const [recipient] = explained.recipients;
    assert.equal(recipient?.address, 'gina@example.org');
    assert.equal(recipient?.bounceRule, 'mailer-error');
    assert.equal(recipient?.explanation?.category, 'server_error');
  });
});
