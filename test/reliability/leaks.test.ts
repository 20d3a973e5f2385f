/**
 * Resource leaks (issue 9): thousands of verifications through `verifyMany()` (good and hostile
 * hosts, so timeouts, resets and parse failures all take their close paths), then `close()`; every
 * socket, server and timer the run opened must be gone: `process.getActiveResourcesInfo()` back to
 * what it was before the world started (no TCPSocketWrap, TCPServerWrap, UDPWrap or Timeout left).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { createVerifier } from '../../src/index.js';
import { runScale, startHostileWorld } from './helpers/hostile-world.js';

const WATCHED = ['TCPSocketWrap', 'TCPServerWrap', 'UDPWrap', 'Timeout', 'PipeWrap', 'FSReqCallback'];

function census(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(name)) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Waits for the census to come back to `baseline` (closing sockets take a turn or two), at most 2 s. */
async function settledTo(baseline: Record<string, number>): Promise<Record<string, number>> {
  let now = census();
  for (let i = 0; i < 40 && JSON.stringify(now) !== JSON.stringify(baseline); i++) {
    await sleep(50);
    now = census();
  }
  return now;
}

describe('no leaked handles', () => {
  it('3,000 verifications (a fifth at hostile hosts), then close(): back to the baseline', async () => {
    const baseline = census();
    const world = await startHostileWorld(20, 150);
    let count: number;
    // The witness sees what is open: 20 listening servers and the DNS server's sockets.
    const during = census();
    assert.ok((during.TCPServerWrap ?? 0) >= (baseline.TCPServerWrap ?? 0) + 21, JSON.stringify(during));
    assert.ok((during.UDPWrap ?? 0) >= (baseline.UDPWrap ?? 0) + 1);
    try {
      const run = await runScale(world);
      count = run.results.length;
      // A few single verifications too, on the same world, through their own verifier.
      const single = createVerifier(world.options);
      try {
        for (const address of world.addresses.slice(0, 40)) {
          if (!world.hostileDomains.has(address.slice(address.indexOf('@') + 1)))
            await single.verify(address);
        }
      } finally {
        await single.close();
      }
      for (const server of world.servers) await server.settled(5_000);
    } finally {
      await world.close();
    }
    assert.equal(count, 3_000);
    const after = await settledTo(baseline);
    assert.deepEqual(
      after,
      baseline,
      `still open: ${JSON.stringify(after)} (before: ${JSON.stringify(baseline)})`,
    );
  });
});
