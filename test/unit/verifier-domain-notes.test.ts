/**
 * The verifier keeps what a domain alone decides (its typo suggestion, free and disposable facts) per
 * domain, and applies it to each address: the local part's parts (the suggestion's local part, the
 * role flag) are never taken from another address of the same domain. DNS is a fake `MailResolver`
 * answering NXDOMAIN, so every result is decided without a socket.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier } from '../../src/verifier.js';
import { domainFacts, domainOnlyFacts } from '../../src/domain/index.js';
import { parseAddress, suggestAddress, suggestDomain, suggestionFor } from '../../src/syntax/index.js';
import type { MailResolver } from '../../src/types.js';

const nowhere: MailResolver = { resolveMail: () => Promise.resolve({ kind: 'nxdomain' }) };

describe('per-domain notes of a verifier', () => {
  it('gives every address of a domain its own suggestion and role, and the domain its facts', async () => {
    const verifier = createVerifier({ resolver: nowhere, helo: 'probe.rcpt.test', mailFrom: 'v@rcpt.test' });
    try {
      const inputs = [
        'info@gmial.com',
        'bob@gmial.com',
        'info@gmail.com',
        'alice@gmail.com',
        'admin@mailinator.com',
        'carol@mailinator.com',
        'dave@[192.0.2.1]',
      ];
      for (let round = 0; round < 2; round++) {
        for (const input of inputs) {
          const result = await verifier.verify(input);
          const syntax = parseAddress(input);
          const local = syntax.localPart ?? '';
          const domain = syntax.asciiDomain ?? '';
          assert.equal(result.suggestion, suggestAddress(input), input);
          const facts = domainFacts(local, domain);
          assert.deepEqual(
            { role: result.flags.role, free: result.flags.free, disposable: result.flags.disposable },
            { ...facts },
            input,
          );
        }
      }
      const results = await Promise.all(['info@gmial.com', 'bob@gmial.com'].map((a) => verifier.verify(a)));
      assert.deepEqual(
        results.map((r) => [r.suggestion, r.flags.role]),
        [
          ['info@gmail.com', true],
          ['bob@gmail.com', false],
        ],
      );
    } finally {
      await verifier.close();
    }
  });

  it('suggestionFor() and domainFacts() with the domain part given answer as without it', () => {
    for (const input of [
      'bob@gmial.com',
      'bob@gmail.com',
      'bob@gmail,com',
      'bob@[192.0.2.1]',
      'not an address',
    ]) {
      const parsed = parseAddress(input);
      assert.equal(suggestionFor(input, parsed, suggestDomain), suggestAddress(input), input);
    }
    for (const [local, domain] of [
      ['info', 'gmail.com'],
      ['bob', 'mailinator.com'],
      ['bob', 'example.com'],
    ] as const) {
      assert.deepEqual(domainFacts(local, domain, domainOnlyFacts(domain)), domainFacts(local, domain));
    }
  });
});
