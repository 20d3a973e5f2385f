/**
 * Whose work a host's pass reads next (KeyTurns in src/jobs/postgres/worker-hosts.ts), turn by turn:
 * the keys in turn, the one whose last turn began longest ago first, a key new to the pass before all,
 * and a key back with a new job after its jobs at the host ran out not counted as new (before, it went
 * first, and a key sending a small job each time its last one ended had every other turn).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { KeyTurns } from '../../../src/jobs/postgres/worker-hosts.js';

/** Takes `count` turns, each reading its job through when `through` names it, else part of it. */
function take(turns: KeyTurns, count: number, through: ReadonlySet<string> = new Set()): string[] {
  const jobs: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const turn = turns.next();
    if (turn === null) break;
    jobs.push(turn.job);
    turns.taken(through.has(turn.job) ? null : `${turn.job}-${i}`);
  }
  return jobs;
}

describe('KeyTurns', () => {
  it('gives the keys turns in order, a key new to the pass first', () => {
    const turns = new KeyTurns();
    turns.add([
      { key: 'a', job: 'a1' },
      { key: 'c', job: 'c1' },
    ]);
    assert.deepEqual(take(turns, 3), ['a1', 'c1', 'a1']);
    turns.add([{ key: 'd', job: 'd1' }]);
    assert.deepEqual(take(turns, 4), ['d1', 'c1', 'a1', 'd1']);
  });

  it('a key back with a new job right after its last one ended keeps its place in the round, behind the keys waiting since before its turn', () => {
    const turns = new KeyTurns();
    turns.add([
      { key: 'a', job: 'a1' },
      { key: 'b', job: 'b1' },
      { key: 'c', job: 'c1' },
    ]);
    // b's job is read through in its turn; its key sends the next one at once, and again.
    assert.deepEqual(take(turns, 2, new Set(['b1'])), ['a1', 'b1']);
    turns.add([{ key: 'b', job: 'b2' }]);
    assert.deepEqual(take(turns, 3, new Set(['b2'])), ['c1', 'a1', 'b2']);
    turns.add([{ key: 'b', job: 'b3' }]);
    assert.deepEqual(take(turns, 3), ['c1', 'a1', 'b3']);
  });

  it('a key back after the others had turns since its last one goes first, as the one waiting longest', () => {
    const turns = new KeyTurns();
    turns.add([
      { key: 'a', job: 'a1' },
      { key: 'b', job: 'b1' },
      { key: 'c', job: 'c1' },
    ]);
    assert.deepEqual(take(turns, 4, new Set(['b1'])), ['a1', 'b1', 'c1', 'a1']);
    turns.add([{ key: 'b', job: 'b2' }]);
    assert.deepEqual(take(turns, 3), ['b2', 'c1', 'a1']);
  });

  it("a key's jobs oldest first, each from where it was left; null once no work is left", () => {
    const turns = new KeyTurns();
    turns.add([
      { key: 'a', job: 'a1' },
      { key: 'a', job: 'a2' },
    ]);
    turns.taken('k1');
    assert.deepEqual(turns.next(), { job: 'a1', after: 'k1' });
    turns.taken(null);
    assert.deepEqual(turns.next(), { job: 'a2', after: '' });
    turns.taken(null);
    assert.equal(turns.next(), null);
    // A job read through in this pass is not read again.
    turns.add([{ key: 'a', job: 'a1' }]);
    assert.equal(turns.next(), null);
  });
});
