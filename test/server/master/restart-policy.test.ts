import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_BOOT_FAILURES, RestartPolicy } from '../../../src/server/master/restart-policy.ts';

describe('RestartPolicy: crashes', () => {
  test('two crashes are replaced at once; from the third the delay doubles from 250 ms up to 10 s', () => {
    const policy = new RestartPolicy();
    const t = 1_000_000;
    const delays = Array.from({ length: 10 }, () => policy.crashed(t));
    assert.deepEqual(delays, [0, 0, 250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    assert.equal(policy.recentCrashes, 10);
  });

  test('a spawn waits out the longest pending delay', () => {
    const policy = new RestartPolicy();
    const t = 1_000_000;
    policy.crashed(t);
    policy.crashed(t);
    assert.equal(policy.maySpawn(t), true);
    assert.equal(policy.crashed(t), 250);
    assert.equal(policy.maySpawn(t + 249), false);
    assert.equal(policy.maySpawn(t + 250), true);
    assert.equal(policy.crashed(t + 100), 500, 'counted from the crash');
    assert.equal(policy.maySpawn(t + 599), false);
    assert.equal(policy.maySpawn(t + 600), true);
    // A boot failure's shorter delay does not shorten a crash loop's wait.
    policy.ready();
    for (let i = 0; i < 4; i++) policy.crashed(t + 600);
    assert.deepEqual(policy.bootFailed(t + 600), { halt: false, delayMs: 250 });
    assert.equal(policy.maySpawn(t + 600 + 8000 - 1), false);
    assert.equal(policy.maySpawn(t + 600 + 8000), true);
  });

  test('only crashes of the last minute count', () => {
    const policy = new RestartPolicy();
    const t = 1_000_000;
    for (let i = 0; i < 5; i++) policy.crashed(t);
    assert.equal(policy.recentCrashes, 5);
    assert.equal(policy.crashed(t + 59_999), 2000, 'the window still holds the five');
    assert.equal(policy.crashed(t + 60_000), 0, 'a minute later the old ones are forgotten');
    assert.equal(policy.recentCrashes, 2);
  });
});

describe('RestartPolicy: boot failures', () => {
  test('before any worker was ever ready, the first boot failure halts', () => {
    const policy = new RestartPolicy();
    assert.equal(policy.everReady, false);
    assert.deepEqual(policy.bootFailed(0), { halt: true, delayMs: 0 });
  });

  test('after a good boot, failures back off (250 ms doubling) and halt at MAX_BOOT_FAILURES in a row', () => {
    const policy = new RestartPolicy();
    policy.ready();
    const t = 1_000_000;
    const verdicts = Array.from({ length: MAX_BOOT_FAILURES }, () => policy.bootFailed(t));
    assert.deepEqual(verdicts, [
      { halt: false, delayMs: 250 },
      { halt: false, delayMs: 500 },
      { halt: false, delayMs: 1000 },
      { halt: false, delayMs: 2000 },
      { halt: true, delayMs: 0 },
    ]);
    assert.equal(policy.bootFailures, MAX_BOOT_FAILURES);
    assert.equal(policy.maySpawn(t + 1999), false);
    assert.equal(policy.maySpawn(t + 2000), true);
  });

  test('a worker that becomes ready resets the run of failures', () => {
    const policy = new RestartPolicy();
    policy.ready();
    for (let i = 0; i < MAX_BOOT_FAILURES - 1; i++) policy.bootFailed(0);
    policy.ready();
    assert.equal(policy.bootFailures, 0);
    assert.deepEqual(policy.bootFailed(0), { halt: false, delayMs: 250 });
  });
});
