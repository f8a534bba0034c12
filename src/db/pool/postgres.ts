import pg from 'pg';
import type { App } from '../../app/app.ts';
import type { Logger } from '../../app/logger.ts';
import { Breaker } from '../../data/breaker.ts';
import {
  type BreakerState,
  cachedOperationOf,
  type DbQueryContext,
  dbQueryChannel,
  type PoolStats,
  register,
} from '../../data/diagnostics.ts';
import { topology as processTopology, type Topology } from '../../process/topology.ts';
import {
  batchArgumentError,
  boundedTimeout,
  type Database,
  type Loader,
  type LoaderOptions,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  queryArgumentError,
  type Row,
  type Statement,
} from '../db.ts';
import { StatementTimeoutError } from '../errors.ts';
import { type Conn, Connections } from './connections.ts';
import { LivenessWatch } from './liveness.ts';
import { type LoaderCall, liveCalls, turnBatches } from './loader.ts';
import type { PostgresOptions } from './options.ts';
import { probeServer } from './probe.ts';
import {
  type PgResult,
  type RunHooks,
  type RunLimits,
  runStatements,
  runStatementsEach,
} from './statements.ts';

export type { PostgresOptions } from './options.ts';

/** Rows returned or affected by a statement. */
function rowsOf(r: PgResult): number {
  return r.rowCount ?? r.rows.length;
}

/** Rows returned or affected by statements. */
function rowsOfAll(results: readonly PgResult[]): number {
  let n = 0;
  for (const r of results) n += rowsOf(r);
  return n;
}

const MAX_PREPARED = 2000;
const LONE_SELECT = /^\s*(?:SELECT|WITH)\s[^;]*$/i;

/** A parameterless statement worth preparing: one SELECT, so PostgreSQL plans it once. */
function preparableWithoutValues(text: string): boolean {
  return LONE_SELECT.test(text);
}

/**
 * A PostgreSQL connection pool on node-postgres, built for a pre-fork server: sized from a
 * node-wide budget, opened in the worker and drained on shutdown, bounded everywhere (acquire
 * wait, connect, statement, cancel) so a request never hangs on the database, and guarded by a
 * breaker so an unreachable server costs a fast 503 rather than a pile of waiting requests.
 */
export class PostgresPool implements Database {
  /** Always `postgresql`. */
  readonly dialect = 'postgresql';
  /** Name in metrics, spans and the readiness check. */
  readonly name: string;
  readonly #host: string;
  readonly #port: number;
  readonly #database: string;
  readonly #budget: number;
  readonly #fixedMax: number | undefined;
  readonly #acquireTimeout: number;
  readonly #statementTimeout: number;
  readonly #cancelGrace: number;
  readonly #idleTimeout: number;
  readonly #prepare: boolean;
  readonly #topology: Topology;
  readonly #breaker: Breaker;
  readonly #conns: Connections;
  readonly #liveness: LivenessWatch | undefined;
  readonly #names = new Map<string, string>();
  #opened = false;
  #reaper: NodeJS.Timeout | undefined;
  #unregister: (() => void) | undefined;
  #onTopology: ((t: Topology) => void) | undefined;
  #logger: Logger | undefined;
  #lastSuccess = 0;
  /** Since when the breaker has been open or probing, and the refusals counted when it opened. */
  #outage: { since: number; rejectedBefore: number } | undefined;
  /** Why the breaker last opened, for the log line. */
  #openReason = 'connections failed';
  #stats = {
    acquireWaitCount: 0,
    acquireWaitTotalMs: 0,
    acquireWaitMaxMs: 0,
    acquireRejected: 0,
    queries: 0,
    queryErrors: 0,
    connectionErrors: 0,
    livenessProbes: 0,
    livenessFailures: 0,
  };

  constructor(options: PostgresOptions = {}) {
    const url =
      options.url ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const parsed = new URL(url);
    this.name = options.name ?? 'postgresql';
    this.#host = decodeURIComponent(parsed.hostname || 'localhost').replace(/^\[|\]$/g, '');
    this.#port = parsed.port === '' ? 5432 : Number(parsed.port);
    this.#database = decodeURIComponent(parsed.pathname.slice(1)) || 'postgres';
    const clientConfig = {
      ...options.client,
      connectionString: url,
      connectionTimeoutMillis: options.connectTimeout ?? 2000,
      application_name: options.applicationName ?? 'peregrine',
      keepAlive: true,
      ...((options.pipeline ?? true) ? { pipeline: true } : {}),
    } as pg.ClientConfig;
    this.#budget = Math.max(1, options.connectionBudget ?? 20);
    this.#fixedMax = options.max;
    this.#acquireTimeout = options.acquireTimeout ?? 1000;
    this.#statementTimeout = options.statementTimeout ?? 10_000;
    this.#cancelGrace = options.cancelGrace ?? 1000;
    this.#idleTimeout = options.idleTimeout ?? 30_000;
    this.#prepare = options.prepare ?? true;
    this.#topology = options.topology ?? processTopology;
    this.#breaker = new Breaker(
      'postgresql',
      this.name,
      { failureThreshold: 5, cooldown: 1000, maxCooldown: 2000, ...options.breaker },
      (_from, to) => this.#breakerChanged(to),
    );
    this.#conns = new Connections({
      name: this.name,
      clientConfig,
      maxWaiting: options.maxWaiting ?? 10_000,
      breaker: this.#breaker,
      counters: this.#stats,
      logger: () => this.#logger,
    });
    this.#conns.resize(this.#computeMax());
    this.#liveness =
      options.liveness === false
        ? undefined
        : new LivenessWatch(
            {
              outstandingSince: () => this.#conns.outstandingSince(),
              lastHeard: () => this.#conns.lastHeard,
              probe: (timeoutMs) => probeServer(this.#host, this.#port, timeoutMs),
              probed: (alive) => {
                this.#stats.livenessProbes++;
                if (!alive) this.#stats.livenessFailures++;
              },
              unreachable: (silentMs) => this.#unreachable(silentMs),
            },
            options.liveness,
          );
  }

  /** This worker's pool size now. */
  get max(): number {
    return this.#conns.max;
  }

  #computeMax(): number {
    if (this.#fixedMax !== undefined) return Math.max(1, this.#fixedMax);
    return Math.max(1, Math.floor(this.#budget / Math.max(1, this.#topology.workerCount)));
  }

  /** Opens the pool: follows the topology, starts reaping idle connections, warms one up. */
  async open(): Promise<void> {
    if (this.#opened) return;
    this.#opened = true;
    this.#conns.open();
    this.#onTopology = () => this.#conns.resize(this.#computeMax());
    this.#topology.on('change', this.#onTopology);
    this.#conns.resize(this.#computeMax());
    const every = Math.max(100, Math.min(10_000, this.#idleTimeout / 2));
    this.#reaper = setInterval(() => this.#conns.reap(Date.now() - this.#idleTimeout), every);
    this.#reaper.unref();
    this.#liveness?.start();
    this.#unregister = register('pool', { name: this.name, stats: () => this.stats() });
    // Warm one connection so the first request does not pay for the handshake. A database that
    // is down at boot must not stop the worker: readiness reports it, and the pool recovers.
    try {
      await this.query('SELECT 1', [], { timeout: this.#acquireTimeout });
    } catch (err) {
      this.#logger?.warn({ err, pool: this.name }, 'database not reachable at startup');
    }
  }

  /** Ties the pool to an App: open on startup, close on shutdown, a readiness check. */
  install(app: App): this {
    this.#logger = app.logger;
    app.onStartup(() => this.open());
    app.onShutdown(() => this.close());
    app.addReadinessCheck(this.name, () => this.ready());
    return this;
  }

  /**
   * Whether the database serves: false while the breaker is open; true if a statement succeeded
   * in the last half second (a busy pool proves itself continuously); otherwise a `SELECT 1` must
   * answer within half a second.
   */
  async ready(): Promise<boolean> {
    if (!this.#conns.accepting) return false;
    if (this.#breaker.state === 'open') return false;
    if (Date.now() - this.#lastSuccess < 500) return true;
    try {
      await this.query('SELECT 1', [], { timeout: 500, req: { deadline: Date.now() + 500 } });
      return true;
    } catch {
      return false;
    }
  }

  /** Counters and gauges of this pool (see diagnostics.ts). */
  stats(): PoolStats {
    return {
      system: 'postgresql',
      inUse: this.#conns.size - this.#conns.idle,
      idle: this.#conns.idle,
      connecting: this.#conns.connecting,
      waiting: this.#conns.waiting,
      max: this.#conns.max,
      ...this.#stats,
      breaker: this.#breaker.state,
    };
  }

  /** Runs one statement. */
  async query<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    const wrong = queryArgumentError(text, values);
    if (wrong !== undefined) throw wrong;
    const results = await this.#execute([{ text, values }], options, undefined);
    return results[0] as unknown as QueryResult<R>;
  }

  /** Runs one statement and returns its first row. */
  async one<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R | undefined> {
    const wrong = queryArgumentError(text, values, 'db.one()');
    if (wrong !== undefined) throw wrong;
    return (await this.query<R>(text, values, options)).rows[0];
  }

  /** Runs statements pipelined on one connection (one round trip). */
  batch<R = Row>(
    statements: readonly Statement[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>[]> {
    const wrong = batchArgumentError(statements);
    if (wrong !== undefined) return Promise.reject(wrong);
    return this.#execute(statements, options, undefined) as unknown as Promise<QueryResult<R>[]>;
  }

  /**
   * A loader of one statement for many callers, the way a request-per-row API reads: the calls
   * made in one turn of the event loop (every request read in that turn) go out together,
   * pipelined on one pooled connection — one write and one round trip instead of one each — and
   * every caller gets its own row (`one`) or rows (`query`), or its own error. A batch holds at
   * most `maxBatch` calls (default 64); it is bounded by its most pressing caller (the earliest
   * deadline, the shortest timeout). A caller whose signal fires is answered at once. Telemetry
   * sees one statement per call, in the caller's trace, timed from the call (the wait for its
   * batch included).
   */
  loader<R = Row>(text: string, options: LoaderOptions = {}): Loader<R> {
    const wrong = queryArgumentError(text, undefined, 'db.loader()');
    if (wrong !== undefined) throw wrong;
    const enqueue = turnBatches(Math.max(1, options.maxBatch ?? 64), (calls) => {
      void this.#runLoaded(text, calls);
    });
    const run = (
      values: readonly unknown[] | undefined,
      o: QueryOptions | undefined,
      call: string,
    ): Promise<QueryResult<R>> => {
      if (values !== undefined && !Array.isArray(values))
        return Promise.reject(queryArgumentError(text, values, call));
      if (!dbQueryChannel.hasSubscribers) return enqueue(values, o) as Promise<QueryResult<R>>;
      return this.#traced(this.#context(text), () => enqueue(values, o), rowsOf) as Promise<
        QueryResult<R>
      >;
    };
    return {
      query: (values, o) => run(values, o, 'loader.query()'),
      one: (values, o) => run(values, o, 'loader.one()').then((r) => r.rows[0]),
    };
  }

  /** Runs one loader batch and answers each caller. */
  async #runLoaded(text: string, calls: LoaderCall[]): Promise<void> {
    const { live, bounds } = liveCalls(calls);
    if (live.length === 0) return;
    try {
      const conn = await this.#conns.acquire(this.#acquireBy(bounds));
      const limit = boundedTimeout(this.#statementTimeout, bounds);
      if (limit <= 0) {
        this.#conns.release(conn);
        throw new StatementTimeoutError(0);
      }
      const statements = live.map((c) => ({ text, values: c.values }));
      const outcomes = await this.#run(conn, statements, limit, undefined, true, runStatementsEach);
      for (let i = 0; i < live.length; i++) {
        const outcome = outcomes[i]!;
        if (outcome instanceof Error) live[i]!.reject(outcome);
        else live[i]!.resolve(outcome);
      }
    } catch (err) {
      for (const c of live) c.reject(err);
    }
  }

  /** Runs `fn` in a transaction on one connection. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: QueryOptions): Promise<T> {
    const conn = await this.#conns.acquire(this.#acquireBy(options));
    const tx: Queryable = {
      dialect: 'postgresql',
      query: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) => {
        const wrong = queryArgumentError(text, values, 'tx.query()');
        if (wrong !== undefined) throw wrong;
        return (
          await this.#execute([{ text, values }], o ?? options, conn)
        )[0] as unknown as QueryResult<R>;
      },
      one: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) => {
        const wrong = queryArgumentError(text, values, 'tx.one()');
        if (wrong !== undefined) throw wrong;
        return (
          ((await this.#execute([{ text, values }], o ?? options, conn))[0]?.rows[0] as R) ??
          undefined
        );
      },
      batch: <R = Row>(statements: readonly Statement[], o?: QueryOptions) => {
        const wrong = batchArgumentError(statements);
        if (wrong !== undefined) return Promise.reject(wrong);
        return this.#execute(statements, o ?? options, conn) as unknown as Promise<
          QueryResult<R>[]
        >;
      },
    };
    try {
      await this.#execute([{ text: 'BEGIN' }], options, conn);
      const result = await fn(tx);
      await this.#execute([{ text: 'COMMIT' }], options, conn);
      return result;
    } catch (err) {
      try {
        if (!conn.broken) await this.#execute([{ text: 'ROLLBACK' }], undefined, conn);
      } catch {
        conn.broken = true;
      }
      throw err;
    } finally {
      this.#conns.release(conn);
    }
  }

  /** Stops taking work, waits up to `timeoutMs` for busy connections, then closes them all. */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.#conns.accepting) return;
    if (this.#onTopology !== undefined) this.#topology.off('change', this.#onTopology);
    clearInterval(this.#reaper);
    this.#liveness?.stop();
    await this.#conns.drain(timeoutMs);
    this.#unregister?.();
    this.#opened = false;
  }

  /**
   * The server went silent with work outstanding and did not answer a liveness probe: open the
   * breaker and fail everything now, rather than let each caller find out at its own timeout.
   */
  #unreachable(silentMs: number): void {
    const reason = `no answer from ${this.#host}:${this.#port} for ${Math.round(silentMs)} ms, nor to a liveness probe`;
    this.#openReason = reason;
    this.#breaker.trip();
    this.#conns.reset(new Error(reason));
  }

  /**
   * Logs an outage once when it starts and once when it ends — not each refused caller (those
   * are counted in the stats) nor each probe while it lasts.
   */
  #breakerChanged(to: BreakerState): void {
    const log = this.#logger;
    const fields = { pool: this.name, host: this.#host, port: this.#port };
    if (to === 'open' && this.#outage === undefined) {
      this.#outage = { since: Date.now(), rejectedBefore: this.#stats.acquireRejected };
      log?.warn(
        { ...fields, reason: this.#openReason },
        `database ${this.name} unreachable (${this.#openReason}): breaker open, callers get 503 PRG_DB_UNAVAILABLE at once`,
      );
    } else if (to === 'closed' && this.#outage !== undefined) {
      const outageMs = Date.now() - this.#outage.since;
      const refused = this.#stats.acquireRejected - this.#outage.rejectedBefore;
      this.#outage = undefined;
      log?.info(
        { ...fields, outageMs, refused },
        `database ${this.name} answers again after ${(outageMs / 1000).toFixed(1)} s: breaker closed (${refused} callers refused meanwhile)`,
      );
    } else {
      log?.debug({ ...fields, state: to }, `database ${this.name} breaker ${to}`);
    }
    this.#openReason = 'connections failed';
  }

  #acquireBy(options: QueryOptions | undefined): number {
    const by = Date.now() + this.#acquireTimeout;
    const deadline = options?.req?.deadline;
    return deadline === undefined ? by : Math.min(by, deadline);
  }

  #execute(
    statements: readonly Statement[],
    options: QueryOptions | undefined,
    held: Conn | undefined,
  ): Promise<PgResult[]> {
    if (!dbQueryChannel.hasSubscribers) return this.#executeInner(statements, options, held);
    const text =
      statements.length === 1 ? statements[0]!.text : statements.map((s) => s.text).join(';\n');
    const ctx = this.#context(text);
    return this.#traced(ctx, () => this.#executeInner(statements, options, held, ctx), rowsOfAll);
  }

  /** The diagnostics context of a statement (or a batch's joined text), dated now. */
  #context(text: string): DbQueryContext {
    return {
      system: 'postgresql',
      pool: this.name,
      text,
      operation: cachedOperationOf(text),
      namespace: this.#database,
      serverAddress: this.#host,
      serverPort: this.#port,
      start: performance.now(),
    };
  }

  /** Publishes `run` on the db tracing channel, with the rows it returned or the SQLSTATE. */
  #traced<T>(ctx: DbQueryContext, run: () => Promise<T>, rows: (result: T) => number): Promise<T> {
    return dbQueryChannel.tracePromise(
      () =>
        run().then(
          (result) => {
            ctx.rowCount = rows(result);
            return result;
          },
          (err: unknown) => {
            const cause = (err as { cause?: unknown }).cause ?? err;
            if (cause instanceof pg.DatabaseError) ctx.errorCode = cause.code;
            throw err;
          },
        ),
      ctx,
    );
  }

  async #executeInner(
    statements: readonly Statement[],
    options: QueryOptions | undefined,
    held: Conn | undefined,
    ctx?: DbQueryContext,
  ): Promise<PgResult[]> {
    const signal = options?.signal;
    signal?.throwIfAborted();
    let conn = held;
    if (conn === undefined) {
      conn = await this.#conns.acquire(this.#acquireBy(options), signal);
      // Timed from the statement's start (telemetry on only): no clock read of its own.
      if (ctx?.start !== undefined) ctx.acquireWaitMs = performance.now() - ctx.start;
    }
    const timeout = boundedTimeout(this.#statementTimeout, options);
    if (timeout <= 0) {
      if (held === undefined) this.#conns.release(conn);
      throw new StatementTimeoutError(0);
    }
    return this.#run(conn, statements, timeout, signal, held === undefined, runStatements);
  }

  #config(s: Statement): pg.QueryConfig {
    const values = s.values as unknown[] | undefined;
    if (!this.#prepare) return { text: s.text, values };
    // Without parameters only a lone SELECT is prepared; anything else keeps the simple protocol,
    // which also runs multi-statement scripts and utility commands (BEGIN, SET, DDL).
    if ((values === undefined || values.length === 0) && !preparableWithoutValues(s.text))
      return { text: s.text, values };
    let name = this.#names.get(s.text);
    if (name === undefined && this.#names.size < MAX_PREPARED) {
      name = `prg_${this.#names.size}`;
      this.#names.set(s.text, name);
    }
    return name === undefined ? { text: s.text, values } : { name, text: s.text, values };
  }

  /**
   * Runs statements on a connection with `runner` (all-or-nothing, or each answered on its own
   * for a loader's batch); settles the connection's fate when they finish.
   */
  #run<T>(
    conn: Conn,
    statements: readonly Statement[],
    timeout: number,
    signal: AbortSignal | undefined,
    release: boolean,
    runner: (
      client: pg.Client,
      configs: readonly pg.QueryConfig[],
      limits: RunLimits,
      hooks: RunHooks,
    ) => Promise<T>,
  ): Promise<T> {
    this.#stats.queries += statements.length;
    if (conn.waitingSince === 0) conn.waitingSince = Date.now();
    const lose = () => {
      this.#stats.connectionErrors++;
      this.#breaker.failure();
      conn.broken = true;
      this.#conns.destroy(conn);
    };
    return runner(
      conn.client,
      statements.map((st) => this.#config(st)),
      { timeout, signal, host: this.#host, port: this.#port, cancelGrace: this.#cancelGrace },
      {
        settled: (lost) => {
          conn.waitingSince = 0;
          if (conn.destroyed) {
            if (release) this.#conns.afterLoss();
          } else if (lost) lose();
          else {
            const now = Date.now();
            this.#conns.lastHeard = now;
            this.#breaker.success();
            this.#lastSuccess = now;
            if (release) this.#conns.release(conn);
          }
        },
        silent: lose,
        failed: () => {
          this.#stats.queryErrors++;
        },
      },
    );
  }
}
