/** The shapes `peregrine apm`'s query API answers with (docs/apm.md), and what a search takes. */
import type { Attrs } from './decode.ts';
import type { NodeKind } from './graph.ts';

/** A trace search. Times in ms since the epoch. */
export interface TraceQuery {
  service?: string;
  /** The span name. */
  operation?: string;
  /** The `http.route` attribute. */
  route?: string;
  status?: 'error' | 'ok' | 'unset';
  minDurationMs?: number;
  /** attribute key = value (string compare of the stored value). */
  attributes?: readonly (readonly [string, string])[];
  startMs?: number;
  endMs?: number;
  limit?: number;
  /**
   * The calls on one edge of the map: with `callee` a service, its server spans whose parent is
   * a span of `caller`; with `callee` a leaf (database, cache, external), `caller`'s client spans
   * that name that leaf. Both or neither.
   */
  caller?: string;
  callee?: string;
}

/** A trace found by a search. */
export interface TraceSummary {
  traceId: string;
  /** The root span's service and name (the earliest span's when the root is missing). */
  rootService: string;
  rootName: string;
  startMs: number;
  durationMs: number;
  spans: number;
  errors: number;
  services: string[];
}

/** A stored span as the API gives it. */
export interface StoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  service: string;
  name: string;
  kind: string;
  startMs: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage: string;
  attributes: Attrs;
  resource: Attrs;
  scope: string;
  events: { timeMs: number; name: string; attributes: Attrs }[];
}

/** A service of `/api/services`. */
export interface ServiceSummary {
  service: string;
  lastSeenMs: number;
  /** Server spans in the window. */
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p95Ms: number | null;
  health: MapNode['health'];
}

/** A node of the map. */
export interface MapNode {
  id: string;
  kind: NodeKind;
  /** Server spans (for services) or calls into it (for leaves) in the window. */
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p95Ms: number | null;
  health: 'ok' | 'warning' | 'critical' | 'idle';
}

/** An edge of the map. */
export interface MapEdge {
  source: string;
  target: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  health: 'ok' | 'warning' | 'critical' | 'idle';
}

/** One operation (server span name) of a service over a window. */
export interface OperationRow {
  operation: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
}

/** A service's page (`GET /api/service`): totals, per-minute points, operations, neighbours. */
export interface ServiceDetail {
  service: string;
  /** A service, or a leaf (database, cache, external host): then the totals are the calls into it. */
  kind: NodeKind;
  windowSeconds: number;
  /** Last span stored for it (ms), null when none is stored. */
  lastSeenMs: number | null;
  totals: OperationRow & { health: MapNode['health'] };
  /** One point per minute from `start` (ms since the epoch), oldest first. */
  points: {
    start: number;
    stepMs: number;
    callsPerSecond: (number | null)[];
    errorsPerSecond: (number | null)[];
    errorRate: (number | null)[];
    p50Ms: (number | null)[];
    p95Ms: (number | null)[];
    p99Ms: (number | null)[];
  };
  /** Busiest first. */
  operations: OperationRow[];
  /** Edges into it, with the caller node's kind and health. */
  callers: (MapEdge & { kind: NodeKind; nodeHealth: MapNode['health'] })[];
  /** Edges out of it, with the callee node's kind and health. */
  callees: (MapEdge & { kind: NodeKind; nodeHealth: MapNode['health'] })[];
}
