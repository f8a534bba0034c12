import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BudgetTable,
  type PolicySpec,
  SlidingWindow,
  TokenBucket,
} from '../../src/middleware/rate-limit/algorithms.ts';
import { manualClock } from '../helpers/clock.ts';

const bucket = (limit: number, windowMs: number, burst = limit): PolicySpec => ({
  id: 't',
  algorithm: 'token-bucket',
  limit,
  windowMs,
  burst,
});
const sliding = (limit: number, windowMs: number): PolicySpec => ({
  id: 's',
  algorithm: 'sliding-window',
  limit,
  windowMs,
  burst: limit,
});

/** Spends one unit per `stepMs` for `ms`; returns how many were allowed. */
function drive(
  b: TokenBucket | SlidingWindow,
  clock: ReturnType<typeof manualClock>,
  ms: number,
  stepMs: number,
) {
  let allowed = 0;
  for (let t = 0; t < ms; t += stepMs) {
    allowed += b.take(clock.now(), 1, 1);
    clock.advance(stepMs);
  }
  return allowed;
}

describe('token bucket', () => {
  test('a full bucket allows the burst at once, then refuses', () => {
    const clock = manualClock();
    const b = new TokenBucket(bucket(10, 1000), clock.now());
    for (let i = 0; i < 10; i++) assert.equal(b.take(clock.now(), 1, 1), 1);
    assert.equal(b.take(clock.now(), 1, 1), 0);
    assert.equal(b.available(clock.now()), 0);
    assert.equal(b.waitMs(clock.now(), 1), 100);
    assert.equal(b.resetMs(clock.now()), 1000);
  });

  test('refills at limit per window, continuously', () => {
    const clock = manualClock();
    const b = new TokenBucket(bucket(10, 1000), clock.now());
    b.take(clock.now(), 10, 10);
    clock.advance(250);
    assert.equal(b.available(clock.now()), 2);
    clock.advance(50);
    assert.equal(b.available(clock.now()), 3);
    clock.advance(10_000);
    assert.equal(b.available(clock.now()), 10, 'never more than the burst');
    assert.ok(b.idle(clock.now()));
  });

  test('a steady overload is served exactly limit per window', () => {
    const clock = manualClock();
    const b = new TokenBucket(bucket(100, 1000), clock.now());
    drive(b, clock, 1000, 2.5); // spends the initial burst
    const served = drive(b, clock, 10_000, 2.5); // 400/s for 10 s
    assert.ok(Math.abs(served - 1000) <= 1, `served ${served} of 1000`);
  });

  test('a lease is granted whole or not at all; given-back units return', () => {
    const clock = manualClock();
    const b = new TokenBucket(bucket(10, 1000, 5), clock.now());
    assert.equal(b.take(clock.now(), 4, 4), 4);
    assert.equal(b.take(clock.now(), 4, 4), 0, 'only 1 left');
    assert.equal(b.waitMs(clock.now(), 4), 300);
    b.give(clock.now(), 3);
    assert.equal(b.take(clock.now(), 4, 4), 4);
    b.give(clock.now(), 100);
    assert.equal(b.available(clock.now()), 5, 'capped at the burst');
  });
});

describe('sliding window', () => {
  test('at most limit in a window, and the previous window weighs on the next', () => {
    const clock = manualClock(Date.UTC(2026, 0, 1)); // on a window boundary
    const w = new SlidingWindow(sliding(10, 1000), clock.now());
    assert.equal(w.take(clock.now(), 20, 1), 10);
    assert.equal(w.take(clock.now(), 1, 1), 0);
    assert.equal(w.waitMs(clock.now(), 1), 1100);
    clock.advance(1000); // next window: the previous 10 weigh fully
    assert.equal(w.available(clock.now()), 0);
    clock.advance(500); // half of them still count
    assert.equal(w.available(clock.now()), 5);
    assert.equal(w.take(clock.now(), 5, 1), 5);
    assert.equal(w.available(clock.now()), 0);
    assert.equal(w.waitMs(clock.now(), 1), 100);
    clock.advance(2000);
    assert.ok(w.idle(clock.now()));
  });

  test('a steady overload is served limit per window', () => {
    const clock = manualClock(Date.UTC(2026, 0, 1) + 123);
    const w = new SlidingWindow(sliding(100, 1000), clock.now());
    drive(w, clock, 2000, 2.5);
    const served = drive(w, clock, 10_000, 2.5);
    assert.ok(Math.abs(served - 1000) <= 10, `served ${served} of 1000`);
  });

  test('given-back units free room in the window', () => {
    const clock = manualClock();
    const w = new SlidingWindow(sliding(4, 1000), clock.now());
    assert.equal(w.take(clock.now(), 4, 4), 4);
    w.give(clock.now(), 2);
    assert.equal(w.available(clock.now()), 2);
  });
});

describe('budget table', () => {
  test('one budget per policy and key, forgotten once whole', () => {
    const clock = manualClock();
    const table = new BudgetTable();
    const p = bucket(2, 1000);
    table.get(p, 'a', clock.now()).take(clock.now(), 2, 2);
    assert.equal(table.get(p, 'a', clock.now()).available(clock.now()), 0);
    assert.equal(table.get(p, 'b', clock.now()).available(clock.now()), 2);
    assert.equal(table.get({ ...p, id: 'other' }, 'a', clock.now()).available(clock.now()), 2);
    clock.advance(5000);
    table.get(p, 'c', clock.now());
    assert.equal(table.size, 1, 'whole budgets were swept');
  });
});
