/** The JSON `peregrine apm`'s API answers (docs/apm.md; src/apm/query-types.ts); the pages read nothing else. */

export type Health = 'ok' | 'warning' | 'critical' | 'idle';
export type NodeKind = 'service' | 'database' | 'cache' | 'external';
export type Ms = number | null;

export interface MapNode {
  id: string;
  kind: NodeKind;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p95Ms: Ms;
  health: Health;
}

export interface MapEdge {
  source: string;
  target: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p50Ms: Ms;
  p95Ms: Ms;
  health: Health;
}

export interface ServiceMap {
  windowSeconds: number;
  nodes: MapNode[];
  edges: MapEdge[];
}

export interface ServiceSummary {
  service: string;
  lastSeenMs: number;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p95Ms: Ms;
  health: Health;
}

export interface OperationRow {
  operation: string;
  calls: number;
  errors: number;
  callsPerSecond: number;
  errorRate: number;
  p50Ms: Ms;
  p95Ms: Ms;
  p99Ms: Ms;
}

export type Neighbour = MapEdge & { kind: NodeKind; nodeHealth: Health };

export interface ServiceDetail {
  service: string;
  kind: NodeKind;
  windowSeconds: number;
  lastSeenMs: number | null;
  totals: OperationRow & { health: Health };
  points: {
    start: number;
    stepMs: number;
    callsPerSecond: Ms[];
    errorsPerSecond: Ms[];
    errorRate: Ms[];
    p50Ms: Ms[];
    p95Ms: Ms[];
    p99Ms: Ms[];
  };
  operations: OperationRow[];
  callers: Neighbour[];
  callees: Neighbour[];
}

export interface TraceSummary {
  traceId: string;
  rootService: string;
  rootName: string;
  startMs: number;
  durationMs: number;
  spans: number;
  errors: number;
  services: string[];
}

export type AttributeValue = string | number | boolean | string[] | number[] | boolean[];

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
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  scope: string;
  events: { timeMs: number; name: string; attributes: Record<string, AttributeValue> }[];
}

export interface TraceDoc {
  traceId: string;
  spans: StoredSpan[];
}
