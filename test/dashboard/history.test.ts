import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServiceHistory } from '../../src/dashboard/history/history.ts';
import { LatencySeries } from '../../src/dashboard/history/latency-series.ts';
import { apdex, countAtMost, quantile } from '../../src/dashboard/history/quantile.ts';
import { Ring } from '../../src/dashboard/history/ring.ts';
import type { TelemetryDelta } from '../../src/telemetry/wire.ts';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const T0 = 1_800_000_000_000; // a whole minute

test('a ring slot belongs to one step: an old step reads as a gap, late data for it is dropped', () => {
  const r = new Ring(4, 1000, 1, 1);
  const s = r.slotFor(10);
  r.u[s] = 7;
  assert.equal(r.slotOf(10), s);
  assert.equal(r.slotOf(11), -1, 'a step never written is a gap');
  const again = r.slotFor(14); // same slot, four steps later: cleared for the new step
  assert.equal(again, s);
  assert.equal(r.u[again], 0);
  assert.equal(r.slotOf(10), -1, 'the overwritten step is gone');
  assert.equal(r.slotFor(10), -1, 'data older than the ring is dropped, not mixed in');
  assert.equal(r.bytes, 4 * 8 + 4 * 4 + 4 * 8);
});

test('quantiles interpolate inside the bucket, like histogram_quantile', () => {
  const counts = new Array(BOUNDS.length + 1).fill(0);
  counts[0] = 50; // ≤ 5 ms
  counts[6] = 50; // (100, 250] ms
  assert.equal(quantile(0.5, BOUNDS, counts), 0.005);
  // rank 99 of 100: 49 into the 50 of (0.1, 0.25]
  assert.ok(Math.abs(quantile(0.99, BOUNDS, counts)! - (0.1 + (0.15 * 49) / 50)) < 1e-12);
  assert.equal(quantile(0.5, BOUNDS, new Array(15).fill(0)), null, 'no requests: a gap');
  const inf = new Array(15).fill(0);
  inf[14] = 3;
  assert.equal(quantile(0.99, BOUNDS, inf), 10, '+Inf answers the largest finite bound');
  assert.equal(countAtMost(0.5, BOUNDS, counts), 100);
  assert.equal(countAtMost(0.175, BOUNDS, counts), 75);
});

test('a window sums buckets before taking the quantile (never averages percentiles)', () => {
  const s = new LatencySeries(BOUNDS);
  // 99 fast requests in one second, 1 slow one in the next.
  s.observe(T0, [0, 99], 99, 99 * 0.004, 0);
  s.observe(T0 + 1000, [10, 1], 1, 2, 5);
  const w = s.window(T0 + 1000, 300_000);
  const sum = s.summarize(w, 300_000);
  assert.equal(sum.count, 100);
  assert.equal(sum.errors5xx, 1);
  // p50 of the merged buckets is in the first bucket; an average of the two seconds' p50s
  // would be over a second.
  assert.ok(sum.p50! <= 0.005);
  assert.ok(sum.p99! <= 0.005, 'rank 99 of 100 is still a fast request');
  // Apdex: 99 satisfied, the slow one failed (5xx) so frustrated: 0.99.
  assert.ok(Math.abs(sum.apdex! - 0.99) < 1e-9);
  const pts = s.points(T0 + 1000, 300_000);
  assert.equal(pts.t.length, 300);
  assert.equal(pts.rate.at(-1), 1);
  assert.equal(pts.rate.at(-2), 99);
  assert.equal(pts.p50.at(-3), null, 'a second with no data is a gap, not zero');
  assert.ok(pts.p99.at(-1)! > 1 && pts.p99.at(-1)! <= 2.5);
});

test('apdex: satisfied within T, tolerating within 4T, the rest frustrated', () => {
  const counts = new Array(15).fill(0);
  counts[7] = 2; // (0.25, 0.5]: satisfied at T = 0.5
  counts[10] = 2; // (1, 2.5]: 2 s is 4T; interpolated: (2-1)/(1.5) of them tolerate
  counts[14] = 1; // > 10 s
  const expected = (2 + (2 * (1 / 1.5)) / 2) / 5;
  assert.ok(Math.abs(apdex(0.5, BOUNDS, counts)! - expected) < 1e-12);
});

test('the minute ring keeps 24 h: a 1 h window sums minutes, 5 m sums seconds', () => {
  const s = new LatencySeries(BOUNDS);
  s.observe(T0, [1, 10], 10, 0.1, 0);
  s.observe(T0 + 30 * 60_000, [1, 5], 5, 0.05, 4);
  const now = T0 + 30 * 60_000;
  assert.equal(s.window(now, 300_000).count, 5);
  assert.equal(s.window(now, 3600_000).count, 15);
  assert.equal(s.window(now, 3600_000).e4xx, 5);
  assert.equal(s.window(T0 + 25 * 3600_000, 24 * 3600_000).count, 0, 'older than 24 h: gone');
});

function delta(families: TelemetryDelta['families']): TelemetryDelta {
  return { v: 1, time: T0, families, spans: [], droppedSpans: 0 };
}

const HTTP_META = {
  name: 'http_server_request_duration_seconds',
  kind: 'histogram' as const,
  help: '',
  unit: 'seconds',
  labels: ['http_request_method', 'http_route', 'http_response_status_code'],
  buckets: BOUNDS,
};

test('the history merges every worker per endpoint; statuses 4xx and 5xx apart', () => {
  const h = new ServiceHistory({}, T0);
  h.ingest(
    '1',
    delta([{ meta: HTTP_META, series: [[['GET', '/a', '200'], 3, 0.01, [0, 3]]] }]),
    T0,
  );
  h.ingest('2', delta([{ meta: HTTP_META, series: [[['GET', '/a', '500'], 1, 0.2, [6, 1]]] }]), T0);
  h.ingest(
    '2',
    delta([{ meta: HTTP_META, series: [[['POST', '/b', '404'], 2, 0.002, [0, 2]]] }]),
    T0 + 400,
  );
  const a = h.endpoints.get('GET /a')!.series;
  const s = a.summarize(a.window(T0 + 500, 300_000), 300_000);
  assert.deepEqual([s.count, s.errors5xx, s.errors4xx], [4, 1, 0]);
  const o = h.overview.summarize(h.overview.window(T0 + 500, 300_000), 300_000);
  assert.deepEqual([o.count, o.errors5xx, o.errors4xx], [6, 1, 2]);
  assert.equal(h.workers.get('1')!.latest.requests, 3);
  assert.equal(h.workers.get('2')!.latest.requests, 3);
});

test('memory: 200 routes × 8 workers stay within the stated bound', () => {
  const h = new ServiceHistory({}, T0);
  const routes = Array.from({ length: 200 }, (_, i) => `/r${i}/{id}`);
  // 15 minutes of seconds plus a day of minutes touched: every slot of every ring allocated.
  const seconds = 3;
  for (let t = 0; t < seconds; t++) {
    for (let w = 1; w <= 8; w++) {
      h.ingest(
        String(w),
        delta([
          {
            meta: HTTP_META,
            series: routes
              .map((r) => [['GET', r, '200'], 1, 0.01, [1, 1]] as const)
              .map((x) => [[...x[0]], x[1], x[2], [...x[3]]]),
          },
        ]),
        T0 + t * 1000,
      );
    }
  }
  assert.equal(h.endpoints.size, 200);
  const perEndpoint = h.endpoints.get('GET /r0/{id}')!.series.bytes;
  // slots × (4 B × (15 buckets + 5xx + 4xx) + 8 B × (sum, satisfied, tolerating) + 8 B step), for 900 + 1440 slots
  assert.equal(perEndpoint, (900 + 1440) * (4 * 17 + 8 * 3 + 8));
  const overview = (900 + 1440) * (4 * 18 + 8 * 4 + 8); // plus shed (u) and in-flight (f)
  const workers = 8 * 900 * (8 * 8 + 8);
  const bound = overview + 200 * perEndpoint + workers;
  console.log(`history for 200 routes × 8 workers: ${h.bytes} bytes (bound ${bound})`);
  assert.equal(h.bytes, bound);
  // The rings are allocated once; more seconds never grow them.
  const before = h.bytes;
  for (let w = 1; w <= 8; w++) h.ingest(String(w), delta([]), T0 + 3600_000);
  assert.equal(h.bytes, before);
});
