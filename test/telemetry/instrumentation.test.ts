import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { App } from '../../src/app/app.ts';
import { HTTPInternalServerError } from '../../src/app/errors/classes.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { traceFields } from '../../src/telemetry/tracing/active.ts';
import type { HistogramDelta } from '../../src/telemetry/wire.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { simulate } from '../../src/testing/index.ts';

function setup(env: Record<string, string> = {}) {
  const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', ...env }));
  const app = new App({
    logger: false,
    instrumentation: new HttpInstrumentation(rec, silentLogger),
  });
  return { rec, app };
}

function durationSeries(rec: Recorder) {
  const d = rec.flush();
  const fam = d.families.find((f) => f.meta.name === 'http_server_request_duration_seconds');
  return { delta: d, series: (fam?.series ?? []) as HistogramDelta[] };
}

test('RED: one series per (method, route template, status); unknown URLs share one series', async () => {
  const { rec, app } = setup({ PEREGRINE_TRACING: 'off' });
  app.addRoute('/items/{id:int}', { onGet: () => ({ ok: true }) });
  for (let i = 0; i < 50; i++) await simulate(app, { path: `/items/${i}` });
  for (let i = 0; i < 2000; i++) await simulate(app, { path: `/nope/${i}?x=${i}` });
  await simulate(app, { method: 'POST', path: '/items/1' });
  await simulate(app, { method: 'BREW', path: '/items/1' });
  const { series } = durationSeries(rec);
  const byKey = new Map(series.map((s) => [s[0].join(' '), s[1]]));
  assert.equal(byKey.get('GET /items/{id:int} 200'), 50);
  assert.equal(byKey.get('GET  404'), 2000);
  assert.equal(byKey.get('POST /items/{id:int} 405'), 1);
  assert.equal(byKey.get('_OTHER /items/{id:int} 405'), 1);
  assert.equal(series.length, 4, 'no series per raw path');
  assert.equal(rec.flush().spans.length, 0, 'tracing off: no spans');
});

test('a server span per request, named by the template, child of the incoming traceparent', async () => {
  const { rec, app } = setup();
  let inside: { trace_id?: string; span_id?: string } = {};
  app.addRoute('/users/{name}', {
    onGet: async (req, resp) => {
      inside = traceFields();
      // an OpenTelemetry instrumentation in the App joins the same trace
      const tracer = trace.getTracer('user-code');
      await tracer.startActiveSpan('load user', { kind: SpanKind.CLIENT }, async (span) => {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        resp.media = { name: req.params.name, outgoing: carrier.traceparent };
        span.end();
      });
    },
  });
  const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const r = await simulate(app, {
    path: '/users/ada',
    headers: { traceparent: parent, tracestate: 'congo=t61rcWkgMzE' },
  });
  const { delta, series } = durationSeries(rec);
  assert.equal(delta.spans.length, 2);
  const server = delta.spans.find((s) => s.kind === 1)!;
  const child = delta.spans.find((s) => s.kind === 2)!;
  assert.equal(server.name, 'GET /users/{name}');
  assert.equal(server.traceId, '0af7651916cd43dd8448eb211c80319c');
  assert.equal(server.parentSpanId, 'b7ad6b7169203331');
  assert.equal(server.remoteParent, true);
  assert.equal(server.traceState, 'congo=t61rcWkgMzE');
  assert.equal(server.attributes['http.route'], '/users/{name}');
  assert.equal(server.attributes['http.request.method'], 'GET');
  assert.equal(server.attributes['http.response.status_code'], 200);
  assert.equal(server.attributes['url.path'], '/users/ada');
  assert.equal(child.traceId, server.traceId);
  assert.equal(child.parentSpanId, server.spanId);
  assert.equal(child.scope, 'user-code');
  assert.deepEqual(inside, { trace_id: server.traceId, span_id: server.spanId });
  const body = r.json as { outgoing: string };
  assert.equal(body.outgoing, `00-${server.traceId}-${child.spanId}-01`);
  // the kept trace is the exemplar of its latency bucket
  const ex = series[0]![4]!;
  assert.equal(ex[0]![2], server.traceId);
});

test('sampling: unsampled traces are dropped unless they fail or are slow', async () => {
  const { rec, app } = setup({ OTEL_TRACES_SAMPLER_ARG: '0', PEREGRINE_TRACES_SLOW_MS: '30' });
  app.addRoute('/ok', { onGet: () => 'ok' });
  app.addRoute('/boom', {
    onGet: () => {
      throw new HTTPInternalServerError();
    },
  });
  app.addRoute('/slow', { onGet: () => new Promise((r) => setTimeout(() => r('zz'), 40)) });
  for (let i = 0; i < 20; i++) await simulate(app, { path: '/ok' });
  await simulate(app, { path: '/boom' });
  await simulate(app, { path: '/slow' });
  // a sampled remote parent is honoured (parent-based)
  await simulate(app, {
    path: '/ok',
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
  });
  const spans = rec.flush().spans;
  assert.deepEqual(spans.map((s) => `${s.name}:${s.kept}`).sort(), [
    'GET /boom:error',
    'GET /ok:sampled',
    'GET /slow:slow',
  ]);
  const boom = spans.find((s) => s.name === 'GET /boom')!;
  assert.equal(boom.statusCode, 2);
  assert.equal(boom.attributes['error.type'], '500');
});

test('instrumentation: false costs nothing and records nothing', async () => {
  const app = new App({ logger: false, instrumentation: false });
  app.addRoute('/x', { onGet: () => 'x' });
  assert.equal((await simulate(app, { path: '/x' })).status, 200);
});

test('telemetry never throws into the request path', async () => {
  const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }));
  const inst = new HttpInstrumentation(rec, silentLogger);
  const app = new App({ logger: false, instrumentation: inst });
  app.addRoute('/x', { onGet: () => 'x' });
  // sabotage the recorder's span sink
  rec.keep = () => {
    throw new Error('sink exploded');
  };
  assert.equal((await simulate(app, { path: '/x' })).status, 200);
});
