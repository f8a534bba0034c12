import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { context, propagation } from '@opentelemetry/api';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { serve } from '../../src/server/serve.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { TelemetryHub } from '../../src/telemetry/master/hub.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { eventually } from '../helpers/wait.ts';

/** A service: its own recorder (worker side) and hub (master side) exporting to `url`. */
function service(name: string, url: string, env: Record<string, string> = {}) {
  const rec = new Recorder(
    configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', PEREGRINE_TELEMETRY_INTERVAL: '100', ...env }),
  );
  const hub = new TelemetryHub({
    exporter: { url, resource: { 'service.name': name }, interval: 100 },
  });
  rec.connect((delta) => hub.ingest('1', delta));
  const app = new App({
    logger: false,
    instrumentation: new HttpInstrumentation(rec, silentLogger),
  });
  return { rec, hub, app };
}

test('a request through two services shares one trace id with correct parent/child links', async () => {
  const receiver = await startOtlpReceiver();
  const b = service('orders', receiver.url);
  b.app.addRoute('/orders/{id}', { onGet: (req) => ({ id: req.params.id }) });
  const sb = await serve(b.app, { port: 0 });
  const a = service('gateway', receiver.url);
  a.app.addRoute('/checkout/{id}', {
    onGet: async (req) => {
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers);
      const res = await fetch(`http://127.0.0.1:${sb.address.port}/orders/${req.params.id}`, {
        headers,
      });
      return { order: await res.json() };
    },
  });
  const sa = await serve(a.app, { port: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${sa.address.port}/checkout/7`);
    assert.equal(res.status, 200);
    await eventually(() => receiver.spans.length >= 2, 10_000, 'both spans reach the collector');
    const gw = receiver.spans.find((s) => s.service === 'gateway')!;
    const orders = receiver.spans.find((s) => s.service === 'orders')!;
    assert.equal(gw.name, 'GET /checkout/{id}');
    assert.equal(orders.name, 'GET /orders/{id}');
    assert.equal(gw.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(gw.parentSpanId, '', 'the gateway span is the root');
    assert.equal(orders.traceId, gw.traceId, 'one trace id');
    assert.equal(orders.parentSpanId, gw.spanId, 'orders is a child of the gateway span');
    assert.equal(orders.attributes['http.route'], '/orders/{id}');
    assert.equal(orders.attributes['http.response.status_code'], 200);
    assert.equal(gw.scope, 'peregrine');
  } finally {
    await sa.close(1000);
    await sb.close(1000);
    a.rec.disconnect();
    b.rec.disconnect();
    await a.hub.close();
    await b.hub.close();
    await receiver.close();
  }
});

test('exporter at a dead port under load: no failed request, drops counted', async () => {
  // a port that was free a moment ago and has no listener
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const svc = service('dead-end', `http://127.0.0.1:${port}/v1/traces`);
  svc.app.addRoute('/json', { onGet: () => ({ message: 'Hello, World!' }) });
  // Shedding off: on a busy machine it rightly answers some requests 503, which is not this
  // test's subject (a dead exporter must not fail requests).
  const server = await serve(svc.app, { port: 0, shedDelay: 0 });
  const url = `http://127.0.0.1:${server.address.port}/json`;
  const total = 3000;
  let failed = 0;
  let done = 0;
  try {
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (done < total) {
          done++;
          const r = await fetch(url).catch(() => undefined);
          if (r === undefined || r.status !== 200) failed++;
          else await r.arrayBuffer();
        }
      }),
    );
    const elapsed = Date.now() - started;
    assert.equal(failed, 0);
    svc.rec.flushNow();
    await eventually(
      () => svc.hub.exporter!.droppedFailed + svc.hub.exporter!.droppedQueueFull >= total,
      10_000,
      'every span is counted as dropped',
    );
    const scrape = svc.hub.render('prometheus').body;
    const dropped = [
      ...scrape.matchAll(
        /^peregrine_trace_spans_total\{outcome="(export_failed|queue_full)"\} (\d+)$/gm,
      ),
    ].reduce((n, m) => n + Number(m[2]), 0);
    assert.ok(dropped >= total, `drops counted in /metrics: ${dropped}\n${scrape}`);
    assert.match(
      scrape,
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/json",http_response_status_code="200"\} 3000$/m,
    );
    assert.ok(elapsed < 60_000);
  } finally {
    await server.close(1000);
    svc.rec.disconnect();
    svc.hub.exporter!.close();
  }
});
