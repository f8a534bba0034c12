import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { renderMetrics } from '../../src/telemetry/master/exposition.ts';
import { MetricStore } from '../../src/telemetry/master/metric-store.ts';
import { bucketIndex, DURATION_BUCKETS } from '../../src/telemetry/metrics/buckets.ts';
import { MetricRegistry } from '../../src/telemetry/metrics/registry.ts';

function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('bucket index uses inclusive upper bounds and +Inf last', () => {
  assert.equal(bucketIndex(DURATION_BUCKETS, 0), 0);
  assert.equal(bucketIndex(DURATION_BUCKETS, 0.005), 0);
  assert.equal(bucketIndex(DURATION_BUCKETS, 0.0051), 1);
  assert.equal(bucketIndex(DURATION_BUCKETS, 10), DURATION_BUCKETS.length - 1);
  assert.equal(bucketIndex(DURATION_BUCKETS, 11), DURATION_BUCKETS.length);
});

test('declarations validate names and labels; redeclaring returns the same family', () => {
  const r = new MetricRegistry();
  assert.throws(() => r.counter({ name: 'bad-name', help: 'x' }), /invalid metric name/);
  assert.throws(() => r.counter({ name: 'x_total', help: 'x' }), /without _total/);
  assert.throws(() => r.histogram({ name: 'h', help: 'x', labels: ['le'] }), /reserved/);
  const a = r.counter({ name: 'orders', help: 'Orders.', labels: ['kind'] });
  assert.equal(r.counter({ name: 'orders', help: 'Orders.', labels: ['kind'] }), a);
  assert.throws(() => r.counter({ name: 'orders', help: 'x', labels: ['other'] }), /differently/);
  assert.throws(() => a.labels([]), /takes 1/);
  assert.throws(() => a.labels({} as { kind: string }), /missing/);
});

test('deltas carry only changes and merge exactly across workers and restarts', () => {
  const store = new MetricStore();
  const mk = () => {
    const r = new MetricRegistry();
    return {
      r,
      c: r.counter({ name: 'jobs', help: 'Jobs done.', labels: ['queue'] }),
      h: r.histogram({
        name: 'work_duration_seconds',
        help: 'Work.',
        unit: 'seconds',
        labels: ['queue'],
      }),
      g: r.gauge({ name: 'queue_depth', help: 'Depth.', labels: ['queue'] }),
    };
  };
  const w1 = mk();
  const w2 = mk();
  const a1 = w1.h.labels(['a']);
  for (let i = 0; i < 1000; i++) a1.observe(i % 2 === 0 ? 0.003 : 0.2);
  w1.c.inc(['a'], 5);
  w1.g.set(['a'], 3);
  w2.h.observe(['a'], 20);
  w2.c.inc(['a'], 2);
  w2.g.set(['a'], 4);
  store.ingest('1', w1.r.collect());
  store.ingest('2', w2.r.collect());
  assert.deepEqual(w1.r.collect(), [], 'nothing changed since the last collection');
  // worker 1 restarts: a new registry starting from zero
  store.forgetWorker('1');
  const w1b = mk();
  w1b.c.inc(['a'], 1);
  store.ingest('1b', w1b.r.collect());
  const text = renderMetrics(store, 'prometheus');
  assert.match(text, /^jobs_total\{queue="a"\} 8$/m);
  assert.match(text, /^work_duration_seconds_count\{queue="a"\} 1001$/m);
  assert.match(text, /^work_duration_seconds_bucket\{queue="a",le="0.005"\} 500$/m);
  assert.match(text, /^work_duration_seconds_bucket\{queue="a",le="0.25"\} 1000$/m);
  assert.match(text, /^work_duration_seconds_bucket\{queue="a",le="\+Inf"\} 1001$/m);
  assert.match(text, /^queue_depth\{queue="a"\} 4$/m, 'the gone worker’s gauge is forgotten');
});

test('cardinality is bounded by an overflow series', () => {
  const r = new MetricRegistry();
  const c = r.counter({ name: 'hits', help: 'Hits.', labels: ['path'], maxSeries: 10 });
  for (let i = 0; i < 10_000; i++) c.inc([`/p/${i}`]);
  const d = r.collect();
  assert.equal(d[0]!.series.length, 11);
});

test('the exposition passes promtool check metrics, in both formats', () => {
  const store = new MetricStore();
  const r = new MetricRegistry();
  r.counter({ name: 'weird', help: 'Quote " backslash \\ newline \n end.', labels: ['v'] }).inc([
    'a"b\\c\nd',
  ]);
  const h = r.histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    unit: 'seconds',
    labels: ['http_request_method', 'http_route', 'http_response_status_code'],
  });
  h.labels(['GET', '/items/{id}', '200']).observeWithExemplar(0.02, 'a'.repeat(32), 'b'.repeat(16));
  r.gauge({ name: 'nodejs_heap_used_bytes', help: 'Heap.', unit: 'bytes', merge: 'worker' }).set(
    [],
    1e6,
  );
  store.ingest('1', r.collect());
  const prom = renderMetrics(store, 'prometheus');
  const check = promtool(prom);
  assert.equal(check.status, 0, check.out + prom);
  const om = renderMetrics(store, 'openmetrics');
  assert.match(om, /# EOF\n$/);
  assert.match(om, /le="0.025"\} 1 # \{trace_id="a{32}",span_id="b{16}"\} 0.02 \d+\.\d{3}$/m);
  assert.match(om, /^nodejs_heap_used_bytes\{worker="1"\} 1000000$/m);
  // promtool lints only the Prometheus text format; OpenMetrics is scraped by a real Prometheus
  // in test/telemetry/prometheus.test.ts.
  assert.match(om, /^# TYPE weird counter$/m);
  assert.match(om, /^weird_total\{v="a\\"b\\\\c\\nd"\} 1$/m);
});

test('exemplars: the latest per bucket and interval; a cut delta keeps its own', () => {
  const r = new MetricRegistry();
  const s = r
    .histogram({ name: 'd_seconds', help: 'D.', unit: 'seconds', labels: ['r'] })
    .labels(['x']);
  s.observeWithExemplar(0.02, 'a'.repeat(32), '1'.repeat(16), 1000);
  s.observeWithExemplar(0.021, 'b'.repeat(32), '2'.repeat(16), 2000);
  s.observeWithExemplar(3, 'c'.repeat(32), '3'.repeat(16), 3000);
  const first = s.take();
  assert.deepEqual(first?.[4], [
    [bucketIndex(DURATION_BUCKETS, 0.021), 0.021, 'b'.repeat(32), '2'.repeat(16), 2000],
    [bucketIndex(DURATION_BUCKETS, 3), 3, 'c'.repeat(32), '3'.repeat(16), 3000],
  ]);
  // The next interval writes new records, never the ones already handed out.
  s.observeWithExemplar(0.022, 'd'.repeat(32), '4'.repeat(16), 4000);
  assert.equal(first?.[4]?.[0]?.[2], 'b'.repeat(32));
  assert.deepEqual(s.take()?.[4], [
    [bucketIndex(DURATION_BUCKETS, 0.022), 0.022, 'd'.repeat(32), '4'.repeat(16), 4000],
  ]);
  s.observe(0.5);
  assert.equal(s.take()?.[4], undefined);
});
