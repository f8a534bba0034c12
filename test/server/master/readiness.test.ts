import assert from 'node:assert/strict';
import { describe, mock, test } from 'node:test';
import type { WorkerMessages } from '../../../src/server/ipc.ts';
import { answerReadiness, ReadinessProbes } from '../../../src/server/master/readiness.ts';
import type { WorkerRecord } from '../../../src/server/master/worker-table.ts';

type Answer = WorkerMessages['readiness'];

const ok = (id: number, checks: Answer['checks'] = {}): Answer => ({ id, ready: true, checks });

/** Whether a promise has settled, without waiting for it. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p, Promise.resolve(marker)])) !== marker;
}

describe('ReadinessProbes', () => {
  test('asks every worker once and merges the answers: a check fails if it failed anywhere', async () => {
    const probes = new ReadinessProbes();
    const asked: Array<[number, number]> = [];
    const result = probes.probe([1, 2, 3], 1000, (worker, id) => asked.push([worker, id]));
    assert.deepEqual(
      asked.map(([w]) => w),
      [1, 2, 3],
    );
    const id = asked[0]![1];
    probes.answer(1, ok(id, { db: { ok: true }, cache: { ok: true } }));
    probes.answer(2, ok(id, { db: { ok: false, error: 'timeout' }, cache: { ok: true } }));
    assert.equal(await settled(result), false, 'waits for the third');
    probes.answer(3, ok(id, { db: { ok: true } }));
    assert.deepEqual(await result, {
      asked: 3,
      answered: 3,
      ready: true,
      checks: { db: { ok: false, error: 'timeout' }, cache: { ok: true } },
    });
  });

  test('one worker saying not ready makes the probe not ready', async () => {
    const probes = new ReadinessProbes();
    let id = 0;
    const result = probes.probe([1, 2], 1000, (_w, i) => {
      id = i;
    });
    probes.answer(1, ok(id));
    probes.answer(2, { id, ready: false, checks: {} });
    assert.equal((await result).ready, false);
  });

  test('a worker that does not answer in time is left out, not counted against the probe', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const probes = new ReadinessProbes();
    let id = 0;
    const result = probes.probe([1, 2], 1000, (_w, i) => {
      id = i;
    });
    probes.answer(1, ok(id));
    t.mock.timers.tick(1249);
    assert.equal(await settled(result), false, 'the timeout has 250 ms of slack for the IPC');
    t.mock.timers.tick(1);
    assert.deepEqual(await result, { asked: 2, answered: 1, ready: true, checks: {} });
    probes.answer(2, ok(id));
  });

  test('no answer at all is not ready', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const probes = new ReadinessProbes();
    const result = probes.probe([1], 1000, () => {});
    t.mock.timers.tick(1250);
    assert.deepEqual(await result, { asked: 1, answered: 0, ready: false, checks: {} });
  });

  test('a worker that exits is forgotten; answers to other probes, unknown ids and repeats are ignored', async () => {
    const probes = new ReadinessProbes();
    const ids: number[] = [];
    const first = probes.probe([1, 2], 1000, (w, i) => {
      if (w === 1) ids.push(i);
    });
    const second = probes.probe([1], 1000, (_w, i) => ids.push(i));
    probes.answer(1, ok(ids[0]!));
    probes.answer(1, ok(ids[0]!));
    probes.answer(1, ok(999));
    probes.answer(3, ok(ids[0]!));
    probes.forget(2);
    assert.deepEqual(await first, { asked: 2, answered: 1, ready: true, checks: {} });
    assert.equal(await settled(second), false);
    probes.answer(1, ok(ids[1]!));
    assert.equal((await second).answered, 1);
  });

  test('no worker to ask answers at once, not ready', async () => {
    assert.deepEqual(await new ReadinessProbes().probe([], 1000, () => {}), {
      asked: 0,
      answered: 0,
      ready: false,
      checks: {},
    });
  });
});

describe('answerReadiness (/readyz)', () => {
  const worker = (id: number) => ({ id }) as WorkerRecord;

  function context(state: { value: string }, ready: WorkerRecord[]) {
    const probes = new ReadinessProbes();
    const send = mock.fn((workerId: number, probe: { id: number; timeout: number }) => {
      probes.answer(workerId, ok(probe.id, { db: { ok: true } }));
    });
    return { send, ctx: { state: () => state.value, target: 2, ready: () => ready, probes, send } };
  }

  test('200 with the merged checks when every ready worker says ready', async () => {
    const { ctx, send } = context({ value: 'running' }, [worker(1), worker(2)]);
    assert.deepEqual(await answerReadiness(ctx), {
      status: 200,
      body: {
        status: 'ready',
        workers: { ready: 2, target: 2, answered: 2 },
        checks: { db: { ok: true } },
      },
    });
    assert.deepEqual(
      send.mock.calls.map((c) => c.arguments[1].timeout),
      [1000, 1000],
      'each worker gets the check timeout',
    );
  });

  test('503 without asking while the master is not running, or has no ready worker', async () => {
    const stopping = context({ value: 'stopping' }, [worker(1)]);
    assert.deepEqual(await answerReadiness(stopping.ctx), {
      status: 503,
      body: { status: 'stopping', workers: { ready: 1, target: 2 } },
    });
    const starting = context({ value: 'running' }, []);
    assert.deepEqual(await answerReadiness(starting.ctx), {
      status: 503,
      body: { status: 'starting', workers: { ready: 0, target: 2 } },
    });
    assert.equal(stopping.send.mock.callCount() + starting.send.mock.callCount(), 0);
  });

  test('a stop that begins while the checks run still answers 503', async () => {
    const state = { value: 'running' };
    const probes = new ReadinessProbes();
    const ctx = {
      state: () => state.value,
      target: 1,
      ready: () => [worker(1)],
      probes,
      send: (workerId: number, probe: { id: number }) => {
        state.value = 'stopping';
        probes.answer(workerId, ok(probe.id));
      },
    };
    assert.deepEqual(await answerReadiness(ctx), {
      status: 503,
      body: { status: 'stopping', workers: { ready: 1, target: 1 } },
    });
  });

  test('503 when a check fails', async () => {
    const probes = new ReadinessProbes();
    const ctx = {
      state: () => 'running',
      target: 1,
      ready: () => [worker(1)],
      probes,
      send: (workerId: number, probe: { id: number }) =>
        probes.answer(workerId, {
          id: probe.id,
          ready: false,
          checks: { db: { ok: false, error: 'down' } },
        }),
    };
    const answer = await answerReadiness(ctx);
    assert.equal(answer.status, 503);
    assert.deepEqual(answer.body.checks, { db: { ok: false, error: 'down' } });
    assert.equal(answer.body.status, 'not ready');
  });
});
