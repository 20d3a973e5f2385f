/** How much our own event-loop stalls can have delayed one reply (src/scheduler/loop-stall.ts). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { STALLS_PER_REPLY, delayBound, type Stall } from '../../../src/scheduler/loop-stall.js';
import { seeded } from '../../helpers/seeded.js';

/** `count` stalls of `ms` each, one every `every` ms from `from`. */
function stalls(count: number, ms: number, every: number, from = 0): Stall[] {
  return Array.from({ length: count }, (_, i) => ({ from: from + i * every, to: from + i * every + ms }));
}

describe('delayBound', () => {
  it('is 0 without stalls, or with stalls outside the interval', () => {
    assert.equal(delayBound([], 0, 1_000), 0);
    assert.equal(
      delayBound(
        [
          { from: 1_000, to: 1_200 },
          { from: -300, to: 0 },
        ],
        0,
        1_000,
      ),
      0,
    );
  });

  it('counts a long stall whole: the reply may have waited for all of it', () => {
    assert.equal(delayBound([{ from: 100, to: 900 }], 0, 1_000), 800);
  });

  it('counts only the part of a stall inside the interval', () => {
    assert.equal(delayBound([{ from: -500, to: 100 }], 0, 1_000), 100);
    assert.equal(delayBound([{ from: 950, to: 1_400 }], 0, 1_000), 50);
  });

  it('adds up the longest stalls a reply can have met, not every stall of a loaded second', () => {
    assert.equal(STALLS_PER_REPLY, 3);
    // A loaded machine: a stall of 8 ms every 20 ms, 400 ms in all over the second. A reply passes
    // through our process at most three times, so at most three of them delayed it.
    assert.equal(delayBound(stalls(50, 8, 20), 0, 1_000), 24);
    assert.equal(
      delayBound([...stalls(40, 5, 25), { from: 300, to: 420 }, { from: 610, to: 700 }], 0, 1_000),
      215,
    );
    assert.equal(
      delayBound(
        [
          { from: 0, to: 100 },
          { from: 200, to: 400 },
          { from: 500, to: 800 },
          { from: 900, to: 950 },
        ],
        0,
        1_000,
      ),
      600,
    );
  });

  it('adds the same as sorting every overlap and summing the longest, to the last bit', () => {
    // How the bound was worked out before issue 16's eighth pass: each overlap pushed, the list sorted,
    // the shortest dropped past STALLS_PER_REPLY, the rest added longest first.
    const sorted = (list: readonly Stall[], from: number, to: number): number => {
      const longest: number[] = [];
      for (const stall of list) {
        const ms = Math.max(0, Math.min(stall.to, to) - Math.max(stall.from, from));
        if (ms <= 0) continue;
        longest.push(ms);
        longest.sort((a, b) => b - a);
        if (longest.length > STALLS_PER_REPLY) longest.pop();
      }
      return longest.reduce((sum, ms) => sum + ms, 0);
    };
    const random = seeded(16);
    for (let round = 0; round < 2_000; round += 1) {
      const list: Stall[] = [];
      let at = random() * 50;
      for (let n = Math.floor(random() * 12); n > 0; n -= 1) {
        const from = at + random() * 30;
        // Fractions of a millisecond, as performance.now() gives, and now and then equal lengths.
        const ms = random() < 0.2 ? 7.25 : random() * 40;
        list.push({ from, to: from + ms });
        at = from + ms;
      }
      const from = random() * 100;
      const to = from + random() * 300;
      assert.equal(delayBound(list, from, to), sorted(list, from, to), JSON.stringify({ list, from, to }));
    }
  });
});
