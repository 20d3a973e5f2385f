import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { MAX_RETRY_AFTER_MS, parseRetryAfterMs } from '../../../src/classify/index.js';

describe('parseRetryAfterMs', () => {
  const cases: readonly [string, number | null][] = [
    ['<x@example.com>: Recipient address rejected: Greylisted for 5 minutes', 300_000],
    ['Greylisted for 300 seconds (see http://isg.ee.ethz.ch/tools/postgrey/help/example.com.html)', 300_000],
    ['Greylisting in action, please come back in 00:05:00', 300_000],
    ['Greylisting in action, please come back in 1:00:00', 3_600_000],
    ['Greylisted, please try again in 60 seconds', 60_000],
    ['Rate limit exceeded, retry in 2 minutes', 120_000],
    ['Deferred, wait 30s', 30_000],
    ['try again after 1 hour', 3_600_000],
    ['try again in 2 hrs', 7_200_000],
    ['retry in 90 secs', 90_000],
    ['Greylisted, see http://postgrey.schweikert.ch/help/example.com.html', null],
    ['Internal resource temporarily unavailable - https://community.mimecast.com/docs/DOC-1369#451', null],
    ['Too many recipients received this hour', null],
    ['5 minutes', null],
    ['for 0 seconds', null],
    ['for 2 days? no: for 49 hours', null],
    ['come back in 99:00:00', null],
    ['try again in 500ms', null],
    ['for 50 messages', null],
    ['', null],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} → ${String(expected)}`, () => {
      assert.equal(parseRetryAfterMs(text), expected);
    });
  }

  it('is total and bounded on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const ms = parseRetryAfterMs(text);
        assert.ok(ms === null || (Number.isInteger(ms) && ms > 0 && ms <= MAX_RETRY_AFTER_MS));
      }),
      { seed: 20261128, numRuns: 2000 },
    );
  });
});
