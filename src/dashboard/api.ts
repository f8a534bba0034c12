import type { ServerResponse } from 'node:http';
import type { MasterStats } from '../server/master/stats.ts';
import type { StoredTrace, TraceStore } from '../telemetry/master/trace-store.ts';
import type { WireSpan } from '../telemetry/wire.ts';
import { CACHE_FIELDS, type ServiceHistory, WORKER_FIELDS } from './history/history.ts';
import type { LatencySeries } from './history/latency-series.ts';

/** The windows the API answers for, in ms. */
export const WINDOWS: Readonly<Record<string, number>> = {
  '5m': 5 * 60_000,
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '6h': 6 * 3600_000,
  '24h': 24 * 3600_000,
};

/** What the API reads. */
export interface ApiSources {
  readonly history: ServiceHistory;
  readonly traces: TraceStore;
  stats(): MasterStats;
  /** Apdex threshold, seconds. */
  readonly apdexThreshold: number;
  /** The service's name (`OTEL_SERVICE_NAME`, else the app module). */
  readonly service: string;
  /** ms since the epoch (tests pass a clock). */
  now(): number;
}

/** Worker fields that count per second (a missing second is no count), not gauges. */
const COUNTED = new Set(['gcSeconds', 'cpuSeconds', 'requests']);

/**
 * Writes a JSON answer with fractions cut to 6 significant digits (quantiles come from bucket
 * interpolation and mean no more), and span times (ms since the epoch) to the microsecond: a
 * 15-minute chart's JSON halves. Whole numbers (counts, times since the epoch) are untouched.
 */
function sendJSON(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(
    body,
    (_k, v: unknown) =>
      typeof v !== 'number' || Number.isInteger(v) || !Number.isFinite(v)
        ? v
        : Math.abs(v) < 1e6
          ? Number(v.toPrecision(6))
          : Math.round(v * 1000) / 1000, // span times: ms since the epoch, to the µs
  );
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

/** A 4xx answer the API gives for bad input. */
class BadRequest extends Error {}

function problem(res: ServerResponse, status: number, title: string, detail: string): void {
  const text = JSON.stringify({ type: 'about:blank', title, status, detail });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

function windowOf(url: URL): [string, number] {
  const w = url.searchParams.get('window') ?? '15m';
  const ms = WINDOWS[w];
  if (ms === undefined) {
    throw new BadRequest(`window must be one of ${Object.keys(WINDOWS).join(', ')}`);
  }
  return [w, ms];
}

function intParam(url: URL, name: string, fallback: number, max: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new BadRequest(`${name} must be a whole number`);
  return Math.min(max, Number(raw));
}

/**
 * The dashboard's read-only JSON API (every panel reads only this, so another backend — the
 * many-service `peregrine apm` — can serve the same UI): `GET /api/{overview, endpoints,
 * endpoint, dependencies, workers, traces, traces/ID}` (the master serves `/api/events`).
 */
export class DashboardApi {
  readonly #src: ApiSources;

  constructor(sources: ApiSources) {
    this.#src = sources;
  }

  /** Answers one `/api/…` request. */
  handle(res: ServerResponse, url: URL): void {
    try {
      const path = url.pathname.slice('/api/'.length);
      if (path.startsWith('traces/')) {
        this.#trace(res, decodeURIComponent(path.slice(7)));
        return;
      }
      switch (path) {
        case 'overview': {
          sendJSON(res, 200, this.overview(url));
          return;
        }
        case 'endpoints': {
          sendJSON(res, 200, this.endpoints(url));
          return;
        }
        case 'endpoint': {
          this.#endpoint(res, url);
          return;
        }
        case 'dependencies': {
          sendJSON(res, 200, this.dependencies(url));
          return;
        }
        case 'workers': {
          sendJSON(res, 200, this.workers(url));
          return;
        }
        case 'traces': {
          sendJSON(res, 200, this.traces(url));
          return;
        }
        default: {
          problem(res, 404, 'Not Found', `No dashboard API at ${url.pathname}.`);
          return;
        }
      }
    } catch (err) {
      if (err instanceof BadRequest) {
        problem(res, 400, 'Bad Request', err.message);
        return;
      }
      throw err;
    }
  }

  /** The service over a window: totals and one point per step. */
  overview(url: URL): Record<string, unknown> {
    const [window, ms] = windowOf(url);
    const src = this.#src;
    const now = src.now();
    const h = src.history;
    const totals = h.overview.window(now, ms);
    const stats = src.stats();
    const points = h.overview.points(now, ms);
    return {
      service: src.service,
      window,
      now,
      since: h.startedAt,
      apdexThreshold: src.apdexThreshold,
      totals: {
        ...h.overview.summarize(totals, ms),
        shed: totals.extra[0] ?? 0,
        inflightMax: totals.extraMax[0] ?? 0,
      },
      inflight: stats.perWorker.reduce((n, w) => n + w.inflight, 0),
      generation: stats.generation,
      workers: stats.workers,
      points: {
        start: points.t[0] ?? now,
        stepMs: points.stepMs,
        rate: points.rate,
        e5xx: points.e5xx,
        e4xx: points.e4xx,
        p50: points.p50,
        p95: points.p95,
        p99: points.p99,
        shed: points.extra[0],
        inflight: points.extraMax[0],
      },
    };
  }

  /** One row per method + route over a window. */
  endpoints(url: URL): Record<string, unknown> {
    const [window, ms] = windowOf(url);
    const src = this.#src;
    const now = src.now();
    const total = src.history.overview.window(now, ms).sum;
    const rows = [];
    for (const e of src.history.endpoints.values()) {
      const s = e.series.summarize(e.series.window(now, ms), ms);
      if (s.count === 0) continue;
      rows.push({
        method: e.method,
        route: e.route,
        ...s,
        impact: total > 0 ? s.timeSpent / total : 0,
      });
    }
    rows.sort((a, b) => b.timeSpent - a.timeSpent);
    return { window, now, endpoints: rows };
  }

  /** One endpoint's charts and its slowest and failed traces. */
  #endpoint(res: ServerResponse, url: URL): void {
    const [window, ms] = windowOf(url);
    const method = url.searchParams.get('method') ?? '';
    const route = url.searchParams.get('route') ?? '';
    const e = this.#src.history.endpoints.get(`${method} ${route}`);
    if (e === undefined) {
      problem(res, 404, 'Not Found', 'No requests to this endpoint were recorded.');
      return;
    }
    const now = this.#src.now();
    const match = (t: StoredTrace) =>
      t.root?.attributes['http.route'] === route &&
      t.root?.attributes['http.request.method'] === method;
    sendJSON(res, 200, {
      window,
      now,
      method,
      route,
      totals: e.series.summarize(e.series.window(now, ms), ms),
      points: pointsOf(e.series, now, ms),
      slowest: this.#src.traces.slowest().filter(match).slice(0, 10).map(summary),
      failed: this.#src.traces.errors().filter(match).slice(0, 10).map(summary),
    });
  }

  /** Databases, caches and outbound peers over a window. */
  dependencies(url: URL): Record<string, unknown> {
    const [window, ms] = windowOf(url);
    const src = this.#src;
    const now = src.now();
    const requests = src.history.overview.window(now, ms).count;
    const db: Array<Record<string, unknown> & { timeSpent: number }> = [];
    const http: Array<Record<string, unknown> & { timeSpent: number }> = [];
    for (const d of src.history.dependencies.values()) {
      const s = d.series.summarize(d.series.window(now, ms), ms);
      if (s.count === 0) continue;
      const row = {
        name: d.name,
        ...d.labels,
        calls: s.count,
        rate: s.rate,
        errors: s.errors5xx,
        errorRate: s.errorRate5xx,
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        timeSpent: s.timeSpent,
        timePerRequest: requests > 0 ? s.timeSpent / requests : null,
      };
      (d.kind === 'db' ? db : http).push(row);
    }
    const caches = [];
    for (const c of src.history.caches.values()) {
      const ring = c.rings.ringFor(ms);
      const sums = new Array(CACHE_FIELDS.length).fill(0) as number[];
      const last = ring.step(now);
      const n = Math.min(ring.slots, Math.ceil(ms / ring.stepMs));
      for (let step = last - n + 1; step <= last; step++) {
        const s = ring.slotOf(step);
        if (s < 0) continue;
        for (let i = 0; i < sums.length; i++) sums[i]! += ring.u[s * ring.uWidth + i]!;
      }
      const [hit, stale, miss, negative, loads, errors] = sums as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const reads = hit + stale + miss + negative;
      if (reads + loads + errors === 0) continue;
      caches.push({
        name: c.name,
        reads,
        rate: reads / (ms / 1000),
        hits: hit,
        staleServes: stale,
        misses: miss,
        negativeHits: negative,
        loads,
        errors,
        hitRatio: reads > 0 ? (hit + stale + negative) / reads : null,
      });
    }
    const byTime = (a: { timeSpent: number }, b: { timeSpent: number }) =>
      b.timeSpent - a.timeSpent;
    return { window, now, requests, db: db.sort(byTime), http: http.sort(byTime), caches };
  }

  /** Live workers with their runtime now and over 15 minutes, and the master's state. */
  workers(url: URL): Record<string, unknown> {
    const src = this.#src;
    const now = src.now();
    const stats = src.stats();
    const seconds = Math.min(900, intParam(url, 'seconds', 300, 900));
    const rows = stats.perWorker.map((w) => {
      const h = src.history.workers.get(String(w.id));
      const series: Record<string, Array<number | null>> = {};
      const start = (Math.floor(now / 1000) - seconds + 1) * 1000;
      if (h !== undefined) {
        const last = h.ring.step(now);
        for (const f of WORKER_FIELDS) series[f] = [];
        let held = 0;
        for (let step = last - seconds + 1; step <= last; step++) {
          const s = h.ring.slotOf(step);
          // A worker reports once per interval, so a second may pass without its sample: a
          // gauge holds for up to 2 s; a longer silence is a gap.
          held = s < 0 ? held + 1 : 0;
          WORKER_FIELDS.forEach((f, i) => {
            const list = series[f]!;
            list.push(
              s >= 0
                ? h.ring.f[s * h.ring.fWidth + i]!
                : held <= 2 && !COUNTED.has(f)
                  ? (list.at(-1) ?? null)
                  : null,
            );
          });
        }
      }
      const latest = h?.latest;
      return {
        id: w.id,
        pid: w.pid,
        generation: w.generation,
        state: w.state,
        retiring: w.retiring,
        uptimeSeconds: Math.max(0, (now - w.spawnedAt) / 1000),
        requests: w.requests,
        connections: w.connections,
        inflight: w.inflight,
        rss: latest?.rss ?? w.rss,
        heapUsed: latest?.heapUsed ?? null,
        heapTotal: latest?.heapTotal ?? null,
        elu: latest?.elu ?? null,
        loopDelayP99: latest?.loopDelayP99 ?? null,
        gcSeconds: latest?.gcSeconds ?? null,
        cpuSeconds: latest?.cpuSeconds ?? null,
        points: { start, stepMs: 1000, series },
      };
    });
    return {
      now,
      master: {
        pid: process.pid,
        state: stats.state,
        generation: stats.generation,
        target: stats.target,
        uptimeSeconds: (now - stats.startedAt) / 1000,
        rss: process.memoryUsage.rss(),
        historyBytes: src.history.bytes,
        restarts: stats.restarts,
        reloads: stats.reloads,
        spawned: stats.spawned,
        shed: stats.shed,
      },
      workers: rows,
    };
  }

  /** Kept traces: recent, slowest or failed, filtered by route, status and duration. */
  traces(url: URL): Record<string, unknown> {
    const q = url.searchParams;
    const kind = q.get('kind') ?? 'recent';
    if (!['recent', 'slowest', 'failed', 'errors'].includes(kind)) {
      throw new BadRequest('kind must be recent, slowest or failed');
    }
    const limit = intParam(url, 'limit', 100, 1000);
    const minMs = Number(q.get('minDuration') ?? '0');
    if (!Number.isFinite(minMs) || minMs < 0) {
      throw new BadRequest('minDuration must be a number of ms');
    }
    const route = q.get('route') ?? '';
    const status = q.get('status') ?? '';
    if (status !== '' && !/^[1-5](\d\d|xx)$/.test(status)) {
      throw new BadRequest('status must be a code (404) or a class (5xx)');
    }
    const store = this.#src.traces;
    const all =
      kind === 'slowest'
        ? store.slowest()
        : kind === 'recent'
          ? store.recent(1000)
          : store.errors();
    const out = [];
    for (const t of all) {
      if (t.duration < minMs) continue;
      const a = t.root?.attributes ?? {};
      if (route !== '' && a['http.route'] !== route) continue;
      if (status !== '') {
        const code = String(a['http.response.status_code'] ?? '');
        if (status.endsWith('xx') ? code[0] !== status[0] : code !== status) continue;
      }
      out.push(summary(t));
      if (out.length >= limit) break;
    }
    return { kind: kind === 'errors' ? 'failed' : kind, traces: out };
  }

  #trace(res: ServerResponse, id: string): void {
    if (!/^[0-9a-f]{32}$/.test(id)) {
      problem(res, 400, 'Bad Request', 'A trace id is 32 lowercase hex digits.');
      return;
    }
    const t = this.#src.traces.get(id);
    if (t === undefined) {
      problem(res, 404, 'Not Found', `No kept trace ${id}.`);
      return;
    }
    sendJSON(res, 200, { ...summary(t), spans: [...t.spans].sort((a, b) => a.start - b.start) });
  }
}

function pointsOf(series: LatencySeries, now: number, ms: number): Record<string, unknown> {
  const p = series.points(now, ms);
  return {
    start: p.t[0] ?? now,
    stepMs: p.stepMs,
    rate: p.rate,
    e5xx: p.e5xx,
    e4xx: p.e4xx,
    p50: p.p50,
    p95: p.p95,
    p99: p.p99,
  };
}

/** A trace as lists show it. */
function summary(t: StoredTrace): Record<string, unknown> {
  const root: WireSpan | undefined = t.root;
  const a = root?.attributes ?? {};
  return {
    traceId: t.traceId,
    name: root?.name ?? '',
    method: a['http.request.method'] ?? null,
    route: a['http.route'] ?? null,
    status: a['http.response.status_code'] ?? null,
    duration: t.duration,
    error: t.error,
    time: t.time,
    spanCount: t.spans.length,
    kept: root?.kept ?? null,
  };
}
