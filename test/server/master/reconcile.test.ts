import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { Autoscaler } from '../../../src/server/master/autoscaler.ts';
import { MasterEvents } from '../../../src/server/master/events.ts';
import { heartbeatInterval } from '../../../src/server/master/pool.ts';
import { FAST_STOP_GRACE, type Plan, reconcile } from '../../../src/server/master/reconcile.ts';
import { ScalePolicy } from '../../../src/server/master/scale-policy.ts';
import type { CliValues } from '../../../src/server/settings/resolve.ts';
import { type PoolRig, poolRig } from '../../helpers/worker-pool.ts';

const log = pino({ level: 'silent' });

function plan(target: number): Plan {
  return { generation: 1, target, reload: undefined, reloadAgain: false, stop: undefined };
}

/** One pass of the master's loop at the rig's clock. */
function step(rig: PoolRig, p: Plan): { reloadAgain: boolean } {
  return reconcile(p, { pool: rig.pool, policy: rig.policy, book: rig.book, log, now: rig.now });
}

/** Starts `n` workers of generation 1 and makes them ready. */
async function running(n: number, cli: CliValues = {}) {
  const rig = await poolRig(cli);
  const p = plan(0);
  for (let i = 0; i < n; i++) {
    p.target++;
    step(rig, p);
    rig.now += 10;
  }
  for (const w of rig.pool.all()) rig.ready(w);
  step(rig, p);
  return { rig, p };
}

describe('reconcile: the current generation', () => {
  test('spawns up to the target once, not again while they boot', async () => {
    const rig = await poolRig();
    const p = plan(3);
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:booting', '1:booting', '1:booting']);
    rig.now += 100;
    step(rig, p);
    assert.equal(rig.pool.size, 3);
    assert.equal(rig.book.snapshot(snapshotOf(rig, p)).spawned, 3);
  });

  test('a worker that died is replaced at once; a crash loop waits out its backoff', async () => {
    const { rig, p } = await running(2);
    const [first, second] = rig.pool.all();
    rig.pool.reap(first!);
    assert.equal(rig.policy.crashed(rig.now), 0, 'the first crash is replaced at once');
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '1:booting']);

    // Two more crashes within the minute: the third waits 250 ms.
    rig.pool.reap(second!);
    rig.policy.crashed(rig.now);
    const delay = rig.policy.crashed(rig.now);
    assert.equal(delay, 250);
    rig.pool.reap(rig.pool.all()[0]!);
    step(rig, p);
    assert.equal(rig.pool.size, 0, 'nothing spawns during the backoff');
    rig.now += 249;
    step(rig, p);
    assert.equal(rig.pool.size, 0);
    rig.now += 1;
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:booting', '1:booting']);
  });

  test('scale-down retires the newest ready worker and drains it at once (the rest cover the target)', async () => {
    const { rig, p } = await running(2);
    const [older, newer] = rig.pool.all();
    p.target = 1;
    step(rig, p);
    assert.equal(older!.state, 'ready');
    assert.equal(newer!.state, 'draining');
    assert.equal(newer!.retire, 'scale-down');
    assert.deepEqual(rig.sent(newer!, 'drain'), [
      { gracefulTimeout: rig.settings.gracefulTimeout * 1000 },
    ]);
  });

  test('scale-down of a booting worker stops it rather than waiting for it', async () => {
    const { rig, p } = await running(1);
    p.target = 2;
    step(rig, p);
    p.target = 1;
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '1:stopping']);
    assert.equal(rig.pool.all()[1]!.stopGrace, FAST_STOP_GRACE);
  });

  test('a retiring worker keeps serving until its replacement is ready, then drains', async () => {
    const { rig, p } = await running(2);
    const [old] = rig.pool.all();
    rig.pool.retire(old!, 'max-requests', { requests: 1000 });
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '1:ready', '1:booting']);
    rig.now += 500;
    step(rig, p);
    assert.equal(old!.state, 'ready', 'no drain before the replacement is ready');
    rig.ready(rig.pool.all()[2]!);
    step(rig, p);
    assert.equal(old!.state, 'draining');
    assert.equal(old!.stopReason, 'recycled (max-requests)');
    assert.equal(rig.book.snapshot(snapshotOf(rig, p)).restarts['max-requests'], 1);
  });

  test('two retiring workers drain one at a time, oldest ready first', async () => {
    const { rig, p } = await running(2);
    const [a, b] = rig.pool.all();
    b!.readyAt = a!.readyAt! - 10;
    rig.pool.retire(a!, 'max-memory');
    rig.pool.retire(b!, 'max-memory');
    step(rig, p);
    const [, , c, d] = rig.pool.all();
    rig.ready(c!);
    step(rig, p);
    assert.equal(b!.state, 'draining', 'the one ready longer goes first');
    assert.equal(a!.state, 'ready', 'the other still covers the target');
    rig.ready(d!);
    step(rig, p);
    assert.equal(a!.state, 'draining');
  });
});

describe('reconcile: reload', () => {
  test('the new generation starts in full; the old serves until all of it is ready, then drains', async () => {
    const { rig, p } = await running(2);
    p.reload = { generation: 2, startedAt: rig.now, target: 2 };
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '1:ready', '2:booting', '2:booting']);
    const [, , n1, n2] = rig.pool.all();
    rig.ready(n1!);
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '1:ready', '2:ready', '2:booting']);
    assert.equal(p.generation, 1);
    rig.ready(n2!);
    rig.now += 1200;
    step(rig, p);
    assert.equal(p.generation, 2);
    assert.equal(p.reload, undefined);
    assert.deepEqual(rig.states(), ['1:draining', '1:draining', '2:ready', '2:ready']);
    assert.deepEqual(rig.book.snapshot(snapshotOf(rig, p)).reloads, {
      started: 0,
      succeeded: 1,
      failed: 0,
    });
  });

  test('a reload may change the size; a booting worker of the old generation is stopped', async () => {
    const rig = await poolRig();
    const p = plan(2);
    step(rig, p);
    rig.ready(rig.pool.all()[0]!);
    p.reload = { generation: 2, startedAt: rig.now, target: 3 };
    step(rig, p);
    const fresh = rig.pool.all().filter((w) => w.generation === 2);
    assert.equal(fresh.length, 3);
    for (const w of fresh) rig.ready(w);
    step(rig, p);
    assert.equal(p.target, 3);
    assert.deepEqual(rig.states(), ['1:draining', '1:stopping', '2:ready', '2:ready', '2:ready']);
  });

  test('a HUP during the reload asks for another once it completes', async () => {
    const { rig, p } = await running(1);
    p.reload = { generation: 2, startedAt: rig.now, target: 1 };
    p.reloadAgain = true;
    assert.deepEqual(step(rig, p), { reloadAgain: false });
    rig.ready(rig.pool.all()[1]!);
    assert.deepEqual(step(rig, p), { reloadAgain: true });
    assert.equal(p.reloadAgain, false);
  });

  test('a worker of the new generation that dies while booting is replaced within the reload', async () => {
    const { rig, p } = await running(1);
    p.reload = { generation: 2, startedAt: rig.now, target: 1 };
    step(rig, p);
    rig.pool.reap(rig.pool.all()[1]!);
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:ready', '2:booting']);
  });
});

describe('reconcile: stop', () => {
  test('graceful: workers serve through the drain delay, then drain; booting ones stop; none spawns', async () => {
    const rig = await poolRig();
    const p = plan(3);
    step(rig, p);
    const [a, b] = rig.pool.all();
    rig.ready(a!);
    rig.ready(b!);
    rig.pool.reap(b!);
    p.stop = { mode: 'graceful', drainAt: rig.now + 1000 };
    step(rig, p);
    assert.deepEqual(
      rig.states(),
      ['1:ready', '1:booting'],
      'the delay serves, and nothing spawns',
    );
    rig.now += 1000;
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:draining', '1:stopping']);
    assert.equal(a!.stopGrace, rig.settings.gracefulTimeout * 1000);
  });

  test('fast: every worker is told to quit and is killed after the fast-stop grace', async () => {
    const { rig, p } = await running(2);
    p.stop = { mode: 'fast', drainAt: rig.now };
    step(rig, p);
    const workers = rig.pool.all();
    assert.deepEqual(rig.states(), ['1:stopping', '1:stopping']);
    for (const w of workers) assert.equal(rig.sent(w, 'quit').length, 1);
    rig.now += FAST_STOP_GRACE;
    step(rig, p);
    for (const w of workers) assert.deepEqual(rig.signals(w), [], 'not before the grace is over');
    rig.now += 1;
    step(rig, p);
    for (const w of workers) assert.deepEqual(rig.signals(w), ['SIGKILL']);
    step(rig, p);
    for (const w of workers) assert.equal(rig.signals(w).length, 1, 'killed once');
    for (const w of workers) assert.equal(rig.sent(w, 'quit').length, 1, 'told once');
  });

  test('a graceful stop turned fast cuts the drain short', async () => {
    const { rig, p } = await running(1);
    p.stop = { mode: 'graceful', drainAt: rig.now };
    step(rig, p);
    assert.deepEqual(rig.states(), ['1:draining']);
    p.stop = { mode: 'fast', drainAt: rig.now };
    step(rig, p);
    const [w] = rig.pool.all();
    assert.equal(w!.state, 'stopping');
    assert.equal(w!.stopGrace, FAST_STOP_GRACE);
  });
});

describe('reconcile: the watchdog runs first', () => {
  test('a worker silent longer than --timeout is killed and counted, and its replacement spawns', async () => {
    const { rig, p } = await running(2, { timeout: '2' });
    const [stuck, fine] = rig.pool.all();
    // By heartbeats, a loop may have turned up to one interval after the last one arrived.
    rig.now += 2000 + heartbeatInterval(2);
    fine!.lastBeatAt = rig.now;
    step(rig, p);
    assert.deepEqual(rig.signals(stuck!), [], 'not before --timeout has certainly passed');
    rig.now += 1;
    fine!.lastBeatAt = rig.now;
    step(rig, p);
    assert.deepEqual(rig.signals(stuck!), ['SIGKILL']);
    assert.deepEqual(rig.signals(fine!), []);
    assert.equal(stuck!.stopReason, 'watchdog');
    assert.equal(stuck!.expectExit, true);
    assert.equal(rig.book.snapshot(snapshotOf(rig, p)).restarts.watchdog, 1);
    assert.deepEqual(rig.states(), ['1:stopping', '1:ready', '1:booting']);
  });

  test('a worker not ready within --startup-timeout is killed as a boot failure', async () => {
    const rig = await poolRig({ startupTimeout: '5' });
    const p = plan(1);
    step(rig, p);
    const [w] = rig.pool.all();
    rig.now += 5000;
    step(rig, p);
    assert.deepEqual(rig.signals(w!), []);
    rig.now += 1;
    step(rig, p);
    assert.deepEqual(rig.signals(w!), ['SIGKILL']);
    assert.equal(w!.bootError?.phase, 'startup');
    assert.equal(w!.expectExit, false, 'its exit counts as a failed boot');
  });

  test('a worker blocked while booting is a boot failure, not a watchdog restart', async () => {
    const rig = await poolRig({ timeout: '1' });
    const p = plan(1);
    step(rig, p);
    const [w] = rig.pool.all();
    w!.lastBeatAt = rig.now;
    rig.now += 1001 + heartbeatInterval(1);
    step(rig, p);
    assert.deepEqual(rig.signals(w!), ['SIGKILL']);
    assert.match(w!.bootError?.message ?? '', /event loop blocked for 1001 ms/);
    assert.equal(rig.book.snapshot(snapshotOf(rig, p)).restarts.watchdog, 0);
  });

  test('a draining worker that overstays --graceful-timeout is killed', async () => {
    const { rig, p } = await running(1, { gracefulTimeout: '3' });
    const [w] = rig.pool.all();
    p.stop = { mode: 'graceful', drainAt: rig.now };
    step(rig, p);
    rig.now += 3000;
    w!.lastBeatAt = rig.now;
    step(rig, p);
    assert.deepEqual(rig.signals(w!), []);
    rig.now += 1;
    w!.lastBeatAt = rig.now;
    step(rig, p);
    assert.deepEqual(rig.signals(w!), ['SIGKILL']);
    assert.equal(w!.state, 'draining', 'a killed draining worker still reads as draining');
  });
});

test('reconcile tells the workers how many are alive when that changes', async () => {
  const rig = await poolRig();
  const p = plan(2);
  step(rig, p);
  const [a, b] = rig.pool.all();
  assert.deepEqual(rig.sent(a!, 'topology'), [{ workerCount: 2 }]);
  step(rig, p);
  assert.deepEqual(rig.sent(b!, 'topology'), [{ workerCount: 2 }], 'not again while unchanged');
  p.target = 1;
  rig.pool.reap(b!);
  step(rig, p);
  assert.deepEqual(rig.sent(a!, 'topology'), [{ workerCount: 2 }, { workerCount: 1 }]);
});

function snapshotOf(rig: PoolRig, p: Plan) {
  return {
    state: 'running',
    generation: p.generation,
    target: p.target,
    startedAt: 0,
    workers: rig.pool.all(),
    handoff: null,
  };
}

describe('reconcile: --workers auto', () => {
  /** A heartbeat with a given event-loop utilization. */
  function beat(elu: number) {
    return {
      rss: 0,
      heapUsed: 0,
      requests: 0,
      shed: 0,
      overCap: 0,
      deadlines: 0,
      connections: 0,
      inflight: 0,
      lagMs: 0,
      elu,
      cpu: elu,
    };
  }

  test('busy workers get a new one; once it is ready and the load is gone, the newest drains', async () => {
    const { rig, p } = await running(1);
    const events = new MasterEvents();
    const policy = new ScalePolicy(
      { min: 1, max: 2, cpuLimit: 2 },
      {
        upUtilization: 0.75,
        downUtilization: 0.25,
        upAfterMs: 2000,
        downAfterMs: 4000,
        cooldownMs: 1000,
      },
    );
    const scaler = new Autoscaler(policy, log, events);
    const pass = () =>
      reconcile(p, {
        pool: rig.pool,
        policy: rig.policy,
        book: rig.book,
        log,
        now: rig.now,
        scaler,
      });
    const [first] = rig.pool.all();
    first!.heartbeat = beat(0.95);
    for (let t = 0; t < 2000; t += 250) {
      pass();
      rig.now += 250;
    }
    assert.deepEqual(rig.states(), ['1:ready'], 'not before the window is full');
    pass();
    assert.equal(p.target, 2);
    assert.deepEqual(rig.states(), ['1:ready', '1:booting'], 'spawned in the same pass');
    const second = rig.pool.all()[1]!;
    // While it boots nothing is judged, however long.
    for (let t = 0; t < 10_000; t += 250) {
      pass();
      rig.now += 250;
    }
    assert.equal(p.target, 2);
    rig.ready(second);
    first!.heartbeat = beat(0.05);
    second.heartbeat = beat(0.05);
    // The last pass that saw it booting started the cool-down (1 s); then the 4 s low window:
    // retired 5 s after that pass, not before.
    const settledAt = rig.now - 250;
    while (rig.now < settledAt + 5000) {
      pass();
      rig.now += 250;
    }
    assert.deepEqual(rig.states(), ['1:ready', '1:ready']);
    pass();
    assert.equal(p.target, 1);
    assert.equal(second.state, 'draining', 'the newest drains (gracefully)');
    assert.equal(second.retire, 'scale-down');
    assert.deepEqual(rig.sent(second, 'drain'), [
      { gracefulTimeout: rig.settings.gracefulTimeout * 1000 },
    ]);
    assert.deepEqual(
      events.list().map((e) => e.type),
      ['scale-up', 'scale-down'],
    );
  });

  test('nothing is judged during a reload', async () => {
    const { rig, p } = await running(1);
    const policy = new ScalePolicy(
      { min: 1, max: 2, cpuLimit: 2 },
      {
        upUtilization: 0.75,
        downUtilization: 0.25,
        upAfterMs: 500,
        downAfterMs: 500,
        cooldownMs: 0,
      },
    );
    const scaler = new Autoscaler(policy, log, new MasterEvents());
    rig.pool.all()[0]!.heartbeat = beat(1);
    p.reload = { generation: 2, startedAt: rig.now, target: 1 };
    for (let t = 0; t < 5000; t += 250) {
      reconcile(p, {
        pool: rig.pool,
        policy: rig.policy,
        book: rig.book,
        log,
        now: rig.now,
        scaler,
      });
      rig.now += 250;
    }
    assert.equal(p.target, 1);
  });
});
