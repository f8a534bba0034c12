import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { alive, get, startServe, tail } from '../helpers/serve-process.ts';
import { closedLoop, non2xx, okCount, describe as summary } from '../helpers/server-load.ts';
import { eventually, sleep } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';

test('three HUP reloads under 64 keep-alive connections: no failed request, no non-2xx', async (t) => {
  const release = await acquireLoadLock();
  t.after(release);
  // Shedding off: on a busy machine the shedder rightly answers some requests 503, which is
  // overload.test.ts's subject, not this test's; every failure left is the process model's.
  const server = await startServe([APP, '--workers', '2', '--shed-delay', '0']);
  t.after(() => server.stop());
  await server.waitForReady(2);

  const started = Date.now();
  const load = closedLoop({
    port: server.port,
    path: '/json',
    connections: 64,
    durationMs: 60_000,
  });
  t.after(() => load.stop());
  // An operator's HUPs at 4, 9 and 14 s (later if a reload is still booting on a busy machine).
  for (const at of [4000, 9000, 14_000]) {
    await sleep(Math.max(0, at - (Date.now() - started)));
    const from = server.logs.length;
    server.signal('SIGHUP');
    await server.waitForLog((l) => /reload complete/.test(l.msg ?? ''), 15_000, from);
  }
  // The load goes on until every connection has moved to the last generation.
  await eventually(
    () => {
      const last = new Set(
        server.logs
          .filter((l) => l.msg === 'worker ready' && l.generation === 4)
          .map((l) => l.workerPid),
      );
      return [...load.connectionsByPid().keys()].every((pid) => last.has(pid));
    },
    15_000,
    'every connection reaches the last generation',
  );
  const result = await load.stop();

  assert.equal(result.errors.length, 0, `${summary(result)}\n${tail(server.logs)}`);
  assert.equal(non2xx(result), 0, summary(result));
  assert.ok(okCount(result) > 2000, `only ${okCount(result)} requests served: ${summary(result)}`);
  const pids = new Set(result.byPid.keys());
  assert.ok(pids.size >= 6, `requests were served by ${pids.size} workers across 4 generations`);

  // The worker count is restored and only the last generation is alive.
  await eventually(
    async () => JSON.parse((await get(server.adminPort, '/healthz')).body).workers.ready === 2,
    10_000,
    'two ready workers after the reloads',
  );
  const health = JSON.parse((await get(server.adminPort, '/healthz')).body);
  assert.equal(health.generation, 4);
  await eventually(() => server.workerPids().length === 2, 10_000, 'old generations exited');
  const everyWorker = server.allWorkerPids();
  assert.equal(everyWorker.length, 8, 'four generations of two workers, nothing else spawned');

  server.signal('SIGTERM');
  const { code } = await server.exited;
  assert.equal(code, 0);
  for (const pid of everyWorker) assert.equal(alive(pid), false, `worker ${pid} is gone`);
});
