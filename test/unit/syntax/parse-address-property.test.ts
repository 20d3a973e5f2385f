import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  MAX_DOMAIN_OCTETS,
  MAX_LABEL_OCTETS,
  MAX_LOCAL_PART_OCTETS,
  MAX_PATH_OCTETS,
  parseAddress,
} from '../../../src/syntax/index.js';
import type { SyntaxResult } from '../../../src/types.js';

const SEED = 42;
const encoder = new TextEncoder();

/** Any UTF-16 sequence, lone surrogates and controls included. */
const anyUtf16 = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 80 })
  .map((codes) => String.fromCharCode(...codes));

/** Pieces that make inputs look like addresses, so the valid path and every error path are reached. */
const localPiece = fc.oneof(
  {
    weight: 16,
    arbitrary: fc.constantFrom('a', 'bob', 'J.Doe', 'x+tag', "o'r", 'ü', '用户', '😀', '1', '_'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('.', '..', '"', '\\', ' ', '(c)', ',', '\u0000', '\n', '\u00a0', '\ud800'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
);
const quotedLocal = fc
  .array(fc.constantFrom('a', ' ', '\\"', '\\\\', '@', 'ü', '.', '\\é', '\t', '(', ')'), { maxLength: 6 })
  .map((parts) => `"${parts.join('')}"`);
const label = fc.oneof(
  {
    weight: 20,
    arbitrary: fc.constantFrom('example', 'com', 'mail', 'x', 'a-b', '123', 'xn--bcher-kva', 'bücher', 'рф'),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom('', '-a', 'a-', 'xn--zz', 'ｅ', '☃', 'ß', 'a_b', 'A', 'EXAMPLE', '0'),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 70 }).map((n) => 'l'.repeat(n)) },
);
const literal = fc.constantFrom(
  '[192.0.2.1]',
  '[IPv6:2001:db8::1]',
  '[IPv6:::ffff:1.2.3.4]',
  '[1.2.3]',
  '[x:y]',
  '[IPv6:1::2::3]',
);
const addressLike = fc
  .tuple(
    fc.oneof(
      { weight: 4, arbitrary: fc.array(localPiece, { minLength: 1, maxLength: 8 }).map((p) => p.join('')) },
      { weight: 1, arbitrary: quotedLocal },
    ),
    fc.oneof(
      { weight: 6, arbitrary: fc.array(label, { minLength: 1, maxLength: 6 }).map((l) => l.join('.')) },
      { weight: 1, arbitrary: literal },
    ),
  )
  .map(([local, domain]) => `${local}@${domain}`);

function isTotalAndSane(input: string, result: SyntaxResult): void {
  assert.equal(typeof result.valid, 'boolean');
  if (result.valid) {
    assert.equal(result.error, null);
    assert.ok(result.localPart !== null && result.domain !== null && result.asciiDomain !== null);
  } else {
    assert.ok(result.error !== null);
    assert.ok(result.error.index >= 0 && result.error.index <= input.length, `index ${result.error.index}`);
    assert.equal(result.localPart, null);
  }
}

describe('parseAddress: properties (fast-check, seeded)', () => {
  it('never throws on any UTF-16 string, and errors point inside the input', () => {
    fc.assert(
      fc.property(anyUtf16, (input) => {
        isTotalAndSane(input, parseAddress(input));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('never throws on any Unicode string (fast-check "binary" unit)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (input) => {
        isTotalAndSane(input, parseAddress(input));
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('never throws on address-shaped input, and a fair share of it is valid', () => {
    let valid = 0;
    let runs = 0;
    fc.assert(
      fc.property(addressLike, (input) => {
        runs++;
        const result = parseAddress(input);
        isTotalAndSane(input, result);
        if (result.valid) valid++;
      }),
      { seed: SEED, numRuns: 4000 },
    );
    // The invariants below are only meaningful if the generator reaches the valid path often.
    assert.ok(valid / runs > 0.2, `only ${valid} of ${runs} generated addresses were valid`);
    assert.ok(valid / runs < 0.85, `${valid} of ${runs} valid: the error paths are not exercised`);
  });

  it('normalisation is idempotent: parsing the normalised address gives the same result', () => {
    fc.assert(
      fc.property(addressLike, (input) => {
        const first = parseAddress(input);
        if (!first.valid) return;
        const again = parseAddress(`${first.localPart ?? ''}@${first.domain ?? ''}`);
        assert.deepEqual(again, first);
        // The A-label form names the same domain.
        const viaAscii = parseAddress(`${first.localPart ?? ''}@${first.asciiDomain ?? ''}`);
        assert.deepEqual(viaAscii, first);
      }),
      { seed: SEED, numRuns: 4000 },
    );
  });

  it('valid results respect every length limit, in octets', () => {
    fc.assert(
      fc.property(addressLike, (input) => {
        const result = parseAddress(input);
        if (!result.valid || result.localPart === null || result.asciiDomain === null) return;
        const localOctets = encoder.encode(result.localPart).length;
        assert.ok(localOctets <= MAX_LOCAL_PART_OCTETS);
        assert.ok(result.asciiDomain.length <= MAX_DOMAIN_OCTETS);
        if (!result.asciiDomain.startsWith('[')) {
          for (const part of result.asciiDomain.split('.')) assert.ok(part.length <= MAX_LABEL_OCTETS);
        }
        assert.ok(localOctets + 1 + result.asciiDomain.length + 2 <= MAX_PATH_OCTETS);
      }),
      { seed: SEED, numRuns: 4000 },
    );
  });

  it('asciiDomain is printable ASCII, lowercase except the IPv6 tag; smtputf8 iff the local part is not ASCII', () => {
    fc.assert(
      fc.property(addressLike, (input) => {
        const result = parseAddress(input);
        if (!result.valid || result.localPart === null || result.asciiDomain === null) return;
        assert.match(result.asciiDomain, /^[\x21-\x7e]+$/);
        assert.equal(
          result.asciiDomain.replace('[IPv6:', ''),
          result.asciiDomain.replace('[IPv6:', '').toLowerCase(),
        );
        // eslint-disable-next-line no-control-regex -- the ASCII range is the point
        assert.equal(result.smtputf8, !/^[\x00-\x7f]*$/.test(result.localPart));
        assert.equal(result.domain, result.domain?.normalize('NFC'));
      }),
      { seed: SEED, numRuns: 4000 },
    );
  });

  it('the local part is returned exactly as typed', () => {
    fc.assert(
      fc.property(addressLike, (input) => {
        const result = parseAddress(input);
        if (!result.valid || result.localPart === null) return;
        assert.ok(input.startsWith(`${result.localPart}@`));
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
