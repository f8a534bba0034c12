import pg from 'pg';
import type { App } from '../../app/app.ts';
import type { Logger } from '../../app/logger.ts';
import { topology as processTopology, type Topology } from '../../server/topology.ts';
import { Breaker } from '../breaker.ts';
import {
  boundedTimeout,
  type Database,
  operationOf,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  type Row,
  type Statement,
} from '../db.ts';
import { type DbQueryContext, dbQueryChannel, type PoolStats, register } from '../diagnostics.ts';
import { DatabaseUnavailableError, PoolBusyError, StatementTimeoutError } from '../errors.ts';
import type { PostgresOptions } from './options.ts';

export type { PostgresOptions } from './options.ts';

import { type PgResult, runStatements } from './statements.ts';

interface Conn {
  readonly client: pg.Client;
  busy: boolean;
  broken: boolean;
  destroyed: boolean;
  idleSince: number;
  handedAt: number;
}

interface Waiter {
  resolve(conn: Conn): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
  since: number;
}

const MAX_PREPARED = 2000;

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
  readonly #clientConfig: pg.ClientConfig;
  readonly #host: string;
  readonly #port: number;
  readonly #database: string;
  readonly #budget: number;
  readonly #fixedMax: number | undefined;
  readonly #acquireTimeout: number;
  readonly #maxWaiting: number;
  readonly #statementTimeout: number;
  readonly #cancelGrace: number;
  readonly #idleTimeout: number;
  readonly #prepare: boolean;
  readonly #topology: Topology;
  readonly #breaker: Breaker;
  readonly #all = new Set<Conn>();
  readonly #idle: Conn[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #names = new Map<string, string>();
  #max: number;
  #connecting = 0;
  #opened = false;
  #closing = false;
  #reaper: NodeJS.Timeout | undefined;
  #unregister: (() => void) | undefined;
  #onTopology: ((t: Topology) => void) | undefined;
  #drained: (() => void) | undefined;
  #logger: Logger | undefined;
  #lastSuccess = 0;
  /** PERF: a moving average of how long a connection is held, to refuse hopeless waits at once. */
  #holdAvg = 0;
  #stats = {
    acquireWaitCount: 0,
    acquireWaitTotalMs: 0,
    acquireWaitMaxMs: 0,
    acquireRejected: 0,
    queries: 0,
    queryErrors: 0,
    connectionErrors: 0,
  };

  constructor(options: PostgresOptions = {}) {
    const url =
      options.url ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const parsed = new URL(url);
    this.name = options.name ?? 'postgresql';
    this.#host = decodeURIComponent(parsed.hostname || 'localhost').replace(/^\[|\]$/g, '');
    this.#port = parsed.port === '' ? 5432 : Number(parsed.port);
    this.#database = decodeURIComponent(parsed.pathname.slice(1)) || 'postgres';
    this.#clientConfig = {
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
    this.#maxWaiting = options.maxWaiting ?? 10_000;
    this.#statementTimeout = options.statementTimeout ?? 30_000;
    this.#cancelGrace = options.cancelGrace ?? 1000;
    this.#idleTimeout = options.idleTimeout ?? 30_000;
    this.#prepare = options.prepare ?? true;
    this.#topology = options.topology ?? processTopology;
    this.#breaker = new Breaker('postgresql', this.name, {
      failureThreshold: 5,
      cooldown: 1000,
      maxCooldown: 2000,
      ...options.breaker,
    });
    this.#max = this.#computeMax();
  }

  /** This worker's pool size now. */
  get max(): number {
    return this.#max;
  }

  #computeMax(): number {
    if (this.#fixedMax !== undefined) return Math.max(1, this.#fixedMax);
    return Math.max(1, Math.floor(this.#budget / Math.max(1, this.#topology.workerCount)));
  }

  /** Opens the pool: follows the topology, starts reaping idle connections, warms one up. */
  async open(): Promise<void> {
    if (this.#opened) return;
    this.#opened = true;
    this.#closing = false;
    this.#onTopology = () => this.#resize();
    this.#topology.on('change', this.#onTopology);
    this.#resize();
    const every = Math.max(100, Math.min(10_000, this.#idleTimeout / 2));
    this.#reaper = setInterval(() => this.#reap(), every).unref();
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
    if (!this.#opened || this.#closing) return false;
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
      inUse: this.#all.size - this.#idle.length,
      idle: this.#idle.length,
      connecting: this.#connecting,
      waiting: this.#waiters.length,
      max: this.#max,
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
    const results = await this.#execute([{ text, values }], options, undefined);
    return results[0] as unknown as QueryResult<R>;
  }

  /** Runs one statement and returns its first row. */
  async one<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R | undefined> {
    return (await this.query<R>(text, values, options)).rows[0];
  }

  /** Runs statements pipelined on one connection (one round trip). */
  batch<R = Row>(
    statements: readonly Statement[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>[]> {
    return this.#execute(statements, options, undefined) as unknown as Promise<QueryResult<R>[]>;
  }

  /** Runs `fn` in a transaction on one connection. */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: QueryOptions): Promise<T> {
    const conn = await this.#acquire(this.#acquireBy(options));
    const tx: Queryable = {
      dialect: 'postgresql',
      query: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) =>
        (
          await this.#execute([{ text, values }], o ?? options, conn)
        )[0] as unknown as QueryResult<R>,
      one: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) =>
        ((await this.#execute([{ text, values }], o ?? options, conn))[0]?.rows[0] as R) ??
        undefined,
      batch: <R = Row>(statements: readonly Statement[], o?: QueryOptions) =>
        this.#execute(statements, o ?? options, conn) as unknown as Promise<QueryResult<R>[]>,
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
      this.#release(conn);
    }
  }

  /** Stops taking work, waits up to `timeoutMs` for busy connections, then closes them all. */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.#opened || this.#closing) return;
    this.#closing = true;
    if (this.#onTopology !== undefined) this.#topology.off('change', this.#onTopology);
    clearInterval(this.#reaper);
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new DatabaseUnavailableError('The database pool is shutting down.'));
    }
    if (this.#all.size > this.#idle.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#drained = undefined;
    await Promise.all([...this.#all].map((c) => this.#destroy(c)));
    this.#unregister?.();
    this.#opened = false;
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
    const ctx: DbQueryContext = {
      system: 'postgresql',
      pool: this.name,
      text,
      operation: operationOf(text),
      namespace: this.#database,
      serverAddress: this.#host,
      serverPort: this.#port,
    };
    return dbQueryChannel.tracePromise(
      () =>
        this.#executeInner(statements, options, held, ctx).then(
          (results) => {
            let rows = 0;
            for (const r of results) rows += r.rowCount ?? r.rows.length;
            ctx.rowCount = rows;
            return results;
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
      const t0 = performance.now();
      conn = await this.#acquire(this.#acquireBy(options), signal);
      if (ctx !== undefined) ctx.acquireWaitMs = performance.now() - t0;
    }
    const timeout = boundedTimeout(this.#statementTimeout, options);
    if (timeout <= 0) {
      if (held === undefined) this.#release(conn);
      throw new StatementTimeoutError(0);
    }
    return this.#run(conn, statements, timeout, signal, held === undefined);
  }

  #config(s: Statement): pg.QueryConfig {
    const values = s.values as unknown[] | undefined;
    if (!this.#prepare || values === undefined || values.length === 0)
      return { text: s.text, values };
    let name = this.#names.get(s.text);
    if (name === undefined && this.#names.size < MAX_PREPARED) {
      name = `prg_${this.#names.size}`;
      this.#names.set(s.text, name);
    }
    return name === undefined ? { text: s.text, values } : { name, text: s.text, values };
  }

  /** Runs statements on a connection; settles the connection's fate when they finish. */
  #run(
    conn: Conn,
    statements: readonly Statement[],
    timeout: number,
    signal: AbortSignal | undefined,
    release: boolean,
  ): Promise<PgResult[]> {
    this.#stats.queries += statements.length;
    const lose = () => {
      this.#stats.connectionErrors++;
      this.#breaker.failure();
      conn.broken = true;
      this.#destroy(conn);
    };
    return runStatements(
      conn.client,
      statements.map((st) => this.#config(st)),
      { timeout, signal, host: this.#host, port: this.#port, cancelGrace: this.#cancelGrace },
      {
        settled: (lost) => {
          if (conn.destroyed) {
            if (release) this.#afterLoss();
          } else if (lost) lose();
          else {
            this.#breaker.success();
            this.#lastSuccess = Date.now();
            if (release) this.#release(conn);
          }
        },
        silent: lose,
        failed: () => {
          this.#stats.queryErrors++;
        },
      },
    );
  }

  #acquire(by: number, signal?: AbortSignal): Promise<Conn> {
    if (!this.#opened || this.#closing) {
      this.#stats.acquireRejected++;
      return Promise.reject(new DatabaseUnavailableError('The database pool is not open.'));
    }
    if (this.#breaker.state !== 'closed' && !this.#breaker.allow()) {
      this.#stats.acquireRejected++;
      return Promise.reject(
        new DatabaseUnavailableError(
          'The database is not answering; failing fast until it does.',
          undefined,
          this.#breaker.retryAfterMs,
        ),
      );
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      idle.busy = true;
      idle.handedAt = performance.now();
      return Promise.resolve(idle);
    }
    const wait = by - Date.now();
    const position = this.#waiters.length + 1;
    // PERF: a caller that would need more than its whole wait budget just to reach the head of
    // the queue is refused now, so the 503 is fast and the queue stays short.
    const hopeless = this.#holdAvg > 0 && (position / this.#max) * this.#holdAvg > wait;
    if (wait <= 0 || position > this.#maxWaiting || (hopeless && this.#all.size >= this.#max)) {
      this.#stats.acquireRejected++;
      this.#breaker.abandon();
      return Promise.reject(
        new PoolBusyError(
          wait <= 0
            ? 'The request deadline left no time to wait for a database connection.'
            : 'Too many requests are waiting for a database connection.',
        ),
      );
    }
    return new Promise<Conn>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, since: performance.now() };
      const onAbort = () => {
        this.#dropWaiter(waiter);
        reject(signal!.reason);
      };
      waiter.resolve = (conn) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(conn);
      };
      waiter.reject = (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      waiter.timer = setTimeout(() => {
        this.#dropWaiter(waiter);
        this.#stats.acquireRejected++;
        this.#breaker.abandon();
        waiter.reject(
          new PoolBusyError(`No database connection became free within ${Math.round(wait)} ms.`),
        );
      }, wait);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#grow();
    });
  }

  #dropWaiter(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const i = this.#waiters.indexOf(waiter);
    if (i !== -1) this.#waiters.splice(i, 1);
  }

  /** Opens connections while callers wait and the pool has room. */
  #grow(): void {
    while (
      this.#waiters.length > this.#connecting &&
      this.#all.size + this.#connecting < this.#max &&
      !this.#closing
    ) {
      this.#connect();
    }
  }

  #connect(): void {
    this.#connecting++;
    const client = new pg.Client(this.#clientConfig);
    const conn: Conn = {
      client,
      busy: false,
      broken: false,
      destroyed: false,
      idleSince: Date.now(),
      handedAt: 0,
    };
    // An error on an idle connection (server restart, network reset) must never crash the
    // process: node-postgres emits it as 'error', which would be fatal without a listener.
    client.on('error', (err: Error) => {
      this.#stats.connectionErrors++;
      conn.broken = true;
      if (!conn.busy) {
        this.#logger?.warn({ err, pool: this.name }, 'idle database connection lost');
        this.#destroy(conn);
        this.#afterLoss();
      }
    });
    client.connect().then(
      () => {
        this.#connecting--;
        this.#all.add(conn);
        this.#breaker.success();
        if (this.#closing) this.#destroy(conn);
        else this.#release(conn);
      },
      (err: unknown) => {
        this.#connecting--;
        this.#stats.connectionErrors++;
        this.#breaker.failure();
        conn.destroyed = true;
        client.end().catch(() => {});
        // Tell a waiter now rather than let it wait out its timeout for a connection that failed.
        const w = this.#waiters.shift();
        if (w !== undefined) {
          clearTimeout(w.timer);
          this.#stats.acquireRejected++;
          w.reject(new DatabaseUnavailableError('Could not connect to the database.', err));
        }
        if (this.#breaker.state === 'open') this.#failWaiters(err);
        else this.#grow();
      },
    );
  }

  #failWaiters(cause: unknown): void {
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      this.#stats.acquireRejected++;
      w.reject(
        new DatabaseUnavailableError(
          'The database is not answering; failing fast until it does.',
          cause,
          this.#breaker.retryAfterMs,
        ),
      );
    }
  }

  /** Hands a connection to the next waiter, or puts it back to idle. */
  #release(conn: Conn): void {
    if (conn.destroyed) {
      this.#afterLoss();
      return;
    }
    if (conn.handedAt > 0) {
      const held = performance.now() - conn.handedAt;
      this.#holdAvg = this.#holdAvg === 0 ? held : this.#holdAvg * 0.8 + held * 0.2;
    }
    if (conn.broken || this.#all.size > this.#max) {
      this.#destroy(conn);
      this.#afterLoss();
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      const waited = performance.now() - w.since;
      this.#stats.acquireWaitCount++;
      this.#stats.acquireWaitTotalMs += waited;
      if (waited > this.#stats.acquireWaitMaxMs) this.#stats.acquireWaitMaxMs = waited;
      conn.busy = true;
      conn.handedAt = performance.now();
      w.resolve(conn);
      return;
    }
    conn.busy = false;
    conn.idleSince = Date.now();
    conn.handedAt = 0;
    this.#idle.push(conn);
    if (this.#drained !== undefined && this.#idle.length === this.#all.size) this.#drained();
  }

  /** After a connection is gone: open another if callers wait, or finish a drain. */
  #afterLoss(): void {
    if (this.#closing) {
      if (this.#drained !== undefined && this.#idle.length === this.#all.size) this.#drained();
      return;
    }
    if (this.#breaker.state === 'open') this.#failWaiters(undefined);
    else this.#grow();
  }

  #destroy(conn: Conn): Promise<void> {
    if (conn.destroyed) return Promise.resolve();
    conn.destroyed = true;
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    const client = conn.client;
    // A connection with statements in flight on a silent server would wait for them forever.
    const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } })
      .connection?.stream;
    if (conn.busy || conn.broken) stream?.destroy();
    return client.end().catch(() => {});
  }

  #resize(): void {
    const next = this.#computeMax();
    if (next === this.#max) return;
    this.#max = next;
    // Shrinking closes idle connections at once; busy ones close when they come back.
    while (this.#all.size > this.#max && this.#idle.length > 0) this.#destroy(this.#idle.shift()!);
    this.#grow();
  }

  #reap(): void {
    const cutoff = Date.now() - this.#idleTimeout;
    for (const conn of [...this.#idle]) if (conn.idleSince < cutoff) this.#destroy(conn);
  }
}
