import type {
  FamilyDelta,
  HistogramDelta,
  ScalarDelta,
  TelemetryDelta,
} from '../../telemetry/wire.ts';
import { LatencySeries } from './latency-series.ts';
import { Ring, type RingSizes, Rings } from './ring.ts';

/** The bucket bounds the overview uses until the first delta says otherwise. */
const DEFAULT_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

/** Limits of the history. */
export interface HistoryOptions {
  /** Most endpoints (method + route) kept; more go into one `_OTHER` row (default 500). */
  maxEndpoints?: number;
  /** Most dependencies of each kind (default 200). */
  maxDependencies?: number;
  /** Ring lengths (tests shorten them). */
  sizes?: RingSizes;
  /** Apdex threshold T, seconds (default 0.5). */
  apdexThreshold?: number;
}

/** One endpoint's history. */
export interface EndpointHistory {
  readonly method: string;
  readonly route: string;
  readonly series: LatencySeries;
}

/** One dependency's history: a database operation or an outbound peer. */
export interface DependencyHistory {
  readonly kind: 'db' | 'http';
  /** `postgresql SELECT app` or `api.example.com:443`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly series: LatencySeries;
}

/** Cache counters, in slot order. */
export const CACHE_FIELDS = ['hit', 'stale', 'miss', 'negative', 'loads', 'errors'] as const;

/** One cache's history. */
export interface CacheHistory {
  readonly name: string;
  readonly rings: Rings;
}

/** Per-worker runtime gauges, in slot order. */
export const WORKER_FIELDS = [
  'elu',
  'loopDelayP99',
  'heapUsed',
  'heapTotal',
  'rss',
  'gcSeconds',
  'cpuSeconds',
  'requests',
] as const;
type WorkerField = (typeof WORKER_FIELDS)[number];

/** One worker's runtime history (15 minutes of seconds) and its latest values. */
export interface WorkerHistory {
  readonly id: string;
  readonly ring: Ring;
  readonly latest: Record<WorkerField, number | null>;
  lastSeen: number;
}

const GAUGES: Record<string, WorkerField> = {
  nodejs_eventloop_utilization: 'elu',
  nodejs_eventloop_delay_p99_seconds: 'loopDelayP99',
  nodejs_heap_used_bytes: 'heapUsed',
  nodejs_heap_total_bytes: 'heapTotal',
  process_resident_memory_bytes: 'rss',
};

function statusClass(status: string | undefined): 0 | 4 | 5 {
  const c = status?.charCodeAt(0);
  return c === 53 ? 5 : c === 52 ? 4 : 0;
}

/**
 * The dashboard's history in the master, fed by the deltas the master already merges (workers do
 * no extra work for it): the service, each endpoint, each dependency and cache, each worker, as
 * 1-second points for 15 minutes and 1-minute points for 24 hours, in memory fixed per series.
 * It survives worker restarts and reloads (it lives in the master), not a master restart.
 */
export class ServiceHistory {
  /** The whole service; extras: shed requests (counter), in-flight (gauge, max per step). */
  overview: LatencySeries;
  readonly endpoints = new Map<string, EndpointHistory>();
  readonly dependencies = new Map<string, DependencyHistory>();
  readonly caches = new Map<string, CacheHistory>();
  readonly workers = new Map<string, WorkerHistory>();
  readonly #options: Required<Omit<HistoryOptions, 'sizes'>> & { sizes: RingSizes };
  readonly #t: number;
  #bounds: readonly number[] = DEFAULT_BOUNDS;
  /** When the history began (windows reaching before it are partly gaps). */
  readonly startedAt: number;

  constructor(options: HistoryOptions = {}, now = Date.now()) {
    this.#options = {
      maxEndpoints: options.maxEndpoints ?? 500,
      maxDependencies: options.maxDependencies ?? 200,
      sizes: options.sizes ?? {},
      apdexThreshold: options.apdexThreshold ?? 0.5,
    };
    this.#t = this.#options.apdexThreshold;
    this.overview = this.#series(this.#bounds, 1, 1);
    this.startedAt = now;
  }

  /** Bytes held by every ring. */
  get bytes(): number {
    let n = this.overview.bytes;
    for (const e of this.endpoints.values()) n += e.series.bytes;
    for (const d of this.dependencies.values()) n += d.series.bytes;
    for (const c of this.caches.values()) n += c.rings.bytes;
    for (const w of this.workers.values()) n += w.ring.bytes;
    return n;
  }

  /** Takes one worker's delta (as it arrives in the master). */
  ingest(worker: string, delta: TelemetryDelta, now = Date.now()): void {
    if (delta?.v !== 1 || !Array.isArray(delta.families)) return;
    // Binned by when the worker cut the delta (same machine, same clock), not when it arrived: a
    // busy master that reads three deltas at once must not draw three seconds as one spike.
    const cut = delta.time;
    if (typeof cut === 'number' && cut <= now + 1000 && cut > now - 60_000) now = cut;
    this.overview.touch(now);
    const w = this.#worker(worker, now);
    for (const fam of delta.families) this.#family(fam, w, now);
  }

  /** Once a second from the master: shed requests since the last call, requests in flight. */
  sample(now: number, shed: number, inflight: number): void {
    this.overview.touch(now);
    if (shed > 0) this.overview.addExtra(now, 0, shed);
    this.overview.maxExtra(now, 0, inflight);
  }

  /** Forgets workers gone for longer than the seconds ring covers. */
  prune(live: ReadonlySet<string>, now: number): void {
    for (const [id, w] of this.workers) {
      if (live.has(id)) w.lastSeen = now;
      else if (now - w.lastSeen > w.ring.slots * 1000) this.workers.delete(id);
    }
  }

  #worker(id: string, now: number): WorkerHistory {
    let w = this.workers.get(id);
    if (w === undefined) {
      w = {
        id,
        ring: new Ring(this.#options.sizes.seconds ?? 900, 1000, 0, WORKER_FIELDS.length),
        latest: Object.fromEntries(WORKER_FIELDS.map((f) => [f, null])) as WorkerHistory['latest'],
        lastSeen: now,
      };
      this.workers.set(id, w);
    }
    w.lastSeen = now;
    w.ring.slotFor(w.ring.step(now));
    return w;
  }

  #setWorker(w: WorkerHistory, field: WorkerField, now: number, value: number, add: boolean): void {
    const s = w.ring.slotFor(w.ring.step(now));
    if (s < 0) return;
    const k = s * w.ring.fWidth + WORKER_FIELDS.indexOf(field);
    if (add) {
      w.ring.f[k]! += value;
      w.latest[field] = (w.latest[field] ?? 0) + value;
    } else {
      w.ring.f[k] = value;
      w.latest[field] = value;
    }
  }

  #family(fam: FamilyDelta, w: WorkerHistory, now: number): void {
    const name = fam.meta?.name;
    switch (name) {
      case 'http_server_request_duration_seconds': {
        const bounds = fam.meta.buckets ?? DEFAULT_BOUNDS;
        if (!sameBounds(bounds, this.#bounds)) this.#rebound(bounds, now);
        let requests = 0;
        for (const s of fam.series as HistogramDelta[]) {
          const [labels, count, sum, buckets] = s;
          if (!Array.isArray(labels) || !Array.isArray(buckets)) continue;
          const cls = statusClass(labels[2]);
          this.overview.observe(now, buckets, count, sum, cls);
          this.#endpoint(labels[0] ?? '', labels[1] ?? '')?.series.observe(
            now,
            buckets,
            count,
            sum,
            cls,
          );
          requests += count;
        }
        this.#setWorker(w, 'requests', now, requests, true);
        return;
      }
      case 'db_client_operation_duration_seconds': {
        const labels = fam.meta.labels;
        for (const s of fam.series as HistogramDelta[]) {
          const l = labelMap(labels, s[0]);
          const key = [l.db_system_name, l.db_operation_name, l.db_namespace].filter(Boolean);
          const d = this.#dependency('db', key.join(' '), fam.meta.buckets, {
            system: l.db_system_name ?? '',
            operation: l.db_operation_name ?? '',
            namespace: l.db_namespace ?? '',
          });
          d?.series.observe(now, s[3], s[1], s[2], l.error_type ? 5 : 0);
        }
        return;
      }
      case 'http_client_request_duration_seconds': {
        const labels = fam.meta.labels;
        for (const s of fam.series as HistogramDelta[]) {
          const l = labelMap(labels, s[0]);
          const peer =
            l.service_peer_name ||
            `${l.server_address ?? ''}${l.server_port ? `:${l.server_port}` : ''}`;
          const d = this.#dependency('http', peer, fam.meta.buckets, { peer });
          const failed = !!l.error_type || statusClass(l.http_response_status_code) === 5;
          d?.series.observe(now, s[3], s[1], s[2], failed ? 5 : 0);
        }
        return;
      }
      case 'peregrine_cache_requests':
      case 'peregrine_cache_loads':
      case 'peregrine_cache_errors': {
        for (const [labels, value] of fam.series as ScalarDelta[]) {
          const c = this.#cache(labels[0] ?? '');
          if (c === undefined || !(value > 0)) continue;
          const field =
            name === 'peregrine_cache_loads'
              ? 'loads'
              : name === 'peregrine_cache_errors'
                ? 'errors'
                : labels[1];
          const i = CACHE_FIELDS.indexOf(field as (typeof CACHE_FIELDS)[number]);
          if (i >= 0) c.rings.addU(now, i, value);
        }
        return;
      }
      case 'nodejs_gc_duration_seconds': {
        let seconds = 0;
        for (const s of fam.series as HistogramDelta[]) seconds += s[2];
        this.#setWorker(w, 'gcSeconds', now, seconds, true);
        return;
      }
      case 'process_cpu_seconds': {
        let seconds = 0;
        for (const [, v] of fam.series as ScalarDelta[]) seconds += v;
        this.#setWorker(w, 'cpuSeconds', now, seconds, true);
        return;
      }
      default: {
        const field = GAUGES[name];
        if (field === undefined) return;
        const s = (fam.series as ScalarDelta[])[0];
        if (s !== undefined) this.#setWorker(w, field, now, s[1], false);
      }
    }
  }

  /** A histogram with other bounds than before: the overview starts again on them. */
  #rebound(bounds: readonly number[], _now: number): void {
    this.#bounds = [...bounds];
    this.overview = this.#series(this.#bounds, 1, 1);
    this.endpoints.clear();
  }

  #series(bounds: readonly number[], extra = 0, extraMax = 0): LatencySeries {
    return new LatencySeries(bounds, extra, extraMax, this.#options.sizes, this.#t);
  }

  #endpoint(method: string, route: string): EndpointHistory | undefined {
    const key = `${method} ${route}`;
    let e = this.endpoints.get(key);
    if (e !== undefined) return e;
    if (this.endpoints.size >= this.#options.maxEndpoints) {
      return this.#endpoint('_OTHER', '_OTHER');
    }
    e = { method, route, series: this.#series(this.#bounds) };
    this.endpoints.set(key, e);
    return e;
  }

  #dependency(
    kind: 'db' | 'http',
    name: string,
    bounds: readonly number[] | undefined,
    labels: Record<string, string>,
  ): DependencyHistory | undefined {
    const key = `${kind} ${name}`;
    let d = this.dependencies.get(key);
    if (d !== undefined) return d;
    if (this.dependencies.size >= this.#options.maxDependencies * 2) return undefined;
    d = {
      kind,
      name,
      labels,
      series: this.#series(bounds ?? DEFAULT_BOUNDS),
    };
    this.dependencies.set(key, d);
    return d;
  }

  #cache(name: string): CacheHistory | undefined {
    let c = this.caches.get(name);
    if (c !== undefined) return c;
    if (this.caches.size >= this.#options.maxDependencies) return undefined;
    c = { name, rings: new Rings(CACHE_FIELDS.length, 0, this.#options.sizes) };
    this.caches.set(name, c);
    return c;
  }
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function labelMap(names: readonly string[], values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  names.forEach((n, i) => {
    out[n] = values[i] ?? '';
  });
  return out;
}
