import type { TracingChannelSubscribers } from 'node:diagnostics_channel';
import { SpanKind } from '@opentelemetry/api';
import {
  type BreakerState,
  type CacheLoadContext,
  type CacheRedisContext,
  cacheLoadChannel,
  cacheRedisChannel,
  type DataSnapshot,
  type DbQueryContext,
  dataSnapshot,
  dbQueryChannel,
  type HttpClientContext,
  httpClientChannel,
  MAX_CACHED_TEXT,
} from '../../data/diagnostics.ts';
import { rateLimitSnapshot } from '../../middleware/rate-limit/stats.ts';
import type { Counter, Gauge, Histogram, HistogramSeries } from '../metrics/instruments.ts';
import { contextManager } from '../tracing/context.ts';
import { TracedSpan } from '../tracing/span.ts';
import { formatTraceparent } from '../tracing/trace-context.ts';
import { startSpan, type TracingSetup } from '../tracing/tracer.ts';
import type { WireAttributeValue } from '../wire.ts';
import type { Recorder } from './recorder.ts';

const ORIGIN = performance.timeOrigin;
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');
const BREAKER_VALUE: Record<BreakerState | 'none', number> = {
  closed: 0,
  'half-open': 1,
  open: 2,
  none: 0,
};

/** What each operation keeps between its start and end events. */
interface Pending {
  start: number;
  span: TracedSpan | undefined;
}

/** Labels shared by every run of one statement text. */
interface StatementLabels {
  system: string;
  namespace: string;
  spanName: string;
  series: HistogramSeries;
}

/** The pending record of every span-less statement (its start is on its context). */
const UNTRACED: Pending = Object.freeze({ start: 0, span: undefined });

// PERF: the per-operation state rides on the context object itself (a symbol-keyed property)
// rather than in a WeakMap, whose ephemeron entries cost every garbage collection.
const kPending = Symbol('peregrine.telemetry.pending');
type Carrier = { [kPending]?: Pending | undefined };
const pending = {
  set(ctx: object, p: Pending): void {
    (ctx as Carrier)[kPending] = p;
  },
  get(ctx: object): Pending | undefined {
    return (ctx as Carrier)[kPending];
  },
  delete(ctx: object): void {
    (ctx as Carrier)[kPending] = undefined;
  },
};

/** The recording span of the current async flow (the request's server span or a child). */
function parentSpan(): TracedSpan | undefined {
  const span = contextManager.storage.getStore()?.getValue(SPAN_KEY);
  return span instanceof TracedSpan && span.isRecording() ? span : undefined;
}

/** A statement's span attributes (`TracedSpan.describeLater`). */
function describeDb(ctx: DbQueryContext, a: Record<string, WireAttributeValue>): void {
  a['db.system.name'] = ctx.system;
  a['db.query.text'] = ctx.text;
  a['db.operation.name'] = ctx.operation;
  if (ctx.namespace) a['db.namespace'] = ctx.namespace;
  if (ctx.serverAddress !== undefined) a['server.address'] = ctx.serverAddress;
  if (ctx.serverPort !== undefined) a['server.port'] = ctx.serverPort;
  describeDbEnd(ctx, a);
}

/** The attributes a statement has once it ended: rows, or what failed. */
function describeDbEnd(ctx: DbQueryContext, a: Record<string, WireAttributeValue>): void {
  if (ctx.rowCount !== undefined) a['db.response.returned_rows'] = ctx.rowCount;
  if (ctx.error !== undefined || ctx.errorCode !== undefined) {
    a['error.type'] = errorType(ctx.error, ctx.errorCode);
    if (ctx.errorCode !== undefined) a['db.response.status_code'] = ctx.errorCode;
  }
}

/** A Redis round trip's span attributes (`TracedSpan.describeLater`). */
function describeRedis(ctx: CacheRedisContext, a: Record<string, WireAttributeValue>): void {
  a['db.system.name'] = ctx.system;
  a['db.operation.name'] = ctx.operation;
  a['db.query.text'] = ctx.text;
  if (ctx.batchSize !== undefined) a['db.operation.batch.size'] = ctx.batchSize;
  a['db.namespace'] = ctx.namespace;
  a['server.address'] = ctx.serverAddress;
  if (ctx.serverPort !== undefined) a['server.port'] = ctx.serverPort;
  a['peregrine.cache.name'] = ctx.cache;
  describeRedisEnd(ctx, a);
}

/** The attributes a Redis round trip has once it ended: a read's outcome, or what failed. */
function describeRedisEnd(ctx: CacheRedisContext, a: Record<string, WireAttributeValue>): void {
  if (ctx.outcome !== undefined) a['peregrine.cache.outcome'] = ctx.outcome;
  if (ctx.error !== undefined) a['error.type'] = errorType(ctx.error, undefined);
}

function errorType(err: unknown, code: string | undefined): string {
  if (code !== undefined && code !== '') return code;
  if (err instanceof Error) return (err as { code?: unknown }).code?.toString() ?? err.name;
  return '_OTHER';
}

/**
 * Subscribes telemetry to the data path's diagnostics channels (src/data/diagnostics.ts):
 * a client span and a `db_client_operation_duration_seconds` observation per statement, a client
 * span (whose context goes out as `traceparent`) and an `http_client_request_duration_seconds`
 * observation per outbound attempt, a client span and a `db_client_operation_duration_seconds`
 * observation per round trip of a cache's Redis tier, a span per cache load, and — sampled once per flush from
 * `dataSnapshot()` — pool, cache, client and breaker counters and gauges.
 */
export class DataTelemetry {
  readonly #tracing: TracingSetup | undefined;
  readonly #dbDuration: Histogram;
  readonly #statements = new Map<string, StatementLabels>();
  /** Duration series of successful Redis round trips, by operation and database index. */
  readonly #redisSeries = new Map<string, HistogramSeries>();
  readonly #httpDuration: Histogram;
  readonly #previous = new Map<string, number>();
  readonly #counters: Record<string, Counter>;
  readonly #gauges: Record<string, Gauge>;
  readonly #subscriptions: Array<() => void> = [];

  constructor(rec: Recorder) {
    this.#tracing = rec.tracing;
    const r = rec.registry;
    this.#dbDuration = r.histogram({
      name: 'db_client_operation_duration_seconds',
      help: 'Duration of database client operations.',
      unit: 'seconds',
      labels: ['db_system_name', 'db_operation_name', 'db_namespace', 'error_type'],
    });
    this.#httpDuration = r.histogram({
      name: 'http_client_request_duration_seconds',
      help: 'Duration of outbound HTTP requests (each attempt).',
      unit: 'seconds',
      labels: [
        'http_request_method',
        'server_address',
        'server_port',
        'service_peer_name',
        'http_response_status_code',
        'error_type',
      ],
    });
    const counter = (name: string, help: string, labels: string[]) =>
      r.counter({ name, help, labels });
    const gauge = (name: string, help: string, labels: string[], merge?: 'worker') =>
      r.gauge({ name, help, labels, ...(merge === undefined ? {} : { merge }) });
    this.#counters = {
      cacheRequests: counter(
        'peregrine_cache_requests',
        'Cache reads by outcome (hit, stale, miss, negative).',
        ['cache', 'outcome'],
      ),
      cacheLoads: counter('peregrine_cache_loads', 'Cache loader runs.', ['cache']),
      cacheErrors: counter(
        'peregrine_cache_errors',
        'Cache failures absorbed: loader errors and Redis errors.',
        ['cache', 'kind'],
      ),
      dbAcquireRejected: counter(
        'peregrine_db_acquire_rejected',
        'Connection acquisitions refused (timeout, queue full, breaker open).',
        ['pool'],
      ),
      dbConnectionErrors: counter(
        'peregrine_db_connection_errors',
        'Connections lost to an error.',
        ['pool'],
      ),
      dbLivenessProbes: counter(
        'peregrine_db_liveness_probes',
        'Liveness probes of a silent database server, by outcome (alive, silent).',
        ['pool', 'outcome'],
      ),
      dbAcquireWait: counter(
        'peregrine_db_acquire_wait_seconds',
        'Time callers waited for a connection.',
        ['pool'],
      ),
      clientRetries: counter('peregrine_client_retries', 'Outbound retries sent.', ['peer']),
      clientRetriesDenied: counter(
        'peregrine_client_retries_denied',
        'Outbound retries refused by the retry budget.',
        ['peer'],
      ),
      rateLimitRequests: counter(
        'peregrine_rate_limit_requests',
        'Requests a rate limit checked, by outcome (allowed, rejected, failed_open, failed_closed).',
        ['policy', 'outcome'],
      ),
      rateLimitStoreErrors: counter(
        'peregrine_rate_limit_store_errors',
        'Checks the rate limit store could not answer (Redis down or slow, the master silent).',
        ['policy'],
      ),
      clientShortCircuited: counter(
        'peregrine_client_short_circuited',
        'Outbound calls refused at once because the breaker was open.',
        ['peer'],
      ),
    };
    this.#gauges = {
      connections: gauge('db_client_connection_count', 'Open database connections by state.', [
        'pool',
        'db_client_connection_state',
      ]),
      pending: gauge(
        'db_client_connection_pending_requests',
        'Callers waiting for a database connection.',
        ['pool'],
      ),
      max: gauge(
        'db_client_connection_max',
        'Most connections the pool may open (each worker its share of the node budget).',
        ['pool'],
      ),
      // Each worker has its own breaker: a sum of states (2 + 2 = 4) would mean nothing.
      breaker: gauge(
        'peregrine_breaker_state',
        'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
        ['kind', 'name'],
        'worker',
      ),
      cacheEntries: gauge('peregrine_cache_entries', 'Entries in the local cache tier.', ['cache']),
    };
    r.beforeCollect(() => this.#sample(dataSnapshot()));
    this.#subscribe();
  }

  /** Stops listening (tests). */
  close(): void {
    for (const off of this.#subscriptions) off();
    this.#subscriptions.length = 0;
  }

  #subscribe(): void {
    // Only the events handled are subscribed (TracingChannel skips missing handlers), so the
    // others publish to nobody. SQLite statements are traced with traceSync (start, end),
    // PostgreSQL ones with tracePromise (start, end of the synchronous part, asyncStart,
    // asyncEnd): an `end` that already carries the result is the end of a synchronous operation.
    const db = {
      start: (ctx: DbQueryContext) => this.#startDb(ctx),
      end: (ctx: DbQueryContext) => {
        if ('result' in ctx) this.#endDb(ctx);
      },
      asyncEnd: (ctx: DbQueryContext) => this.#endDb(ctx),
      error: (ctx: DbQueryContext) => this.#endDb(ctx),
    };
    dbQueryChannel.subscribe(db as TracingChannelSubscribers<DbQueryContext>);
    this.#subscriptions.push(() =>
      dbQueryChannel.unsubscribe(db as TracingChannelSubscribers<DbQueryContext>),
    );
    const http = {
      start: (ctx: HttpClientContext) => this.#startHttp(ctx),
      asyncEnd: (ctx: HttpClientContext) => this.#endHttp(ctx),
      error: (ctx: HttpClientContext) => this.#endHttp(ctx),
    };
    httpClientChannel.subscribe(http as TracingChannelSubscribers<HttpClientContext>);
    this.#subscriptions.push(() =>
      httpClientChannel.unsubscribe(http as TracingChannelSubscribers<HttpClientContext>),
    );
    const redis = {
      start: (ctx: CacheRedisContext) => this.#startRedis(ctx),
      asyncEnd: (ctx: CacheRedisContext) => this.#endRedis(ctx),
      error: (ctx: CacheRedisContext) => this.#endRedis(ctx),
    };
    cacheRedisChannel.subscribe(redis as TracingChannelSubscribers<CacheRedisContext>);
    this.#subscriptions.push(() =>
      cacheRedisChannel.unsubscribe(redis as TracingChannelSubscribers<CacheRedisContext>),
    );
    if (this.#tracing !== undefined) {
      const cache = {
        start: (ctx: CacheLoadContext) => this.#startCache(ctx),
        asyncEnd: (ctx: CacheLoadContext) => this.#endSpan(ctx, ctx.error),
        error: (ctx: CacheLoadContext) => this.#endSpan(ctx, ctx.error),
      };
      cacheLoadChannel.subscribe(cache as TracingChannelSubscribers<CacheLoadContext>);
      this.#subscriptions.push(() =>
        cacheLoadChannel.unsubscribe(cache as TracingChannelSubscribers<CacheLoadContext>),
      );
    }
  }

  #child(name: string, kind: number, start: number): TracedSpan | undefined {
    const setup = this.#tracing;
    if (setup === undefined) return undefined;
    const parent = parentSpan();
    // No request around it (startup, a background refresh): no span rather than a lone root.
    if (parent === undefined) return undefined;
    return startSpan(setup, name, kind, undefined, parent, 'peregrine', ORIGIN + start);
  }

  #startDb(ctx: DbQueryContext): void {
    try {
      // Publishers date the statement; the clock is read here only for one that did not.
      ctx.start ??= performance.now();
      const start = ctx.start;
      const span =
        this.#tracing === undefined
          ? undefined
          : this.#child(this.#statement(ctx).spanName, SpanKind.CLIENT, start);
      // PERF: the attributes are written only if the span is read or kept (most are dropped).
      span?.describeLater(describeDb, ctx);
      // PERF: without a span (tracing off, or no request around the statement) the pending
      // record is one shared object: no allocation per statement.
      pending.set(ctx, span === undefined ? UNTRACED : { start, span });
    } catch {
      // never into the data path
    }
  }

  /**
   * What every run of a statement shares: its span name and its duration series when it succeeds,
   * worked out once per statement text.
   */
  #statement(ctx: DbQueryContext): StatementLabels {
    // PERF: keyed by the statement text — usually one constant string, whose hash V8 keeps — and
    // checked against the other labels, instead of a key string built for every statement.
    const known = this.#statements.get(ctx.text);
    if (known !== undefined && known.system === ctx.system && known.namespace === ctx.namespace)
      return known;
    const labels: StatementLabels = {
      system: ctx.system,
      namespace: ctx.namespace,
      spanName: ctx.namespace ? `${ctx.operation} ${ctx.namespace}` : ctx.operation,
      series: this.#dbDuration.labels([ctx.system, ctx.operation, ctx.namespace, '']),
    };
    if (this.#statements.size < 1000 && ctx.text.length <= MAX_CACHED_TEXT)
      this.#statements.set(ctx.text, labels);
    return labels;
  }

  #endDb(ctx: DbQueryContext): void {
    try {
      const p = pending.get(ctx);
      if (p === undefined) return;
      pending.delete(ctx);
      const now = performance.now();
      const failed = ctx.error !== undefined || ctx.errorCode !== undefined;
      const seconds = (now - ctx.start!) / 1000;
      if (failed) {
        this.#dbDuration.observe(
          [ctx.system, ctx.operation, ctx.namespace, errorType(ctx.error, ctx.errorCode)],
          seconds,
        );
      } else {
        this.#statement(ctx).series.observe(seconds);
      }
      const span = p.span;
      if (span !== undefined) {
        // Attributes already read (and so written) before the end get the end-time ones now;
        // otherwise describeDb writes them with the rest when the span is first read.
        if (!span.describedLater) describeDbEnd(ctx, span.attributes);
        if (failed) span.setStatus({ code: 2 });
        span.end(now);
      }
    } catch {
      // never into the data path
    }
  }

  #startHttp(ctx: HttpClientContext): void {
    try {
      const start = performance.now();
      const span = this.#child(ctx.method, SpanKind.CLIENT, start);
      if (span !== undefined) {
        const a = span.attributes;
        a['http.request.method'] = ctx.method;
        a['url.full'] = ctx.url;
        a['server.address'] = ctx.serverAddress;
        a['server.port'] = ctx.serverPort;
        a['service.peer.name'] = ctx.peerService;
        if (ctx.attempt > 1) a['http.request.resend_count'] = ctx.attempt - 1;
        const sc = span.spanContext();
        // The downstream service's server span becomes a child of this client span.
        ctx.headers.traceparent = formatTraceparent(sc.traceId, sc.spanId, sc.traceFlags);
        const state = sc.traceState?.serialize();
        if (state) ctx.headers.tracestate = state;
      }
      pending.set(ctx, { start, span });
    } catch {
      // never into the data path
    }
  }

  #endHttp(ctx: HttpClientContext): void {
    try {
      const p = pending.get(ctx);
      if (p === undefined) return;
      pending.delete(ctx);
      const now = performance.now();
      const status = ctx.statusCode;
      const failed = ctx.error !== undefined || (status !== undefined && status >= 500);
      const type =
        ctx.error !== undefined ? errorType(ctx.error, undefined) : failed ? String(status) : '';
      this.#httpDuration.observe(
        [
          ctx.method,
          ctx.serverAddress,
          ctx.serverPort,
          ctx.peerService,
          status === undefined ? '' : status,
          type,
        ],
        (now - p.start) / 1000,
      );
      const span = p.span;
      if (span !== undefined) {
        if (status !== undefined) span.attributes['http.response.status_code'] = status;
        if (failed) {
          span.attributes['error.type'] = type;
          span.setStatus({ code: 2 });
        }
        span.end(now);
      }
    } catch {
      // never into the data path
    }
  }

  #startRedis(ctx: CacheRedisContext): void {
    try {
      const start = performance.now();
      const span = this.#child(`${ctx.operation} ${ctx.namespace}`, SpanKind.CLIENT, start);
      // PERF: as for statements, the attributes are written only if the span is read or kept.
      span?.describeLater(describeRedis, ctx);
      pending.set(ctx, { start, span });
    } catch {
      // never into the data path
    }
  }

  #endRedis(ctx: CacheRedisContext): void {
    try {
      const p = pending.get(ctx);
      if (p === undefined) return;
      pending.delete(ctx);
      const now = performance.now();
      const seconds = (now - p.start) / 1000;
      const failed = ctx.error !== undefined;
      if (failed) {
        this.#dbDuration.observe(
          [ctx.system, ctx.operation, ctx.namespace, errorType(ctx.error, undefined)],
          seconds,
        );
      } else {
        const key = `${ctx.operation} ${ctx.namespace}`;
        let series = this.#redisSeries.get(key);
        if (series === undefined) {
          series = this.#dbDuration.labels([ctx.system, ctx.operation, ctx.namespace, '']);
          this.#redisSeries.set(key, series);
        }
        series.observe(seconds);
      }
      const span = p.span;
      if (span !== undefined) {
        if (!span.describedLater) describeRedisEnd(ctx, span.attributes);
        if (failed) span.setStatus({ code: 2 });
        span.end(now);
      }
    } catch {
      // never into the data path
    }
  }

  #startCache(ctx: CacheLoadContext): void {
    try {
      const start = performance.now();
      const span = this.#child(`cache load ${ctx.cache}`, SpanKind.INTERNAL, start);
      if (span !== undefined) {
        span.attributes['peregrine.cache.name'] = ctx.cache;
        span.attributes['peregrine.cache.background'] = ctx.background;
      }
      pending.set(ctx, { start, span });
    } catch {
      // never into the data path
    }
  }

  #endSpan(ctx: object, error: unknown): void {
    try {
      const p = pending.get(ctx);
      if (p === undefined) return;
      pending.delete(ctx);
      if (p.span !== undefined) {
        if (error !== undefined) p.span.setStatus({ code: 2 });
        p.span.end(performance.now());
      }
    } catch {
      // never into the data path
    }
  }

  /** Adds the growth of a cumulative counter since the previous sample. */
  #delta(counter: Counter, labels: Array<string | number>, value: number, scale = 1): void {
    const key = `${counter.meta.name}\u0000${labels.join('\u0000')}`;
    const before = this.#previous.get(key) ?? 0;
    this.#previous.set(key, value);
    // A source that was replaced (a pool reopened) restarts at zero: count from there.
    const grown = value >= before ? value - before : value;
    if (grown > 0) counter.inc(labels, grown * scale);
  }

  #sample(snapshot: DataSnapshot): void {
    const c = this.#counters;
    const g = this.#gauges;
    for (const [name, s] of Object.entries(snapshot.pools)) {
      g.connections!.set([name, 'used'], s.inUse);
      g.connections!.set([name, 'idle'], s.idle + s.connecting);
      g.pending!.set([name], s.waiting);
      g.max!.set([name], s.max);
      g.breaker!.set([s.system, name], BREAKER_VALUE[s.breaker]);
      this.#delta(c.dbAcquireRejected!, [name], s.acquireRejected);
      this.#delta(c.dbConnectionErrors!, [name], s.connectionErrors);
      if (s.livenessProbes !== undefined && s.livenessFailures !== undefined) {
        this.#delta(c.dbLivenessProbes!, [name, 'silent'], s.livenessFailures);
        this.#delta(c.dbLivenessProbes!, [name, 'alive'], s.livenessProbes - s.livenessFailures);
      }
      this.#delta(c.dbAcquireWait!, [name], s.acquireWaitTotalMs, 1 / 1000);
    }
    for (const [name, s] of Object.entries(snapshot.caches)) {
      this.#delta(c.cacheRequests!, [name, 'hit'], s.hits);
      this.#delta(c.cacheRequests!, [name, 'stale'], s.staleHits);
      this.#delta(c.cacheRequests!, [name, 'miss'], s.misses);
      this.#delta(c.cacheRequests!, [name, 'negative'], s.negativeHits);
      this.#delta(c.cacheLoads!, [name], s.loads);
      this.#delta(c.cacheErrors!, [name, 'loader'], s.loadErrors);
      this.#delta(c.cacheErrors!, [name, 'redis'], s.redisErrors);
      g.cacheEntries!.set([name], s.localEntries);
      if (s.breaker !== 'none') g.breaker!.set(['redis', name], BREAKER_VALUE[s.breaker]);
    }
    for (const [name, s] of Object.entries(rateLimitSnapshot())) {
      this.#delta(c.rateLimitRequests!, [name, 'allowed'], s.allowed);
      this.#delta(c.rateLimitRequests!, [name, 'rejected'], s.rejected);
      this.#delta(c.rateLimitRequests!, [name, 'failed_open'], s.failedOpen);
      this.#delta(c.rateLimitRequests!, [name, 'failed_closed'], s.storeErrors - s.failedOpen);
      this.#delta(c.rateLimitStoreErrors!, [name], s.storeErrors);
    }
    for (const [name, s] of Object.entries(snapshot.clients)) {
      this.#delta(c.clientRetries!, [s.peerService], s.retries);
      this.#delta(c.clientRetriesDenied!, [s.peerService], s.retriesDenied);
      this.#delta(c.clientShortCircuited!, [s.peerService], s.shortCircuited);
      g.breaker!.set(['http', name], BREAKER_VALUE[s.breaker]);
    }
  }
}
