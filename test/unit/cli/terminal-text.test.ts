/** Text from outside made safe for a terminal: every control character escaped, nothing else changed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import fc from 'fast-check';

import { escapeControl } from '../../../src/cli/terminal-text.js';

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
