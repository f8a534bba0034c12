/**
 * The data path's observability contract, in one place: the `node:diagnostics_channel` names it
 * publishes on, the payload each carries, and the counters and gauges it keeps. Telemetry
 * subscribes here to build spans and metrics; nothing in the data path depends on telemetry.
 *
 * Operations (a database query, a cache load, an outbound HTTP request) are published on a
 * `TracingChannel`: subscribers get `start`, `end`, `asyncStart`, `asyncEnd` and `error` events
 * with one context object per operation, so a span can be opened at `start` and closed at
 * `asyncEnd` (or `error`). The fields marked "set at the end" are filled in before `asyncEnd`.
 * State changes (a breaker opening) and cache lookups go on plain channels.
 *
 * Zero cost when off: every publisher checks `hasSubscribers` before building a payload.
 *
 * Counters and gauges are plain numbers kept on each pool, cache and client and read with
 * `dataSnapshot()` — a pull model, so a recorder samples them once a second without the hot path
 * doing anything beyond an increment.
 */
import diagnostics_channel from 'node:diagnostics_channel';

/** Channel names. Prefix `tracing:` + name + `:start` etc. is how TracingChannel spells them. */
export const CHANNELS = {
  /** TracingChannel: one database statement (PostgreSQL or SQLite). Context: `DbQueryContext`. */
  dbQuery: 'peregrine:db:query',
  /** TracingChannel: one cache loader run (a miss being filled). Context: `CacheLoadContext`. */
  cacheLoad: 'peregrine:cache:load',
  /**
   * TracingChannel: one round trip of a cache's Redis tier (a read, a write, an invalidation, a
   * lock). Context: `CacheRedisContext`.
   */
  cacheRedis: 'peregrine:cache:redis',
  /** Channel: the outcome of one cache read. Message: `CacheLookupMessage`. */
  cacheLookup: 'peregrine:cache:lookup',
  /** TracingChannel: one outbound HTTP request (each attempt). Context: `HttpClientContext`. */
  httpClient: 'peregrine:http:client:request',
  /** Channel: a circuit breaker changed state. Message: `BreakerStateMessage`. */
  breakerState: 'peregrine:breaker:state',
} as const;

/** Context of one database statement; attribute names follow OpenTelemetry's `db.*`. */
export interface DbQueryContext {
  /** `db.system.name`: `postgresql` or `sqlite`. */
  system: 'postgresql' | 'sqlite';
  /** The pool or database name given in the options (a metric label). */
  pool: string;
  /** `db.query.text`: the statement with placeholders; values are never included. */
  text: string;
  /** `db.operation.name`: the first keyword (SELECT, INSERT, …). */
  operation: string;
  /** `db.namespace`: the database name (or the SQLite file name). */
  namespace: string;
  /** `server.address` (PostgreSQL only). */
  serverAddress?: string;
  /** `server.port` (PostgreSQL only). */
  serverPort?: number;
  /**
   * `performance.now()` when the statement was issued, before any wait for a connection (set by
   * the publisher, so subscribers time the statement without reading the clock again; a
   * subscriber fills it at `start` if a publisher did not).
   */
  start?: number;
  /** Milliseconds spent waiting for a connection (set at the end; PostgreSQL only). */
  acquireWaitMs?: number;
  /** Rows returned or affected (set at the end). */
  rowCount?: number;
  /** A PostgreSQL SQLSTATE or SQLite error code, when the statement failed (set at the end). */
  errorCode?: string;
  /** The error, when the statement failed (set by the channel). */
  error?: unknown;
}

const FIRST_KEYWORD = /^\s*(?:--[^\n]*\n\s*|\/\*[\s\S]*?\*\/\s*)*([A-Za-z]+)/;

/** The first keyword of a statement: how a publisher fills `DbQueryContext.operation`. */
export function operationOf(text: string): string {
  const m = FIRST_KEYWORD.exec(text);
  return m === null ? '' : m[1]!.toUpperCase();
}

// PERF: an App runs a few hundred distinct statement texts, each thousands of times; a Map hit on
// the (usually constant, so hash-cached) text is cheaper than the regex and the upper-casing.
const OPERATIONS = new Map<string, string>();
const MAX_OPERATIONS = 2000;
/**
 * The longest statement text worth a per-text cache entry, for publishers (the operation name)
 * and subscribers (their labels) alike: longer texts are SQL built with values inlined or bulk
 * scripts, each seen once.
 */
export const MAX_CACHED_TEXT = 2048;

/** `operationOf`, remembered for the first 2,000 distinct statement texts of up to 2 KiB. */
export function cachedOperationOf(text: string): string {
  let op = OPERATIONS.get(text);
  if (op === undefined) {
    op = operationOf(text);
    if (OPERATIONS.size < MAX_OPERATIONS && text.length <= MAX_CACHED_TEXT)
      OPERATIONS.set(text, op);
  }
  return op;
}

/** Context of one cache loader run. */
export interface CacheLoadContext {
  /** The cache name (a metric label). */
  cache: string;
  /** The key being loaded. */
  key: string;
  /** Whether this load refreshes a stale entry in the background. */
  background: boolean;
  /** Whether the loader found nothing (negative entry cached; set at the end). */
  empty?: boolean;
  /** The error, when the loader failed (set by the channel). */
  error?: unknown;
}

/**
 * Context of one round trip to a cache's Redis tier; attribute names follow OpenTelemetry's
 * `db.*` for Redis. Key names are never included (they may hold user data): `text` has the
 * cache's key prefix and `?` for each key and value.
 */
export interface CacheRedisContext {
  /** The cache name (`peregrine.cache.name`). */
  cache: string;
  /** `db.system.name`: always `redis`. */
  system: 'redis';
  /** `db.operation.name`: `GET`, `SET`, `EVAL`, or `MULTI` (DEL and PUBLISH of an invalidation). */
  operation: string;
  /** `db.query.text`: the command with the key prefix, `?` for keys and values. */
  text: string;
  /** `db.operation.batch.size`: commands in a `MULTI` (absent for a single command). */
  batchSize?: number;
  /** `db.namespace`: the database index (`'0'`). */
  namespace: string;
  /** `server.address`: host name, or the socket path. */
  serverAddress: string;
  /** `server.port` (absent on a Unix socket). */
  serverPort?: number;
  /** A read's outcome: `hit` when the key was there, `miss` when not (set at the end). */
  outcome?: 'hit' | 'miss';
  /** The error, when the command failed or timed out (set by the channel). */
  error?: unknown;
}

/** How a cache read was answered. */
export type CacheOutcome = 'hit' | 'stale' | 'miss' | 'negative';

/** Message of `CHANNELS.cacheLookup`. */
export interface CacheLookupMessage {
  /** The cache name. */
  cache: string;
  /** `hit` (fresh), `stale` (served while revalidating), `miss` or `negative` (cached absence). */
  outcome: CacheOutcome;
  /** Which tier answered: `local`, `redis`, or `loader` for a miss. */
  tier: 'local' | 'redis' | 'loader';
}

/** Context of one outbound HTTP request attempt; names follow OpenTelemetry's `http.*`. */
export interface HttpClientContext {
  /** `http.request.method`. */
  method: string;
  /** `url.full` without the query string. */
  url: string;
  /** `server.address`. */
  serverAddress: string;
  /** `server.port`. */
  serverPort: number;
  /** `service.peer.name`: the downstream service, for the service map. */
  peerService: string;
  /** 1 for the first try, 2… for retries (`http.request.resend_count` + 1). */
  attempt: number;
  /**
   * Outgoing headers; a subscriber may set `traceparent` (and `tracestate`) at `start` to put the
   * call in its trace. If none does, the client derives one from the incoming request.
   */
  headers: Record<string, string>;
  /** `http.response.status_code` (set at the end). */
  statusCode?: number;
  /** The error, when the attempt failed (set by the channel). */
  error?: unknown;
}

/** States of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Message of `CHANNELS.breakerState`. */
export interface BreakerStateMessage {
  /** What it guards: `postgresql`, `redis` or `http`. */
  kind: string;
  /** Which one: the pool name, cache name or origin. */
  name: string;
  from: BreakerState;
  to: BreakerState;
}

/** Tracing channel of database statements. */
export const dbQueryChannel = diagnostics_channel.tracingChannel<string, DbQueryContext>(
  CHANNELS.dbQuery,
);
/** Tracing channel of cache loads. */
export const cacheLoadChannel = diagnostics_channel.tracingChannel<string, CacheLoadContext>(
  CHANNELS.cacheLoad,
);
/** Tracing channel of the round trips of caches' Redis tiers. */
export const cacheRedisChannel = diagnostics_channel.tracingChannel<string, CacheRedisContext>(
  CHANNELS.cacheRedis,
);
/** Channel of cache lookups. */
export const cacheLookupChannel = diagnostics_channel.channel(CHANNELS.cacheLookup);
/** Tracing channel of outbound HTTP request attempts. */
export const httpClientChannel = diagnostics_channel.tracingChannel<string, HttpClientContext>(
  CHANNELS.httpClient,
);
/** Channel of breaker state changes. */
export const breakerStateChannel = diagnostics_channel.channel(CHANNELS.breakerState);

/** Gauges and counters of one connection pool (PostgreSQL) or database (SQLite). */
export interface PoolStats {
  system: 'postgresql' | 'sqlite';
  /** Connections running a statement. */
  inUse: number;
  /** Open connections waiting for work. */
  idle: number;
  /** Connections being opened. */
  connecting: number;
  /** Callers waiting for a connection. */
  waiting: number;
  /** This worker's share of the node-wide connection budget. */
  max: number;
  /** Acquires that had to wait, and the time they waited (ms). */
  acquireWaitCount: number;
  acquireWaitTotalMs: number;
  acquireWaitMaxMs: number;
  /** Acquires refused (timeout, queue full, breaker open). */
  acquireRejected: number;
  /** Statements run, and those that failed. */
  queries: number;
  queryErrors: number;
  /** Connections lost to an error (idle or busy). */
  connectionErrors: number;
  /** Liveness probes of a silent server, and those it did not answer (PostgreSQL only). */
  livenessProbes?: number;
  livenessFailures?: number;
  breaker: BreakerState;
}

/** Counters of one cache. */
export interface CacheStats {
  hits: number;
  staleHits: number;
  misses: number;
  negativeHits: number;
  loads: number;
  loadErrors: number;
  /** Redis command failures (timeouts, disconnects) absorbed by falling back. */
  redisErrors: number;
  /** Entries dropped because another worker or node invalidated them. */
  remoteInvalidations: number;
  localEntries: number;
  breaker: BreakerState | 'none';
}

/** Counters of one outbound origin. */
export interface ClientStats {
  peerService: string;
  requests: number;
  retries: number;
  /** Retries refused because the retry budget was spent. */
  retriesDenied: number;
  failures: number;
  /** Calls refused at once because the breaker was open. */
  shortCircuited: number;
  breaker: BreakerState;
}

/** What `dataSnapshot()` returns: every live pool, cache and client of this process. */
export interface DataSnapshot {
  pools: Record<string, PoolStats>;
  caches: Record<string, CacheStats>;
  clients: Record<string, ClientStats>;
}

type Source<T> = { readonly name: string; stats(): T };
const pools = new Set<Source<PoolStats>>();
const caches = new Set<Source<CacheStats>>();
const clients = new Set<Source<ClientStats>>();

/** Registers a live pool, cache or client for `dataSnapshot()`; returns the unregister function. */
export function register(kind: 'pool', source: Source<PoolStats>): () => void;
export function register(kind: 'cache', source: Source<CacheStats>): () => void;
export function register(kind: 'client', source: Source<ClientStats>): () => void;
export function register(
  kind: 'pool' | 'cache' | 'client',
  source: Source<PoolStats> | Source<CacheStats> | Source<ClientStats>,
): () => void {
  const set = (kind === 'pool' ? pools : kind === 'cache' ? caches : clients) as Set<typeof source>;
  set.add(source);
  return () => set.delete(source);
}

function collect<T>(set: Set<Source<T>>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const s of set) {
    let name = s.name;
    for (let i = 2; name in out; i++) name = `${s.name}#${i}`;
    out[name] = s.stats();
  }
  return out;
}

/**
 * The current counters and gauges of every pool, cache and client in this process, keyed by
 * name. Counters only grow (a recorder takes deltas); gauges are the value now.
 */
export function dataSnapshot(): DataSnapshot {
  return { pools: collect(pools), caches: collect(caches), clients: collect(clients) };
}
