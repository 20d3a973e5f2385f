/**
 * `explainReply()`: replies, multi-line replies, transcripts and replies quoted in bounces, written for
 * this project (RFC 5321's examples, the MTAs' documented formats), plus bad input. The agreement with
 * `verify()` on every rule of the table is in test/integration/explain/verify-agreement.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { classifyReply } from '../../../src/classify/index.js';
import { MAX_REPLIES, findReplies } from '../../../src/explain/index.js';
import { explainReply, type ReplyExplanation } from '../../../src/index.js';
import { REPLY_LINES } from '../../fixtures/replies/reply-lines.js';

function only(input: string, options?: Parameters<typeof explainReply>[1]): ReplyExplanation {
  const explanations = explainReply(input, options);
  assert.equal(explanations.length, 1, JSON.stringify(explanations.map((e) => e.reply)));
  return explanations[0]!;
}

describe('explainReply: one reply', () => {
  it('explains a Postfix unknown user: undeliverable, recipient side, remove the address', () => {
    const e = only(
      '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    );
    assert.deepEqual(
      [e.reply.code, e.reply.enhanced, e.reply.command, e.readAs],
      [550, '5.1.1', null, 'rcpt'],
    );
    assert.equal(
      e.reply.text,
      '<x@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    );
    assert.deepEqual(
      [e.verdict, e.reason, e.category],
      ['undeliverable', 'mailbox_not_found', 'mailbox_unknown'],
    );
    assert.deepEqual([e.permanence, e.side, e.action.kind], ['permanent', 'recipient', 'remove_address']);
    assert.equal(e.rule.id, 'mailbox-not-found-text');
    assert.match(e.rule.source, /Postfix/);
    assert.ok(e.meaning.length > 0 && e.action.advice.length > 0);
  });

  it('joins a multi-line reply and keeps its enhanced code', () => {
    const e = only(
      '550-5.2.1 The email account that you tried to reach is disabled. For more information,\r\n550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si - gsmtp\r\n',
    );
    assert.equal(e.reply.enhanced, '5.2.1');
    assert.equal(e.reply.text.split('\n').length, 2);
    assert.deepEqual(
      [e.reason, e.category, e.action.kind],
      ['mailbox_disabled', 'mailbox_disabled', 'remove_address'],
    );
    assert.equal(e.action.url, 'https://support.google.com/mail/?p=DisabledUser');
  });

  it('reads the retry delay of a greylisting reply into the action', () => {
    const e = only(
      '450 4.2.0 <x@example.com>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.com.html',
    );
    assert.deepEqual(
      [e.verdict, e.reason, e.category, e.permanence],
      ['unknown', 'greylisted', 'greylisted', 'temporary'],
    );
    assert.equal(e.action.kind, 'retry_later');
    const timed = only('451 4.7.1 Greylisted for 5 minutes');
    assert.equal(timed.action.retryAfterMs, 5 * 60_000);
    assert.match(timed.action.advice, /5 min/);
  });

  it('reads a 450 naming the recipient unknown as that, for now: never undeliverable, retry', () => {
    for (const line of [
      '450 4.1.1 <ana@example.com>: Recipient address rejected: User unknown in local recipient table',
      '450 4.1.1 <ana@example.com>: Recipient address rejected: undeliverable address: host mx.example.com[192.0.2.8] said: 550 5.1.1 <ana@example.com>: Recipient address rejected: User unknown (in reply to RCPT TO command)',
    ]) {
      const e = only(line);
      assert.deepEqual(
        [e.verdict, e.reason, e.category, e.permanence, e.side, e.action.kind],
        ['unknown', 'unexpected_reply', 'mailbox_unknown_temporary', 'temporary', 'recipient', 'retry_later'],
        line,
      );
      assert.equal(e.rule.id, 'transient-mailbox-unknown', line);
    }
    // A 451 (a local error in processing, RFC 5321 §4.2.3) or a 4xx without such words is not read so.
    assert.equal(only('451 4.3.0 <ana@example.com>: Temporary lookup failure').category, 'server_error');
    assert.equal(only('450 4.1.1 <ana@example.com>: temporarily unavailable').category, 'server_error');
  });

  it('never calls a blocklisted sender an unknown user, even when the text says "User unknown"', () => {
    const e = only(
      '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; User unknown',
    );
    assert.deepEqual(
      [e.verdict, e.reason, e.category, e.side],
      ['unknown', 'sender_blocked', 'sender_blocklisted', 'sender'],
    );
    assert.equal(e.action.kind, 'request_delisting');
  });

  it('tells SPF, DMARC, reverse DNS, HELO and relaying apart, all on the sender side', () => {
    const cases: readonly (readonly [string, string])[] = [
      ['550 5.7.23 SPF validation failed', 'sender_spf'],
      ['550 5.7.1 rejected by DMARC policy for example.net', 'sender_dmarc'],
      ['450 4.7.25 Client host rejected: cannot find your hostname, [192.0.2.1]', 'sender_rdns'],
      ['504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname', 'sender_helo'],
      ['554 5.7.1 <x@example.org>: Relay access denied', 'relay_denied'],
    ];
    for (const [line, category] of cases) {
      const e = only(line);
      assert.equal(e.category, category, line);
      assert.equal(e.side, 'sender', line);
      assert.notEqual(e.verdict, 'undeliverable', line);
    }
  });

  it('reads the command from options, and a reply to DATA as one about the message', () => {
    const size = only('552 5.3.4 Message size exceeds fixed limit', { command: 'DATA' });
    assert.deepEqual(
      [size.reply.command, size.readAs, size.category, size.side],
      ['DATA', 'data', 'content_size', 'message'],
    );
    assert.equal(size.verdict, 'unknown');
    const greeting = only('554 5.7.1 Service unavailable', { command: 'CONNECT' });
    assert.deepEqual([greeting.readAs, greeting.reason], ['greeting', 'sender_blocked']);
  });

  it('applies provider context given as an id or as an MX host name', () => {
    const line = '550 5.5.0 Requested action not taken: mailbox unavailable';
    assert.equal(only(line).reason, 'unexpected_reply');
    assert.equal(only(line).category, 'mailbox_unavailable');
    for (const provider of ['outlook', 'mx1.hotmail.com', 'OUTLOOK']) {
      const e = only(line, { provider });
      assert.deepEqual([e.reason, e.provider], ['mailbox_not_found', 'outlook'], provider);
    }
    assert.equal(only(line, { provider: 'mx.unknown.example' }).provider, null);
  });

  it('gives the verdict the classifier gives at RCPT for every fixture line', () => {
    for (const entry of REPLY_LINES.filter(
      (line) => line.stage === 'rcpt' && line.provider === undefined && line.otherAccepted !== true,
    )) {
      const e = only(entry.line);
      const classified = classifyReply({
        stage: 'rcpt',
        code: e.reply.code ?? 0,
        enhanced: e.reply.enhanced,
        text: e.reply.text,
      });
      assert.deepEqual(
        [e.verdict, e.reason, e.rule.id],
        [classified.verdict, classified.reason, classified.rule],
        entry.line,
      );
      assert.equal(e.reason, entry.reason, entry.line);
    }
  });
});

describe('explainReply: transcripts', () => {
  const session = [
    '220 mx.example.com ESMTP Postfix',
    'EHLO probe.example.net',
    '250-mx.example.com',
    '250-PIPELINING',
    '250 8BITMIME',
    'MAIL FROM:<sender@example.net>',
    '250 2.1.0 Ok',
    'RCPT TO:<alice@example.com>',
    '250 2.1.5 Ok',
    'RCPT TO:<nobody@example.com>',
    '550 Requested action not taken: mailbox unavailable',
    'DATA',
    '354 End data with <CR><LF>.<CR><LF>',
    'Subject: test',
    '',
    '550 this line is message text, not a reply',
    '.',
    '250 2.0.0 Ok: queued as 4Bx1yZ',
    'QUIT',
    '221 2.0.0 Bye',
  ].join('\r\n');

  it('answers each reply with the command it answered', () => {
    const explanations = explainReply(session);
    assert.deepEqual(
      explanations.map((e) => [e.reply.code, e.reply.command]),
      [
        [220, 'CONNECT'],
        [250, 'EHLO'],
        [250, 'MAIL'],
        [250, 'RCPT'],
        [550, 'RCPT'],
        [354, 'DATA'],
        [250, 'DATA'],
        [221, 'QUIT'],
      ],
    );
    assert.equal(explanations[1]!.reply.text, 'mx.example.com\nPIPELINING\n8BITMIME');
  });

  it('settles the ambiguous "mailbox unavailable" when another recipient was accepted, as verify() does', () => {
    const refusal = explainReply(session)[4]!;
    assert.deepEqual(
      [refusal.reason, refusal.rule.id],
      ['mailbox_not_found', 'mailbox-unavailable-confirmed'],
    );
    const alone = session.replace('250 2.1.5 Ok', '450 4.2.0 try later');
    assert.equal(explainReply(alone)[4]!.reason, 'unexpected_reply');
  });

  it('matches pipelined replies to commands in order (RFC 2920)', () => {
    const pipelined = [
      'S: 220 mx.example.com ESMTP',
      'C: EHLO probe.example.net',
      'S: 250-mx.example.com',
      'S: 250 PIPELINING',
      'C: MAIL FROM:<sender@example.net>',
      'C: RCPT TO:<a@example.com>',
      'C: RCPT TO:<b@example.com>',
      'S: 250 2.1.0 Ok',
      'S: 550 5.1.1 <a@example.com>: Recipient address rejected: User unknown in local recipient table',
      'S: 452 4.5.3 Error: too many recipients',
    ].join('\n');
    const explanations = explainReply(pipelined);
    assert.deepEqual(
      explanations.map((e) => [e.reply.code, e.reply.command, e.reason]),
      [
        [220, 'CONNECT', 'unexpected_reply'],
        [250, 'EHLO', 'unexpected_reply'],
        [250, 'MAIL', 'unexpected_reply'],
        [550, 'RCPT', 'mailbox_not_found'],
        [452, 'RCPT', 'rate_limited'],
      ],
    );
  });

  it("reads Sendmail's >>>/<<< transcript and the provider from the greeting", () => {
    const transcript = [
      '<<< 220 mx.outlook.example ESMTP',
      '>>> EHLO probe.example.net',
      '<<< 250 mx.outlook.example',
      '>>> MAIL From:<sender@example.net>',
      '<<< 250 2.1.0 Sender OK',
      '>>> RCPT To:<nobody@hotmail.com>',
      '<<< 550 5.5.0 Requested action not taken: mailbox unavailable',
    ].join('\n');
    const last = explainReply(transcript, { provider: 'outlook' }).at(-1)!;
    assert.deepEqual(
      [last.reply.command, last.reason, last.provider],
      ['RCPT', 'mailbox_not_found', 'outlook'],
    );
    const greeted = explainReply(
      transcript.replace('mx.outlook.example', 'BL2PEPF000044F9.mail.protection.outlook.com'),
    ).at(-1)!;
    assert.equal(greeted.provider, 'microsoft365');
  });

  it('reads a reply quoted by a Postfix bounce, with its host and the command it answered', () => {
    const bounce = [
      '<nobody@example.com>: host mx.example.com[192.0.2.25] said: 550 5.1.1',
      '    <nobody@example.com>: Recipient address rejected: User unknown in virtual',
      '    mailbox table (in reply to RCPT TO command)',
    ].join('\n');
    const e = only(bounce);
    assert.equal(e.reply.command, 'RCPT');
    assert.equal(
      e.reply.text,
      '<nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    );
    assert.equal(e.reason, 'mailbox_not_found');
    const hotmail = only(
      bounce
        .replace('mx.example.com', 'eur.olc.protection.outlook.com')
        .replace(/550 5\.1\.1[\s\S]*table/, '550 5.5.0 Requested action not taken: mailbox unavailable'),
    );
    assert.deepEqual([hotmail.provider, hotmail.reason], ['outlook', 'mailbox_not_found']);
  });

  it('reads Exim\'s "SMTP error from remote mail server after …" and a DSN Diagnostic-Code', () => {
    const exim = [
      '  nobody@example.com',
      '    host mx.example.com [192.0.2.25]',
      '    SMTP error from remote mail server after RCPT TO:<nobody@example.com>:',
      '    550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown',
    ].join('\n');
    const e = only(exim);
    assert.deepEqual([e.reply.command, e.reason], ['RCPT', 'mailbox_not_found']);
    const dsn = only('Diagnostic-Code: smtp; 552 5.2.2 Mailbox full');
    assert.deepEqual([dsn.reply.code, dsn.reason, dsn.category], [552, 'mailbox_full', 'mailbox_full']);
    const after = only(
      'SMTP error from remote mail server after end of data:\n554 5.7.1 Message rejected as spam',
    );
    assert.deepEqual([after.reply.command, after.category, after.side], ['DATA', 'content_spam', 'message']);
  });
});

describe('explainReply: an enhanced status code without its reply code', () => {
  it('reads it by its class, as the reply it stands for, and says the reply code was missing', () => {
    const cases: [string, string, string, string, string][] = [
      ['5.1.1 user unknown', '5.1.1', 'undeliverable', 'mailbox_not_found', 'permanent'],
      [
        'Diagnostic-Code: smtp; 5.1.1 <bob@example.com>... User unknown',
        '5.1.1',
        'undeliverable',
        'mailbox_not_found',
        'permanent',
      ],
      ['Diagnostic-Code: X-Postfix; 5.2.2 mailbox full', '5.2.2', 'risky', 'mailbox_full', 'permanent'],
      ['Status: 4.2.2', '4.2.2', 'risky', 'mailbox_full', 'temporary'],
      [
        'Reason: 5.7.1 client host blocked using zen.spamhaus.org',
        '5.7.1',
        'unknown',
        'sender_blocked',
        'permanent',
      ],
      ['  4.7.0: try again later', '4.7.0', 'unknown', 'greylisted', 'temporary'],
    ];
    for (const [input, enhanced, verdict, reason, permanence] of cases) {
      const e = only(input);
      assert.deepEqual(
        [e.reply.code, e.reply.enhanced, e.verdict, e.reason, e.permanence],
        [null, enhanced, verdict, reason, permanence],
        input,
      );
      assert.match(
        e.note ?? '',
        new RegExp(
          `^No reply code was given: read from the enhanced status code ${enhanced.replaceAll('.', '\\.')} alone`,
        ),
        input,
      );
    }
  });

  it('keeps the command a bounce names, and one explanation per line', () => {
    const [first, second, ...rest] = explainReply(
      'SMTP error from remote mail server after RCPT TO:<a@example.com>: 5.1.1 unknown user\nStatus: 5.2.2',
    );
    assert.equal(rest.length, 0);
    assert.deepEqual([first?.reply.command, first?.reason], ['RCPT', 'mailbox_not_found']);
    assert.equal(second?.reason, 'mailbox_full');
  });

  it('a reply with its code has no note; a number that is no status code stays no reply', () => {
    assert.equal(only('550 5.1.1 user unknown').note, null);
    for (const input of ['version 5.1.1 released', '5.10.2 is out', 'User unknown']) {
      assert.equal(only(input).category, 'not_a_reply', input);
    }
  });
});

describe('explainReply: a part still quoted-printable', () => {
  it('joins soft line breaks (two at least) and decodes printable =XX; one = ending a line stays', () => {
    const e = only('550 5.1.1 <bob@example.o=\nrg>: User unknown=3B see (in r=\neply to RCPT TO command)');
    assert.deepEqual([e.reply.text, e.reply.command], ['<bob@example.org>: User unknown; see', 'RCPT']);
    assert.equal(only('550 5.7.1 see https://example.com/?id=\n').reply.text, 'see https://example.com/?id=');
  });

  it('joins a single soft line break where an encoder cut the line (73 to 76 characters), also in a bounce quoting the reply', () => {
    const reply =
      '550 5.1.1 <bob@example.org>: Recipient address rejected: User unknown in virtual mailbox table';
    const encoded = quotedPrintable(reply);
    assert.equal(encoded.match(/=\n/g)?.length, 1, encoded);
    // Before: 'User unknown in v= irtual mailbox table', the line not rejoined.
    assert.equal(only(encoded).reply.text, reply.slice(10));
    const quoted = quotedPrintable(
      '<bob@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1 <bob@example.org>: User unknown (in reply to RCPT TO command)',
    );
    assert.equal(quoted.match(/=\n/g)?.length, 1, quoted);
    // Before: '<bob@exam= ple.org>: User unknown'.
    const e = only(quoted);
    assert.deepEqual([e.reply.text, e.reply.command], ['<bob@example.org>: User unknown', 'RCPT']);
  });

  it("leaves a line ending in = as it is when it is not cut at an encoder's length, or a reply line follows", () => {
    // 60 characters, then the next line of the reply.
    const short = '550-5.7.1 Your message was refused; see https://ex.test/?x=\n550 5.7.1 thanks';
    assert.deepEqual(
      explainReply(short).map((e) => e.reply.text),
      ['Your message was refused; see https://ex.test/?x=\nthanks'],
    );
    const long = `550-5.7.1 ${'a'.repeat(61)} ?id=`;
    assert.equal(long.length, 76);
    assert.deepEqual(
      explainReply(`${long}\n550 5.7.1 thanks`).map((e) => e.reply.text),
      [`${'a'.repeat(61)} ?id=\nthanks`],
    );
  });
});

/** `text` quoted-printable as an encoder writes it (RFC 2045 §6.7): lines cut at 76 with a soft break. */
function quotedPrintable(text: string): string {
  const escaped = text.replace(/[=\u0080-\uffff]/g, (c) =>
    [...Buffer.from(c)].map((byte) => `=${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  const lines: string[] = [];
  let rest = escaped;
  while (rest.length > 76) {
    let cut = 75;
    // An escape is not split.
    const escape = rest.lastIndexOf('=', cut - 1);
    if (escape > cut - 3) cut = escape;
    lines.push(`${rest.slice(0, cut)}=`);
    rest = rest.slice(cut);
  }
  return [...lines, rest].join('\n');
}

describe('explainReply: a base64 body part pasted without its header', () => {
  const base64 = (data: string | Buffer): string =>
    (
      Buffer.from(data)
        .toString('base64')
        .match(/.{1,76}/g) ?? []
    ).join('\n');

  it('decodes it and explains the reply in it, saying it was base64', () => {
    const notice = [
      'This is the mail system at host mail.example.net.',
      '',
      '<bob@example.org>: host mx.example.org[192.0.2.1] said: 550 5.1.1',
      '    <bob@example.org>: Recipient address rejected: User unknown in virtual',
      '    mailbox table (in reply to RCPT TO command)',
      '',
    ].join('\r\n');
    // Before: not_a_reply, 'No SMTP reply code was found', the base64 shown as the input.
    const e = only(base64(notice));
    assert.deepEqual([e.reply.code, e.reply.command, e.reason], [550, 'RCPT', 'mailbox_not_found']);
    assert.match(e.note ?? '', /^The input was base64 \(a body part copied without its header\)/);
    // A delivery status report's part: its Diagnostic-Code.
    const report = only(
      base64(
        'Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; bob@example.org\nAction: failed\nStatus: 4.2.2\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full\n',
      ),
    );
    assert.deepEqual([report.reply.code, report.reason], [452, 'mailbox_full']);
  });

  it('says plainly what it is when it is no text with a reply: a file, or text without a reply code', () => {
    const png = Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(200, 7)]);
    const image = only(base64(png));
    assert.equal(image.category, 'not_a_reply');
    assert.match(image.meaning, /^The input is base64: it decodes to 216 bytes of a PNG image, not text/);
    const data = only(base64(Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256))));
    assert.match(data.meaning, /^The input is base64: it decodes to 300 bytes of binary data, not text/);
    const text = only(base64('Thanks for your message, I am out of the office until Monday.\n'));
    assert.equal(text.category, 'not_a_reply');
    assert.match(text.meaning, /^The input is base64; decoded, it is text without an SMTP reply code/);
    assert.equal(text.reply.text, 'Thanks for your message, I am out of the office until Monday.');
  });

  it('reads a word or a line of text as what it is, not as base64', () => {
    for (const input of [
      'Undeliverable',
      'Acknowledgements',
      'MailboxUnavailableTryAgainLater',
      'abcd efgh ijkl mnop qrst uvwx',
    ]) {
      assert.match(only(input).meaning, /^No SMTP reply code was found/, input);
    }
  });
});

describe('explainReply: bad input gets a clear answer', () => {
  it('says an empty input is empty', () => {
    for (const input of ['', '   \n\t\r\n']) {
      const e = only(input);
      assert.equal(e.category, 'not_a_reply');
      assert.match(e.meaning, /empty/);
      assert.deepEqual([e.verdict, e.reply.code, e.permanence], ['unknown', null, null]);
    }
  });

  it('says a text without a reply code has none, and shows what it read', () => {
    const e = only('User unknown in virtual mailbox table');
    assert.equal(e.category, 'not_a_reply');
    assert.match(e.meaning, /No SMTP reply code/);
    assert.equal(e.reply.text, 'User unknown in virtual mailbox table');
    assert.equal(e.rule.id, 'code-out-of-range');
  });

  it('says binary input is binary', () => {
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256));
    for (const input of [
      bytes.toString('utf8'),
      bytes.toString('latin1'),
      '550 5.1.1 \u0000\u0001\u0002 unknown',
    ]) {
      const e = only(input);
      assert.equal(e.category, 'not_a_reply');
      assert.match(e.meaning, /binary/);
    }
  });

  it('answers a non-string with not_a_reply instead of throwing', () => {
    const e = only(42 as unknown as string);
    assert.equal(e.category, 'not_a_reply');
  });

  it('stops at MAX_REPLIES replies and bounds a huge input', () => {
    const huge = '250 ok\n'.repeat(500_000);
    const explanations = explainReply(huge);
    assert.equal(explanations.length, MAX_REPLIES);
    const oneLine = `550 ${'x'.repeat(3_000_000)}`;
    const e = only(oneLine);
    assert.equal(e.reply.code, 550);
    assert.ok(e.reply.text.length <= 8192);
  });

  it('never throws on seeded garbage around reply lines', () => {
    const pieces = [
      '550',
      '-',
      ' ',
      '5.1.1',
      'RCPT TO:<a@b>',
      '\n',
      '\r\n',
      '354 go',
      '.',
      'said: ',
      '(in reply to RCPT TO command)',
      'é',
      '<<< ',
      '>>> ',
    ];
    let seed = 7;
    for (let run = 0; run < 2000; run += 1) {
      let input = '';
      for (let i = 0; i < 12; i += 1) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        input += pieces[seed % pieces.length] ?? '';
      }
      const explanations = explainReply(input);
      assert.ok(explanations.length >= 1, input);
      for (const e of explanations) assert.ok(e.meaning.length > 0);
    }
  });
});

describe('findReplies', () => {
  it('treats a line that only carries a code as a reply with empty text', () => {
    assert.deepEqual(
      findReplies('250').map((r) => [r.code, r.text]),
      [[250, '']],
    );
  });
});
