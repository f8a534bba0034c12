import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { get, loggedAt, startServe, tail } from '../helpers/serve-process.ts';
import { closedLoop, non2xx, okCount, describe as summary } from '../helpers/server-load.ts';
import { eventually } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';

test('--max-requests 500 under load: workers recycle, no request fails', async (t) => {
  const release = await acquireLoadLock();
  t.after(release);
  // Shedding off: on a busy machine the shedder rightly answers some requests 503, which is
  // overload.test.ts's subject, not this test's; every failure left is the process model's.
  const server = await startServe([
    APP,
    '--workers',
    '2',
    '--max-requests',
    '500',
    '--max-requests-jitter',
    '50',
    '--shed-delay',
    '0',
  ]);
  t.after(() => server.stop());
  await server.waitForReady(2);
  const load = closedLoop({
    port: server.port,
    path: '/json',
    connections: 16,
    durationMs: 60_000,
  });
  t.after(() => load.stop());
  const recycles = () =>
    server.logs.filter((l) => l.msg === 'draining worker' && /max-requests/.test(String(l.reason)));
  // Under load until four workers were recycled: each needs its replacement booted first, which
  // a busy machine slows, so the load lasts as long as that takes rather than a fixed 10 s.
  await eventually(() => recycles().length >= 4, 45_000, 'four recycles').catch(() => {});
  const result = await load.stop();
  const recycled = recycles();
  assert.equal(result.errors.length, 0, `${summary(result)}\n${tail(server.logs)}`);
  assert.equal(non2xx(result), 0, summary(result));
  assert.ok(recycled.length >= 4, `${recycled.length} recycles for ${okCount(result)} requests`);
  assert.ok(result.byPid.size >= 4, `served by ${result.byPid.size} workers`);
  await eventually(
    async () => JSON.parse((await get(server.adminPort, '/healthz')).body).workers.ready === 2,
    10_000,
    'two ready workers',
  );
});

test('--max-memory: a worker over the limit is replaced once its replacement is ready', async (t) => {
  const server = await startServe([APP, '--workers', '1', '--max-memory', '200']);
  t.after(() => server.stop());
  const [first] = server.workerPids();
  const from = server.logs.length;
  const reply = await get(server.port, '/alloc?mb=256');
  assert.equal(reply.status, 200);
  const retire = await server.waitForLog((l) => /max-memory/.test(l.msg ?? ''), 5000, from);
  assert.equal(retire.workerPid, first);
  assert.ok(Number(retire.rssMiB) > 200);
  const ready = await server.waitForLog((l) => l.msg === 'worker ready', 5000, from);
  const drain = await server.waitForLog(
    (l) => l.msg === 'draining worker' && l.workerPid === first,
    5000,
    from,
  );
  assert.ok(
    loggedAt(drain) >= loggedAt(ready),
    'the replacement was ready before the old worker drained',
  );
  const after = await get(server.port, '/pid', { headers: { connection: 'close' } });
  assert.notEqual(after.pid, first);
});
