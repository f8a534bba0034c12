import assert from 'node:assert/strict';
import diagnostics_channel from 'node:diagnostics_channel';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Breaker } from '../../src/data/breaker.ts';
import { type BreakerStateMessage, CHANNELS } from '../../src/data/diagnostics.ts';

test('breaker: opens after the threshold, one probe when half-open, closes on success', async () => {
  const seen: BreakerStateMessage[] = [];
  const listener = (m: unknown) => seen.push(m as BreakerStateMessage);
  diagnostics_channel.subscribe(CHANNELS.breakerState, listener);
  try {
    const b = new Breaker('http', 'x', { failureThreshold: 3, cooldown: 50 });
    b.failure();
    b.failure();
    assert.equal(b.state, 'closed');
    b.failure();
    assert.equal(b.state, 'open');
    assert.equal(b.allow(), false);
    assert.ok(b.retryAfterMs > 0 && b.retryAfterMs <= 50);
    await sleep(60);
    assert.equal(b.state, 'half-open');
    assert.equal(b.allow(), true, 'the probe');
    assert.equal(b.allow(), false, 'only one probe');
    b.failure();
    assert.equal(b.state, 'open', 'a failed probe reopens (with a doubled cooldown)');
    await sleep(60);
    assert.equal(b.allow(), false, 'cooldown doubled to 100 ms');
    await sleep(60);
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
