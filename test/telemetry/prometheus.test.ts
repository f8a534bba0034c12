import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { test } from 'node:test';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { TelemetryHub } from '../../src/telemetry/hub/hub.ts';
import { HttpInstrumentation } from '../../src/telemetry/instrumentation.ts';
import { Recorder } from '../../src/telemetry/recorder.ts';
import { simulate } from '../../src/testing/index.ts';
import { startPrometheus } from '../helpers/prometheus.ts';

/** A "worker": its own recorder and App, flushing into the shared hub as a real worker would. */
function worker(hub: TelemetryHub, id: string) {
  const rec = new Recorder(
    configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', PEREGRINE_TELEMETRY_INTERVAL: '200' }),
  );
  rec.connect((d) => hub.ingest(id, d));
  const app = new App({
    logger: false,
    instrumentation: new HttpInstrumentation(rec, silentLogger),
  });
  app.addRoute('/fast', { onGet: () => ({ ok: true }) });
  app.addRoute('/slow', { onGet: () => new Promise((r) => setTimeout(() => r({ ok: true }), 30)) });
  return { rec, app };
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a real Prometheus scrapes the merged /metrics: exact counts across a worker restart', async (t) => {
  const hub = new TelemetryHub({ exporter: false });
  const admin = createServer((req, res) => {
    if (req.url !== '/metrics') return void res.writeHead(404).end();
    const s = hub.scrape(req.headers.accept);
    res.writeHead(200, { 'content-type': s.contentType }).end(s.body);
  });
  await new Promise<void>((r) => admin.listen(0, '127.0.0.1', r));
  const target = `127.0.0.1:${(admin.address() as { port: number }).port}`;
  const prom = await startPrometheus(target);
  t.after(async () => {
    await prom.stop();
    await new Promise((r) => admin.close(r));
  });

  const w1 = worker(hub, '1');
  const w2 = worker(hub, '2');
  for (let i = 0; i < 300; i++) await simulate(i % 2 ? w1.app : w2.app, { path: '/fast' });
  for (let i = 0; i < 20; i++) await simulate(i % 2 ? w1.app : w2.app, { path: '/slow' });
  await simulate(w1.app, { path: '/missing' });
  const fastCount =
    'sum(http_server_request_duration_seconds_count{http_route="/fast",http_response_status_code="200"})';
  await until(async () =>
    (await prom.query(fastCount))[0]?.value[1] === '300' ? true : undefined,
  );

  // worker 1 dies (its last delta flushed), a new one takes its place and starts from zero
  w1.rec.flushNow();
  w1.rec.disconnect();
  hub.workerExited('1');
  const w3 = worker(hub, '3');
  for (let i = 0; i < 100; i++) await simulate(w3.app, { path: '/fast' });
  await until(async () =>
    (await prom.query(fastCount))[0]?.value[1] === '400' ? true : undefined,
  );

  // the counter never went backwards
  const resets = await prom.query(
    'sum(resets(http_server_request_duration_seconds_count{http_route="/fast"}[5m]))',
  );
  assert.equal(resets[0]!.value[1], '0');
  // request rate is visible and positive
  const rate = await prom.query('sum(rate(http_server_request_duration_seconds_count[1m]))');
  assert.ok(Number(rate[0]!.value[1]) > 0);
  // the 30 ms requests put their median in the (0.025, 0.05] bucket
  const p50 = await prom.query(
    'histogram_quantile(0.5, sum by (le) (http_server_request_duration_seconds_bucket{http_route="/slow"}))',
  );
  const median = Number(p50[0]!.value[1]);
  assert.ok(median > 0.025 && median <= 0.05, `median ${median}`);
  // unknown URLs are one route-less series
  const unmatched = await prom.query(
    'http_server_request_duration_seconds_count{http_response_status_code="404"}',
  );
  assert.equal(unmatched.length, 1);
  // runtime gauges per worker, with the gone worker forgotten
  const elu = await until(async () => {
    const r = await prom.query('nodejs_eventloop_utilization');
    return r.length === 2 ? r : undefined;
  });
  assert.deepEqual(elu.map((s) => s.metric.worker).sort(), ['2', '3']);
  // Prometheus negotiated OpenMetrics and stored the exemplars pointing at kept traces
  const now = Date.now() / 1000;
  const ex = (await prom.api(
    `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket')}&start=${now - 300}&end=${now + 10}`,
  )) as Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
  const traceIds = ex.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
  assert.ok(traceIds.length > 0 && traceIds.every((id) => /^[0-9a-f]{32}$/.test(id!)));
  const kept = new Set(hub.traces.recent(1000).map((tr) => tr.traceId));
  assert.ok(
    traceIds.some((id) => kept.has(id!)),
    'exemplars point at traces the master kept',
  );

  // promtool accepts the exposition
  const text = hub.render('prometheus').body;
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  w2.rec.disconnect();
  w3.rec.disconnect();
});
