import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Autoscaler, scaleBounds } from '../../../src/server/master/autoscaler.ts';
import { MasterEvents } from '../../../src/server/master/events.ts';
import type { Plan } from '../../../src/server/master/reconcile.ts';
import {
  type ScaleBounds,
  type ScaleDecision,
  ScalePolicy,
  type ScaleSample,
  type ScaleTuning,
} from '../../../src/server/master/scale-policy.ts';
import { manualClock } from '../../helpers/clock.ts';
import { poolRig } from '../../helpers/worker-pool.ts';

const TUNING: ScaleTuning = {
  upUtilization: 0.75,
  downUtilization: 0.25,
  upAfterMs: 5000,
  downAfterMs: 60_000,
  cooldownMs: 10_000,
};
const BOUNDS: ScaleBounds = { min: 1, max: 4, cpuLimit: 4 };

function sample(target: number, utilization: number | undefined, cpu = 0.5): ScaleSample {
  return { target, settling: false, utilization, cpu };
}

/** Feeds the same sample every 250 ms for `ms`; returns the decisions with when they came. */
function run(
  policy: ScalePolicy,
  clock: ReturnType<typeof manualClock>,
  s: ScaleSample,
  ms: number,
): Array<{ at: number; d: ScaleDecision }> {
  const out: Array<{ at: number; d: ScaleDecision }> = [];
  const start = clock.now();
  for (let t = 0; t <= ms; t += 250) {
    const d = policy.decide(s, clock.now());
    if (d !== undefined) out.push({ at: clock.now() - start, d });
    if (t < ms) clock.advance(250);
  }
  return out;
}

describe('ScalePolicy: up', () => {
  test('adds a worker only once the utilization has stayed high for the whole window', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    assert.deepEqual(run(policy, clock, sample(1, 0.9), 4750), [], 'not before 5 s');
    const [first, ...rest] = run(policy, clock, sample(1, 0.9), 250);
    assert.equal(rest.length, 0);
    assert.equal(first!.d.action, 'up');
    assert.deepEqual(
      first!.d.action === 'up' && [first!.d.from, first!.d.to],
      [1, 2],
      'ceil(1 × 0.9 / 0.75) = 2',
    );
    assert.match(first!.d.reason, /utilization 0\.90 ≥ 0\.75 for 5\.0 s; CPU 0\.50 of 4\.00 cores/);
  });

  test('a dip below the threshold starts the window over', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    assert.deepEqual(run(policy, clock, sample(1, 0.9), 4000), []);
    assert.equal(policy.decide(sample(1, 0.5), clock.now()), undefined);
    clock.advance(250);
    assert.deepEqual(run(policy, clock, sample(1, 0.9), 4750), [], 'the window restarted');
    assert.equal(run(policy, clock, sample(1, 0.9), 250)[0]?.d.action, 'up');
  });

  test('adds in proportion to the load, capped by max and by the free CPU', () => {
    const clock = manualClock();
    // 2 workers at 1.0 with target 0.75 want ceil(2.67) = 3; 4 at 1.0 on 8 cores want 6.
    let d = run(
      new ScalePolicy({ min: 1, max: 8, cpuLimit: 8 }, TUNING),
      clock,
      sample(2, 1, 2.1),
      5000,
    );
    assert.deepEqual(
      d.map((x) => x.d.action === 'up' && x.d.to),
      [3],
    );
    d = run(
      new ScalePolicy({ min: 1, max: 8, cpuLimit: 8 }, TUNING),
      clock,
      sample(4, 1, 4.1),
      5000,
    );
    assert.deepEqual(
      d.map((x) => x.d.action === 'up' && x.d.to),
      [6],
    );
    // Only 1.5 cores free: one worker, however high the load.
    d = run(
      new ScalePolicy({ min: 1, max: 8, cpuLimit: 6 }, TUNING),
      clock,
      sample(4, 1, 4.5),
      5000,
    );
    assert.deepEqual(
      d.map((x) => x.d.action === 'up' && x.d.to),
      [5],
    );
    // Never above max.
    d = run(
      new ScalePolicy({ min: 1, max: 5, cpuLimit: 8 }, TUNING),
      clock,
      sample(4, 1, 4.1),
      5000,
    );
    assert.deepEqual(
      d.map((x) => x.d.action === 'up' && x.d.to),
      [5],
    );
  });

  test('at max, or with the CPU budget used up, it holds and says so once per high spell', () => {
    const clock = manualClock();
    const atMax = new ScalePolicy({ min: 1, max: 2, cpuLimit: 2 }, TUNING);
    const held = run(atMax, clock, sample(2, 0.95, 1.2), 20_000);
    assert.equal(held.length, 1);
    assert.equal(held[0]!.d.action, 'hold');
    assert.match(held[0]!.d.reason, /at the most workers \(2\)/);
    // The spell ends and a new one begins: reported again.
    atMax.decide(sample(2, 0.5), clock.now());
    assert.equal(run(atMax, clock, sample(2, 0.95, 1.2), 6000).length, 1);

    const busy = new ScalePolicy({ min: 1, max: 4, cpuLimit: 2 }, TUNING);
    const noCpu = run(busy, clock, sample(1, 0.95, 1.6), 10_000);
    assert.equal(noCpu.length, 1);
    assert.equal(noCpu[0]!.d.action, 'hold');
    assert.match(noCpu[0]!.d.reason, /no CPU to spare: .*CPU 1\.60 of 2\.00 cores used/);
    // A fractional quota counts as such: 1.5 cores, 1.1 used, 0.4 free < 0.5.
    const quota = new ScalePolicy({ min: 1, max: 2, cpuLimit: 1.5 }, TUNING);
    assert.equal(run(quota, clock, sample(1, 0.95, 1.1), 6000)[0]?.d.action, 'hold');
  });
});

describe('ScalePolicy: down', () => {
  test('retires one worker after the low window, never below min', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    assert.deepEqual(run(policy, clock, sample(3, 0.1), 59_750), []);
    const [d] = run(policy, clock, sample(3, 0.1), 250);
    assert.equal(d?.d.action, 'down');
    assert.deepEqual(d?.d.action === 'down' && [d.d.from, d.d.to], [3, 2]);
    assert.match(
      d!.d.reason,
      /utilization 0\.10 ≤ 0\.25 for 60\.0 s; one worker fewer would run at about 0\.15/,
    );
    const atMin = new ScalePolicy({ ...BOUNDS, min: 2 }, TUNING);
    assert.deepEqual(run(atMin, clock, sample(2, 0.05), 120_000), []);
  });

  test('does not retire one when the rest would go back over the upper threshold', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, { ...TUNING, downUtilization: 0.4 });
    // 2 workers at 0.4 would be 1 at 0.8 ≥ 0.75: that would flap.
    assert.deepEqual(run(policy, clock, sample(2, 0.4), 120_000), []);
    assert.equal(
      run(policy, clock, sample(3, 0.4), 60_000)[0]?.d.action,
      'down',
      '3 → 2 at 0.6 is fine',
    );
  });

  test('utilization between the thresholds changes nothing and resets both windows', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    assert.deepEqual(run(policy, clock, sample(2, 0.5), 300_000), []);
    assert.deepEqual(run(policy, clock, sample(2, 0.1), 50_000), []);
    policy.decide(sample(2, 0.5), clock.now());
    assert.deepEqual(run(policy, clock, sample(2, 0.1), 59_750), [], 'the low window restarted');
  });
});

describe('ScalePolicy: settling and cool-down', () => {
  test('judges nothing while a change settles, then waits the cool-down, then a full window', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    const first = run(policy, clock, sample(1, 1), 5000);
    assert.equal(first.length, 1);
    // The new worker boots for 3 s: settling, nothing judged however high the load.
    assert.deepEqual(run(policy, clock, { ...sample(2, 1), settling: true }, 3000), []);
    // Settled: 10 s cool-down, then the 5 s window → the next move 15 s after settling.
    const next = run(policy, clock, sample(2, 1, 2.1), 20_000);
    assert.equal(next.length, 1);
    assert.equal(next[0]!.at, 15_000);
  });

  test('a change by hand (TTIN/TTOU) starts the cool-down too', () => {
    const clock = manualClock();
    const policy = new ScalePolicy(BOUNDS, TUNING);
    assert.deepEqual(run(policy, clock, sample(1, 1), 4000), []);
    policy.changed(clock.now());
    const d = run(policy, clock, sample(1, 1), 20_000);
    assert.equal(d[0]?.at, 15_000);
  });

  test('no heartbeat yet: no judgement', () => {
    const clock = manualClock();
    assert.deepEqual(
      run(new ScalePolicy(BOUNDS, TUNING), clock, sample(1, undefined), 100_000),
      [],
    );
  });
});

describe('scaleBounds', () => {
  test('max defaults to the cores and is lowered to them; min follows', () => {
    const two = { cores: 2, limit: 2, source: 'cpus' as const };
    assert.deepEqual(scaleBounds({ minWorkers: 1, maxWorkers: 0 }, two), {
      bounds: { min: 1, max: 2, cpuLimit: 2 },
      lowered: [],
    });
    const r = scaleBounds(
      { minWorkers: 3, maxWorkers: 8 },
      { cores: 2, limit: 1.5, source: 'cgroup v2' },
    );
    assert.deepEqual(r.bounds, { min: 2, max: 2, cpuLimit: 1.5 });
    assert.deepEqual(r.lowered, [
      '--max-workers 8 lowered to the 2 cores available',
      '--min-workers 3 lowered to 2',
    ]);
  });
});

describe('Autoscaler: what it samples and what it does', () => {
  test('samples ready workers of the current generation; a decision moves the target, logs and records it', async () => {
    const rig = await poolRig({ workers: 'auto', maxWorkers: '2' });
    const plan: Plan = {
      generation: 1,
      target: 1,
      reload: undefined,
      reloadAgain: false,
      stop: undefined,
    };
    const events = new MasterEvents();
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const policy = new ScalePolicy({ min: 1, max: 2, cpuLimit: 2 }, { ...TUNING, cooldownMs: 0 });
    const scaler = new Autoscaler(policy, log, events);
    const w = rig.pool.spawn(1);
    assert.equal(scaler.sample(plan, rig.pool.all()).settling, true, 'booting');
    rig.ready(w);
    w.heartbeat = {
      rss: 0,
      heapUsed: 0,
      requests: 0,
      shed: 0,
      overCap: 0,
      deadlines: 0,
      connections: 0,
      inflight: 0,
      lagMs: 0,
      elu: 0.92,
      cpu: 0.9,
    };
    const s = scaler.sample(plan, rig.pool.all());
    assert.equal(s.settling, false);
    assert.equal(s.utilization, 0.92);
    assert.ok(s.cpu >= 0.9, 'the worker CPU plus the master');
    for (let t = 0; t <= 5000; t += 250) scaler.manage(plan, rig.pool, rig.now + t);
    assert.equal(plan.target, 2);
    const [event] = events.list();
    assert.equal(event?.type, 'scale-up');
    assert.equal(event?.message, 'added 1 worker: 1 → 2');
    assert.deepEqual(
      [event?.fields.from, event?.fields.to, event?.fields.utilization],
      [1, 2, 0.92],
    );
    const line = lines.find((l) => l.event === 'scale-up');
    assert.ok(line !== undefined);
    assert.match(String(line.msg), /^autoscale: 1 → 2 workers \(event-loop utilization 0\.92/);
    assert.equal(line.reason, event?.fields.reason);
    // Now 1 ready of target 2: settling until the new one is ready.
    assert.equal(scaler.sample(plan, rig.pool.all()).settling, true);
  });
});

describe('MasterEvents', () => {
  test('keeps the newest events up to its capacity; since and limit page through them', () => {
    const events = new MasterEvents(3);
    for (let i = 1; i <= 5; i++) events.record('ttin', `event ${i}`, { i }, i);
    assert.deepEqual(
      events.list().map((e) => e.seq),
      [3, 4, 5],
    );
    assert.deepEqual(
      events.list(4).map((e) => e.message),
      ['event 5'],
    );
    assert.deepEqual(
      events.list(0, 1).map((e) => e.seq),
      [5],
    );
  });
});

describe('settings of --workers auto', () => {
  test('auto from the command line, the environment or a number; bad words and bounds refused', async () => {
    const { resolveSettings } = await import('../../../src/server/settings/resolve.ts');
    assert.equal(
      (await resolveSettings({ env: {}, cli: { workers: 'auto' } })).settings.workers,
      'auto',
    );
    assert.equal(
      (await resolveSettings({ env: { PEREGRINE_WORKERS: 'AUTO' } })).settings.workers,
      'auto',
    );
    assert.equal((await resolveSettings({ env: { PEREGRINE_WORKERS: '3' } })).settings.workers, 3);
    await assert.rejects(
      resolveSettings({ env: {}, cli: { workers: 'many' } }),
      /"many" is not a whole number or auto/,
    );
    await assert.rejects(
      resolveSettings({ env: {}, cli: { workers: '0' } }),
      /--workers .*must be at least 1/,
    );
    await assert.rejects(
      resolveSettings({ env: {}, cli: { workers: 'auto', minWorkers: '3', maxWorkers: '2' } }),
      /--max-workers must not be below --min-workers/,
    );
    await assert.rejects(
      resolveSettings({ env: {}, cli: { workers: 'auto', scaleDownUtilization: '0.8' } }),
      /--scale-down-utilization must be below --scale-up-utilization/,
    );
  });
});
