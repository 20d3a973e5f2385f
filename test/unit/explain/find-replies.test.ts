import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findReplies, looksLikeTranscript, readBouncePreamble } from '../../../src/explain/find-replies.js';

describe('looksLikeTranscript', () => {
  const cases: [string, string[], boolean][] = [
    ['a bare reply', ['550 5.1.1 no such user'], false],
    ['client commands with markers', ['< 220 mx ESMTP', '> EHLO me', '< 250 ok'], true],
    ['a telnet session without markers', ['220 mx ESMTP', 'RCPT TO:<a@example.com>', '550 no'], true],
    ['a command on the server side is not a command', ['S: RCPT TO:<a@example.com>'], false],
    [
      'a bounce quoting a reply',
      ['host mx.example.com[192.0.2.1] said: 550 no (in reply to RCPT TO command)'],
      false,
    ],
  ];
  for (const [name, lines, expected] of cases) {
    it(name, () => {
      assert.equal(looksLikeTranscript(lines), expected);
    });
  }
});

describe('readBouncePreamble', () => {
  it('leaves a line without a preamble as it is', () => {
    assert.deepEqual(readBouncePreamble('hello there'), {
      rest: 'hello there',
      fromBounce: false,
      command: undefined,
      host: null,
    });
  });
  it("reads Postfix's host … said:", () => {
    assert.deepEqual(readBouncePreamble('host mx.example.com[192.0.2.1] said: 550 5.1.1 no such user'), {
      rest: '550 5.1.1 no such user',
      fromBounce: true,
      command: undefined,
      host: 'mx.example.com',
    });
  });
  it("reads Exim's after RCPT TO, with the command", () => {
    const got = readBouncePreamble('SMTP error from remote mail server after RCPT TO:<a@example.com>:');
    assert.equal(got.command, 'RCPT');
    assert.equal(got.fromBounce, true);
    assert.equal(got.rest, '');
  });
  it('says an Exim phrase named no known command with null, not undefined', () => {
    assert.equal(
      readBouncePreamble('SMTP error from remote mail server after pipelined stuff:').command,
      null,
    );
  });
  it("reads RFC 3464's Diagnostic-Code", () => {
    assert.deepEqual(readBouncePreamble('Diagnostic-Code: smtp; 550 5.1.1 unknown'), {
      rest: '550 5.1.1 unknown',
      fromBounce: true,
      command: undefined,
      host: null,
    });
  });
});

describe('findReplies: a reply pasted with the words before it', () => {
  const cases: [string, string, number, string | null, string][] = [
    ['a label (Reason:)', 'Reason: 550 5.1.1 user unknown', 550, '5.1.1', 'user unknown'],
    ['a label (Error:)', 'Error: 552 5.2.2 Mailbox full', 552, '5.2.2', 'Mailbox full'],
    [
      'a label of words (Remote-MTA said:)',
      'Remote-MTA said: 550 5.1.1 no such user',
      550,
      '5.1.1',
      'no such user',
    ],
    [
      "Exchange's Remote Server returned, without its quotes",
      'Remote Server returned 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found',
      550,
      '5.1.10',
      'RESOLVER.ADR.RecipientNotFound; Recipient not found',
    ],
    ['a reply quoted in a mail (> )', '> 550 5.1.1 user unknown', 550, '5.1.1', 'user unknown'],
  ];
  for (const [name, input, code, enhanced, text] of cases) {
    it(name, () => {
      const [reply, ...rest] = findReplies(input);
      assert.equal(rest.length, 0);
      assert.deepEqual([reply?.code, reply?.enhanced, reply?.text], [code, enhanced, text]);
    });
  }

  it('a label before a number that is no reply, or before a code without an enhanced code, is not read as one', () => {
    for (const input of ['Total: 250 messages', 'Subject: 550 invoices overdue', 'Date: 2026-12-07']) {
      assert.deepEqual(findReplies(input), [], input);
    }
  });

  it('a quoted line in a transcript stays a client line', () => {
    const replies = findReplies('< 220 mx ESMTP\n> RCPT TO:<a@example.com>\n< 550 5.1.1 no');
    assert.deepEqual(
      replies.map((reply) => [reply.code, reply.command]),
      [
        [220, 'CONNECT'],
        [550, 'RCPT'],
      ],
    );
  });
});

describe('findReplies', () => {
  it('joins a multi-line reply and answers the commands in order in a transcript', () => {
    const got = findReplies(
      [
        '< 220 mx ESMTP',
        '> EHLO me',
        '< 250-mx',
        '< 250 PIPELINING',
        '> MAIL FROM:<>',
        '> RCPT TO:<a@x.test>',
        '< 250 ok',
        '< 550 5.1.1 no',
      ].join('\n'),
    );
    assert.deepEqual(
      got.map((r) => [r.command, r.code, r.text, r.transaction]),
      [
        ['CONNECT', 220, 'mx ESMTP', null],
        ['EHLO', 250, 'mx\nPIPELINING', null],
        ['MAIL', 250, 'ok', 0],
        ['RCPT', 550, 'no', 0],
      ],
    );
    assert.equal(got[3]?.banner, 'mx ESMTP');
  });
  it('continues a bounce-quoted reply on its wrapped lines, and takes the command from Postfix', () => {
    const [reply, ...rest] = findReplies(
      'host mx.example.com[192.0.2.1] said: 550 5.1.1 <a@example.com>: Recipient\n    address rejected (in reply to RCPT TO command)',
    );
    assert.equal(rest.length, 0);
    assert.equal(reply?.command, 'RCPT');
    assert.equal(reply?.host, 'mx.example.com');
    assert.equal(reply?.text, '<a@example.com>: Recipient address rejected');
  });
  it('skips a message body after 354 until its final dot', () => {
    const got = findReplies(['> DATA', '< 354 go', '> 550 not a reply', '> .', '< 250 queued'].join('\n'));
    assert.deepEqual(
      got.map((r) => [r.command, r.code]),
      [
        ['DATA', 354],
        ['DATA', 250],
      ],
    );
  });
});
