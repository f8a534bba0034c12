import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { Breaker } from '../../src/data/breaker.ts';
import { type BreakerStateMessage, CHANNELS } from '../../src/data/diagnostics.ts';
import { manualClock } from '../helpers/clock.ts';

test('breaker: opens after the threshold, one probe when half-open, closes on success', () => {
  const seen: BreakerStateMessage[] = [];
  const listener = (m: unknown) => seen.push(m as BreakerStateMessage);
  diagnostics_channel.subscribe(CHANNELS.breakerState, listener);
  try {
    const clock = manualClock();
    const b = new Breaker('http', 'x', { failureThreshold: 3, cooldown: 50, clock: clock.now });
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.allow(), false);
    assert.equal(b.retryAfterMs, 50);
    clock.advance(49);
    assert.equal(b.state, 'open');
    assert.equal(b.retryAfterMs, 1);
    clock.advance(1);
    assert.equal(b.state, 'half-open');
    assert.equal(b.allow(), true, 'the probe');
    assert.equal(b.allow(), false, 'only one probe');
    b.failure();
    assert.equal(b.state, 'open', 'a failed probe reopens (with a doubled cooldown)');
    clock.advance(99);
    assert.equal(b.allow(), false, 'cooldown doubled to 100 ms');
    clock.advance(1);
    assert.equal(b.allow(), true);
    b.success();
    assert.equal(b.state, 'closed');
    assert.deepEqual(
      seen.map((m) => `${m.from}>${m.to}`),
      ['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed'],
    );
  } finally {
    diagnostics_channel.unsubscribe(CHANNELS.breakerState, listener);
  }
});

test('breaker: the cooldown doubles with each failed probe up to maxCooldown, and a success resets it', () => {
  const clock = manualClock();
  const b = new Breaker('http', 'y', {
    failureThreshold: 1,
    cooldown: 100,
    maxCooldown: 300,
    clock: clock.now,
  });
  b.failure();
  const cooldowns: number[] = [];
  for (let i = 0; i < 4; i++) {
    cooldowns.push(b.retryAfterMs);
    clock.advance(b.retryAfterMs);
    assert.equal(b.allow(), true, 'the probe');
    b.failure();
  }
  assert.deepEqual(cooldowns, [100, 200, 300, 300]);
  clock.advance(300);
  assert.equal(b.allow(), true);
  b.success();
  b.failure();
  assert.equal(b.retryAfterMs, 100, 'back to the first cooldown');
});
