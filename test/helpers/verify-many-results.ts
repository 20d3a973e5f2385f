/** How the scheduler's integration tests run a list through `verifyMany()` and read what it did. */
import assert from 'node:assert/strict';

import {
  createVerifier,
  type HostLimitsRecord,
  type VerifyManyOptions,
  type VerifyOptions,
  type VerifyResult,
} from '../../src/index.js';
import type { HostLimitsFacts } from '../../src/types.js';

/**
 * Verifies `inputs` with `verifyMany()` on a verifier of `options` (closed after): the results by
 * input, each input answered once.
 */
export async function verifyManyResults(
  options: VerifyOptions,
  inputs: readonly string[],
  many: VerifyManyOptions = {},
): Promise<Map<string, VerifyResult>> {
  const verifier = createVerifier(options);
  const results = new Map<string, VerifyResult>();
  try {
    for await (const result of verifier.verifyMany(inputs, many)) {
      assert.ok(!results.has(result.input), `two results for ${result.input}`);
      results.set(result.input, result);
    }
  } finally {
    await verifier.close();
  }
  return results;
}

/** A result as the tests compare it, `verdict/reason` (`missing` when a run gave none). */
export const verdictOf = (result: VerifyResult | undefined): string =>
  result === undefined ? 'missing' : `${result.verdict}/${result.reason}`;

/** Limits records a run told back, per host key (`VerifyOptions.hostLimits`). */
export type Told = Map<string, HostLimitsRecord[]>;

/** `VerifyOptions.hostLimits` that knows nothing of any host and writes what a run learns into `told`. */
export function tellingLimits(told: Told): HostLimitsFacts {
  return {
    known: () => null,
    learned: (key, record) => {
      told.set(key, [...(told.get(key) ?? []), record]);
    },
  };
}
