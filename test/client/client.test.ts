import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { childTraceparent, HttpClient } from '../../src/client/client.ts';
import { UpstreamError } from '../../src/client/errors.ts';
import { RetryBudget } from '../../src/client/retry-budget.ts';
import { manualClock } from '../helpers/clock.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { percentile } from '../helpers/load.ts';

async function downstream(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const sockets = new Set<unknown>();
  let connections = 0;
  const server = createServer(handler);
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('HttpClient', () => {
  test('keep-alive: sequential calls reuse their connections; JSON both ways', async () => {
    const ds = await downstream((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, body }));
      });
    });
    const client = new HttpClient({ origin: ds.origin, name: 'echo' });
    try {
      for (let i = 0; i < 30; i++) {
        const r = await client.get('/x', { query: { i } });
        assert.equal(r.status, 200);
        assert.deepEqual(r.json(), { method: 'GET', url: `/x?i=${i}`, body: '' });
      }
      // undici may open a second socket while the first finishes its response; never more.
      assert.ok(ds.connections <= 2, `${ds.connections} connections for 30 calls`);
      const p = await client.post('/y', { a: 1 });
      assert.deepEqual(p.json<{ body: string }>().body, '{"a":1}');
    } finally {
      await client.close();
      await ds.close();
    }
  });

  test('traceparent continues the incoming trace, or starts one', async () => {
    const ds = await downstream((req, res) => res.end(req.headers.traceparent));
    const client = new HttpClient({ origin: ds.origin });
    try {
      const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const r = await client.get('/', {
        req: { deadline: undefined, headers: { traceparent: incoming } },
      });
      const m = /^00-0af7651916cd43dd8448eb211c80319c-([0-9a-f]{16})-01$/.exec(r.text());
      assert.ok(m, r.text());
      assert.notEqual(m[1], 'b7ad6b7169203331');
      assert.match((await client.get('/')).text(), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      assert.match(childTraceparent('garbage'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    } finally {
      await client.close();
      await ds.close();
    }
  });

  test('the per-call timeout is bounded by the request deadline (504)', async () => {
    const ds = await downstream((_req, res) => {
      setTimeout(() => res.end('late'), 1000).unref();
    });
    const client = new HttpClient({ origin: ds.origin, timeout: 5000 });
    try {
      const t0 = performance.now();
      await assert.rejects(
        client.get('/', { req: { deadline: Date.now() + 200, headers: {} } }),
        (err: unknown) =>
          err instanceof UpstreamError && err.status === 504 && err.code === 'PRG_UPSTREAM_TIMEOUT',
      );
      const took = performance.now() - t0;
      assert.ok(took >= 150 && took < 600, `took ${took} ms`);
    } finally {
      await client.close();
      await ds.close();
    }
  });

  test('only idempotent calls are retried, and only within the retry budget', async () => {
    let hits = 0;
    const ds = await downstream((_req, res) => {
      hits++;
      res.statusCode = 503;
      res.end();
    });
    const client = new HttpClient({
      origin: ds.origin,
      retries: 3,
      breaker: { failureThreshold: 1_000_000 },
    });
    try {
      assert.equal((await client.post('/', {})).status, 503);
      assert.equal(hits, 1, 'POST is not retried');
      hits = 0;
      const r = await client.request({ method: 'POST', path: '/', idempotent: true });
      assert.equal(r.status, 503);
      assert.equal(hits, 4, 'an idempotent POST is retried');
      // 1000 failing GETs: retries stay within ~10% of the calls (plus the burst).
      hits = 0;
      for (let i = 0; i < 1000; i++) await client.get('/');
      assert.ok(hits <= 1000 * 1.1 + 10, `${hits} attempts for 1000 calls`);
      assert.ok(hits > 1000, 'some retries were spent');
      assert.ok(client.stats().retriesDenied > 0);
    } finally {
      await client.close();
      await ds.close();
    }
  });

  test('retry budget arithmetic', () => {
    const b = new RetryBudget({ ratio: 0.1, burst: 2 });
    assert.ok(b.withdraw());
    assert.ok(b.withdraw());
    assert.equal(b.withdraw(), false);
    for (let i = 0; i < 10; i++) b.deposit();
    assert.ok(b.withdraw());
    assert.equal(b.withdraw(), false);
  });

  test('Proof: a dead downstream: the breaker opens, calls fail fast, it closes after recovery', async () => {
    const ds = await downstream((_req, res) => res.end('ok'));
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: ds.port });
    // The breaker's cooldown runs on a clock the test moves: no probe slips in while it is open.
    const clock = manualClock();
    const client = new HttpClient({
      origin: `http://127.0.0.1:${proxy.port}`,
      name: 'inventory',
      timeout: 300,
      breaker: { failureThreshold: 5, cooldown: 500, clock: clock.now },
    });
    try {
      assert.equal((await client.get('/')).text(), 'ok');
      for (const fault of ['reset', 'stall'] as const) {
        proxy[fault]();
        // Failures until the breaker opens (timeouts while stalled, resets otherwise).
        for (let i = 0; i < 10 && client.stats().breaker !== 'open'; i++) {
          await assert.rejects(client.get('/'), UpstreamError);
        }
        assert.equal(client.stats().breaker, 'open');
        const times: number[] = [];
        for (let i = 0; i < 200; i++) {
          const t0 = performance.now();
          await assert.rejects(
            client.get('/'),
            (err: unknown) => err instanceof UpstreamError && err.status === 503,
          );
          times.push(performance.now() - t0);
        }
        const p99 = percentile(times, 99);
        assert.ok(p99 <= 5, `${fault}: p99 of refused calls ${p99} ms`);
        proxy.pass();
        assert.equal(client.stats().breaker, 'open', 'still open until the cooldown is over');
        clock.advance(500);
        assert.equal(client.stats().breaker, 'half-open');
        assert.equal((await client.get('/')).text(), 'ok', 'the probe goes through');
        assert.equal(client.stats().breaker, 'closed');
      }
      assert.ok(client.stats().shortCircuited >= 400);
    } finally {
      await client.close();
      await proxy.close();
      await ds.close();
    }
  });
});
