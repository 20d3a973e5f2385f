import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { effectiveEnhancedCode } from '../../../src/classify/index.js';

describe('effectiveEnhancedCode', () => {
  const cases: readonly [number, string | null, string, string | null][] = [
    [550, '5.1.1', 'User unknown', '1.1'],
    [550, ' 5.1.10 ', '', '1.10'],
    [451, '4.7.500', 'Server busy', '7.500'],
    // RFC 3463 §2: the class must match the reply code.
    [450, '5.1.1', 'x', null],
    [550, '4.2.2', 'x', null],
    [550, 'junk', 'x', null],
    [550, '5.1234.1', 'x', null],
    // Found in the text when the parser left it there.
    [550, null, 'cuda_nsu 5.1.1 <x@example.com>... User unknown', '1.1'],
    [550, null, '#5.1.0 Address rejected.', '1.0'],
    [511, null, 'sorry, no mailbox here by that name. (#5.1.1)', '1.1'],
    [553, null, "sorry, that domain isn't in my list of allowed rcpthosts. (#5.7.1)", '7.1'],
    // Not codes: IP addresses, Yahoo's 4.16.55.1, versions, a class that disagrees.
    [421, null, '[TSS04] Messages from 192.0.2.1 deferred - 4.16.55.1; see …', null],
    [550, null, 'refused 5.1.1.9', null],
    [220, null, 'mx.example.com ESMTP Exim 4.96.2', null],
    [550, null, 'first line\n5.1.1 on the second line', null],
  ];
  for (const [code, enhanced, text, expected] of cases) {
    it(`${code} ${String(enhanced)} ${JSON.stringify(text)} → ${String(expected)}`, () => {
      assert.equal(effectiveEnhancedCode({ code, enhanced, text })?.subjectDetail ?? null, expected);
    });
  }

  it('answers a field kept from an earlier reply by the class of the reply at hand', () => {
    // The same field on replies of another class, in turn and past the memory of parsed fields.
    for (let round = 0; round < 3; round += 1) {
      assert.equal(effectiveEnhancedCode({ code: 550, enhanced: '5.1.1', text: '' })?.subjectDetail, '1.1');
      assert.equal(
        effectiveEnhancedCode({ code: 450, enhanced: '5.1.1', text: '4.2.2 in the text' })?.class,
        4,
      );
      assert.equal(effectiveEnhancedCode({ code: 250, enhanced: '5.1.1', text: '' }), null);
      for (let detail = 0; detail < 1_500; detail += 1)
        assert.equal(
          effectiveEnhancedCode({ code: 451, enhanced: `4.7.${detail % 1000}`, text: '' })?.detail,
          detail % 1000,
        );
    }
    // A field longer than any code is read as before (trimmed), without being kept.
    assert.equal(
      effectiveEnhancedCode({ code: 550, enhanced: `5.1.1${' '.repeat(40)}`, text: '' })?.subjectDetail,
      '1.1',
    );
  });
});
