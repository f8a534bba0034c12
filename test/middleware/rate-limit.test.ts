import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App } from '../../src/index.ts';
import {
  localStore,
  nodeStore,
  type RateLimitOptions,
  type RateLimitStore,
  rateLimit,
  rateLimitSnapshot,
} from '../../src/middleware/index.ts';
import { NodeBudgets } from '../../src/process/node-budget.ts';
import { MessageRegistry, type WorkerMessages } from '../../src/server/ipc.ts';
import { keepNodeBudgets } from '../../src/server/master/budget-keeper.ts';
import type { WorkerRecord } from '../../src/server/master/worker-table.ts';
import { TestClient } from '../../src/testing/index.ts';
import { manualClock } from '../helpers/clock.ts';

function client(options: RateLimitOptions, app = new App({ logger: false })) {
  app.use(rateLimit(options));
  app.addRoute('/a', { onGet: () => ({ ok: true }) });
  app.addRoute('/b/{id}', { onGet: () => ({ ok: true }) });
  return new TestClient(app);
}

interface Problem {
  status: number;
  code: string;
  retryAfter?: number;
}

describe('rateLimit in process', () => {
  test('429 problem+json with Retry-After and the RateLimit fields once the budget is spent', async () => {
    const clock = manualClock();
    const c = client({
      limit: 3,
      window: 60,
      name: 'api',
      store: localStore({ clock: clock.now }),
    });
    for (let i = 3; i > 0; i--) {
      const ok = await c.get('/a');
      assert.equal(ok.status, 200);
      assert.equal(ok.header('ratelimit-policy'), '"api";q=3;w=60');
      assert.match(ok.header('ratelimit')!, new RegExp(`^"api";r=${i - 1};t=\\d+$`));
    }
    const r = await c.get('/a');
    assert.equal(r.status, 429);
    assert.match(r.header('content-type')!, /application\/problem\+json/);
    const p = r.json as Problem;
    assert.equal(p.code, 'PRG_RATE_LIMITED');
    assert.equal(r.header('retry-after'), '20');
    assert.equal(p.retryAfter, 20);
    assert.equal(r.header('ratelimit'), '"api";r=0;t=60');
    clock.advance(20_000);
    assert.equal((await c.get('/a')).status, 200);
    const stats = rateLimitSnapshot().api!;
    assert.equal(stats.allowed, 4);
    assert.equal(stats.rejected, 1);
  });

  test('keys: client address behind trusted proxies, API key header, subject, function', async () => {
    const store = localStore({ clock: manualClock().now });
    const proxied = client(
      { limit: 1, name: 'k-ip', store },
      new App({ logger: false, trustedProxies: ['loopback'] }),
    );
    const xff = (a: string) => ({ headers: { 'x-forwarded-for': a } });
    assert.equal((await proxied.get('/a', xff('203.0.113.1'))).status, 200);
    assert.equal((await proxied.get('/a', xff('203.0.113.2'))).status, 200);
    assert.equal((await proxied.get('/a', xff('203.0.113.1'))).status, 429);
    // From an untrusted peer the header is ignored: both count against the peer.
    const direct = client({ limit: 1, name: 'k-direct', store });
    assert.equal((await direct.get('/a', xff('203.0.113.1'))).status, 200);
    assert.equal((await direct.get('/a', xff('203.0.113.2'))).status, 429);

    const keyed = client({ limit: 1, name: 'k-key', key: { header: 'x-api-key' }, store });
    assert.equal((await keyed.get('/a', { headers: { 'x-api-key': 'one' } })).status, 200);
    assert.equal((await keyed.get('/a', { headers: { 'x-api-key': 'two' } })).status, 200);
    assert.equal((await keyed.get('/a', { headers: { 'x-api-key': 'one' } })).status, 429);
    assert.equal((await keyed.get('/a')).status, 200, 'no key: the address is the key');
    assert.equal((await keyed.get('/a')).status, 429);

    const app = new App({ logger: false });
    app.use({
      processRequest(req) {
        const who = req.headers['x-who'];
        if (typeof who === 'string') {
          (req.context as { principal?: object }).principal = { subject: who };
        }
      },
    });
    const subject = client({ limit: 1, name: 'k-sub', key: 'subject', store }, app);
    const as = (who: string) => ({ headers: { 'x-who': who } });
    assert.equal((await subject.get('/a', as('alice'))).status, 200);
    assert.equal((await subject.get('/a', as('bob'))).status, 200);
    assert.equal((await subject.get('/a', as('alice'))).status, 429);

    const fn = client({
      limit: 1,
      name: 'k-fn',
      key: (req) => req.query.get('tenant') ?? undefined,
      store,
    });
    assert.equal((await fn.get('/a?tenant=t1')).status, 200);
    assert.equal((await fn.get('/a?tenant=t1')).status, 429);
    assert.equal((await fn.get('/a')).status, 200, 'undefined: not limited');
    assert.equal((await fn.get('/a')).status, 200);
  });

  test('per route, shared or one budget per route; other routes are not limited', async () => {
    const store = localStore({ clock: manualClock().now });
    const shared = client({ limit: 1, name: 'r-shared', routes: ['/a', '/b/{id}'], store });
    assert.equal((await shared.get('/a')).status, 200);
    assert.equal((await shared.get('/b/1')).status, 429);
    const each = client({
      limit: 1,
      name: 'r-each',
      routes: ['/a', '/b/{id}'],
      perRoute: true,
      store,
    });
    assert.equal((await each.get('/a')).status, 200);
    assert.equal((await each.get('/b/1')).status, 200);
    assert.equal((await each.get('/b/2')).status, 429, 'the route template, not the path');
    const only = client({ limit: 1, name: 'r-only', routes: ['/b/{id}'], store });
    for (let i = 0; i < 3; i++) assert.equal((await only.get('/a')).status, 200);
  });

  test('a store that fails: open lets through, closed answers 503; both counted', async () => {
    const broken: RateLimitStore = {
      consume: () => Promise.reject(new Error('Redis is down')),
    };
    const open = client({ limit: 1, name: 'f-open', store: broken });
    assert.equal((await open.get('/a')).status, 200);
    assert.equal((await open.get('/a')).status, 200);
    const closed = client({ limit: 1, name: 'f-closed', store: broken, failure: 'closed' });
    const r = await closed.get('/a');
    assert.equal(r.status, 503);
    assert.equal((r.json as Problem).code, 'PRG_RATE_LIMIT_UNAVAILABLE');
    assert.equal(r.header('retry-after'), '1');
    const s = rateLimitSnapshot();
    assert.deepEqual(
      [s['f-open']!.storeErrors, s['f-open']!.failedOpen, s['f-closed']!.storeErrors],
      [2, 2, 1],
    );
  });

  test('bad options throw when the limiter is made', () => {
    assert.throws(() => rateLimit({ limit: 0 }), /limit/);
    assert.throws(() => rateLimit({ limit: 1.5 }), /limit/);
    assert.throws(() => rateLimit({ limit: 1, window: -1 }), /window/);
    assert.throws(() => rateLimit({ limit: 1, name: 'a"b' }), /name/);
  });
});

/** The master's keeper, in this process, behind a transport that answers as IPC would. */
function inProcessNode(clock: () => number) {
  const messages = new MessageRegistry<WorkerMessages, WorkerRecord>();
  const waiting = new Map<number, (g: never) => void>();
  let asks = 0;
  const table = keepNodeBudgets(
    {
      messages,
      send: (_w, _type, data) => {
        const { id, ...grant } = data as { id: number };
        setImmediate(() => waiting.get(id)?.(grant as never));
      },
    },
    clock,
  );
  const from = {} as WorkerRecord;
  const budgets = () => {
    const b = new NodeBudgets();
    let next = 0;
    b.connect({
      lease(req) {
        asks++;
        return new Promise((resolve) => {
          const id = ++next * 1000 + Math.floor(Math.random() * 1000);
          waiting.set(id, resolve as (g: never) => void);
          messages.dispatch('budget-lease', { id, ...req }, from);
        });
      },
      give(policy, key, units) {
        messages.dispatch('budget-give', { policy, key, units }, from);
      },
    });
    return b;
  };
  return { budgets, table, asks: () => asks };
}

describe('node store: workers lease from the master', () => {
  test('four "workers" share one budget; a refused worker does not ask again until refill', async (t) => {
    const clock = manualClock();
    const node = inProcessNode(clock.now);
    const workers = Array.from({ length: 4 }, () =>
      nodeStore({ clock: clock.now, budgets: node.budgets() }),
    );
    const limiters = workers.map((store) => rateLimit({ limit: 100, name: 'n1', store }));
    let served = 0;
    let refused = 0;
    const run = async (ms: number) => {
      // 400/s spread over the four, in 2.5 ms steps.
      for (let t = 0; t < ms; t += 2.5) {
        const limiter = limiters[Math.round(t / 2.5) % 4]!;
        const app = new App({ logger: false });
        app.use(limiter);
        app.addRoute('/a', { onGet: () => null });
        const r = await new TestClient(app).get('/a');
        if (r.status === 429) refused++;
        else served++;
        clock.advance(2.5);
      }
    };
    await run(1000);
    served = 0;
    refused = 0;
    const asksBefore = node.asks();
    await run(5000);
    assert.ok(Math.abs(served - 500) <= 10, `served ${served} of 500 over 5 s`);
    assert.equal(served + refused, 2000);
    const asks = node.asks() - asksBefore;
    t.diagnostic(`5 s at 400/s: ${served} served, ${refused} refused, ${asks} leases asked for`);
    assert.ok(asks < served, `asked the master ${asks} times for ${served} served`);
    for (const w of workers) await w.close?.();
  });

  test('a key seen once costs one ask of the master; its unspent units go back', async () => {
    const clock = manualClock();
    const node = inProcessNode(clock.now);
    const store = nodeStore({ clock: clock.now, budgets: node.budgets() });
    const policy = rateLimit({ limit: 1000, window: 60, name: 'n2' }).policy;
    const before = node.asks();
    const d = await store.consume(policy, 'ip:198.51.100.7');
    assert.equal(d.allowed, true);
    assert.equal(node.asks() - before, 1);
    const budget = node.table.get(policy, 'ip:198.51.100.7', clock.now());
    // 1000 a minute over one worker: a lease of 100, one spent, 99 held by the worker.
    assert.equal(budget.available(clock.now()), 900);
    clock.advance(1100); // past the lease (at most 1 s); 18 units refilled meanwhile
    assert.equal(budget.available(clock.now()), 918);
    await store.close?.(); // sweeps: gives back the 99 unspent
    assert.equal(budget.available(clock.now()), 1000, 'given back (capped at the burst)');
  });
});
