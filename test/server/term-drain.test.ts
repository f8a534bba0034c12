import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { describe, test } from 'node:test';
import { alive, get, type Reply, startServe } from '../helpers/serve-process.ts';
import { sleep } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';
const inFlight = (l: { msg?: string }) => l.msg === 'fixture: slow request started';

describe('TERM: readiness 503 at once, serve through the drain delay, drain, exit', () => {
  test('a 3 s request in flight completes with 200 and Connection: close', async (t) => {
    const server = await startServe([
      APP,
      '--workers',
      '2',
      '--drain-delay',
      '1',
      '--graceful-timeout',
      '5',
    ]);
    t.after(() => server.stop());
    await server.waitForReady(2);
    const workers = server.workerPids();

    const slow = get(server.port, '/slow?ms=3000&announce');
    await server.waitForLog(inFlight);

    // Poll readiness over a warm keep-alive connection, every 10 ms.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    assert.equal((await get(server.adminPort, '/readyz', { agent })).status, 200);
    let notReadyAt = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const reply = await get(server.adminPort, '/readyz', { agent }).catch(() => undefined);
        if (reply?.status === 503 && notReadyAt === 0) notReadyAt = Date.now();
        // A load balancer's health check, every 10 ms.
        await sleep(10);
      }
    })();

    const from = server.logs.length;
    const signalledAt = Date.now();
    server.signal('SIGTERM');

    // During the drain delay (1 s) new connections are still served.
    await server.waitForLog((l) => /^graceful stop/.test(l.msg ?? ''), 5000, from);
    const during = await get(server.port, '/json', { headers: { connection: 'close' } });
    assert.equal(during.status, 200, 'served during the drain delay');

    const reply: Reply = await slow;
    assert.equal(reply.status, 200);
    assert.equal(reply.headers.connection, 'close');
    assert.ok(Date.now() - signalledAt > 2000, 'the slow request really ran through the drain');

    // After the delay the listener is closed.
    await assert.rejects(get(server.port, '/json', { timeoutMs: 2000 }), /ECONNREFUSED|ECONNRESET/);

    const { code, at } = await server.exited;
    polling = false;
    await poller;
    agent.destroy();
    assert.ok(notReadyAt > 0, '/readyz turned 503');
    assert.ok(
      notReadyAt - signalledAt <= 100,
      `/readyz turned 503 after ${notReadyAt - signalledAt} ms`,
    );
    assert.equal(code, 0);
    assert.ok(
      at - signalledAt <= 6000,
      `gone after ${at - signalledAt} ms (drain delay 1 s + graceful 5 s)`,
    );
    for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} is gone`);
    assert.ok(
      server.logs.some(
        (l) => l.msg === 'graceful stop: not ready any more; draining after the delay',
      ),
    );
  });

  test('a request that outlives the graceful timeout is cut off and the process still exits in time', async (t) => {
    const server = await startServe([
      APP,
      '--workers',
      '1',
      '--drain-delay',
      '0.5',
      '--graceful-timeout',
      '2',
    ]);
    t.after(() => server.stop());
    const hung = get(server.port, '/slow?ms=60000&announce', { timeoutMs: 20_000 }).then(
      () => 'answered',
      () => 'cut off',
    );
    await server.waitForLog(inFlight);
    const signalledAt = Date.now();
    server.signal('SIGTERM');
    const { code, at } = await server.exited;
    assert.equal(await hung, 'cut off');
    assert.equal(code, 0);
    // drain delay 0.5 s + graceful timeout 2 s, plus a little for process exit on a busy machine.
    assert.ok(at - signalledAt <= 3000, `gone after ${at - signalledAt} ms`);
  });
});
