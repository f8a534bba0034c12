/**
 * The cache's Redis tier on the `peregrine:cache:redis` tracing channel, as telemetry turns it
 * into client spans and `db_client_operation_duration_seconds` observations: a sampled request's
 * miss (GET, then SET), a hit from another worker's cache (GET only) and a delete (MULTI) are
 * client spans under the request's server span with OpenTelemetry's Redis attributes and no key;
 * an unsampled request's round trips make no span but are still timed. The cluster-wide lock's
 * SET NX and release EVAL are spans too; a Redis that does not answer gives failed spans
 * (`error.type` RedisTimeout) and error-labelled durations.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { Cache } from '../../src/cache/cache.ts';
import { serve } from '../../src/server/serve.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import type { HistogramDelta, WireSpan } from '../../src/telemetry/wire.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { requireService } from '../helpers/services.ts';
import { eventually } from '../helpers/wait.ts';

// Parent-based sampling (the default) with every root kept: the caller's traceparent flag decides.
// Slow requests are kept whatever the sampler said: far out of reach here.
const rec = new Recorder(
  configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', PEREGRINE_TRACES_SLOW_MS: '600000' }),
);
rec.observeDataPath();
const instrumentation = new HttpInstrumentation(rec, silentLogger);

function traceparent(sampled: boolean): { traceId: string; header: string } {
  const traceId = randomBytes(16).toString('hex');
  const parent = randomBytes(8).toString('hex');
  return { traceId, header: `00-${traceId}-${parent}-${sampled ? '01' : '00'}` };
}

/** Redis round trips of `op` timed (without error) in the collected deltas. */
function timed(deltas: HistogramDelta[][], op: string, ns: string): number {
  let n = 0;
  for (const series of deltas) {
    for (const s of series) {
      if (s[0][0] === 'redis' && s[0][1] === op && s[0][2] === ns && s[0][3] === '') n += s[1];
    }
  }
  return n;
}

test('Redis round trips of a sampled request are client spans; an unsampled one makes none', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const parsed = new URL(url);
  const namespace = parsed.pathname.slice(1) || '0';
  const prefix = `prg-test-spans-${process.pid}-${Date.now()}:`;
  // Two workers' caches of one name: the second finds in Redis what the first loaded.
  const options = { name: 'users', redis: url, prefix, ttl: 60_000 };
  const first = new Cache<{ email: string }>(options);
  const second = new Cache<{ email: string }>(options);
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
    await first.close();
    await second.close();
  });
  assert.ok(await first.connected(), 'first cache connected to Redis');
  assert.ok(await second.connected(), 'second cache connected to Redis');

  let loads = 0;
  const loader = (key: string) => {
    loads++;
    return { email: key };
  };
  const app = new App({ logger: false, instrumentation });
  app.addRoute('/first/{key}', {
    onGet: async (req) => (await first.get(String(req.params.key), loader)) ?? {},
    onDelete: async (req) => {
      await first.delete(String(req.params.key));
      return { ok: true };
    },
  });
  app.addRoute('/second/{key}', {
    onGet: async (req) => (await second.get(String(req.params.key), loader)) ?? {},
  });
  const server = await serve(app, { port: 0 });
  t.after(() => server.close(100));
  const base = `http://127.0.0.1:${server.address.port}`;

  const spans: WireSpan[] = [];
  const durations: HistogramDelta[][] = [];
  const collect = () => {
    const delta = rec.flush();
    spans.push(...delta.spans);
    durations.push(
      (delta.families.find((f) => f.meta.name === 'db_client_operation_duration_seconds')?.series ??
        []) as HistogramDelta[],
    );
  };
  const call = async (method: string, path: string, sampled: boolean) => {
    const tp = traceparent(sampled);
    const res = await fetch(base + path, { method, headers: { traceparent: tp.header } });
    assert.equal(res.status, 200, path);
    await res.arrayBuffer();
    return tp.traceId;
  };
  const redisSpans = (traceId: string) =>
    spans.filter((s) => s.traceId === traceId && s.attributes['db.system.name'] === 'redis');
  collect();

  // A key that is user data: it must appear in no span.
  const key = 'ada@example.com';
  const missTrace = await call('GET', `/first/${encodeURIComponent(key)}`, true);
  assert.equal(loads, 1);
  // The SET after the load does not hold up the answer: wait for its span.
  await eventually(
    () => {
      collect();
      return redisSpans(missTrace).length === 2 ? true : undefined;
    },
    5000,
    'the GET and SET spans of the miss',
    20,
  );
  const serverSpan = spans.find((s) => s.traceId === missTrace && s.kind === 1)!;
  assert.ok(serverSpan, 'the request span');
  const [get, set] = redisSpans(missTrace).sort((a, b) => a.start - b.start);
  for (const s of [get!, set!]) {
    assert.equal(s.kind, 2, 'a client span');
    assert.equal(s.parentSpanId, serverSpan.spanId, 'under the request span');
    assert.equal(s.statusCode, 0);
    assert.equal(s.name, `${s.attributes['db.operation.name']} ${namespace}`);
    assert.equal(s.attributes['db.namespace'], namespace);
    assert.equal(s.attributes['server.address'], parsed.hostname);
    assert.equal(s.attributes['server.port'], Number(parsed.port || 6379));
    assert.equal(s.attributes['peregrine.cache.name'], 'users');
    assert.ok(!JSON.stringify(s).includes('ada'), `no key in ${JSON.stringify(s.attributes)}`);
  }
  assert.equal(get!.attributes['db.operation.name'], 'GET');
  assert.equal(get!.attributes['db.query.text'], `GET ${prefix}users:?`);
  assert.equal(get!.attributes['peregrine.cache.outcome'], 'miss');
  assert.equal(set!.attributes['db.operation.name'], 'SET');
  assert.equal(set!.attributes['db.query.text'], `SET ${prefix}users:? ? PX ?`);
  assert.equal(set!.attributes['peregrine.cache.outcome'], undefined);
  assert.equal(await admin.exists(`${prefix}users:${key}`), 1, 'the SET reached Redis');

  // The other worker's cache: a Redis hit, one GET, no load, no SET.
  const hitTrace = await call('GET', `/second/${encodeURIComponent(key)}`, true);
  assert.equal(loads, 1, 'answered from Redis');
  collect();
  const hit = redisSpans(hitTrace);
  assert.deepEqual(
    hit.map(
      (s) => `${s.attributes['db.operation.name']}:${s.attributes['peregrine.cache.outcome']}`,
    ),
    ['GET:hit'],
  );
  // The first cache's own copy: no Redis at all.
  const localTrace = await call('GET', `/first/${encodeURIComponent(key)}`, true);
  collect();
  assert.equal(spans.filter((s) => s.traceId === localTrace).length, 1, 'the request span alone');
  assert.deepEqual(redisSpans(localTrace), []);

  // A delete: DEL and the invalidation PUBLISH in one MULTI.
  const deleteTrace = await call('DELETE', `/first/${encodeURIComponent(key)}`, true);
  collect();
  const del = redisSpans(deleteTrace);
  assert.equal(del.length, 1);
  assert.equal(del[0]!.attributes['db.operation.name'], 'MULTI');
  assert.equal(del[0]!.attributes['db.operation.batch.size'], 2);
  assert.equal(
    del[0]!.attributes['db.query.text'],
    `MULTI; DEL ${prefix}users:?…; PUBLISH ${prefix}users:~invalidate ?; EXEC`,
  );
  assert.equal(await admin.exists(`${prefix}users:${key}`), 0, 'the DEL reached Redis');

  // Unsampled: the same miss (GET, load, SET) makes no span, and is still timed.
  collect();
  const gets = timed(durations, 'GET', namespace);
  const sets = timed(durations, 'SET', namespace);
  assert.equal(gets, 2, 'the sampled GETs were timed');
  assert.equal(sets, 1, 'the sampled SET was timed');
  assert.equal(timed(durations, 'MULTI', namespace), 1, 'the delete was timed');
  const unsampled = await call('GET', '/first/grace', false);
  assert.equal(loads, 2, 'a miss: loaded');
  await eventually(
    () => {
      collect();
      return timed(durations, 'SET', namespace) === sets + 1 ? true : undefined;
    },
    5000,
    'the unsampled miss written to Redis',
    20,
  );
  assert.equal(await admin.exists(`${prefix}users:grace`), 1);
  assert.equal(timed(durations, 'GET', namespace), gets + 1, 'its GET is timed');
  assert.deepEqual(
    spans.filter((s) => s.traceId === unsampled),
    [],
    'no span of the unsampled request',
  );
});

test('with the cluster-wide lock: the lock and its release are spans too', async (t) => {
  const url = await requireService(t, 'redis');
  if (url === undefined) return;
  const prefix = `prg-test-lockspans-${process.pid}-${Date.now()}:`;
  const cache = new Cache<{ n: number }>({ name: 'locked', redis: url, prefix, lock: true });
  const admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
    await cache.close();
  });
  assert.ok(await cache.connected());
  const app = new App({ logger: false, instrumentation });
  app.addRoute('/locked/{key}', {
    onGet: async (req) => (await cache.get(String(req.params.key), () => ({ n: 1 }))) ?? {},
  });
  const server = await serve(app, { port: 0 });
  t.after(() => server.close(100));
  rec.flush();
  const tp = traceparent(true);
  const res = await fetch(`http://127.0.0.1:${server.address.port}/locked/k1`, {
    headers: { traceparent: tp.header },
  });
  assert.deepEqual(await res.json(), { n: 1 });
  // Under the lock every round trip is awaited before the answer: all four are there.
  const spans = rec.flush().spans.filter((s) => s.traceId === tp.traceId && s.kind === 2);
  assert.deepEqual(
    spans.sort((a, b) => a.start - b.start).map((s) => s.attributes['db.query.text']),
    [
      `GET ${prefix}locked:?`,
      `SET ${prefix}locked:?~lock ? PX ? NX`,
      `SET ${prefix}locked:? ? PX ?`,
      `EVAL ? 1 ${prefix}locked:?~lock ?`,
    ],
  );
  assert.deepEqual(
    spans.map((s) => s.name),
    ['GET', 'SET', 'SET', 'EVAL'].map((op) => `${op} ${new URL(url).pathname.slice(1) || '0'}`),
  );
});

test('a Redis that does not answer: the timed-out round trip is a failed client span', async (t) => {
  // Enough of the protocol for ioredis to be ready (its INFO check), then silence.
  const sockets = new Set<Socket>();
  const fake = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      // Each command's name (the first bulk string of its array), answered in order.
      for (const m of chunk.toString().matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
        const command = m[1]!.toLowerCase();
        if (command === 'select' || command === 'client') socket.write('+OK\r\n');
        else if (command === 'info') {
          const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n';
          socket.write(`$${Buffer.byteLength(info)}\r\n${info}\r\n`);
        }
        // Anything else (GET, SET, SUBSCRIBE): silence.
      }
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const port = (fake.address() as AddressInfo).port;
  const cache = new Cache<{ n: number }>({
    name: 'silent',
    redis: `redis://127.0.0.1:${port}/3`,
    redisTimeout: 50,
  });
  t.after(async () => {
    await cache.close();
    for (const s of sockets) s.destroy();
    fake.close();
  });
  // Ready for commands; the subscription is never confirmed, so `connected()` says false.
  assert.equal(await cache.connected(1000), false);
  const app = new App({ logger: false, instrumentation });
  app.addRoute('/silent/{key}', {
    onGet: async (req) => (await cache.get(String(req.params.key), () => ({ n: 2 }))) ?? {},
  });
  const server = await serve(app, { port: 0 });
  t.after(() => server.close(100));
  rec.flush();
  const tp = traceparent(true);
  const res = await fetch(`http://127.0.0.1:${server.address.port}/silent/k`, {
    headers: { traceparent: tp.header },
  });
  // The cache answers from the loader; the Redis failure never reaches the caller.
  assert.deepEqual(await res.json(), { n: 2 });
  const spans: WireSpan[] = [];
  const durations: HistogramDelta[][] = [];
  await eventually(
    () => {
      const delta = rec.flush();
      spans.push(...delta.spans.filter((s) => s.traceId === tp.traceId && s.kind === 2));
      durations.push(
        (delta.families.find((f) => f.meta.name === 'db_client_operation_duration_seconds')
          ?.series ?? []) as HistogramDelta[],
      );
      return spans.length === 2 ? true : undefined;
    },
    5000,
    'the GET and SET spans',
    20,
  );
  for (const s of spans) {
    assert.equal(s.statusCode, 2, `${s.name} failed`);
    assert.equal(s.attributes['error.type'], 'RedisTimeout');
    assert.equal(s.attributes['db.namespace'], '3');
    assert.equal(s.attributes['server.port'], port);
    assert.equal(s.attributes['peregrine.cache.outcome'], undefined, 'no outcome without a reply');
  }
  const failed = durations
    .flat()
    .filter((s) => s[0][0] === 'redis' && s[0][2] === '3' && s[0][3] === 'RedisTimeout');
  assert.equal(
    failed.reduce((n, s) => n + s[1], 0),
    2,
    'both timed with their error type',
  );
});
