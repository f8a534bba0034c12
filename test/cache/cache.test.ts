import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { App } from '../../src/app/app.ts';
import { Cache } from '../../src/cache/cache.ts';
import { serve } from '../../src/server/serve.ts';
import { manualClock } from '../helpers/clock.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { loop, percentile } from '../helpers/load.ts';
import { requireService } from '../helpers/services.ts';
import { eventually, sleep } from '../helpers/wait.ts';

const unique = () => `t${process.pid}-${randomUUID().slice(0, 8)}`;

/** A promise the test opens when it chooses: a loader held mid-flight. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('Cache, local tier', () => {
  test('read-through: miss loads, hit does not; the entry expires at its TTL', async () => {
    const clock = manualClock();
    const cache = new Cache<number>({ name: unique(), ttl: 80, clock: clock.now });
    let calls = 0;
    const loader = () => ++calls;
    assert.equal(await cache.get('a', loader), 1);
    clock.advance(79);
    assert.equal(await cache.get('a', loader), 1);
    assert.equal(calls, 1);
    clock.advance(1);
    assert.equal(await cache.get('a', loader), 2);
    const s = cache.stats();
    assert.equal(s.misses, 2);
    assert.equal(s.hits, 1);
    assert.equal(s.loads, 2);
    await cache.close();
  });

  test('single-flight: 500 concurrent misses on one key make one loader call', async () => {
    const cache = new Cache<string>({ name: unique() });
    const load = gate();
    let calls = 0;
    const all = Promise.all(
      Array.from({ length: 500 }, () =>
        cache.get('k', async () => {
          calls++;
          await load.opened;
          return 'v';
        }),
      ),
    );
    load.open();
    const values = await all;
    assert.equal(calls, 1);
    assert.ok(values.every((v) => v === 'v'));
    await cache.close();
  });

  test('stale-while-revalidate: the stale value is served at once and refreshed once', async () => {
    const clock = manualClock();
    const cache = new Cache<number>({
      name: unique(),
      ttl: 150,
      staleTtl: 5000,
      clock: clock.now,
    });
    let calls = 0;
    const refresh = gate();
    const loader = async () => {
      calls++;
      if (calls > 1) await refresh.opened;
      return calls;
    };
    assert.equal(await cache.get('k', loader), 1);
    clock.advance(150);
    // The refresh is held until the 20 answers are in: they did not wait for it.
    const served = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', loader)));
    assert.ok(served.every((v) => v === 1));
    assert.equal(calls, 2, 'one refresh');
    refresh.open();
    await eventually(() => cache.peek('k') === 2, 1000, 'the refreshed value is stored');
    assert.equal(await cache.get('k', loader), 2);
    assert.equal(cache.stats().staleHits, 20);
    await cache.close();
  });

  test('a failed refresh keeps serving the stale value; a failed load is not cached', async () => {
    const clock = manualClock();
    const cache = new Cache<string>({ name: unique(), ttl: 30, staleTtl: 5000, clock: clock.now });
    assert.equal(await cache.get('k', () => 'old'), 'old');
    clock.advance(30);
    const failing = () => Promise.reject(new Error('db down'));
    assert.equal(await cache.get('k', failing), 'old');
    await eventually(() => cache.stats().loadErrors === 1, 1000, 'the refresh failed');
    assert.equal(await cache.get('k', failing), 'old');
    await eventually(() => cache.stats().loadErrors === 2, 1000, 'the next refresh failed');
    await assert.rejects(cache.get('other', failing), /db down/);
    assert.equal(await cache.get('other', () => 'fine'), 'fine');
    assert.equal(cache.stats().loadErrors, 3);
    await cache.close();
  });

  test('negative caching: "not found" is remembered for negativeTtl', async () => {
    const clock = manualClock();
    const cache = new Cache<string>({ name: unique(), negativeTtl: 80, clock: clock.now });
    let calls = 0;
    const loader = () => {
      calls++;
      return undefined;
    };
    assert.equal(await cache.get('missing', loader), undefined);
    clock.advance(79);
    assert.equal(await cache.get('missing', loader), undefined);
    assert.equal(calls, 1);
    assert.equal(cache.stats().negativeHits, 1);
    clock.advance(1);
    await cache.get('missing', loader);
    assert.equal(calls, 2);
    await cache.close();
  });

  test('per-key TTL from the call or from the loader', async () => {
    const clock = manualClock();
    const cache = new Cache<string>({ name: unique(), ttl: 60_000, clock: clock.now });
    let calls = 0;
    await cache.get('short', () => `${++calls}`, { ttl: 30 });
    await cache.get('fromLoader', (_k, ctx) => {
      ctx.ttl = 30;
      return `${++calls}`;
    });
    await cache.get('long', () => `${++calls}`);
    clock.advance(30);
    assert.equal(await cache.get('short', () => 'reloaded'), 'reloaded');
    assert.equal(await cache.get('fromLoader', () => 'reloaded'), 'reloaded');
    assert.equal(await cache.get('long', () => 'reloaded'), '3');
    await cache.close();
  });

  test('set and delete', async () => {
    const cache = new Cache<string>({ name: unique() });
    await cache.set('k', 'v');
    assert.equal(await cache.get('k', () => 'loaded'), 'v');
    await cache.delete('k');
    assert.equal(await cache.get('k', () => 'loaded'), 'loaded');
    await cache.close();
  });

  test('number keys: passed to the loader as numbers; 42 and "42" are dropped together', async () => {
    const cache = new Cache<string, number | string>({ name: unique() });
    const seen: Array<number | string> = [];
    const loader = (key: number | string) => {
      seen.push(key);
      return `v${key}`;
    };
    assert.equal(await cache.get(42, loader), 'v42');
    assert.equal(cache.peek(42), 'v42');
    assert.deepEqual(seen, [42]);
    assert.equal(cache.peek('42'), undefined); // lookups take the key as given
    await cache.delete('42');
    assert.equal(cache.peek(42), undefined);
    await cache.get(7, loader);
    await cache.set('7', 'seven');
    assert.equal(cache.peek(7), undefined);
    assert.equal(cache.peek('7'), 'seven');
    await cache.get('x1', loader);
    await cache.delete('x1'); // not a number's decimal form: only itself
    assert.equal(cache.peek('x1'), undefined);
    assert.equal(cache.stats().localEntries, 1);
    await cache.close();
  });

  test('max bounds the local tier, least recently used first', async () => {
    const cache = new Cache<number, number>({ name: unique(), max: 2 });
    let calls = 0;
    const loader = (key: number) => {
      calls++;
      return key * 10;
    };
    await cache.get(1, loader);
    await cache.get(2, loader);
    assert.equal(await cache.get(1, loader), 10); // 1 used: 2 is the oldest
    await cache.get(3, loader);
    assert.equal(cache.stats().localEntries, 2);
    assert.equal(cache.peek(2), undefined);
    assert.equal(cache.peek(1), 10);
    assert.equal(cache.peek(3), 30);
    assert.equal(calls, 3);
    await cache.close();
  });
});

describe('Cache, invalidation without Redis', () => {
  test("caches of one name in one process drop each other's copies; other names keep theirs", async () => {
    const name = unique();
    const a = new Cache<{ n: number }, number>({ name });
    const b = new Cache<{ n: number }, number>({ name });
    const other = new Cache<{ n: number }, number>({ name: unique() });
    try {
      for (const c of [a, b, other]) await c.get(7, (id) => ({ n: id }));
      const heard: string[][] = [];
      b.on('invalidate', (keys) => heard.push(keys));
      // Outside `peregrine serve` there is no other worker to wait for: it resolves at once.
      await a.delete(7);
      assert.deepEqual(heard, [['7']]);
      assert.equal(a.peek(7), undefined);
      assert.equal(b.peek(7), undefined);
      assert.deepEqual(other.peek(7), { n: 7 });
      assert.equal(b.stats().remoteInvalidations, 1);
      // set: the others drop their copy (and load the new value themselves).
      await b.get(7, () => ({ n: 1 }));
      await a.set(7, { n: 2 });
      assert.equal(b.peek(7), undefined);
      assert.deepEqual(a.peek(7), { n: 2 });
      // A closed cache hears nothing more.
      await b.close();
      await b.get(8, () => ({ n: 8 }));
      await a.delete(8);
      assert.deepEqual(b.peek(8), { n: 8 });
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });
});

describe('Cache, Redis tier', () => {
  test('number keys: one Redis entry per key; an invalidation from another cache drops it', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const name = unique();
    const a = new Cache<{ n: number }, number>({ name, redis });
    const b = new Cache<{ n: number }, number>({ name, redis });
    try {
      assert.ok(await a.connected());
      assert.ok(await b.connected());
      let loads = 0;
      const loader = (id: number) => {
        loads++;
        return { n: id };
      };
      assert.deepEqual(await a.get(5, loader), { n: 5 });
      assert.deepEqual(await b.get(5, loader), { n: 5 }); // from Redis
      assert.equal(loads, 1);
      const heard = once(b, 'invalidate');
      await a.delete(5);
      const [keys] = (await heard) as [string[]];
      assert.deepEqual(keys, ['5']);
      assert.equal(b.peek(5), undefined);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('a value loaded by one worker is served from Redis to another; custom serializer', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const name = unique();
    const serializer = {
      serialize: (v: Date) => v.toISOString(),
      deserialize: (raw: Buffer) => new Date(raw.toString('utf8')),
    };
    const a = new Cache<Date>({ name, redis, serializer });
    const b = new Cache<Date>({ name, redis, serializer });
    assert.equal(await a.connected(), true);
    assert.equal(await b.connected(), true);
    try {
      const d = new Date('2020-02-02T00:00:00Z');
      assert.deepEqual(await a.get('d', () => d), d);
      // The loading caller does not wait for the write to Redis: wait until it is there.
      const raw = new Redis(redis);
      try {
        await eventually(
          async () => (await raw.exists(`prg:cache:${name}:d`)) === 1,
          2000,
          'the value is in Redis',
        );
      } finally {
        raw.disconnect();
      }
      let loaded = false;
      const got = await b.get('d', () => {
        loaded = true;
        return new Date();
      });
      assert.equal(loaded, false);
      assert.ok(got instanceof Date);
      assert.equal(got.getTime(), d.getTime());
      assert.equal(b.stats().hits, 1);
    } finally {
      await a.delete('d');
      await a.close();
      await b.close();
    }
  });

  async function workers(
    count: number,
    config: object,
  ): Promise<{
    procs: ChildProcess[];
    ask(i: number, msg: object): Promise<Record<string, unknown>>;
    events: Array<{ worker: number; keys: string[]; at: number }>;
    close(): Promise<void>;
  }> {
    const child = new URL('../fixtures/cache-worker.ts', import.meta.url).pathname;
    const events: Array<{ worker: number; keys: string[]; at: number }> = [];
    let nextId = 1;
    const pending = new Map<number, (body: Record<string, unknown>) => void>();
    const procs = Array.from({ length: count }, (_, i) => {
      const p = fork(child, [JSON.stringify(config)], {
        execArgv: ['--conditions=peregrine-source'],
      });
      p.on('message', (m: { id?: number; event?: string; keys?: string[]; at?: number }) => {
        if (m.event === 'invalidate') events.push({ worker: i, keys: m.keys!, at: m.at! });
        else if (m.id !== undefined) pending.get(m.id)?.(m as Record<string, unknown>);
      });
      return p;
    });
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            const on = (m: { event?: string }) => {
              if (m.event === 'ready') {
                p.off('message', on);
                resolve();
              }
            };
            p.on('message', on);
          }),
      ),
    );
    return {
      procs,
      events,
      ask(i, msg) {
        const id = nextId++;
        return new Promise((resolve) => {
          pending.set(id, resolve);
          procs[i]!.send({ id, ...msg });
        });
      },
      async close() {
        await Promise.all(
          procs.map(async (p, i) => {
            const exited = once(p, 'exit');
            const id = nextId++;
            procs[i]!.send({ id, cmd: 'close' });
            await Promise.race([exited, sleep(2000)]);
            p.kill();
          }),
        );
      },
    };
  }

  test('Proof: stampede, 500 concurrent misses per worker: one loader call per worker', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const w = await workers(3, { name: unique(), redis, lock: false });
    try {
      const replies = await Promise.all(
        [0, 1, 2].map((i) => w.ask(i, { cmd: 'stampede', key: 'hot', n: 500 })),
      );
      for (const r of replies) {
        assert.ok((r.loads as number) <= 1, `a worker called its loader ${r.loads} times`);
        assert.equal(r.distinct, 1);
      }
      assert.ok(replies.reduce((n, r) => n + (r.loads as number), 0) >= 1);
    } finally {
      await w.close();
    }
  });

  test('Proof: stampede with the Redis lock: exactly one loader call across workers', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const w = await workers(3, { name: unique(), redis, lock: true });
    try {
      const replies = await Promise.all(
        [0, 1, 2].map((i) => w.ask(i, { cmd: 'stampede', key: 'hot', n: 500 })),
      );
      const total = replies.reduce((n, r) => n + (r.loads as number), 0);
      assert.equal(total, 1, `loader calls: ${replies.map((r) => r.loads)}`);
      // Every worker got the one loaded value.
      for (const r of replies) assert.equal(r.distinct, 1);
    } finally {
      await w.close();
    }
  });

  test('Proof: an invalidation reaches every worker within 100 ms', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const w = await workers(4, { name: unique(), redis, lock: false });
    try {
      for (let round = 0; round < 5; round++) {
        const key = `k${round}`;
        await Promise.all([0, 1, 2, 3].map((i) => w.ask(i, { cmd: 'prime', key })));
        for (const i of [0, 1, 2, 3])
          assert.deepEqual((await w.ask(i, { cmd: 'peek', key })).value, { v: 'primed' });
        const { t0 } = (await w.ask(round % 4, { cmd: 'delete', key })) as { t0: number };
        // On a timeout the assertion below says who heard.
        await eventually(
          () => w.events.filter((e) => e.keys.includes(key)).length >= 3,
          2000,
          'three workers heard',
          5,
        ).catch(() => {});
        const got = w.events.filter((e) => e.keys.includes(key));
        assert.deepEqual(
          got.map((e) => e.worker).sort(),
          [0, 1, 2, 3].filter((i) => i !== round % 4),
        );
        for (const e of got)
          assert.ok(e.at - t0 < 100, `worker ${e.worker} heard after ${e.at - t0} ms`);
        for (const i of [0, 1, 2, 3])
          assert.equal((await w.ask(i, { cmd: 'peek', key })).value, null);
      }
    } finally {
      await w.close();
    }
  });

  test('Proof: Redis unreachable under load: 0 5xx on cached reads', async (t) => {
    const redisUrl = await requireService(t, 'redis');
    if (redisUrl === undefined) return;
    const u = new URL(redisUrl);
    const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 6379) });
    u.port = String(proxy.port);
    const cache = new Cache<{ id: number; name: string }>({
      name: unique(),
      redis: u.toString(),
      ttl: 200,
      redisTimeout: 100,
    });
    await cache.connected();
    const app = new App({ logger: false });
    app.addRoute('/items/{id:int}', {
      async onGet(_req, resp, params) {
        const id = params.id as number;
        resp.media = await cache.get(`item:${id}`, async () => {
          await sleep(2);
          return { id, name: `item ${id}` };
        });
      },
    });
    const server = await serve(app, { port: 0 });
    const load = loop(`http://127.0.0.1:${server.address.port}/items/7`, {
      concurrency: 8,
      maxMs: 20_000,
      pauseMs: 2,
    });
    try {
      await eventually(() => cache.stats().hits > 100, 5000, 'the load is served from the cache');
      // The faults and how long each lasts (the breaker's cooldown is 1 s).
      proxy.stall();
      await sleep(3000);
      proxy.reset();
      await sleep(2000);
      proxy.cut();
      await sleep(1000);
      proxy.pass();
      await eventually(
        () => cache.stats().breaker === 'closed',
        15_000,
        'the breaker closes once Redis is back',
      );
      const samples = await load.stop();
      assert.ok(samples.length > 500, `${samples.length} requests`);
      const bad = samples.filter((s) => s.status !== 200);
      assert.equal(bad.length, 0, `non-200: ${[...new Set(bad.map((s) => s.status))]}`);
      const stats = cache.stats();
      assert.ok(stats.redisErrors > 0, 'Redis failures were absorbed');
      const p99 = percentile(
        samples.map((s) => s.ms),
        99,
      );
      assert.ok(p99 < 500, `p99 ${p99} ms`);
      // Back in service: the breaker closed again.
      assert.equal(stats.breaker, 'closed');
    } finally {
      await load.stop();
      await server.close(1000);
      await cache.close();
      await proxy.close();
    }
  });
});

describe('Cache, what it loads', () => {
  test('ioredis is loaded with the first Redis tier, not by importing peregrine/cache', async () => {
    const script = `
      import { createRequire } from 'node:module';
      import { Cache } from 'peregrine/cache';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((f) => f.includes('/node_modules/ioredis/'));
      const local = new Cache({ name: 'local-only' });
      const before = loaded();
      const shared = new Cache({ name: 'shared', redis: 'redis://127.0.0.1:1' });
      const after = loaded();
      await local.close();
      await shared.close();
      process.stdout.write(JSON.stringify({ before, after }));
    `;
    const child = fork('--eval', [script], {
      execArgv: ['--conditions=peregrine-source', '--input-type=module'],
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      cwd: new URL('../../', import.meta.url).pathname,
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), { before: false, after: true });
  });
});
