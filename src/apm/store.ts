/**
 * The APM's embedded store: SQLite (better-sqlite3) in WAL mode. Spans, metric points, and the
 * service graph's per-minute aggregates (edges and nodes) built at ingest. Each write batch is one
 * transaction, so a request is stored whole or not at all. Retention by age and by size.
 */
import Database from 'better-sqlite3';
import type { Attrs, AttrValue, MetricPoint, SpanRecord } from './decode.ts';
import {
  BOUNDS_MS,
  bucketOf,
  type EdgeCall,
  leafOf,
  type NodeCall,
  type NodeKind,
  quantileMs,
} from './graph.ts';
import type {
  MapEdge,
  MapNode,
  OperationRow,
  ServiceDetail,
  ServiceSummary,
  StoredSpan,
  TraceQuery,
  TraceSummary,
} from './query-types.ts';

/** Options of the store. */
export interface StoreOptions {
  /** The database file (`:memory:` for none). */
  path: string;
  /** Spans and points older than this are deleted (ms). */
  retentionMs: number;
  /** When the live data passes this size, the oldest spans are deleted (bytes). */
  retentionBytes: number;
}

/** Distinct operations kept per service in `op_minutes`; more count as OTHER_OPERATION. */
export const MAX_OPERATIONS = 500;
/** Where a service's operations past MAX_OPERATIONS are counted. */
export const OTHER_OPERATION = '(other operations)';

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'] as const;

/** The leaf a client span's attributes name (graph.ts's rule), or undefined. */
function leafNameOf(attributes: Attrs): string | undefined {
  return leafOf({ attributes } as SpanRecord)?.name;
}

function health(calls: number, errorRate: number): MapEdge['health'] {
  if (calls === 0) return 'idle';
  if (errorRate >= 0.05) return 'critical';
  if (errorRate > 0) return 'warning';
  return 'ok';
}

interface Agg {
  calls: number;
  errors: number;
  hist: number[];
  kind: string;
}

function newHist(): number[] {
  return new Array<number>(BOUNDS_MS.length + 1).fill(0);
}

/** A minute row as stored: its counts and its histogram as JSON. */
interface StoredMinute {
  calls: number;
  errors: number;
  hist: string;
}

/** Adds what a minute row already holds to this flush's counts for the same minute and key. */
function addStored(
  a: { calls: number; errors: number; hist: number[] },
  old: StoredMinute | undefined,
): void {
  if (old === undefined) return;
  a.calls += old.calls;
  a.errors += old.errors;
  merge(a.hist, JSON.parse(old.hist) as number[]);
}

function merge(into: number[], from: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0;
}

/** The store. */
export class ApmStore {
  readonly db: Database.Database;
  readonly #options: StoreOptions;
  readonly #resourceIds = new Map<string, number>();
  readonly #insertSpan: Database.Statement;
  readonly #insertResource: Database.Statement;
  readonly #findResource: Database.Statement;
  readonly #insertPoint: Database.Statement;
  readonly #getEdge: Database.Statement;
  readonly #putEdge: Database.Statement;
  readonly #getNode: Database.Statement;
  readonly #putNode: Database.Statement;
  readonly #getOp: Database.Statement;
  readonly #putOp: Database.Statement;
  /**
   * Operation names this process has counted, per service: past MAX_OPERATIONS a service's new
   * names count as OTHER_OPERATION (a span name carrying ids must not grow op_minutes unbounded).
   */
  readonly #operations = new Map<string, Set<string>>();
  readonly #write: (
    spans: readonly SpanRecord[][],
    points: readonly MetricPoint[][],
    edges: readonly EdgeCall[],
    nodes: readonly NodeCall[],
  ) => void;

  constructor(options: StoreOptions) {
    this.#options = options;
    this.db = new Database(options.path);
    const db = this.db;
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`
      CREATE TABLE IF NOT EXISTS resources (
        id INTEGER PRIMARY KEY, service TEXT NOT NULL, attrs TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS spans (
        id INTEGER PRIMARY KEY,
        trace_id BLOB NOT NULL, span_id BLOB NOT NULL, parent_id BLOB,
        service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
        start_us INTEGER NOT NULL, duration_us INTEGER NOT NULL, status INTEGER NOT NULL,
        resource_id INTEGER NOT NULL, attrs TEXT NOT NULL, extra TEXT);
      CREATE INDEX IF NOT EXISTS spans_trace ON spans (trace_id);
      -- Covering for a service's search on time, duration and status: such a scan never reads
      -- the table, only this index.
      CREATE INDEX IF NOT EXISTS spans_service_scan
        ON spans (service, start_us, duration_us, status, trace_id);
      CREATE INDEX IF NOT EXISTS spans_time ON spans (start_us);
      CREATE TABLE IF NOT EXISTS metric_points (
        id INTEGER PRIMARY KEY, service TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
        unit TEXT NOT NULL, time_us INTEGER NOT NULL, attrs TEXT NOT NULL, value TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS metric_points_name ON metric_points (service, name, time_us);
      CREATE TABLE IF NOT EXISTS edge_minutes (
        minute INTEGER NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, kind TEXT NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, hist TEXT NOT NULL,
        PRIMARY KEY (minute, source, target)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS node_minutes (
        minute INTEGER NOT NULL, node TEXT NOT NULL, kind TEXT NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, hist TEXT NOT NULL,
        PRIMARY KEY (minute, node)) WITHOUT ROWID;
      -- Per minute × service × operation (server span name): a service page's top operations.
      CREATE TABLE IF NOT EXISTS op_minutes (
        minute INTEGER NOT NULL, service TEXT NOT NULL, operation TEXT NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, hist TEXT NOT NULL,
        PRIMARY KEY (minute, service, operation)) WITHOUT ROWID;
    `);
    this.#insertSpan = db.prepare(
      `INSERT INTO spans (trace_id, span_id, parent_id, service, name, kind, start_us, duration_us,
        status, resource_id, attrs, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#insertResource = db.prepare('INSERT INTO resources (service, attrs) VALUES (?, ?)');
    this.#findResource = db.prepare('SELECT id FROM resources WHERE attrs = ?').pluck();
    this.#insertPoint = db.prepare(
      `INSERT INTO metric_points (service, name, type, unit, time_us, attrs, value)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#getEdge = db.prepare(
      'SELECT calls, errors, hist FROM edge_minutes WHERE minute = ? AND source = ? AND target = ?',
    );
    this.#putEdge = db.prepare(
      `INSERT OR REPLACE INTO edge_minutes (minute, source, target, kind, calls, errors, hist)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    this.#getNode = db.prepare(
      'SELECT calls, errors, hist FROM node_minutes WHERE minute = ? AND node = ?',
    );
    this.#putNode = db.prepare(
      `INSERT OR REPLACE INTO node_minutes (minute, node, kind, calls, errors, hist)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#getOp = db.prepare(
      'SELECT calls, errors, hist FROM op_minutes WHERE minute = ? AND service = ? AND operation = ?',
    );
    this.#putOp = db.prepare(
      `INSERT OR REPLACE INTO op_minutes (minute, service, operation, calls, errors, hist)
       VALUES (?, ?, ?, ?, ?, ?)`,
    );
    this.#write = db.transaction((spans, points, edges, nodes) => {
      for (const batch of spans) for (const s of batch) this.#span(s);
      for (const batch of points) for (const p of batch) this.#point(p);
      this.#aggregate(edges, nodes);
    });
  }

  /** Stores batches (each one request) and graph calls in one transaction. */
  write(
    spans: readonly SpanRecord[][],
    points: readonly MetricPoint[][] = [],
    edges: readonly EdgeCall[] = [],
    nodes: readonly NodeCall[] = [],
  ): void {
    this.#write(spans, points, edges, nodes);
  }

  #resource(span: SpanRecord): number {
    const key = JSON.stringify(span.resource);
    let id = this.#resourceIds.get(key);
    if (id === undefined) {
      id = this.#findResource.get(key) as number | undefined;
      if (id === undefined)
        id = Number(this.#insertResource.run(span.service, key).lastInsertRowid);
      if (this.#resourceIds.size > 10_000) this.#resourceIds.clear();
      this.#resourceIds.set(key, id);
    }
    return id;
  }

  #span(s: SpanRecord): void {
    const extra =
      s.events.length > 0 || s.statusMessage !== '' || s.scope !== ''
        ? JSON.stringify({
            m: s.statusMessage || undefined,
            s: s.scope || undefined,
            e: s.events.length > 0 ? s.events : undefined,
          })
        : null;
    this.#insertSpan.run(
      Buffer.from(s.traceId, 'hex'),
      Buffer.from(s.spanId, 'hex'),
      s.parentId === '' ? null : Buffer.from(s.parentId, 'hex'),
      s.service,
      s.name,
      s.kind,
      s.startUs,
      s.durationUs,
      s.status,
      this.#resource(s),
      JSON.stringify(s.attributes),
      extra,
    );
  }

  #point(p: MetricPoint): void {
    this.#insertPoint.run(
      p.service,
      p.name,
      p.type,
      p.unit,
      p.timeUs,
      JSON.stringify(p.attributes),
      JSON.stringify(p.value),
    );
  }

  #aggregate(edges: readonly EdgeCall[], nodes: readonly NodeCall[]): void {
    const edgeAgg = new Map<string, Agg & { minute: number; source: string; target: string }>();
    const nodeAgg = new Map<string, Agg & { minute: number; node: string }>();
    const add = (a: Agg, durationUs: number, failed: boolean) => {
      a.calls++;
      if (failed) a.errors++;
      a.hist[bucketOf(durationUs)]!++;
    };
    for (const e of edges) {
      const minute = Math.floor(e.startUs / 60_000_000);
      const key = `${minute}\u0000${e.source}\u0000${e.target}`;
      let a = edgeAgg.get(key);
      if (a === undefined) {
        a = {
          minute,
          source: e.source,
          target: e.target,
          calls: 0,
          errors: 0,
          hist: newHist(),
          kind: e.targetKind,
        };
        edgeAgg.set(key, a);
      }
      add(a, e.durationUs, e.failed);
    }
    // A leaf's node row counts the calls into it.
    const leafCalls: (NodeCall & { kind: string })[] = edges
      .filter((e) => e.targetKind !== 'service')
      .map((e) => ({
        service: e.target,
        operation: '',
        startUs: e.startUs,
        durationUs: e.durationUs,
        failed: e.failed,
        kind: e.targetKind,
      }));
    for (const n of [...nodes.map((n) => ({ ...n, kind: 'service' })), ...leafCalls]) {
      const minute = Math.floor(n.startUs / 60_000_000);
      const key = `${minute}\u0000${n.service}`;
      let a = nodeAgg.get(key);
      if (a === undefined) {
        a = { minute, node: n.service, calls: 0, errors: 0, hist: newHist(), kind: n.kind };
        nodeAgg.set(key, a);
      }
      add(a, n.durationUs, n.failed);
    }
    const opAgg = new Map<string, Agg & { minute: number; service: string; operation: string }>();
    for (const n of nodes) {
      const minute = Math.floor(n.startUs / 60_000_000);
      const operation = this.#operation(n.service, n.operation);
      const key = `${minute}\u0000${n.service}\u0000${operation}`;
      let a = opAgg.get(key);
      if (a === undefined) {
        a = {
          minute,
          service: n.service,
          operation,
          calls: 0,
          errors: 0,
          hist: newHist(),
          kind: 'service',
        };
        opAgg.set(key, a);
      }
      add(a, n.durationUs, n.failed);
    }
    for (const a of opAgg.values()) {
      addStored(a, this.#getOp.get(a.minute, a.service, a.operation) as StoredMinute | undefined);
      this.#putOp.run(a.minute, a.service, a.operation, a.calls, a.errors, JSON.stringify(a.hist));
    }
    for (const a of edgeAgg.values()) {
      addStored(a, this.#getEdge.get(a.minute, a.source, a.target) as StoredMinute | undefined);
      this.#putEdge.run(
        a.minute,
        a.source,
        a.target,
        a.kind,
        a.calls,
        a.errors,
        JSON.stringify(a.hist),
      );
    }
    for (const a of nodeAgg.values()) {
      addStored(a, this.#getNode.get(a.minute, a.node) as StoredMinute | undefined);
      this.#putNode.run(a.minute, a.node, a.kind, a.calls, a.errors, JSON.stringify(a.hist));
    }
  }

  /** The operation a server span counts under: its name, or OTHER_OPERATION past the bound. */
  #operation(service: string, name: string): string {
    let seen = this.#operations.get(service);
    if (seen === undefined) {
      if (this.#operations.size >= 10_000) this.#operations.clear();
      seen = new Set();
      this.#operations.set(service, seen);
    }
    if (seen.has(name)) return name;
    if (seen.size >= MAX_OPERATIONS) return OTHER_OPERATION;
    seen.add(name);
    return name;
  }

  /** The map over the window ending now. */
  map(
    windowMs: number,
    nowMs = Date.now(),
  ): { nodes: MapNode[]; edges: MapEdge[]; windowSeconds: number } {
    const from = Math.floor((nowMs - windowMs) / 60_000);
    const seconds = windowMs / 1000;
    const edges = new Map<string, Agg & { source: string; target: string }>();
    for (const row of this.db
      .prepare(
        'SELECT source, target, kind, calls, errors, hist FROM edge_minutes WHERE minute >= ?',
      )
      .all(from) as {
      source: string;
      target: string;
      kind: string;
      calls: number;
      errors: number;
      hist: string;
    }[]) {
      const key = `${row.source}\u0000${row.target}`;
      let a = edges.get(key);
      if (a === undefined) {
        a = {
          source: row.source,
          target: row.target,
          calls: 0,
          errors: 0,
          hist: newHist(),
          kind: row.kind,
        };
        edges.set(key, a);
      }
      a.calls += row.calls;
      a.errors += row.errors;
      merge(a.hist, JSON.parse(row.hist) as number[]);
    }
    const nodes = new Map<string, Agg>();
    for (const row of this.db
      .prepare('SELECT node, kind, calls, errors, hist FROM node_minutes WHERE minute >= ?')
      .all(from) as { node: string; kind: string; calls: number; errors: number; hist: string }[]) {
      let a = nodes.get(row.node);
      if (a === undefined) {
        a = { calls: 0, errors: 0, hist: newHist(), kind: row.kind };
        nodes.set(row.node, a);
      }
      a.calls += row.calls;
      a.errors += row.errors;
      merge(a.hist, JSON.parse(row.hist) as number[]);
    }
    // Services seen in the window without server spans (pure clients) are nodes too.
    for (const e of edges.values()) {
      if (!nodes.has(e.source))
        nodes.set(e.source, { calls: 0, errors: 0, hist: newHist(), kind: 'service' });
      if (!nodes.has(e.target))
        nodes.set(e.target, { calls: 0, errors: 0, hist: newHist(), kind: e.kind });
    }
    const rate = (a: Agg) => (a.calls === 0 ? 0 : a.errors / a.calls);
    return {
      windowSeconds: seconds,
      nodes: [...nodes].map(([id, a]) => ({
        id,
        kind: a.kind as NodeKind,
        calls: a.calls,
        errors: a.errors,
        callsPerSecond: a.calls / seconds,
        errorRate: rate(a),
        p95Ms: quantileMs(a.hist, 0.95),
        health: health(a.calls, rate(a)),
      })),
      edges: [...edges.values()].map((a) => ({
        source: a.source,
        target: a.target,
        calls: a.calls,
        errors: a.errors,
        callsPerSecond: a.calls / seconds,
        errorRate: rate(a),
        p50Ms: quantileMs(a.hist, 0.5),
        p95Ms: quantileMs(a.hist, 0.95),
        health: health(a.calls, rate(a)),
      })),
    };
  }

  /**
   * Every service that sent spans (still stored): when it last did, and its server spans in the
   * window (calls, errors, rates, p95) from the per-minute aggregates. Index reads only.
   */
  services(windowMs: number, nowMs = Date.now()): ServiceSummary[] {
    const names = this.db
      .prepare('SELECT DISTINCT service FROM resources ORDER BY service')
      .pluck()
      .all() as string[];
    const last = this.db.prepare('SELECT max(start_us) FROM spans WHERE service = ?').pluck();
    const nodes = new Map(this.map(windowMs, nowMs).nodes.map((n) => [n.id, n]));
    const out: ServiceSummary[] = [];
    for (const service of names) {
      const lastUs = last.get(service) as number | null;
      if (lastUs === null) continue;
      const n = nodes.get(service);
      out.push({
        service,
        lastSeenMs: Math.floor(lastUs / 1000),
        calls: n?.calls ?? 0,
        errors: n?.errors ?? 0,
        callsPerSecond: n?.callsPerSecond ?? 0,
        errorRate: n?.errorRate ?? 0,
        p95Ms: n?.p95Ms ?? null,
        health: n?.health ?? 'idle',
      });
    }
    return out;
  }

  /**
   * One service over the window ending now, from the per-minute aggregates only (node_minutes,
   * op_minutes, the map's edges): totals, a point per minute, its operations, its callers and
   * callees. Undefined when nothing of it is stored.
   */
  service(service: string, windowMs: number, nowMs = Date.now()): ServiceDetail | undefined {
    const from = Math.floor((nowMs - windowMs) / 60_000);
    const to = Math.floor(nowMs / 60_000);
    const seconds = windowMs / 1000;
    const rows = this.db
      .prepare(
        'SELECT minute, calls, errors, hist FROM node_minutes WHERE minute >= ? AND node = ?',
      )
      .all(from, service) as { minute: number; calls: number; errors: number; hist: string }[];
    const lastUs = this.db
      .prepare('SELECT max(start_us) FROM spans WHERE service = ?')
      .pluck()
      .get(service) as number | null;
    const map = this.map(windowMs, nowMs);
    const kinds = new Map(map.nodes.map((n) => [n.id, n]));
    if (lastUs === null && rows.length === 0 && !kinds.has(service)) return undefined;
    const byMinute = new Map(rows.map((r) => [r.minute, r]));
    const total = newHist();
    let calls = 0;
    let errors = 0;
    const points: ServiceDetail['points'] = {
      start: from * 60_000,
      stepMs: 60_000,
      callsPerSecond: [],
      errorsPerSecond: [],
      errorRate: [],
      p50Ms: [],
      p95Ms: [],
      p99Ms: [],
    };
    for (let m = from; m <= to; m++) {
      const r = byMinute.get(m);
      // The current minute has lasted only this long so far.
      const span = m === to ? Math.max(1, (nowMs - m * 60_000) / 1000) : 60;
      const hist = r === undefined ? undefined : (JSON.parse(r.hist) as number[]);
      if (r !== undefined && hist !== undefined) {
        calls += r.calls;
        errors += r.errors;
        merge(total, hist);
      }
      const n = r?.calls ?? 0;
      points.callsPerSecond.push(n / span);
      points.errorsPerSecond.push((r?.errors ?? 0) / span);
      points.errorRate.push(n === 0 ? null : (r?.errors ?? 0) / n);
      points.p50Ms.push(hist === undefined ? null : quantileMs(hist, 0.5));
      points.p95Ms.push(hist === undefined ? null : quantileMs(hist, 0.95));
      points.p99Ms.push(hist === undefined ? null : quantileMs(hist, 0.99));
    }
    const ops = new Map<string, Agg>();
    for (const r of this.db
      .prepare(
        'SELECT operation, calls, errors, hist FROM op_minutes WHERE minute >= ? AND service = ?',
      )
      .all(from, service) as { operation: string; calls: number; errors: number; hist: string }[]) {
      let a = ops.get(r.operation);
      if (a === undefined) {
        a = { calls: 0, errors: 0, hist: newHist(), kind: 'service' };
        ops.set(r.operation, a);
      }
      a.calls += r.calls;
      a.errors += r.errors;
      merge(a.hist, JSON.parse(r.hist) as number[]);
    }
    const row = (operation: string, a: Agg): OperationRow => ({
      operation,
      calls: a.calls,
      errors: a.errors,
      callsPerSecond: a.calls / seconds,
      errorRate: a.calls === 0 ? 0 : a.errors / a.calls,
      p50Ms: quantileMs(a.hist, 0.5),
      p95Ms: quantileMs(a.hist, 0.95),
      p99Ms: quantileMs(a.hist, 0.99),
    });
    const totals = row('', { calls, errors, hist: total, kind: 'service' });
    const neighbour = (e: MapEdge, id: string) => ({
      ...e,
      kind: kinds.get(id)?.kind ?? ('service' as NodeKind),
      nodeHealth: kinds.get(id)?.health ?? ('idle' as const),
    });
    return {
      service,
      kind: kinds.get(service)?.kind ?? 'service',
      windowSeconds: seconds,
      lastSeenMs: lastUs === null ? null : Math.floor(lastUs / 1000),
      totals: { ...totals, health: health(calls, totals.errorRate) },
      points,
      operations: [...ops]
        .map(([name, a]) => row(name, a))
        .sort((a, b) => b.calls - a.calls || a.operation.localeCompare(b.operation))
        .slice(0, 100),
      callers: map.edges.filter((e) => e.target === service).map((e) => neighbour(e, e.source)),
      callees: map.edges.filter((e) => e.source === service).map((e) => neighbour(e, e.target)),
    };
  }

  /** The spans of one trace, by start time. */
  trace(traceId: string): StoredSpan[] {
    const rows = this.db
      .prepare(
        `SELECT s.*, r.attrs AS resource FROM spans s JOIN resources r ON r.id = s.resource_id
         WHERE s.trace_id = ? ORDER BY s.start_us, s.id`,
      )
      .all(Buffer.from(traceId, 'hex')) as SpanRow[];
    return rows.map(toStored);
  }

  /** Traces with at least one span matching the query, newest first. */
  search(q: TraceQuery): TraceSummary[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.service !== undefined) {
      where.push('service = ?');
      args.push(q.service);
    }
    if (q.operation !== undefined) {
      where.push('name = ?');
      args.push(q.operation);
    }
    if (q.route !== undefined) {
      where.push(`json_extract(attrs, '$."http.route"') = ?`);
      args.push(q.route);
    }
    if (q.status !== undefined) {
      where.push('status = ?');
      args.push(STATUS.indexOf(q.status));
    }
    if (q.minDurationMs !== undefined) {
      where.push('duration_us >= ?');
      args.push(Math.round(q.minDurationMs * 1000));
    }
    if (q.startMs !== undefined) {
      where.push('start_us >= ?');
      args.push(Math.floor(q.startMs * 1000));
    }
    if (q.endMs !== undefined) {
      where.push('start_us <= ?');
      args.push(Math.floor(q.endMs * 1000));
    }
    for (const [key, value] of q.attributes ?? []) {
      where.push(`CAST(json_extract(attrs, ?) AS TEXT) = ?`);
      args.push(`$."${key.replaceAll('"', '\\"')}"`, value);
    }
    // One edge's calls: the callee's server spans under a caller's span, or the caller's client
    // spans naming the leaf (checked on the rows read: the leaf's name is derived from attributes).
    let leaf: string | undefined;
    if (q.caller !== undefined && q.callee !== undefined) {
      const isService =
        this.db.prepare('SELECT 1 FROM resources WHERE service = ? LIMIT 1').get(q.callee) !==
        undefined;
      if (isService) {
        where.push(
          'service = ?',
          'kind IN (2, 5)',
          'EXISTS (SELECT 1 FROM spans p WHERE p.trace_id = spans.trace_id AND p.span_id = spans.parent_id AND p.service = ?)',
        );
        args.push(q.callee, q.caller);
      } else {
        where.push('service = ?', 'kind IN (3, 4)');
        args.push(q.caller);
        leaf = q.callee;
      }
    }
    const limit = Math.min(Math.max(q.limit ?? 20, 1), 1000);
    // Newest first along an index (service + time, or time), stopping at `limit` distinct
    // traces: a search costs the rows it reads until it has found enough, not the whole range.
    const rows = this.db
      .prepare(
        `SELECT trace_id, ${leaf === undefined ? 'NULL' : 'attrs'} AS attrs FROM spans
         ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY start_us DESC`,
      )
      .iterate(...args) as IterableIterator<{ trace_id: Buffer; attrs: string | null }>;
    const seen = new Set<string>();
    const ids: Buffer[] = [];
    for (const { trace_id: tid, attrs } of rows) {
      if (leaf !== undefined && leafNameOf(JSON.parse(attrs!) as Attrs) !== leaf) continue;
      const key = tid.toString('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      ids.push(tid);
      if (ids.length >= limit) break;
    }
    const summary = this.db.prepare(
      `SELECT service, name, parent_id, start_us, duration_us, status FROM spans WHERE trace_id = ?
       ORDER BY start_us`,
    );
    return ids.map((tid) => {
      const spans = summary.all(tid) as {
        service: string;
        name: string;
        parent_id: Buffer | null;
        start_us: number;
        duration_us: number;
        status: number;
      }[];
      const root = spans.find((s) => s.parent_id === null) ?? spans[0]!;
      const start = Math.min(...spans.map((s) => s.start_us));
      const end = Math.max(...spans.map((s) => s.start_us + s.duration_us));
      return {
        traceId: tid.toString('hex'),
        rootService: root.service,
        rootName: root.name,
        startMs: start / 1000,
        durationMs: (end - start) / 1000,
        spans: spans.length,
        errors: spans.filter((s) => s.status === 2).length,
        services: [...new Set(spans.map((s) => s.service))].sort(),
      };
    });
  }

  /** Counts for /api/stats. */
  counts(): { spans: number; metricPoints: number; bytes: number } {
    return {
      spans: this.db.prepare('SELECT count(*) FROM spans').pluck().get() as number,
      metricPoints: this.db.prepare('SELECT count(*) FROM metric_points').pluck().get() as number,
      bytes: this.liveBytes(),
    };
  }

  /** Bytes of the database in use (pages not on the freelist). */
  liveBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /**
   * Applies retention, deleting at most `maxRows` spans (so a caller can spread a large deletion
   * over several turns of the event loop); `more` says whether rows past the bounds remain.
   */
  retain(
    nowMs = Date.now(),
    maxRows = Number.POSITIVE_INFINITY,
  ): { deleted: number; more: boolean } {
    const limit = Number.isFinite(maxRows) ? Math.max(1, Math.floor(maxRows)) : -1;
    const cutoffUs = (nowMs - this.#options.retentionMs) * 1000;
    let deleted = this.db
      .prepare('DELETE FROM spans WHERE id IN (SELECT id FROM spans WHERE start_us < ? LIMIT ?)')
      .run(cutoffUs, limit).changes;
    this.db
      .prepare(
        'DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points WHERE time_us < ? LIMIT ?)',
      )
      .run(cutoffUs, limit);
    const minute = Math.floor(cutoffUs / 60_000_000);
    this.db.prepare('DELETE FROM edge_minutes WHERE minute < ?').run(minute);
    this.db.prepare('DELETE FROM node_minutes WHERE minute < ?').run(minute);
    this.db.prepare('DELETE FROM op_minutes WHERE minute < ?').run(minute);
    if (limit !== -1 && deleted >= limit) {
      this.db.pragma('incremental_vacuum');
      return { deleted, more: true };
    }
    // By size: the oldest spans, as many as the bytes over the bound (at the average size),
    // aiming 10% under it; a few rounds, as freed index pages are partly filled.
    let more = false;
    for (let round = 0; round < 5; round++) {
      const live = this.liveBytes();
      if (live <= this.#options.retentionBytes) break;
      const total = this.db.prepare('SELECT count(*) FROM spans').pluck().get() as number;
      if (total === 0) break;
      const share = 1 - (0.9 * this.#options.retentionBytes) / live;
      let n = Math.max(1, Math.ceil(total * share));
      if (limit !== -1 && deleted + n > limit) {
        n = limit - deleted;
        more = true;
      }
      if (n <= 0) break;
      deleted += this.db
        .prepare('DELETE FROM spans WHERE id IN (SELECT id FROM spans ORDER BY id LIMIT ?)')
        .run(n).changes;
      const points = this.db.prepare('SELECT count(*) FROM metric_points').pluck().get() as number;
      this.db
        .prepare(
          'DELETE FROM metric_points WHERE id IN (SELECT id FROM metric_points ORDER BY id LIMIT ?)',
        )
        .run(Math.ceil(share * points));
      this.db.pragma('incremental_vacuum');
      if (more) break;
    }
    return { deleted, more };
  }

  close(): void {
    this.db.close();
  }
}

interface SpanRow {
  trace_id: Buffer;
  span_id: Buffer;
  parent_id: Buffer | null;
  service: string;
  name: string;
  kind: number;
  start_us: number;
  duration_us: number;
  status: number;
  attrs: string;
  extra: string | null;
  resource: string;
}

function toStored(r: SpanRow): StoredSpan {
  const extra = (r.extra === null ? {} : JSON.parse(r.extra)) as {
    m?: string;
    s?: string;
    e?: { timeUs: number; name: string; attributes: Attrs }[];
  };
  return {
    traceId: r.trace_id.toString('hex'),
    spanId: r.span_id.toString('hex'),
    parentSpanId: r.parent_id === null ? '' : r.parent_id.toString('hex'),
    service: r.service,
    name: r.name,
    kind: KINDS[r.kind] ?? 'unspecified',
    startMs: r.start_us / 1000,
    durationMs: r.duration_us / 1000,
    status: STATUS[r.status] ?? 'unset',
    statusMessage: extra.m ?? '',
    attributes: JSON.parse(r.attrs) as Attrs,
    resource: JSON.parse(r.resource) as Record<string, AttrValue>,
    scope: extra.s ?? '',
    events: (extra.e ?? []).map((e) => ({
      timeMs: e.timeUs / 1000,
      name: e.name,
      attributes: e.attributes,
    })),
  };
}
