import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { startPrometheus } from '../helpers/prometheus.ts';
import { startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';

/** Polls Prometheus (every 250 ms: it evaluates on its scrape interval) until `fn` has a value. */
function until<T>(fn: () => Promise<T | undefined>, what: string): Promise<T> {
  return eventually(() => fn().catch(() => undefined), 20_000, what, 250);
}

test('a real Prometheus scrapes /metrics of a 2-worker server: exact counts across a reload', async (t) => {
  const server = await startServe(['test/fixtures/telemetry/app.ts', '--workers', '2'], {
    env: { OTEL_TRACES_SAMPLER_ARG: '1', PEREGRINE_TELEMETRY_INTERVAL: '200' },
  });
  await server.waitForReady(2);
  const prom = await startPrometheus(`127.0.0.1:${server.adminPort}`);
  t.after(async () => {
    await prom.stop();
    await server.stop();
  });
  const base = `http://127.0.0.1:${server.port}`;
  const send = async (path: string, n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${base}${path}`);
      await res.arrayBuffer();
    }
  };
  await send('/fast', 300);
  await send('/slow', 20);
  await send('/missing', 1);
  const fastCount =
    'sum(http_server_request_duration_seconds_count{http_route="/fast",http_response_status_code="200"})';
  await until(
    async () => ((await prom.query(fastCount))[0]?.value[1] === '300' ? true : undefined),
    'Prometheus counts the 300 /fast requests',
  );

  // A reload replaces both workers: the old ones flush their last delta as they drain.
  const mark = server.logs.length;
  server.signal('SIGHUP');
  await server.waitForLog(
    (l) => typeof l.msg === 'string' && l.msg.startsWith('reload complete'),
    30_000,
    mark,
  );
  await send('/fast', 100);
  await until(
    async () => ((await prom.query(fastCount))[0]?.value[1] === '400' ? true : undefined),
    'Prometheus counts 400 /fast requests across the reload',
  );
  const resets = await prom.query(
    'sum(resets(http_server_request_duration_seconds_count{http_route="/fast"}[5m]))',
  );
  assert.equal(resets[0]!.value[1], '0', 'the counter never went backwards');
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
  // per-worker runtime gauges: only the two live workers
  const elu = await until(async () => {
    const r = await prom.query('nodejs_eventloop_utilization');
    return r.length === 2 ? r : undefined;
  }, 'two workers of event-loop utilisation');
  assert.equal(new Set(elu.map((s) => s.metric.worker)).size, 2);
  // the process model
  const ready = await prom.query('peregrine_workers{state="ready"}');
  assert.equal(ready[0]!.value[1], '2');
  const reloads = await until(async () => {
    const r = await prom.query('peregrine_reloads_total{outcome="succeeded"}');
    return r[0]?.value[1] === '1' ? r : undefined;
  }, 'one successful reload');
  assert.ok(reloads);
  // Prometheus negotiated OpenMetrics and stored exemplars pointing at traces the master kept
  const now = Date.now() / 1000;
  const ex = (await prom.api(
    `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket')}&start=${now - 300}&end=${now + 10}`,
  )) as Array<{ exemplars: Array<{ labels: Record<string, string> }> }>;
  const traceIds = ex.flatMap((s) => s.exemplars.map((e) => e.labels.trace_id));
  assert.ok(traceIds.length > 0 && traceIds.every((id) => /^[0-9a-f]{32}$/.test(id!)));
  const kept = (await (
    await fetch(`http://127.0.0.1:${server.adminPort}/api/traces?limit=1000`)
  ).json()) as { traces: Array<{ traceId: string }> };
  const keptIds = new Set(kept.traces.map((tr) => tr.traceId));
  assert.ok(
    traceIds.some((id) => keptIds.has(id!)),
    'exemplars point at traces the master kept',
  );
  // promtool accepts the exposition
  const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
});
