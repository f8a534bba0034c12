import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { requestJSON } from './helpers/json-request.ts';
import { type ServeProcess, startServe, tail } from './helpers/serve-process.ts';
import { requireService } from './helpers/services.ts';

const SERVICE = 'examples/service/app.ts';
const dir = mkdtempSync(join(tmpdir(), 'peregrine-served-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

interface Item {
  id: number;
  name: string;
  version: number;
}

/** `examples/service` under `peregrine serve`: SQLite in `db`, Redis only when given. */
async function serveService(workers: number, db: string, redis?: string): Promise<ServeProcess> {
  const server = await startServe([SERVICE, '--workers', String(workers), '--access-log'], {
    env: {
      DATABASE_URL: `sqlite:${join(dir, db)}`,
      REDIS_URL: redis,
      // Keys of their own: other tests (and other runs) use a cache named `items` too.
      CACHE_PREFIX: `prg:test:${randomUUID()}:`,
      PRICING_URL: undefined,
    },
  });
  await server.waitForReady(workers);
  return server;
}

/**
 * GETs the item on new connections, twice per worker (the master hands each new connection to
 * the next worker), and checks that every worker answered and every answer is `expected`.
 */
async function everyWorkerSees(
  server: ServeProcess,
  workers: number,
  expected: Item,
  what: string,
): Promise<void> {
  const from = server.logs.length;
  const total = 2 * workers;
  const names: string[] = [];
  for (let i = 0; i < total; i++) {
    const r = await requestJSON(server.port, 'GET', `/items/${expected.id}`);
    assert.equal(r.status, 200, `${what}: GET #${i} ${r.status} ${r.body}`);
    names.push((JSON.parse(r.body) as Item).name);
  }
  assert.deepEqual(names, Array(total).fill(expected.name), `${what}: every GET agrees`);
  const gets = () =>
    server.logs
      .slice(from)
      .filter((l) => l.type === 'access' && l.path === `/items/${expected.id}`);
  await server.waitForLog(() => gets().length >= total, 5000, from);
  const answered = new Set(gets().map((l) => l.worker));
  assert.equal(answered.size, workers, `${what}: every worker answered\n${tail(server.logs)}`);
}

async function create(server: ServeProcess, name: string): Promise<Item> {
  const r = await requestJSON(server.port, 'POST', '/items', { name });
  assert.equal(r.status, 201, r.body);
  return JSON.parse(r.body) as Item;
}

async function rename(server: ServeProcess, item: Item, name: string): Promise<Item> {
  const r = await requestJSON(server.port, 'PUT', `/items/${item.id}`, { name });
  assert.equal(r.status, 200, r.body);
  const updated = JSON.parse(r.body) as Item;
  assert.deepEqual(updated, { id: item.id, name, version: item.version + 1 });
  return updated;
}

describe('examples/service under peregrine serve: a write is seen by every worker', () => {
  const cases: Array<{ workers: number; redis: boolean }> = [
    { workers: 2, redis: false },
    { workers: 4, redis: false },
    { workers: 4, redis: true },
    // 2 workers with Redis: the two-node case below.
  ];
  for (const { workers, redis } of cases) {
    test(`${workers} workers, ${redis ? 'with' : 'without'} Redis`, async (t: TestContext) => {
      const url = redis ? await requireService(t, 'redis') : undefined;
      if (redis && url === undefined) return;
      const server = await serveService(workers, `one-node-${workers}-${redis}.db`, url);
      try {
        const item = await create(server, 'kettle');
        // Every worker caches the item in its own memory...
        await everyWorkerSees(server, workers, item, 'before the update');
        // ...and a PUT answered by one of them must reach the others' copies.
        const updated = await rename(server, item, 'teapot');
        await everyWorkerSees(server, workers, updated, 'after the update');
      } finally {
        await server.stop();
      }
    });
  }

  test('two nodes sharing Redis: a write on one is seen by every worker of the other', async (t) => {
    const url = await requireService(t, 'redis');
    if (url === undefined) return;
    const env = { prefix: `prg:test:${randomUUID()}:` };
    const start = async () => {
      const server = await startServe([SERVICE, '--workers', '2', '--access-log'], {
        env: {
          DATABASE_URL: `sqlite:${join(dir, 'two-nodes.db')}`,
          REDIS_URL: url,
          CACHE_PREFIX: env.prefix,
          PRICING_URL: undefined,
        },
      });
      await server.waitForReady(2);
      return server;
    };
    const a = await start();
    const b = await start().catch(async (err: unknown) => {
      await a.stop();
      throw err;
    });
    try {
      const item = await create(a, 'kettle');
      await everyWorkerSees(b, 2, item, 'node b before the update');
      await everyWorkerSees(a, 2, item, 'node a before the update');
      const updated = await rename(a, item, 'teapot');
      // Node a's workers are told through its master; node b's through Redis, a moment later.
      const deadline = Date.now() + 2000;
      let seen = '';
      while (seen !== 'teapot' && Date.now() < deadline) {
        const r = await requestJSON(b.port, 'GET', `/items/${item.id}`);
        seen = (JSON.parse(r.body) as Item).name;
      }
      await everyWorkerSees(b, 2, updated, 'node b after the update');
      await everyWorkerSees(a, 2, updated, 'node a after the update');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
