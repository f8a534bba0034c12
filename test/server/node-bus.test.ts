import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';

/** One request on a given keep-alive agent (so on the worker its connection reached). */
function call(
  server: ServeProcess,
  agent: Agent,
  method: string,
  path: string,
): Promise<{ status: number; pid: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, pid: Number(res.headers['x-pid']), body }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('cache.delete resolves once every worker of the node has dropped the key (no Redis)', async () => {
  const server = await startServe(['test/fixtures/server/cache-app.ts', '--workers', '2']);
  const agents: Agent[] = [];
  try {
    await server.waitForReady(2);
    // One kept-alive connection on each worker: requests on it skip the master entirely, so
    // only the delete's own wait can order them after the other worker's drop.
    const byWorker = new Map<number, Agent>();
    while (byWorker.size < 2 && agents.length < 20) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      agents.push(agent);
      const { pid } = await call(server, agent, 'GET', '/entries/probe');
      if (!byWorker.has(pid)) byWorker.set(pid, agent);
    }
    assert.equal(byWorker.size, 2, 'a connection on each worker');
    const [a, b] = [...byWorker.values()] as [Agent, Agent];
    for (let round = 0; round < 30; round++) {
      const key = `k${round}`;
      const [writer, reader] = round % 2 === 0 ? [a, b] : [b, a];
      assert.equal((await call(server, writer, 'PUT', `/entries/${key}`)).status, 200);
      assert.equal((await call(server, reader, 'PUT', `/entries/${key}`)).status, 200);
      assert.notEqual(
        JSON.parse((await call(server, reader, 'GET', `/entries/${key}`)).body).value,
        null,
      );
      assert.equal((await call(server, writer, 'DELETE', `/entries/${key}`)).status, 204);
      const after = await call(server, reader, 'GET', `/entries/${key}`);
      assert.deepEqual(
        JSON.parse(after.body),
        { value: null },
        `round ${round}: the other worker still had it`,
      );
    }
  } finally {
    for (const agent of agents) agent.destroy();
    await server.stop();
  }
});
