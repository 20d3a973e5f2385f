/** The ledger of refused RCPTs per hour at gateways that count them (IronPort DHAP), on a fake clock. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { HARVEST_WINDOW_MS, HarvestAllowance } from '../../../src/scheduler/index.js';

const IP = '192.0.2.25';

function ledger(start = 1_000_000) {
  const clock = { now: start };
  return { clock, allowance: new HarvestAllowance({ now: () => clock.now }) };
}

describe('HarvestAllowance', () => {
  it('grants everything at a host without a limit, holding nothing', () => {
    const { allowance } = ledger();
    const reservation = allowance.reserve(IP, null, 500);
    assert.equal(reservation.count, 500);
    assert.equal(allowance.inFlight(IP), 0);
    allowance.record(IP, null, 500);
    assert.equal(allowance.isSpent(IP), false);
    reservation.release();
  });

  it('never grants more than is left: refusals of the hour and reservations in flight count', () => {
    const { allowance } = ledger();
    const first = allowance.reserve(IP, 5, 3);
    const second = allowance.reserve(IP, 5, 3);
    assert.deepEqual([first.count, second.count], [3, 2]);
    assert.equal(allowance.reserve(IP, 5, 1).count, 0);
    assert.equal(allowance.inFlight(IP), 5);
    // The first batch drew three refusals; the second none: two RCPTs are left.
    allowance.record(IP, 5, 3);
    first.release();
    allowance.record(IP, 5, 0);
    second.release();
    assert.equal(allowance.inFlight(IP), 0);
    assert.equal(allowance.isSpent(IP), false);
    assert.equal(allowance.reserve(IP, 5, 10).count, 2);
  });

  it('takes nothing when fewer than `atLeast` are left', () => {
    const { allowance } = ledger();
    allowance.record(IP, 5, 4);
    assert.equal(allowance.reserve(IP, 5, 2, 2).count, 0);
    assert.equal(allowance.inFlight(IP), 0);
    assert.equal(allowance.reserve(IP, 5, 2, 1).count, 1);
  });

  it('a release is counted once', () => {
    const { allowance } = ledger();
    const a = allowance.reserve(IP, 5, 2);
    const b = allowance.reserve(IP, 5, 2);
    a.release();
    a.release();
    assert.equal(allowance.inFlight(IP), 2);
    b.release();
    assert.equal(allowance.inFlight(IP), 0);
  });

  it('is spent at the limit and frees up an hour after the oldest refusal', () => {
    const { allowance, clock } = ledger();
    const first = clock.now;
    allowance.record(IP, 3, 1);
    clock.now += 60_000;
    allowance.record(IP, 3, 2);
    assert.equal(allowance.isSpent(IP), true);
    assert.equal(allowance.freesAt(IP), first + HARVEST_WINDOW_MS);
    // Two RCPTs fit once the first two refusals have left the window.
    assert.equal(allowance.freesAt(IP, 2), first + 60_000 + HARVEST_WINDOW_MS);
    clock.now = first + HARVEST_WINDOW_MS;
    assert.equal(allowance.isSpent(IP), false);
    assert.equal(allowance.reserve(IP, 3, 5).count, 1);
  });

  it('keeps only what can change an answer: refusals past the limit move the window on', () => {
    const { allowance, clock } = ledger();
    allowance.record(IP, 3, 1_000);
    clock.now += 10;
    allowance.record(IP, 3, 1);
    assert.equal(allowance.isSpent(IP), true);
    // Three refusals still inside the window after the oldest ones leave it: the last three.
    assert.equal(allowance.freesAt(IP), clock.now - 10 + HARVEST_WINDOW_MS);
  });

  it('remembers a limit learned from a banner for the next reservation at that address', () => {
    const { allowance } = ledger();
    allowance.record(IP, 25, 24);
    assert.equal(allowance.reserve(IP, null, 10).count, 1);
    assert.equal(allowance.reserve('192.0.2.26', null, 10).count, 10);
  });

  it('wakes a waiter when a reservation comes back, or when its signal fires', async () => {
    const { allowance } = ledger();
    const held = allowance.reserve(IP, 2, 2);
    let woken = false;
    const waiting = allowance.released(IP, new AbortController().signal).then(() => {
      woken = true;
    });
    await Promise.resolve();
    assert.equal(woken, false);
    held.release();
    await waiting;
    assert.equal(woken, true);

    const again = allowance.reserve(IP, 2, 2);
    const controller = new AbortController();
    const aborted = allowance.released(IP, controller.signal);
    controller.abort();
    await aborted;
    again.release();
    // Nothing in flight: nothing to wait for.
    await allowance.released(IP, new AbortController().signal);
  });
});
