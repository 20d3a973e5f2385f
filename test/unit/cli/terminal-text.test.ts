/**
 * Text for a terminal: text from outside made safe (every control character escaped, nothing else
 * changed), and the word wrap of rcpt doctor's and rcpt explain's reports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import fc from 'fast-check';

import { escapeControl, wrap } from '../../../src/cli/terminal-text.js';

describe('escapeControl', () => {
  const cases: [string, string, string][] = [
    ['plain text is unchanged', 'alice@exämple.test 250 OK', 'alice@exämple.test 250 OK'],
    ['CR and LF that would break a row', 'a@x.test\r\nb', 'a@x.test\\r\\nb'],
    ['a tab', 'a\tb', 'a\\tb'],
    ['an escape sequence that clears the screen', '\u001b[2J', '\\x1b[2J'],
    ['NUL, BEL, DEL and a C1 control', '\u0000\u0007\u007f\u009b', '\\x00\\x07\\x7f\\x9b'],
    ['a right-to-left override (CVE-2021-42574)', 'abc\u202edef', 'abc\\u202edef'],
    ['a lone surrogate', 'a\ud800b', 'a\\ud800b'],
    ['a surrogate pair is a character, kept', 'a😀b', 'a😀b'],
  ];
  for (const [name, input, expected] of cases) {
    it(name, () => {
      assert.equal(escapeControl(input), expected);
    });
  }

  it('leaves no control character in any string (seeded)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        // eslint-disable-next-line no-control-regex -- the point of the test
        return !/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(escapeControl(text));
      }),
      { seed: 15, numRuns: 2_000 },
    );
  });
});

describe('wrap', () => {
  it('breaks between words before the width, indenting the lines after the first', () => {
    assert.equal(wrap('the quick brown fox jumps', 12, '  '), 'the quick\n  brown fox\n  jumps');
  });

  it('counts the indent against the width of every line', () => {
    // '    ' + 'aaaa bbbb' is 13 columns: over 12, so each word has a line of its own.
    assert.equal(wrap('aaaa bbbb cccc', 12, '    '), 'aaaa\n    bbbb\n    cccc');
  });

  it('keeps a word longer than the width whole, on a line of its own', () => {
    assert.equal(wrap('a averyveryverylongword b', 10, ''), 'a\naveryveryverylongword\nb');
  });

  it('folds runs of white space, line breaks included, into one space', () => {
    assert.equal(wrap('  550  5.1.1\n no\tsuch user ', 80, ''), '550 5.1.1 no such user');
  });

  it('gives nothing for nothing', () => {
    assert.equal(wrap('', 80, '  '), '');
  });
});
