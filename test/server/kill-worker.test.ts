import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { get, loggedAt, startServe, tail } from '../helpers/serve-process.ts';
import { closedLoop, non2xx, okCount, describe as summary } from '../helpers/server-load.ts';

const APP = 'test/fixtures/server/app.ts';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGKILL of a worker under load: replacement ready within 1 s, failures bounded by its in-flight requests, master survives', async (t) => {
  const release = await acquireLoadLock();
  t.after(release);
  const server = await startServe([APP, '--workers', '2']);
  t.after(() => server.stop());
  await server.waitForReady(2);

  // Moderate load: the point is requests in flight on the victim, not saturation.
  const load = closedLoop({
    port: server.port,
    path: '/slow?ms=20',
    connections: 32,
    durationMs: 6000,
  });
  await sleep(2000);
  const victim = server.workerPids()[0]!;
  const inflight = load.inflightByPid().get(victim) ?? 0;
  const from = server.logs.length;
  process.kill(victim, 'SIGKILL');
  const killedAt = Date.now();

  const died = await server.waitForLog(
    (l) => l.workerPid === victim && /died/.test(l.msg ?? ''),
    5000,
    from,
  );
  const ready = await server.waitForLog((l) => l.msg === 'worker ready', 5000, from);
  const result = await load.done;

  assert.equal(died.signal, 'SIGKILL');
  const readyAfter = loggedAt(ready) - killedAt;
  assert.ok(
    readyAfter <= 1000,
    `replacement ready ${readyAfter} ms after the kill\n${tail(server.logs)}`,
  );
  assert.ok(inflight > 0, 'the victim had requests in flight');
  assert.ok(
    result.errors.length <= inflight,
    `${result.errors.length} failed, the victim had ${inflight} in flight: ${summary(result)}`,
  );
  for (const e of result.errors) assert.equal(e.pid, victim, 'only requests on the victim failed');
  assert.equal(non2xx(result), 0, summary(result));
  assert.ok(okCount(result) > 1000, summary(result));

  // The master survives and serves with two workers.
  const health = JSON.parse((await get(server.adminPort, '/healthz')).body);
  assert.equal(health.workers.ready, 2);
  assert.equal(health.pid, server.pid);
  const stats = server.logs.filter((l) => l.msg === 'worker spawned').length;
  assert.equal(stats, 3, 'exactly one replacement');
});

test('a lone worker killed: new connections wait in the master for the replacement, none is refused', async (t) => {
  const server = await startServe([APP, '--workers', '1']);
  t.after(() => server.stop());
  const [victim] = server.workerPids();
  const outcomes: Array<{ status: number; error?: string; pid: number }> = [];
  let sending = true;
  const client = (async () => {
    while (sending) {
      const reply = await get(server.port, '/pid', {
        headers: { connection: 'close' },
        timeoutMs: 10_000,
      }).then(
        (r) => ({ status: r.status, pid: r.pid }),
        (err: Error) => ({ status: 0, error: err.message, pid: 0 }),
      );
      outcomes.push(reply);
      await sleep(20);
    }
  })();
  await sleep(500);
  const from = server.logs.length;
  process.kill(victim!, 'SIGKILL');
  await server.waitForLog((l) => l.msg === 'worker ready', 5000, from);
  await sleep(500);
  sending = false;
  await client;
  const failed = outcomes.filter((o) => o.status !== 200);
  // At most the one request that was on the victim when it died.
  assert.ok(failed.length <= 1, `failed: ${JSON.stringify(failed)}`);
  assert.ok(!failed.some((o) => /ECONNREFUSED/.test(o.error ?? '')), 'no connection refused');
  assert.ok(
    outcomes.some((o) => o.pid !== victim && o.status === 200),
    'the replacement serves',
  );
});
