import assert from 'node:assert/strict';
import { describe, type TestContext, test } from 'node:test';
import { LoadShedder, type LoopMeter } from '../../src/server/serve/shedder.ts';

/**
 * A loop driven by hand: `now` moves only when the test says, and the sampler's timer fires only
 * on `t.mock.timers.tick`. Moving `now` without ticking is a blocked event loop.
 */
function handLoop(): LoopMeter & { at: number; busy: number; reads: number } {
  const loop = {
    at: 0,
    busy: 0,
    reads: 0,
    now: () => loop.at,
    utilization: () => {
      loop.reads++;
      return loop.busy;
    },
  };
  return loop;
}

function started(t: TestContext, options: { delay: number; utilization: number }) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const loop = handLoop();
  const shedder = new LoadShedder({ ...options, loop });
  shedder.start();
  t.after(() => shedder.stop());
  /** The loop runs on time for `ms`: the clock and the timers move together. */
  const run = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      loop.at++;
      t.mock.timers.tick(1);
    }
  };
  return { loop, shedder, run };
}

describe('LoadShedder', () => {
  test('off unless a delay or a utilisation is set', () => {
    const shedder = new LoadShedder({ delay: 0, utilization: 0, loop: handLoop() });
    assert.equal(shedder.enabled, false);
    shedder.start();
    assert.equal(shedder.overloaded(), false);
    shedder.stop();
  });

  test('a loop on time never sheds', (t) => {
    const { shedder, run } = started(t, { delay: 10, utilization: 0 });
    for (let ms = 0; ms < 1000; ms++) {
      run(1);
      assert.equal(shedder.overloaded(), false, `at ${ms} ms`);
    }
  });

  test('sheds once the iteration in progress is more than --shed-delay behind, not before', (t) => {
    const { loop, shedder } = started(t, { delay: 250, utilization: 0 });
    // The loop blocks: the sampler (due at 62.5 ms, a quarter of the delay) cannot run.
    loop.at = 62.5 + 250;
    assert.equal(shedder.overloaded(), false, 'exactly the delay behind');
    loop.at += 0.5;
    assert.equal(shedder.overloaded(), true, 'more than the delay behind');
  });

  test('stops shedding as soon as the sampler runs again, and reports the lag it saw once', (t) => {
    const { loop, shedder, run } = started(t, { delay: 100, utilization: 0 });
    run(10);
    loop.at += 400;
    assert.equal(shedder.overloaded(), true);
    t.mock.timers.tick(25);
    assert.equal(shedder.overloaded(), false, 'the loop caught up');
    assert.equal(shedder.takeMaxLag(), 410 - 25, 'the sampler was due at 25 ms');
    assert.equal(shedder.takeMaxLag(), 0, 'taken');
  });

  test('samples every quarter of the delay, between 5 and 100 ms', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    for (const [delay, every] of [
      [10, 5],
      [250, 62.5],
      [1000, 100],
      [0, 100],
    ] as const) {
      const loop = handLoop();
      const shedder = new LoadShedder({ delay, utilization: 0.5, loop });
      shedder.start();
      t.mock.timers.tick(Math.ceil(every) - 1);
      const before = loop.reads;
      t.mock.timers.tick(1);
      shedder.stop();
      assert.deepEqual([delay, before, loop.reads], [delay, 0, 1]);
    }
  });

  test('sheds while the utilisation of the last sampler window is above --shed-utilization', (t) => {
    const { loop, shedder, run } = started(t, { delay: 0, utilization: 0.9 });
    loop.busy = 0.95;
    run(99);
    assert.equal(shedder.overloaded(), false, 'judged only when the window (100 ms) ends');
    run(1);
    assert.equal(shedder.overloaded(), true);
    loop.busy = 0.9;
    run(100);
    assert.equal(shedder.overloaded(), false, 'at the threshold is not over it');
  });

  test('stop() ends shedding at once', (t) => {
    const { loop, shedder, run } = started(t, { delay: 0, utilization: 0.5 });
    loop.busy = 1;
    run(100);
    assert.equal(shedder.overloaded(), true);
    shedder.stop();
    assert.equal(shedder.overloaded(), false);
  });
});
