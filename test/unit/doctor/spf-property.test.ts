/**
 * Seeded properties of the SPF evaluator: whatever the records say, it answers one of the seven
 * results, never throws, and never asks DNS for more than the 10 terms RFC 7208 §4.6.4 allows.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import {
  evaluateSpf,
  parseSpfRecord,
  SPF_RESULTS,
  type SpfDns,
  type SpfLookup,
} from '../../../src/doctor/spf.js';

const SEED = 0x5bf1;

/** Terms drawn from every mechanism, modifier and some garbage, over a few names that point at each other. */
const NAMES = ['a.test', 'b.test', 'c.test', 'gone.test'];
const term = fc.oneof(
  fc.constantFrom(
    'all',
    '-all',
    '~all',
    '?all',
    '+all',
    'a',
    'mx',
    'ptr',
    'mx/24',
    'a//64',
    'a/33',
    'ip4:192.0.2.0/24',
  ),
  fc.constantFrom(
    'ip6:2001:db8::/32',
    'ip4:192.0.2.25',
    'exists:%{i}.a.test',
    'exists:%{z}.a.test',
    'ip4:1.2.3',
  ),
  fc.constantFrom(...NAMES).map((name) => `include:${name}`),
  fc.constantFrom(...NAMES).map((name) => `a:${name}/24`),
  fc.constantFrom(...NAMES).map((name) => `redirect=${name}`),
  fc.string({ maxLength: 12 }),
);
const record = fc.array(term, { maxLength: 8 }).map((terms) => ['v=spf1', ...terms].join(' '));

function tableDns(records: Readonly<Record<string, string>>): SpfDns & { queries: () => number } {
  let queries = 0;
  const answer = (values: readonly string[]): Promise<SpfLookup> => {
    queries++;
    return Promise.resolve(values.length > 0 ? { kind: 'records', values } : { kind: 'void' });
  };
  return {
    queries: () => queries,
    txt: (name) => answer(records[name] === undefined ? [] : [records[name]]),
    addresses: (name, family) =>
      answer(name === 'gone.test' ? [] : [family === 4 ? '192.0.2.7' : '2001:db8::7']),
    mx: (name) => answer(name === 'gone.test' ? [] : [`mx.${name}`]),
    ptr: () => answer(['host.a.test']),
  };
}

describe('evaluateSpf: properties (fast-check, seeded)', () => {
  it('parsing never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const parsed = parseSpfRecord(`v=spf1 ${text}`);
        assert.ok(parsed.kind === 'record' || parsed.kind === 'error');
      }),
      { seed: SEED, numRuns: 2_000 },
    );
  });

  it('always answers one of the seven results, within the lookup limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        record,
        record,
        record,
        fc.constantFrom('192.0.2.25', '2001:db8::25'),
        async (a, b, c, ip) => {
          const dns = tableDns({ 'a.test': a, 'b.test': b, 'c.test': c });
          const evaluation = await evaluateSpf(
            { ip, domain: 'a.test', sender: 'x@a.test', helo: 'h.a.test' },
            dns,
          );
          assert.ok((SPF_RESULTS as readonly string[]).includes(evaluation.result));
          assert.ok(evaluation.lookups <= 11, `${evaluation.lookups} lookups`);
          if (evaluation.lookups === 11) assert.equal(evaluation.result, 'permerror');
          // The top TXT, 10 terms, their MX/PTR follow-ups (at most 10 each): a hard bound on queries.
          assert.ok(dns.queries() <= 1 + 10 * 12, `${dns.queries()} queries`);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });
});
