import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { createClient } from '../../src/client/index.ts';
import { PostgresPool } from '../../src/db/pool/postgres.ts';
import { SqliteDatabase } from '../../src/db/sqlite/sqlite.ts';
import { serve } from '../../src/server/serve.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { contextManager, SpanOnlyContext } from '../../src/telemetry/tracing/context.ts';
import { startServerSpan } from '../../src/telemetry/tracing/tracer.ts';
import type { HistogramDelta, WireSpan } from '../../src/telemetry/wire.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { requireService } from '../helpers/services.ts';

const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }));
rec.observeDataPath();
const instrumentation = new HttpInstrumentation(rec, silentLogger);

function histogram(
  name: string,
  spans: { families: Array<{ meta: { name: string }; series: unknown[] }> },
) {
  return (spans.families.find((f) => f.meta.name === name)?.series ?? []) as HistogramDelta[];
}

test('a database statement inside a request: a child client span and a duration observation', async () => {
  const db = new SqliteDatabase({ path: ':memory:', name: 'main' });
  await db.open();
  await db.query('CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)');
  await db.query('INSERT INTO item (id, name) VALUES ($1, $2)', [1, 'pen']);
  rec.flush();
  const app = new App({ logger: false, instrumentation });
  app.addRoute('/items/{id:int}', {
    onGet: async (req) => {
      await db.query('SELECT name FROM missing').catch(() => undefined);
      return (await db.one('SELECT name FROM item WHERE id = $1', [req.params.id])) ?? {};
    },
  });
  await new Promise<void>((resolve) => {
    const out = {
      headersSent: false,
      writableEnded: false,
      writableFinished: false,
      destroyed: false,
      shouldKeepAlive: true,
      writeHead() {
        return this;
      },
      write: () => true,
      end() {
        resolve();
        return this;
      },
      once() {
        return this;
      },
      on() {
        return this;
      },
    };
    const raw = {
      method: 'GET',
      url: '/items/1',
      headers: {},
      socket: { remoteAddress: '127.0.0.1' },
      complete: true,
      on() {
        return this;
      },
      removeListener() {
        return this;
      },
      pause() {
        return this;
      },
      resume() {
        return this;
      },
    };
    app.handle(raw as never, out as never);
  });
  const delta = rec.flush();
  const server = delta.spans.find((s) => s.kind === 1)!;
  const query = delta.spans.find((s) => s.kind === 2 && s.statusCode !== 2)!;
  const failed = delta.spans.find((s) => s.kind === 2 && s.statusCode === 2);
  assert.equal(failed?.attributes['db.query.text'], 'SELECT name FROM missing');
  assert.equal(failed?.attributes['error.type'], 'SQLITE_ERROR');
  assert.equal(failed?.attributes['db.response.status_code'], 'SQLITE_ERROR');
  assert.ok(server && query, 'server and db spans kept');
  assert.equal(query.traceId, server.traceId);
  assert.equal(query.parentSpanId, server.spanId);
  assert.equal(query.name, 'SELECT :memory:');
  assert.equal(query.attributes['db.system.name'], 'sqlite');
  assert.equal(query.attributes['db.query.text'], 'SELECT name FROM item WHERE id = $1');
  assert.equal(query.attributes['db.operation.name'], 'SELECT');
  assert.equal(query.attributes['db.response.returned_rows'], 1);
  assert.equal(query.attributes['error.type'], undefined);
  const series = histogram('db_client_operation_duration_seconds', delta);
  const select = series.find((s) => s[0][0] === 'sqlite' && s[0][1] === 'SELECT');
  assert.equal(select?.[1], 1);
  await db.close();
});

test('one statement text on two databases, failing then succeeding: each run gets its own labels', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'peregrine-labels-'));
  const a = new SqliteDatabase({ path: join(dir, 'orders.db'), name: 'a' });
  const b = new SqliteDatabase({ path: join(dir, 'stock.db'), name: 'b' });
  await a.open();
  await b.open();
  rec.flush();
  const text = 'SELECT count(*) AS n FROM item';
  await assert.rejects(a.query(text)); // no table yet: an error series
  await a.query('CREATE TABLE item (id INTEGER PRIMARY KEY)');
  await b.query('CREATE TABLE item (id INTEGER PRIMARY KEY)');
  for (let i = 0; i < 3; i++) await a.query(text);
  await b.query(text);
  const series = histogram('db_client_operation_duration_seconds', rec.flush());
  const count = (namespace: string, error: string) =>
    series.find((s) => s[0][1] === 'SELECT' && s[0][2] === namespace && s[0][3] === error)?.[1] ??
    0;
  assert.equal(count('orders.db', ''), 3, 'successes on the first database');
  assert.equal(count('stock.db', ''), 1, 'the same text on the second database: its own series');
  assert.ok(count('orders.db', 'SQLITE_ERROR') === 1, 'the failure: an error series');
  await a.close();
  await b.close();
  await rm(dir, { recursive: true, force: true });
});

test('an outbound call: client span, traceparent downstream, client duration metric', async () => {
  const downstream = new App({ logger: false, instrumentation });
  let seenTraceparent: string | undefined;
  downstream.addRoute('/price', {
    onGet: (req) => {
      seenTraceparent = req.getHeader('traceparent');
      return { price: 3 };
    },
  });
  const down = await serve(downstream, { port: 0 });
  const client = createClient({ origin: `http://127.0.0.1:${down.address.port}`, name: 'pricing' });
  const upstream = new App({ logger: false, instrumentation });
  upstream.addRoute('/quote', {
    onGet: async (req) => (await client.get('/price', { req })).json(),
  });
  const up = await serve(upstream, { port: 0 });
  after(async () => {
    await up.close(100);
    await down.close(100);
    await client.close();
  });
  rec.flush();
  const res = await fetch(`http://127.0.0.1:${up.address.port}/quote`);
  assert.deepEqual(await res.json(), { price: 3 });
  // Both servers ended their spans as they wrote their responses, before the client read them.
  const delta = rec.flush();
  const byName = (name: string, kind: number): WireSpan =>
    delta.spans.find((s) => s.name === name && s.kind === kind)!;
  const upServer = byName('GET /quote', 1);
  const call = byName('GET', 2);
  const downServer = byName('GET /price', 1);
  assert.equal(call.parentSpanId, upServer.spanId);
  assert.equal(downServer.parentSpanId, call.spanId);
  assert.equal(downServer.traceId, upServer.traceId);
  assert.equal(call.attributes['service.peer.name'], 'pricing');
  assert.equal(call.attributes['http.response.status_code'], 200);
  assert.equal(seenTraceparent, `00-${call.traceId}-${call.spanId}-01`);
  const series = histogram('http_client_request_duration_seconds', delta);
  assert.ok(series.some((s) => s[0][3] === 'pricing' && s[0][4] === '200' && s[1] === 1));
});

test('loader calls of one turn from two requests: each a db span in its own request trace', async (t) => {
  const url = await requireService(t, 'postgres');
  if (url === undefined) return;
  const pool = new PostgresPool({ url, max: 2, applicationName: `prg-loader-tel-${process.pid}` });
  await pool.open();
  try {
    const select = pool.loader<{ n: number }>('SELECT $1::int AS n');
    const tracing = rec.tracing!;
    rec.flush();
    // Two requests in one turn, each with its server span as the active context.
    const inRequest = async (n: number) => {
      const server = startServerSpan(tracing, 'GET', undefined, Date.now());
      const row = await contextManager.storage.run(new SpanOnlyContext(server), () =>
        select.one([n]),
      );
      server.end();
      return { server, n: row!.n };
    };
    const [a, b] = await Promise.all([inRequest(1), inRequest(2)]);
    assert.deepEqual([a.n, b.n], [1, 2]);
    const delta = rec.flush();
    const dbSpans = delta.spans.filter((s) => s.kind === 2);
    assert.equal(dbSpans.length, 2, 'one client span per call');
    for (const { server } of [a, b]) {
      const mine = dbSpans.filter((s) => s.traceId === server.traceId);
      assert.equal(mine.length, 1, 'each request has its own db span');
      assert.equal(mine[0]!.parentSpanId, server.spanId);
      assert.equal(mine[0]!.attributes['db.query.text'], 'SELECT $1::int AS n');
      assert.equal(mine[0]!.attributes['db.response.returned_rows'], 1);
    }
    const series = histogram('db_client_operation_duration_seconds', delta);
    const select1 = series.find((s) => s[0][0] === 'postgresql' && s[0][1] === 'SELECT');
    assert.equal(select1?.[1], 2, 'one duration observation per call');
  } finally {
    await pool.close();
  }
});
