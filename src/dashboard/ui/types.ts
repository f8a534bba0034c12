/** The JSON the dashboard API answers (see src/dashboard/api.ts); the UI reads nothing else. */

export type Maybe = number | null;

export interface Summary {
  count: number;
  rate: number;
  errors5xx: number;
  errors4xx: number;
  errorRate5xx: Maybe;
  errorRate4xx: Maybe;
  p50: Maybe;
  p95: Maybe;
  p99: Maybe;
  mean: Maybe;
  timeSpent: number;
  apdex: Maybe;
}

export interface Points {
  /** The first point's time (ms since the epoch); one point per `stepMs` after it. */
  start: number;
  stepMs: number;
  rate: Maybe[];
  e5xx: Maybe[];
  e4xx: Maybe[];
  p50: Maybe[];
  p95: Maybe[];
  p99: Maybe[];
  shed?: Maybe[];
  inflight?: Maybe[];
}

export interface Overview {
  service: string;
  window: string;
  now: number;
  apdexThreshold: number;
  totals: Summary & { shed: number; inflightMax: number };
  inflight: number;
  generation: number;
  workers: Record<string, number>;
  points: Points;
}

export interface EndpointRow extends Summary {
  method: string;
  route: string;
  impact: number;
}

export interface TraceSummary {
  traceId: string;
  name: string;
  method: string | null;
  route: string | null;
  status: number | null;
  duration: number;
  error: boolean;
  time: number;
  spanCount: number;
  kept: string | null;
}

export interface Endpoint {
  method: string;
  route: string;
  totals: Summary;
  points: Points;
  slowest: TraceSummary[];
  failed: TraceSummary[];
}

export interface DependencyRow {
  name: string;
  calls: number;
  rate: number;
  errors: number;
  errorRate: Maybe;
  p50: Maybe;
  p95: Maybe;
  p99: Maybe;
  timeSpent: number;
  timePerRequest: Maybe;
  points: Points;
}

export interface CacheRow {
  name: string;
  reads: number;
  rate: number;
  hits: number;
  staleServes: number;
  misses: number;
  negativeHits: number;
  loads: number;
  errors: number;
  hitRatio: Maybe;
}

export interface Dependencies {
  requests: number;
  db: DependencyRow[];
  http: DependencyRow[];
  caches: CacheRow[];
}

export interface WorkerRow {
  id: number;
  pid: number;
  generation: number;
  state: string;
  retiring: string | null;
  uptimeSeconds: number;
  requests: number;
  connections: number;
  inflight: number;
  rss: number;
  heapUsed: Maybe;
  heapTotal: Maybe;
  elu: Maybe;
  loopDelayP99: Maybe;
  gcSeconds: Maybe;
  cpuSeconds: Maybe;
  points: { start: number; stepMs: number; series: Record<string, Maybe[]> };
}

export interface Workers {
  master: {
    pid: number;
    state: string;
    generation: number;
    target: number;
    uptimeSeconds: number;
    rss: number;
    historyBytes: number;
    restarts: Record<string, number>;
    reloads: { started: number; succeeded: number; failed: number };
    spawned: number;
    shed: number;
  };
  workers: WorkerRow[];
}

/** One of the master's events (`GET /api/events`, oldest first). */
export interface MasterEvent {
  seq: number;
  at: number;
  type: string;
  message: string;
  fields: Record<string, unknown>;
}

export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  start: number;
  end: number;
  attributes: Record<string, AttributeValue>;
  statusCode: number;
  statusMessage: string;
  events: Array<{ name: string; time: number; attributes: Record<string, AttributeValue> }>;
  scope: string;
  kept: string;
}

export interface Trace extends TraceSummary {
  spans: Span[];
}
