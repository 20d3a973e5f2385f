import { describe, it } from 'node:test';
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  isNegativeReply,
  isPermanentNegativeReply,
  isPositiveReply,
  ReplyParser,
  type ReplyParseErrorKind,
  type ReplyParserLimits,
  type SmtpReply,
} from '../../../src/smtp/reply-parser.js';

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

interface Case {
  readonly name: string;
  readonly input: Uint8Array;
  readonly replies: readonly Partial<SmtpReply>[];
  readonly error?: ReplyParseErrorKind;
  readonly limits?: Partial<ReplyParserLimits>;
  /** Octets of an unfinished reply left in the parser at the end. */
  readonly buffered?: number;
}

const GMAIL_550 =
  '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n' +
  "550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
  '550 5.1.1 unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp\r\n';

const CASES: readonly Case[] = [
  {
    name: 'a one-line greeting',
    input: bytes('220 mx.example.test ESMTP ready\r\n'),
    replies: [
      {
        code: 220,
        enhanced: null,
        lines: ['220 mx.example.test ESMTP ready'],
        text: 'mx.example.test ESMTP ready',
      },
    ],
  },
  {
    name: 'an EHLO reply with continuation lines',
    input: bytes('250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 SMTPUTF8\r\n'),
    replies: [
      {
        code: 250,
        enhanced: null,
        lines: ['250-mx.example.test', '250-PIPELINING', '250-SIZE 10240000', '250 SMTPUTF8'],
        text: 'mx.example.test\nPIPELINING\nSIZE 10240000\nSMTPUTF8',
      },
    ],
  },
  {
    name: "Gmail's multi-line 550-5.1.1, enhanced code on every line",
    input: bytes(GMAIL_550),
    replies: [
      {
        code: 550,
        enhanced: '5.1.1',
        text:
          'The email account that you tried to reach does not exist. Please try\n' +
          "double-checking the recipient's email address for typos or\n" +
          'unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser - gsmtp',
      },
    ],
  },
  {
    name: 'an enhanced code on the first line only',
    input: bytes('550-5.4.1 Recipient address rejected: Access denied\r\n550 [NAM04.prod.outlook.com]\r\n'),
    replies: [
      {
        code: 550,
        enhanced: '5.4.1',
        text: 'Recipient address rejected: Access denied\n[NAM04.prod.outlook.com]',
      },
    ],
  },
  {
    name: 'an enhanced code whose class disagrees with the reply code is text',
    input: bytes('250 5.1.1 looks like a status\r\n'),
    replies: [{ code: 250, enhanced: null, text: '5.1.1 looks like a status' }],
  },
  {
    name: 'a dotted number that is not an enhanced code',
    input: bytes('250 2.0.0.1 Ok\r\n'),
    replies: [{ code: 250, enhanced: null, text: '2.0.0.1 Ok' }],
  },
  {
    name: 'an enhanced code alone',
    input: bytes('250 2.1.5\r\n'),
    replies: [{ code: 250, enhanced: '2.1.5', text: '' }],
  },
  {
    name: 'a bare code without text (RFC 5321 §4.2 allows it)',
    input: bytes('250\r\n'),
    replies: [{ code: 250, enhanced: null, lines: ['250'], text: '' }],
  },
  {
    name: 'an empty continuation line',
    input: bytes('250-\r\n250 OK\r\n'),
    replies: [{ code: 250, text: '\nOK' }],
  },
  {
    name: 'bare LF line ends',
    input: bytes('220 hello\n250-a\n250 b\n'),
    replies: [
      { code: 220, text: 'hello' },
      { code: 250, text: 'a\nb' },
    ],
  },
  {
    name: 'several replies in one chunk (pipelined replies)',
    input: bytes('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <x@example.test>: User unknown\r\n221 Bye\r\n'),
    replies: [
      { code: 250, enhanced: '2.1.0', text: 'Ok' },
      { code: 250, enhanced: '2.1.5', text: 'Ok' },
      { code: 550, enhanced: '5.1.1', text: '<x@example.test>: User unknown' },
      { code: 221, enhanced: null, text: 'Bye' },
    ],
  },
  {
    name: 'non-UTF-8 bytes are decoded lossily, never thrown on',
    input: new Uint8Array([...bytes('550 Benutzer '), 0xfc, 0xff, ...bytes(' unbekannt\r\n')]),
    replies: [{ code: 550, text: 'Benutzer \ufffd\ufffd unbekannt' }],
  },
  {
    name: 'UTF-8 text split inside a multi-byte character still decodes',
    input: bytes('550 Empfänger unbekannt ✉\r\n'),
    replies: [{ code: 550, text: 'Empfänger unbekannt ✉' }],
  },
  {
    name: 'a partial reply waits for more',
    input: bytes('250-first\r\n250 sec'),
    replies: [],
    buffered: bytes('250-first\r\n250 sec').length,
  },
  {
    name: 'garbage (an HTTP server on port 25)',
    input: bytes('HTTP/1.1 400 Bad Request\r\n'),
    replies: [],
    error: 'malformed_line',
  },
  {
    name: 'an empty line',
    input: bytes('\r\n'),
    replies: [],
    error: 'malformed_line',
  },
  {
    name: 'a code without separator',
    input: bytes('250OK\r\n'),
    replies: [],
    error: 'malformed_line',
  },
  {
    name: 'a code out of range',
    input: bytes('699 nope\r\n'),
    replies: [],
    error: 'malformed_line',
  },
  ...['199 low', '260 second digit', '2x0 letter', '25 short', '25', '250\tTab', ' 250 lead'].map(
    (line): Case => ({
      name: `not a reply line: ${JSON.stringify(line)}`,
      input: bytes(`${line}\r\n`),
      replies: [],
      error: 'malformed_line',
    }),
  ),
  {
    name: 'the edges of the code range, a bare code, an empty text, a CR inside the text',
    input: bytes('200 a\r\n559 b\r\n250\r\n250 \r\n354-x\ry\r\n354 z\r\n'),
    replies: [
      { code: 200, text: 'a' },
      { code: 559, text: 'b' },
      { code: 250, text: '' },
      { code: 250, text: '' },
      { code: 354, text: 'x\ry\nz' },
    ],
  },
  {
    name: 'replies before garbage are still returned',
    input: bytes('220 ok\r\nGARBAGE\r\n250 never\r\n'),
    replies: [{ code: 220 }],
    error: 'malformed_line',
  },
  {
    name: 'mismatched codes across continuation lines',
    input: bytes('250-mx.example.test\r\n550 oops\r\n'),
    replies: [],
    error: 'code_mismatch',
  },
  {
    name: 'a line over the length cap',
    input: bytes(`220 ${'a'.repeat(100)}\r\n`),
    limits: { maxLineBytes: 64 },
    replies: [],
    error: 'line_too_long',
  },
  {
    name: 'a line exactly at the length cap, CRLF included',
    input: bytes(`220 ${'a'.repeat(58)}\r\n`),
    limits: { maxLineBytes: 64 },
    replies: [{ code: 220, text: 'a'.repeat(58) }],
  },
  {
    name: 'a line over the cap that never ends fails without its end',
    input: bytes(`220 ${'a'.repeat(200)}`),
    limits: { maxLineBytes: 64 },
    replies: [],
    error: 'line_too_long',
  },
  {
    name: 'too many continuation lines',
    input: bytes('250-x\r\n'.repeat(9)),
    limits: { maxLines: 8 },
    replies: [],
    error: 'too_many_lines',
  },
  {
    name: 'a reply over the size cap',
    input: bytes(`250-${'a'.repeat(40)}\r\n250-${'b'.repeat(40)}\r\n250 c\r\n`),
    limits: { maxReplyBytes: 64 },
    replies: [],
    error: 'reply_too_large',
  },
];

type Feed = (parser: ReplyParser, input: Uint8Array) => { replies: SmtpReply[]; error: string | null };

function feedChunks(parser: ReplyParser, chunks: readonly Uint8Array[]): ReturnType<Feed> {
  const replies: SmtpReply[] = [];
  let error: string | null = null;
  for (const chunk of chunks) {
    const out = parser.write(chunk);
    replies.push(...out.replies);
    if (out.error !== null) {
      error = out.error.kind;
      break;
    }
  }
  return { replies, error };
}

const FEEDS: Record<string, Feed> = {
  'single chunk': (parser, input) => feedChunks(parser, [input]),
  'byte by byte': (parser, input) =>
    feedChunks(
      parser,
      Array.from(input, (_, i) => input.subarray(i, i + 1)),
    ),
};

function check(testCase: Case, result: ReturnType<Feed>, parser: ReplyParser): void {
  assert.equal(result.error, testCase.error ?? null);
  assert.equal(result.replies.length, testCase.replies.length);
  testCase.replies.forEach((expected, i) => {
    const actual = result.replies[i]!;
    for (const [key, value] of Object.entries(expected)) {
      assert.deepEqual(actual[key as keyof SmtpReply], value, `${key} of reply ${i}`);
    }
  });
  if (testCase.buffered !== undefined) assert.equal(parser.bufferedBytes, testCase.buffered);
}

describe('ReplyParser', () => {
  for (const [feedName, feed] of Object.entries(FEEDS)) {
    describe(feedName, () => {
      for (const testCase of CASES) {
        it(testCase.name, () => {
          const parser = new ReplyParser(testCase.limits);
          check(testCase, feed(parser, testCase.input), parser);
        });
      }
    });
  }

  it('gives the same answer for every split of every case (seeded property)', () => {
    for (const testCase of CASES) {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, testCase.input.length - 1) }), {
            maxLength: 12,
          }),
          (cuts) => {
            const points = [0, ...cuts.sort((a, b) => a - b), testCase.input.length];
            const chunks = points.slice(1).map((end, i) => testCase.input.subarray(points[i], end));
            const parser = new ReplyParser(testCase.limits);
            check(testCase, feedChunks(parser, chunks), parser);
          },
        ),
        { seed: 0x5e7, numRuns: 200 },
      );
    }
  });

  it('never throws and never holds more than its caps, whatever the bytes (seeded fuzz)', () => {
    const limits = { maxLineBytes: 128, maxLines: 16, maxReplyBytes: 1024 };
    const smtpish = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.constantFrom(...['250-', '250 ', '550 5.1.1 ', '\r\n', '\n', '\r', '220'].map(bytes)),
    );
    fc.assert(
      fc.property(fc.array(smtpish, { maxLength: 64 }), (chunks) => {
        const parser = new ReplyParser(limits);
        for (const chunk of chunks) {
          const out = parser.write(chunk);
          for (const reply of out.replies) {
            assert.ok(reply.code >= 200 && reply.code <= 559);
            assert.ok(reply.lines.length >= 1 && reply.lines.length <= limits.maxLines);
          }
          assert.ok(parser.bufferedBytes <= limits.maxReplyBytes);
          if (out.error !== null) {
            assert.deepEqual(parser.write(bytes('250 ok\r\n')), { replies: [], error: out.error });
            return;
          }
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('fails on a 1 MiB line at the cap, not after buffering it', () => {
    const parser = new ReplyParser();
    const chunk = bytes(`220 ${'x'.repeat(1020)}`);
    let written = 0;
    let error = null;
    while (error === null && written < 1024 * 1024) {
      error = parser.write(chunk).error;
      written += chunk.length;
      assert.ok(parser.bufferedBytes < 4096);
    }
    assert.equal(error?.kind, 'line_too_long');
    assert.ok(written <= 4096 + chunk.length, `stopped after ${written} octets`);
  });

  it('copies partial chunks, so a reused buffer cannot corrupt a line', () => {
    const parser = new ReplyParser();
    const buffer = bytes('250 abc');
    parser.write(buffer);
    buffer.fill(0x41);
    const out = parser.write(bytes('def\r\n'));
    assert.equal(out.replies[0]?.text, 'abcdef');
  });

  it("copies a partial line out of a Node Buffer that is read into again (a connection's shared read buffer)", () => {
    // A Buffer's slice() is a view: kept as is, the next read would overwrite the line's start.
    const parser = new ReplyParser();
    const buffer = Buffer.from('250 abc');
    parser.write(buffer);
    buffer.fill(0x41);
    const out = parser.write(Buffer.from('def\r\n'));
    assert.equal(out.replies[0]?.text, 'abcdef');
  });

  it('gives the same answer for every case cut in two at every byte', () => {
    for (const testCase of CASES) {
      for (let cut = 1; cut < testCase.input.length; cut++) {
        const parser = new ReplyParser(testCase.limits);
        const chunks = [testCase.input.subarray(0, cut), testCase.input.subarray(cut)];
        check(testCase, feedChunks(parser, chunks), parser);
      }
    }
  });

  it("decodes a chunk's lines as each line decoded alone, whatever their bytes (seeded property)", () => {
    // A line: a reply code and separator, then any bytes but LF (bad UTF-8, CR, NUL, a byte-order mark).
    const line = fc
      .tuple(
        fc.constantFrom('250-', '250 '),
        fc.array(
          fc.oneof(
            fc.integer({ min: 0, max: 255 }).filter((byte) => byte !== 0x0a),
            fc.constantFrom(0x0d, 0xef, 0xbb, 0xbf, 0xe2, 0x82, 0xac, 0xc3, 0x80),
          ),
          { maxLength: 24 },
        ),
        fc.constantFrom('\r\n', '\n'),
      )
      .map(([head, body, end]) => Uint8Array.from([...bytes(head), ...body, ...bytes(end)]));
    const lossy = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 8 }), fc.nat(), (lines, cutAt) => {
        // Each reply ends with a last line: the lines read so far, then '250 end'.
        const input = Uint8Array.from([...lines.flatMap((l) => [...l]), ...bytes('250 end\r\n')]);
        const expected: string[] = [];
        for (const l of [...lines, bytes('250 end\r\n')]) {
          let content = l.subarray(0, l.length - 1);
          if (content[content.length - 1] === 0x0d) content = content.subarray(0, -1);
          expected.push(lossy.decode(content));
        }
        const cut = 1 + (cutAt % (input.length - 1));
        for (const chunks of [[input], [input.subarray(0, cut), input.subarray(cut)]]) {
          const out = feedChunks(new ReplyParser(), chunks);
          assert.equal(out.error, null);
          assert.deepEqual(
            out.replies.flatMap((reply) => reply.lines),
            expected,
          );
        }
      }),
      { seed: 0x16, numRuns: 1000 },
    );
  });

  it('finds the enhanced code the RFC 3463 pattern finds, read by character codes (seeded property)', () => {
    // The pattern the parser matched each reply's text against before issue 16's eighth pass.
    const pattern = /^([245])\.(\d{1,3})\.(\d{1,3})(?= |$)/;
    const expected = (code: number, text: string): string | null => {
      const match = pattern.exec(text);
      return match !== null && match[1] === String(code)[0] ? match[0] : null;
    };
    // Texts made of what an enhanced code is made of, and what breaks one: digits, dots, a space, a tab.
    const piece = fc.constantFrom('2', '4', '5', '3', '0', '1', '9', '.', ' ', '\t', 'x', '1234', '٣');
    fc.assert(
      fc.property(fc.integer({ min: 200, max: 559 }), fc.array(piece, { maxLength: 10 }), (code, pieces) => {
        const text = pieces.join('');
        const parsed = new ReplyParser().write(bytes(`${code} ${text}\r\n`)).replies[0];
        if (parsed === undefined || code % 100 > 59) return;
        assert.equal(parsed.enhanced, expected(code, text), JSON.stringify({ code, text }));
      }),
      { seed: 20261207, numRuns: 20_000 },
    );
    for (const [code, text, enhanced] of [
      [550, '5.1.1 User unknown', '5.1.1'],
      [550, '5.1.1', '5.1.1'],
      [451, '4.7.650 Try later', '4.7.650'],
      [550, '4.1.1 class disagrees', null],
      [250, '2.1.5 Ok', '2.1.5'],
      [550, '5.1234.1 four digits', null],
      [550, '5.1.1\ttab', null],
      [354, '3.0.0 no class 3', null],
    ] as const) {
      assert.equal(
        new ReplyParser().write(bytes(`${code} ${text}\r\n`)).replies[0]?.enhanced,
        enhanced,
        text,
      );
    }
  });
});

describe('isPositiveReply: 2yz, positive completion (RFC 5321 §4.2.1)', () => {
  it('is true for 200 to 299 only', () => {
    for (const code of [200, 220, 250, 251, 299]) assert.equal(isPositiveReply({ code }), true, String(code));
    for (const code of [199, 300, 354, 421, 450, 550, 0])
      assert.equal(isPositiveReply({ code }), false, String(code));
  });
});

describe('isPermanentNegativeReply: 5yz, permanent negative completion (RFC 5321 §4.2.1)', () => {
  it('is true for 500 to 599 only', () => {
    for (const code of [500, 501, 550, 554, 599])
      assert.equal(isPermanentNegativeReply({ code }), true, String(code));
    for (const code of [0, 250, 421, 450, 499, 600])
      assert.equal(isPermanentNegativeReply({ code }), false, String(code));
  });
});

describe('isNegativeReply: 4yz or 5yz, negative completion (RFC 5321 §4.2.1)', () => {
  it('is true for 400 to 599 only', () => {
    for (const code of [400, 421, 450, 452, 499, 500, 550, 599])
      assert.equal(isNegativeReply({ code }), true, String(code));
    for (const code of [0, 200, 250, 354, 399, 600])
      assert.equal(isNegativeReply({ code }), false, String(code));
  });
});
