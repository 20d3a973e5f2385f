import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { MboxSplitter, type MboxMessage } from '../../../src/explain/mbox.js';

/** Every case runs with the input in one chunk and byte by byte (STYLE.md: decoders). */
function split(input: string, maxBytes = 1024 * 1024): { messages: MboxMessage[]; preamble: number }[] {
  const runs: { messages: MboxMessage[]; preamble: number }[] = [];
  for (const chunking of ['whole', 'bytes'] as const) {
    const splitter = new MboxSplitter(maxBytes);
    const bytes = Buffer.from(input);
    const messages: MboxMessage[] = [];
    if (chunking === 'whole') messages.push(...splitter.write(bytes));
    else for (let i = 0; i < bytes.length; i++) messages.push(...splitter.write(bytes.subarray(i, i + 1)));
    messages.push(...splitter.end());
    runs.push({ messages, preamble: splitter.preambleBytes });
  }
  return runs;
}

describe('MboxSplitter (RFC 4155, mboxrd)', () => {
  it('splits on From lines that open the file or follow an empty line', () => {
    const mbox =
      'From MAILER-DAEMON Mon Nov 30 10:00:00 2026\nSubject: one\n\nbody one\nFrom here on, not a separator\n\n' +
      'From MAILER-DAEMON Mon Nov 30 10:00:01 2026\r\nSubject: two\r\n\r\nbody two\r\n';
    for (const { messages } of split(mbox)) {
      assert.equal(messages.length, 2);
      assert.equal(messages[0]?.separator, 'From MAILER-DAEMON Mon Nov 30 10:00:00 2026');
      assert.equal(
        messages[0]?.bytes.toString(),
        'Subject: one\n\nbody one\nFrom here on, not a separator\n',
      );
      assert.equal(messages[1]?.bytes.toString(), 'Subject: two\r\n\r\nbody two\r\n');
      assert.deepEqual(
        messages.map((m) => m.index),
        [1, 2],
      );
    }
  });

  it('unquotes one level of >From (mboxrd)', () => {
    const mbox =
      'From a@example.com Mon Nov 30 10:00:00 2026\nSubject: q\n\n>From the start\n>>From deeper\n> From not quoted\n';
    for (const { messages } of split(mbox)) {
      assert.equal(
        messages[0]?.bytes.toString(),
        'Subject: q\n\nFrom the start\n>From deeper\n> From not quoted\n',
      );
    }
  });

  it('keeps at most maxMessageBytes of a message and says so; the next message is whole', () => {
    const long = 'x'.repeat(5000);
    const mbox = `From a Mon Nov 30 10:00:00 2026\nSubject: big\n\n${long}\n\nFrom b Mon Nov 30 10:00:00 2026\nSubject: small\n\nok\n`;
    for (const { messages } of split(mbox, 100)) {
      assert.equal(messages.length, 2);
      assert.equal(messages[0]?.truncated, true);
      assert.equal(messages[0]?.bytes.length, 100);
      assert.equal(messages[1]?.truncated, false);
      assert.equal(messages[1]?.bytes.toString(), 'Subject: small\n\nok\n');
    }
  });

  it('a file that is not an mbox yields no message and counts its bytes as preamble', () => {
    for (const { messages, preamble } of split('Subject: not an mbox\n\nHello\nFrom inside a body\n')) {
      assert.equal(messages.length, 0);
      assert.equal(preamble, 47);
    }
  });

  it('an empty input yields nothing', () => {
    for (const { messages } of split('')) assert.equal(messages.length, 0);
  });
});
