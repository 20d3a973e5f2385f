/** The ceiling on RCPTs per minute at one MX host address, on a fake clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import fc from 'fast-check';

import {
  HOST_RATE_WINDOW_MS,
  HostRateWindow,
  rateCeiling,
  rateWaitMs,
} from '../../../src/scheduler/index.js';

const IP = '192.0.2.25';

function limiter(windowMs = HOST_RATE_WINDOW_MS) {
  const clock = { now: 1_000_000 };
  return { clock, rate: new HostRateWindow({ windowMs, now: () => clock.now }) };
}

describe('HostRateWindow', () => {
  it('grants up to the ceiling, counting grants in flight and settled ones alike', () => {
    const { clock, rate } = limiter();
    const first = rate.reserve(IP, 10, 6);
    const second = rate.reserve(IP, 10, 6);
    assert.deepEqual([first.count, second.count], [6, 4]);
    const none = rate.reserve(IP, 10, 1);
    assert.equal(none.count, 0);
    // Everything is in flight: nothing leaves the window before a full window after it is settled.
    assert.equal(none.waitMs, HOST_RATE_WINDOW_MS);
    clock.now += 500;
    first.settle(6);
    second.settle(4);
    assert.equal(rate.used(IP), 10);
    assert.equal(rate.reserve(IP, 10, 1).count, 0);
    // One window after they were settled, the window is empty again.
    clock.now += HOST_RATE_WINDOW_MS;
    assert.equal(rate.used(IP), 0);
    assert.equal(rate.reserve(IP, 10, 20).count, 10);
  });

  it('is a sliding window: RCPTs leave it one window after they were settled, oldest first', () => {
    const { clock, rate } = limiter(1_000);
    rate.reserve(IP, 3, 1).settle(1); // t = 0
    clock.now += 300;
    rate.reserve(IP, 3, 2).settle(2); // t = 300
    const full = rate.reserve(IP, 3, 1);
    assert.equal(full.count, 0);
    assert.equal(full.waitMs, 700, 'the RCPT settled at t = 0 leaves at t = 1000');
    clock.now += 700;
    assert.equal(rate.reserve(IP, 3, 5).count, 1, 'only the oldest one left');
  });

  it('gives back what was not sent', () => {
    const { rate } = limiter();
    const grant = rate.reserve(IP, 5, 5);
    grant.settle(2);
    grant.settle(5); // a second settle changes nothing
    assert.equal(rate.used(IP), 2);
    assert.equal(rate.reserve(IP, 5, 5).count, 3);
  });

  it('keeps hosts apart', () => {
    const { rate } = limiter();
    assert.equal(rate.reserve(IP, 2, 5).count, 2);
    assert.equal(rate.reserve('192.0.2.26', 2, 5).count, 2);
  });

  it('never lets any window of server-side receipts hold more than the ceiling (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.array(
          fc.record({
            gap: fc.integer({ min: 0, max: 400 }),
            wanted: fc.integer({ min: 1, max: 15 }),
            flight: fc.integer({ min: 0, max: 300 }),
            sent: fc.integer({ min: 0, max: 15 }),
          }),
          { maxLength: 60 },
        ),
        (perMinute, steps) => {
          const windowMs = 1_000;
          const { clock, rate } = limiter(windowMs);
          // The server receives a grant's RCPTs somewhere between the grant and its settlement.
          const pending: {
            settleAt: number;
            receivedAt: number;
            sent: number;
            settle: (n: number) => void;
          }[] = [];
          const received: [number, number][] = [];
          const settleDue = (until: number) => {
            pending.sort((a, b) => a.settleAt - b.settleAt);
            while (pending.length > 0 && (pending[0]?.settleAt ?? Infinity) <= until) {
              const next = pending.shift();
              if (next === undefined) break;
              clock.now = next.settleAt;
              next.settle(next.sent);
            }
          };
          let now = clock.now;
          for (const step of steps) {
            now += step.gap;
            settleDue(now);
            clock.now = now;
            const grant = rate.reserve(IP, perMinute, step.wanted);
            assert.ok(grant.count <= step.wanted);
            if (grant.count === 0) {
              assert.ok(grant.waitMs > 0 && grant.waitMs <= windowMs);
              continue;
            }
            const sent = Math.min(grant.count, step.sent);
            const settleAt = now + step.flight;
            const receivedAt = now + Math.floor(step.flight / 2);
            if (sent > 0) received.push([receivedAt, sent]);
            pending.push({
              settleAt,
              receivedAt,
              sent,
              settle: (n) => {
                grant.settle(n);
              },
            });
          }
          settleDue(Infinity);
          received.sort((a, b) => a[0] - b[0]);
          for (const [start] of received) {
            const inWindow = received
              .filter(([at]) => at >= start && at < start + windowMs)
              .reduce((sum, [, count]) => sum + count, 0);
            assert.ok(inWindow <= perMinute, `${inWindow} RCPTs within one window, ceiling ${perMinute}`);
          }
        },
      ),
      { seed: 20, numRuns: 300 },
    );
  });
});

describe('rateWaitMs', () => {
  it('is 0 while one more fits, else until enough of the oldest leave', () => {
    assert.equal(rateWaitMs([[0, 2]], 0, 3, 100, 1_000), 0);
    assert.equal(
      rateWaitMs(
        [
          [0, 2],
          [50, 1],
        ],
        0,
        3,
        100,
        1_000,
      ),
      900,
    );
    assert.equal(
      rateWaitMs(
        [
          [0, 1],
          [50, 2],
        ],
        1,
        3,
        100,
        1_000,
      ),
      950,
    );
    assert.equal(rateWaitMs([], 3, 3, 100, 1_000), 1_000);
  });
});

describe('rateCeiling', () => {
  const rule = { maxRcptsPerMinute: 60 };
  it("is the run's hostRate when set, 0 meaning none anywhere", () => {
    assert.equal(rateCeiling(30, rule), 30);
    assert.equal(rateCeiling(600, rule), 600);
    assert.equal(rateCeiling(0, rule), null);
  });
  it("is the provider's default otherwise, else none", () => {
    assert.equal(rateCeiling(null, rule), 60);
    assert.equal(rateCeiling(null, {}), null);
    assert.equal(rateCeiling(null, null), null);
  });
});
