/**
 * rcpt bulk's ETA: from the run's rate, and honest about a wait with no result (greylisting); the bar
 * rcpt bulk and rcpt explain --bounces both draw.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';

import { etaText, progressBar } from '../../../src/cli/progress.js';

describe('etaText', () => {
  const cases: [string, Parameters<typeof etaText>[0], string][] = [
    ['nothing left', { remaining: 0, doneThisRun: 10, elapsedMs: 1_000, sinceLastMs: 0 }, '0s'],
    ['no result yet', { remaining: 10, doneThisRun: 0, elapsedMs: 0, sinceLastMs: 200 }, '?'],
    ['from the run rate', { remaining: 100, doneThisRun: 50, elapsedMs: 10_000, sinceLastMs: 0 }, '20s'],
    [
      'counts down between results',
      { remaining: 100, doneThisRun: 50, elapsedMs: 10_000, sinceLastMs: 5_000 },
      '15s',
    ],
    ['minutes', { remaining: 1_000, doneThisRun: 10, elapsedMs: 1_000, sinceLastMs: 0 }, '1m40s'],
    [
      // The last address greylisted: 99 results in 2 s, then a 20 s wait for its retry.
      'a greylisting wait is a wait, not "1s"',
      { remaining: 1, doneThisRun: 99, elapsedMs: 2_000, sinceLastMs: 12_000 },
      '? (no result for 12s: waiting on a server)',
    ],
    [
      // A host at its ceiling on RCPTs per minute has addresses left: never sooner than its wait.
      'not sooner than a host waits for room under --host-rate',
      { remaining: 100, doneThisRun: 60, elapsedMs: 2_000, sinceLastMs: 0, rateWaitMs: 55_000 },
      '55s',
    ],
    [
      'a pause at the ceiling says so',
      { remaining: 10, doneThisRun: 60, elapsedMs: 2_000, sinceLastMs: 3_000, rateWaitMs: 54_000 },
      '? (no result for 3s: a host is at its RCPTs-per-minute ceiling, room in 54s)',
    ],
    [
      'a wait that is over changes nothing',
      { remaining: 100, doneThisRun: 50, elapsedMs: 10_000, sinceLastMs: 0, rateWaitMs: 0 },
      '20s',
    ],
    [
      'nothing yet for long',
      { remaining: 5, doneThisRun: 0, elapsedMs: 0, sinceLastMs: 3_000 },
      '? (no result for 3s: waiting on a server)',
    ],
  ];
  for (const [name, progress, expected] of cases) {
    it(name, () => {
      assert.equal(etaText(progress), expected);
    });
  }
});

describe('progressBar', () => {
  it('draws 30 cells of blocks with the format given, and leaves the bar on screen when stopped', () => {
    let drawn = '';
    const terminal = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          drawn += chunk.toString();
          done();
        },
      }),
      { isTTY: true, columns: 200, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
    );
    const bar = progressBar(terminal, '{bar} {value}/{total} messages');
    bar.start(4, 1);
    bar.stop();
    assert.match(drawn, /\u2588{8}\u2591{22} 1\/4 messages/);
    // clearOnComplete is off: the last line drawn ends with a newline, not with an erased line.
    assert.ok(drawn.endsWith('\n'), JSON.stringify(drawn));
  });
});
