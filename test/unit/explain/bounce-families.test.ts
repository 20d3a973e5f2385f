/**
 * Bounce formats and wordings added for issue 18's accuracy goals, each in a message written for this
 * project after the format its source documents (the source is named in each case). Addresses and
 * hosts are RFC 2606 / RFC 5737 documentation names. One table: a message and what explainBounce()
 * must say about it (the message's kind and format, and per recipient the fields named).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { explainBounce } from '../../../src/explain/bounce.js';
import type { BounceExplanation, BounceRecipient } from '../../../src/explain/bounce-types.js';

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

/** A message of a gateway (`From`, `Subject`) wrapping `inner` as an attached message/rfc822. */
function wrapped(subject: string, notice: readonly string[], inner: string): string {
  return message([
    'From: MAILER-DAEMON@gateway.example.net',
    'To: notify@gateway.example.net',
    `Subject: ${subject}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="WRAP"',
    '',
    '--WRAP',
    'Content-Type: text/plain',
    '',
    ...notice,
    '',
    '--WRAP',
    'Content-Type: message/rfc822',
    '',
    inner,
    '--WRAP--',
  ]);
}

/** The recipient fields a case may name. */
interface RecipientView {
  readonly address: string;
  readonly action: BounceRecipient['action'];
  readonly command: BounceRecipient['command'];
  readonly reply: string | null;
  readonly remoteMta: string | null;
  readonly bounceRule: string | null;
  readonly category: string | null;
  readonly verdict: string | null;
  readonly provider: string | null;
}

interface Case {
  readonly name: string;
  readonly input: string;
  readonly kind?: BounceExplanation['kind'];
  readonly format?: BounceExplanation['format'];
  readonly feedbackType?: string | null;
  /** Per recipient, in order, the fields to check; the count is checked too. */
  readonly recipients?: readonly Partial<RecipientView>[];
}

function view(recipient: BounceRecipient): RecipientView {
  return {
    address: recipient.address,
    action: recipient.action,
    command: recipient.command,
    reply: recipient.reply,
    remoteMta: recipient.remoteMta,
    bounceRule: recipient.bounceRule,
    category: recipient.explanation?.category ?? null,
    verdict: recipient.explanation?.verdict ?? null,
    provider: recipient.explanation?.provider ?? null,
  };
}

/** The fields of `actual` that `expected` names. */
function picked(actual: RecipientView, expected: Partial<RecipientView>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(expected).map((key) => [key, actual[key as keyof RecipientView]]));
}

const REPORT_CASES: readonly Case[] = [
  {
    name: 'a report without Remote-MTA: the reporting host is the provider that answered (RFC 3464 §2.3.5)',
    input: dsn({
      text: ['Delivery to the following recipients failed.', '', '       ivan@example.com'],
      perMessage: ['Reporting-MTA: dns;BAY0-MC1-F22.hotmail.com'],
      perRecipient: [
        'Final-Recipient: rfc822;ivan@example.com',
        'Action: failed',
        'Status: 5.5.0',
        'Diagnostic-Code: smtp;550 Requested action not taken: mailbox unavailable',
      ],
    }),
    recipients: [{ remoteMta: 'BAY0-MC1-F22.hotmail.com', provider: 'outlook', category: 'mailbox_unknown' }],
  },
  {
    name: "the same reply relayed (a Remote-MTA that names no provider) stays RFC 5321's ambiguous text",
    input: dsn({
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
    recipients: [{ category: 'mailbox_unavailable' }],
  },
  {
    name: "Postfix's address verification report: Action deliverable is a delivery report",
    input: dsn({
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
    kind: 'delivery_report',
    recipients: [{ address: 'judy@example.com', action: 'delivered' }],
  },
  {
    name: "Amazon SES's own Diagnostic-Code: the remote reply it quotes is explained",
    input: dsn({
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
    recipients: [{ reply: '550 5.1.1 <karl@example.com>... User unknown', category: 'mailbox_unknown' }],
  },
  {
    name: 'an Amazon SES Delivery notification is a delivery report, one row per recipient',
    input: message([
      'From: no-reply@sns.amazonaws.com',
      'To: ops@example.org',
      'Subject: AWS Notification Message',
      '',
      '{"notificationType":"Delivery","mail":{"timestamp":"2026-12-06T10:00:00.000Z","source":"news@example.org","destination":["lena@example.com"]},"delivery":{"timestamp":"2026-12-06T10:00:02.000Z","recipients":["lena@example.com"],"smtpResponse":"250 2.6.0 Message received","reportingMTA":"a1-2.smtp-out.amazonses.com"}}',
    ]),
    kind: 'delivery_report',
    format: 'ses',
    recipients: [{ address: 'lena@example.com', action: 'delivered' }],
  },
  {
    name: 'an Amazon SES bounce inside an SNS envelope (the notification is a JSON string in "Message")',
    input: message([
      'From: no-reply@sns.amazonaws.com',
      'To: ops@example.org',
      'Subject: AWS Notification Message',
      '',
      `{\n  "Type" : "Notification",\n  "MessageId" : "0f1e2d3c",\n  "Message" : ${JSON.stringify(
        JSON.stringify({
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
        }),
      )}\n}`,
    ]),
    kind: 'bounce',
    recipients: [{ address: 'mona@example.com', category: 'mailbox_unknown' }],
  },
  {
    name: "Microsoft's JMRP complaint (a copy of the message from staff@hotmail.com) is a feedback report",
    input: message([
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
    kind: 'feedback_report',
    feedbackType: 'abuse',
    recipients: [],
  },
  {
    name: "a gateway's notice that forwards the MTA's report as an attachment: the report is read",
    input: wrapped(
      'Returned mail: User unknown',
      ['----- The following addresses had permanent delivery errors -----'],
      dsn({
        text: ['   ----- The following addresses had permanent fatal errors -----', 'yara@example.com'],
        perMessage: ['Reporting-MTA: dns; mx.example.net'],
        perRecipient: [
          'Final-Recipient: RFC822; yara@example.com',
          'Action: failed',
          'Status: 5.1.1',
          'Remote-MTA: DNS; mx.example.com',
          'Diagnostic-Code: SMTP; 550 5.1.1 <yara@example.com>... User unknown',
        ],
      }),
    ),
    format: 'dsn',
    recipients: [{ address: 'yara@example.com', category: 'mailbox_unknown' }],
  },
  {
    name: "Exim's delivery to a pipe: the recipient is the address it was generated by, the program failed",
    input: dsn({
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
    recipients: [{ address: 'gina@example.org', bounceRule: 'mailer-error', category: 'server_error' }],
  },
  {
    // Exim transports/smtp.c writes `SMTP error from remote mail server after <command>:` with the
    // command as sent: `EHLO <name>` (RFC 5321 §4.1.1.1). A refusal of EHLO can only be about the
    // client, which is all the command names; the DSN's Diagnostic-Code does not say which command.
    name: "Exim's `after EHLO`: the text part names the command the DSN's Diagnostic-Code does not",
    input: dsn({
      from: 'Mail Delivery System <Mailer-Daemon@mail.example.org>',
      text: [
        'This message was created automatically by mail delivery software.',
        '',
        'A message that you sent could not be delivered to one or more of its',
        'recipients. This is a permanent error. The following address(es) failed:',
        '',
        '  olga@example.com',
        '    host mx.example.com [192.0.2.25]',
        '    SMTP error from remote mail server after EHLO mail.example.org:',
        '    550 Go away',
      ],
      perMessage: ['Reporting-MTA: dns; mail.example.org'],
      perRecipient: [
        'Action: failed',
        'Final-Recipient: rfc822;olga@example.com',
        'Status: 5.0.0',
        'Remote-MTA: dns; mx.example.com',
        'Diagnostic-Code: smtp; 550 Go away',
      ],
    }),
    recipients: [
      { address: 'olga@example.com', command: 'HELO', category: 'sender_policy', verdict: 'unknown' },
    ],
  },
  {
    name: "procmail's own failure is the delivery program's, whatever the lines it quotes say",
    input: dsn({
      text: ['The mail system', '', '<walt@mail.example.org>: Command died with status 73: "procmail"'],
      perMessage: ['Reporting-MTA: dns; mail.example.org'],
      perRecipient: [
        'Final-Recipient: rfc822; walt@mail.example.org',
        'Action: failed',
        'Status: 5.2.0',
        'Diagnostic-Code: x-unix; procmail: Lock failure on "/var/mail/walt.lock" procmail: Error while writing to "/var/mail/walt"',
      ],
    }),
    recipients: [{ bounceRule: 'procmail', category: 'server_error' }],
  },
];

const TEXT_CASES: readonly Case[] = [
  {
    // OpenSMTPD mta.c: DNS_ENOTFOUND is IMSG_DELIVERY_TEMPFAIL "No MX found for domain", DNS_RETRY
    // "Temporary failure in MX lookup"; DNS_ENONAME is a permanent "Domain does not exist".
    name: "OpenSMTPD's DNS failures: 'No MX found' and 'Temporary failure in MX lookup' are temporary, 'Domain does not exist' is not",
    input: message([
      'From: MAILER-DAEMON@mx.example.org',
      'To: sender@example.org',
      'Subject: Delivery status notification: error',
      '',
      'Hi!',
      '',
      'This is the MAILER-DAEMON, please DO NOT REPLY to this email.',
      '',
      'An error has occurred while attempting to deliver a message for',
      'the following list of recipients:',
      '',
      'jack@nomx.example: No MX found for domain',
      'kate@slowdns.example: Temporary failure in MX lookup',
      'liam@gone.example: Domain does not exist',
      '',
      'Below is a copy of the original message:',
      '',
      'From: sender@example.org',
      'To: jack@nomx.example',
      'Subject: hi',
    ]),
    kind: 'bounce',
    recipients: [
      {
        address: 'jack@nomx.example',
        bounceRule: 'dns-temporary',
        category: 'network_error',
        verdict: 'unknown',
      },
      {
        address: 'kate@slowdns.example',
        bounceRule: 'dns-temporary',
        category: 'network_error',
        verdict: 'unknown',
      },
      {
        address: 'liam@gone.example',
        bounceRule: 'host-unknown',
        category: 'domain_unknown',
        verdict: 'undeliverable',
      },
    ],
  },
  {
    name: "cPanel's Exim names a recipient no router would take (cannot_route_message): the domain, not a block of the sender",
    input: message([
      'From: Mail Delivery System <Mailer-Daemon@host.example.org>',
      'To: sender@example.org',
      'X-Failed-Recipients: piet@nodns.example',
      'Subject: Mail delivery failed: returning message to sender',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  piet@nodns.example',
      '    The mail server could not deliver mail to piet@nodns.example.  The account or domain may not exist,',
      '    they may be blacklisted, or missing the proper dns entries.',
      '',
      '------ This is a copy of the message, including all the headers. ------',
      '',
      'From: sender@example.org',
      'To: piet@nodns.example',
      'Subject: hello',
    ]),
    kind: 'bounce',
    recipients: [
      {
        address: 'piet@nodns.example',
        bounceRule: 'exim-cannot-route',
        category: 'domain_unknown',
        verdict: 'undeliverable',
      },
    ],
  },
  {
    name: 'the same cPanel words inside a sender verification refuse the sender, not the recipient',
    input: message([
      'From: Mail Delivery System <Mailer-Daemon@host.example.org>',
      'To: sender@example.org',
      'X-Failed-Recipients: quinn@example.net',
      'Subject: Mail delivery failed: returning message to sender',
      '',
      'This message was created automatically by mail delivery software.',
      '',
      'A message that you sent could not be delivered to one or more of its',
      'recipients. This is a permanent error. The following address(es) failed:',
      '',
      '  quinn@example.net',
      '    host mx.example.net [192.0.2.30]',
      '    SMTP error from remote mail server after RCPT TO:<quinn@example.net>:',
      '    550-Verification failed for <sender@example.org>',
      '    550-The mail server could not deliver mail to sender@example.org.  The account or domain may not exist,',
      '    550-they may be blacklisted, or missing the proper dns entries.',
      '    550 Sender verify failed',
      '',
      '------ This is a copy of the message, including all the headers. ------',
    ]),
    kind: 'bounce',
    recipients: [{ address: 'quinn@example.net', category: 'sender_address', verdict: 'unknown' }],
  },
  {
    name: "Exim's X-Failed-Recipients stands even when a header repeats the address; the full mailbox is why retries timed out",
    input: message([
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
    recipients: [{ address: 'olga@example.net', category: 'mailbox_full' }],
  },
  {
    name: 'GMX-style quoted recipients with enhanced codes only: each recipient its own reason',
    input: message([
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
    recipients: [
      { address: 'paula@example.com', category: 'mailbox_unknown' },
      { address: 'quinn@example.com', category: 'mailbox_full' },
    ],
  },
  {
    name: "a gateway's alert quoting Microsoft's DBEB refusal: the recipient does not exist",
    input: message([
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
    recipients: [{ address: 'rosa@example.com', category: 'mailbox_unknown' }],
  },
  {
    name: "Postfix's notice to the postmaster: the reply that failed, not the transcript's first 220",
    input: message([
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
    recipients: [{ reply: '451 4.3.0 Error: queue file write error', category: 'server_error' }],
  },
  {
    name: 'qmail-remote "my name was rejected": the reply answered HELO and refuses the name',
    input: message([
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
    recipients: [{ command: 'HELO', category: 'sender_helo', verdict: 'unknown' }],
  },
  {
    name: 'a command named in a quoted Received header is not the command the reply answered',
    input: message([
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
    recipients: [{ command: null, category: 'mailbox_unknown' }],
  },
  {
    name: 'a reply in brackets after "error message:" (X6-style), to DATA',
    input: message([
      'From: mailer-daemon',
      'To: sender@example.org',
      'Subject: There was an error sending your mail',
      '',
      'We had trouble delivering your message. Full details follow:',
      '',
      'The following recipients returned permanent errors: vera@example.com. Reason: SMTP Server <192.0.2.3> refused to accept your message (DATA), with the following error message: [554 5.4.6 Hop count exceeded - possible mail loop]',
    ]),
    recipients: [{ reply: '554 5.4.6 Hop count exceeded - possible mail loop', category: 'network_error' }],
  },
  {
    name: "an MMS gateway's notice: the recipient from the original's To after 'Original Message:'",
    input: message([
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
    recipients: [{ address: '5550100@mms.example.net', category: 'mailbox_unknown' }],
  },
  {
    name: "Gmail's 'Send mail as' refusal is about the sender's own address",
    input: message([
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
    recipients: [{ address: 'team@example.com', bounceRule: 'send-mail-as', category: 'sender_address' }],
  },
  {
    name: "Sendmail's transcript: the server's <<< reply and the >>> command it answered, not the summary line",
    input: message([
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
    recipients: [
      { address: 'adam@example.com', command: 'MAIL', category: 'sender_blocklisted' },
      { address: 'beth@example.edu', command: 'RCPT', category: 'mailbox_unknown' },
    ],
  },
  {
    // Sendmail sysexits.c SysExMsg: the summary line is the local program's exit status in words (69
    // EX_UNAVAILABLE `Service unavailable`, 77 EX_NOPERM `Insufficient permission`); what the program
    // wrote above it names the condition. deliverquota(8): the maildrop version exits 77 over quota.
    name: "Sendmail's local delivery: the program's own line above the summary decides, not its exit status",
    input: message([
      'From: Mail Delivery Subsystem <MAILER-DAEMON@mail.example.net>',
      'To: anna@example.org',
      'Subject: Returned mail: see transcript for details',
      '',
      '   ----- The following addresses had permanent fatal errors -----',
      '<carl@example.net>',
      '<dora@example.net>',
      '<emil@example.net>',
      '',
      '   ----- Transcript of session follows -----',
      'mail.local: unknown user: carl',
      '554 5.0.0 <carl@example.net>... Service unavailable',
      'maildrop: maildir over quota.',
      '550 5.0.0 <dora@example.net>... Insufficient permission',
      '550 5.0.0 <emil@example.net>... Insufficient permission',
      '',
      '   ----- Unsent message follows -----',
    ]),
    recipients: [
      { address: 'carl@example.net', bounceRule: 'mailbox-unknown', category: 'mailbox_unknown' },
      { address: 'dora@example.net', bounceRule: 'mailbox-full', category: 'mailbox_full' },
      // Only the exit status: the delivery program failed.
      { address: 'emil@example.net', bounceRule: 'mailer-error', category: 'server_error' },
    ],
  },
  {
    name: 'a greeting that turned negative (220- then 421), quoted by Postfix: the 421 to the connection is the reply',
    input: message([
      'From: MAILER-DAEMON@relay.example.org (Mail Delivery System)',
      'To: sender@example.org',
      'Subject: Undelivered Mail Returned to Sender',
      '',
      '<carl@example.net>: host mx.example.net[192.0.2.61] refused to talk',
      '    to me: 220-mx 421 4.2.1 Service refused, please try later. XYZ001_100',
    ]),
    recipients: [
      {
        reply: '421 4.2.1 Service refused, please try later. XYZ001_100',
        command: 'CONNECT',
        category: 'rate_limited',
      },
    ],
  },
  {
    name: 'a reply that is a banner (554 host ESMTP …) answered the connection: the client was refused',
    input: message([
      'From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>',
      'To: sender@example.org',
      'Subject: Returned mail: see transcript for details',
      '',
      '   ----- The following addresses had permanent fatal errors -----',
      '<dora@example.com>',
      '    (reason: 554 in1.mx.example.com ESMTP not accepting connections)',
    ]),
    recipients: [{ command: 'CONNECT', category: 'sender_policy' }],
  },
];

/** Formats that once yielded no recipient at all (issue 18, "not parsed"). */
const NOTICE_CASES: readonly Case[] = [
  {
    // fml 4 kern/fml.pl RejectHandler: subject `You <sender> are not member (<list> ML)`, the list's
    // deny file as the body; X-MLServer names fml.
    name: "fml's refusal of a post from a non-member: the list address failed, the list refuses the sender",
    input: message([
      'From: team-admin@lists.example.org',
      'To: ann@example.com',
      'Subject: You ann@example.com are not member (team ML)',
      'Date: Sun, 06 Dec 2026 10:00:00 +0900',
      'X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]',
      'X-ML-Info: If you have a question, please contact team-admin@lists.example.org',
      '',
      'Only subscribers may post to <team@lists.example.org>.',
      '',
      'To subscribe, write "subscribe" to',
      '',
      '\tteam-ctl@lists.example.org',
    ]),
    kind: 'bounce',
    recipients: [
      {
        address: 'team@lists.example.org',
        action: 'failed',
        bounceRule: 'list-not-member',
        category: 'sender_policy',
        verdict: 'unknown',
      },
    ],
  },
  {
    // fml 4 kern/fml.pl DupMessageIdP: `Loop Alert: Duplicated Message-ID (<list> ML)`, then
    // __WholeMail's `Original mail as follows:` and the original indented.
    name: "fml's loop alert: the list did not distribute a message it had seen, a loop, not a dead address",
    input: message([
      'From: club-admin@example.jp',
      'To: club-admin@example.jp',
      'Subject: Loop Alert: Duplicated Message-ID (club ML)',
      'X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]',
      '',
      'Duplicated Message-ID in <club@example.jp>.',
      '',
      'Original mail as follows:',
      '',
      '   From: bob@example.net',
      '   To: <club@example.jp>',
      '   Message-ID: <1234.5678@example.net>',
    ]),
    kind: 'bounce',
    recipients: [{ address: 'club@example.jp', bounceRule: 'mail-loop', category: 'network_error' }],
  },
  {
    // RFC 2045 §5.1: `Content-Type: text/plain` and `charset=…` on the next line without the `;`.
    name: 'a notice in a text part whose Content-Type lost its ";" is still read, before the returned message',
    input: message([
      'From: "Mail Delivery System" <MAILER-DAEMON>',
      'To: sender@example.co.jp',
      'Subject: Returned Mail: User unknown',
      'Content-Type: multipart/mixed; boundary="--X1BROKEN"',
      '',
      '----X1BROKEN',
      'Content-Type: text/plain',
      '   charset="iso-2022-jp"',
      '',
      '---The following addresses had delivery errors---',
      '',
      'carol@example.org [User unknown]',
      '',
      '----X1BROKEN',
      'From: sender@example.co.jp',
      'To: carol@example.org',
      'Subject: hello',
      '',
      'hello',
      '----X1BROKEN--',
    ]),
    kind: 'bounce',
    recipients: [{ address: 'carol@example.org', category: 'mailbox_unknown' }],
  },
  {
    // Trend Micro InterScan's notice names no reason; the bounce it received is attached.
    name: "a gateway's notice that wraps a plain-text bounce: the attached bounce's transcript is read",
    input: wrapped(
      'Mail could not be delivered',
      [
        '****** Message from the mail gateway ******',
        '',
        'The following mail could not be delivered.',
        'Reason:  Unable to deliver message to <dana@example.jp>.',
      ],
      message([
        'From: sender@example.org',
        'To: dana@example.jp',
        'Subject: hello',
        '',
        '----- The following addresses had permanent fatal errors -----',
        '<dana@example.jp>',
        '',
        '----- Transcript of session follows -----',
        '... while talking to mx.example.jp.:',
        '>>> RCPT To:<dana@example.jp>',
        '<<< 550 5.1.1 <dana@example.jp>... User unknown',
      ]),
    ),
    kind: 'bounce',
    recipients: [{ address: 'dana@example.jp', command: 'RCPT', category: 'mailbox_unknown' }],
  },
  {
    // A returned original message is no bounce of its own: the outer answer stands.
    name: "a bounce whose only attachment is the returned message: the message's own To is not read as a report",
    input: wrapped(
      'Undeliverable: hello',
      ['Your message could not be delivered to <erin@example.com>.'],
      message(['From: sender@example.org', 'To: erin@example.com', 'Subject: hello', '', 'Hi Erin']),
    ),
    kind: 'bounce',
    recipients: [{ address: 'erin@example.com' }],
  },
  {
    // Google Groups writes its notice in the sender's language; the greeting runs on from the address.
    name: 'an address run into the Chinese text after it is not a recipient; X-Failed-Recipients names the group',
    input: message([
      'From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>',
      'To: fay@example.jp',
      'Subject: Delivery Status Notification (Failure)',
      'X-Failed-Recipients: study@googlegroups.com',
      'Auto-Submitted: auto-replied',
      'Content-Type: text/plain; charset="UTF-8"',
      '',
      'fay@example.jp您好，',
      '',
      '您試圖聯絡的「study」群組可能不存在，或者您沒有在此群組張貼留言的權限。',
      '',
      '請造訪「說明中心」，網址是：https://groups.google.com/support/。',
      '',
      '----- Original message -----',
      'To: study@googlegroups.com',
    ]),
    kind: 'bounce',
    recipients: [
      { address: 'study@googlegroups.com', bounceRule: 'google-groups-refused', category: 'sender_policy' },
    ],
  },
  {
    // Exim src/src/moan.c ERRMESS_BADADDRESS.
    name: "Exim's malformed-address notice: a name-addr's angle address, refused for the header's form, not the mailbox",
    input: message([
      'From: Mail Delivery System <mailer-daemon@mx.example.com>',
      'To: sender@example.com',
      'Subject: Mail failure - malformed recipient address',
      'Auto-Submitted: auto-replied',
      '',
      'A message that you sent contained one or more recipient addresses that were',
      'incorrectly constructed:',
      '',
      '  gus@example.com <hal@example.net>: malformed address: <hal@example.net> may not follow gus@example.com',
      '  ivy@example.net.: domain missing or malformed',
      '',
      'These addresses have been ignored. The other addresses in the message were',
      'syntactically valid and have been passed on for an attempt at delivery.',
      '',
      '------ This is a copy of your message, including all the headers. ------',
      '',
      'To: gus@example.com <hal@example.net>, ivy@example.net.',
    ]),
    kind: 'bounce',
    recipients: [
      { address: 'hal@example.net', bounceRule: 'malformed-header-address', verdict: 'unknown' },
      { address: 'ivy@example.net.', bounceRule: 'malformed-address', category: 'recipient_syntax' },
    ],
  },
];

/** Messages that are no bounce, and must not read as one. */
const NOT_BOUNCE_CASES: readonly Case[] = [
  {
    // Apple Mail's unsubscribe (RFC 2369 List-Unsubscribe mailto), as documented by Spam Resource.
    name: "Apple Mail's unsubscribe request is feedback (unsubscribe), not an auto-reply or a bounce",
    input: readFileSync(new URL('../../fixtures/feedback/apple-unsubscribe.eml', import.meta.url), 'utf8'),
    kind: 'feedback_report',
    feedbackType: 'unsubscribe',
    recipients: [],
  },
  {
    name: 'a vacation reply (RFC 3834 Auto-Submitted) stays an auto-reply',
    input: message([
      'From: kim@example.com',
      'To: sender@example.org',
      'Subject: Out of office: hello',
      'Auto-Submitted: auto-replied',
      '',
      'I am away until Monday and will answer your message then.',
    ]),
    kind: 'auto_reply',
    recipients: [],
  },
  {
    name: 'a list message from an fml list (X-MLServer, but no notice subject) is not a bounce',
    input: message([
      'From: lee@example.net',
      'To: team@lists.example.org',
      'Subject: [team:01234] meeting notes',
      'X-MLServer: fml [fml 4.0.3 release (20011202/4.0.3)]',
      '',
      'Notes from today are at <https://example.org/notes>.',
    ]),
    kind: 'not_a_bounce',
    recipients: [],
  },
];

const GROUPS: readonly (readonly [string, readonly Case[]])[] = [
  ['explainBounce: provider and report formats', REPORT_CASES],
  ['explainBounce: text bounces', TEXT_CASES],
  ['explainBounce: notices that were not parsed before', NOTICE_CASES],
  ['explainBounce: messages that are no bounce', NOT_BOUNCE_CASES],
];

for (const [title, cases] of GROUPS) {
  describe(title, () => {
    for (const testCase of cases) {
      it(testCase.name, async () => {
        const explained = await explainBounce(testCase.input);
        if (testCase.kind !== undefined) assert.equal(explained.kind, testCase.kind);
        if (testCase.format !== undefined) assert.equal(explained.format, testCase.format);
        if (testCase.feedbackType !== undefined) assert.equal(explained.feedbackType, testCase.feedbackType);
        if (testCase.recipients !== undefined) {
          assert.deepEqual(
            explained.recipients.map((recipient, index) =>
              picked(view(recipient), testCase.recipients?.[index] ?? {}),
            ),
            testCase.recipients,
          );
        }
      });
    }
  });
}
