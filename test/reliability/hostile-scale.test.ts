/**
 * Hostile servers at scale, short form (issue 9): a bulk run over 35 MX hosts of which every fifth is
 * hostile (one of each kind: tarpit, trickle, 1 MB line, endless continuation, reset, broken TLS,
 * garbage). The run completes, every address gets exactly one verdict, hostile hosts give `unknown`,
 * and the good hosts' results equal what `verify()` says address by address. The full run (more hosts,
 * more addresses, peak RSS) is `npm run bench:hostile`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { createVerifier } from '../../src/index.js';
import { expectedGood, runScale, startHostileWorld, type HostileWorld } from './helpers/hostile-world.js';

let world: HostileWorld;
before(async () => {
  world = await startHostileWorld(35, 8);
});
after(async () => {
  await world.close();
});

describe('hostile servers at scale (short form)', () => {
  it('280 addresses, 7 of 35 hosts hostile: every address one verdict, good hosts unaffected', async () => {
    const run = await runScale(world);
    process.stdout.write(
      `${run.results.length} results in ${(run.ms / 1000).toFixed(1)} s, peak RSS ${(run.peakRss / 1048576).toFixed(0)} MB\n`,
    );
    assert.equal(run.results.length, world.addresses.length);
    assert.deepEqual(
      run.results.map((r) => r.input).sort(),
      [...world.addresses].sort(),
      'each address exactly once',
    );
    const byInput = new Map(run.results.map((r) => [r.input, r]));
    let hostile = 0;
    for (const address of world.addresses) {
      const result = byInput.get(address);
      assert.ok(result !== undefined);
      const domain = address.slice(address.indexOf('@') + 1);
      if (world.hostileDomains.has(domain)) {
        hostile += 1;
        assert.equal(result.verdict, 'unknown', `${address}: ${result.reason}`);
      } else {
        assert.equal(`${result.verdict}/${result.reason}`, expectedGood(address), address);
      }
    }
    assert.equal(hostile, 7 * 8);

    // Address by address, a fresh verifier: the same verdicts for good hosts.
    const single = createVerifier(world.options);
    try {
      for (const address of world.addresses.slice(0, 35 * 2)) {
        const domain = address.slice(address.indexOf('@') + 1);
        if (world.hostileDomains.has(domain)) continue;
        const one = await single.verify(address);
        const bulk = byInput.get(address);
        assert.equal(`${one.verdict}/${one.reason}`, `${bulk?.verdict}/${bulk?.reason}`, address);
      }
    } finally {
      await single.close();
    }
    for (const server of world.servers) await server.settled(5_000);
  });
});
