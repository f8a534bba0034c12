import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { App } from '../../app/app.ts';
import {
  cachedOperationOf,
  type DbQueryContext,
  dbQueryChannel,
  type PoolStats,
  register,
} from '../../data/diagnostics.ts';
import {
  batchArgumentError,
  type Database,
  type Loader,
  type Queryable,
  type QueryOptions,
  type QueryResult,
  queryArgumentError,
  type Row,
  type Statement,
} from '../db.ts';
import { DatabaseUnavailableError, PoolBusyError, StatementTimeoutError } from '../errors.ts';
import { checkNodeApi } from './node-api.ts';

/** Options of an embedded SQLite database. */
export interface SqliteOptions {
  /** The database file, shared by every worker of the node (default `./data/peregrine.db`). */
  path?: string;
  /** Name in metrics, spans and the readiness check (default `sqlite`). */
  name?: string;
  /**
   * How long a write waits for another worker's write lock before a 503 `PRG_DB_BUSY`
   * (default 1000 ms). The wait blocks this worker's event loop, so keep it short.
   */
  busyTimeout?: number;
  /** Prepared statements kept per connection (default 500). */
  statementCache?: number;
  /** Open read-only. */
  readonly?: boolean;
}

type BindValue = number | string | bigint | Buffer | null;
type Bind = BindValue[] | Record<string, BindValue>;

/** SQLite cannot bind booleans, Dates or undefined: map them as PostgreSQL would store them. */
function toSqlite(v: unknown): BindValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint') return v;
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  return JSON.stringify(v);
}

const NUMBERED = /\$\d/;

/**
 * An embedded SQLite database on better-sqlite3, so a service runs with no database server:
 * WAL mode so readers never wait for the writer, one file shared by every worker of the node,
 * `$1` placeholders like PostgreSQL, and the same query interface, metrics and spans as the
 * pool. Statements run synchronously (better-sqlite3's design: no thread hop per query, which is
 * faster for the short statements a service runs); the promise is only for the shared interface.
 */
export class SqliteDatabase implements Database {
  /** Always `sqlite`. */
  readonly dialect = 'sqlite';
  /** Name in metrics, spans and the readiness check. */
  readonly name: string;
  /** The database file. */
  readonly path: string;
  /** `db.namespace` of every statement: the file name. */
  readonly #namespace: string;
  readonly #busyTimeout: number;
  readonly #cacheSize: number;
  readonly #readonly: boolean;
  readonly #statements = new Map<string, { stmt: BetterSqlite3.Statement; numbered: boolean }>();
  #db: BetterSqlite3.Database | undefined;
  #unregister: (() => void) | undefined;
  /** Set while a transaction is open: other callers of this worker wait for it to end. */
  #gate: Promise<void> | undefined;
  #stats = { queries: 0, queryErrors: 0, acquireRejected: 0 };

  constructor(options: SqliteOptions = {}) {
    this.path = options.path ?? './data/peregrine.db';
    this.#namespace = basename(this.path);
    this.name = options.name ?? 'sqlite';
    this.#busyTimeout = options.busyTimeout ?? 1000;
    this.#cacheSize = options.statementCache ?? 500;
    this.#readonly = options.readonly ?? false;
  }

  /** Opens the file (creating its folder) and sets WAL, synchronous=NORMAL and the busy timeout. */
  async open(): Promise<void> {
    if (this.#db !== undefined) return;
    checkNodeApi();
    if (this.path !== ':memory:' && !this.#readonly)
      mkdirSync(dirname(this.path), { recursive: true });
    const db = new BetterSqlite3(this.path, { readonly: this.#readonly });
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(this.#busyTimeout))}`);
    if (!this.#readonly) {
      // WAL: one writer and many readers across processes; NORMAL is durable across app
      // crashes (only an OS crash can lose the last transactions) and much faster than FULL.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    db.pragma('foreign_keys = ON');
    this.#db = db;
    this.#unregister = register('pool', { name: this.name, stats: () => this.stats() });
  }

  /** Ties the database to an App: open on startup, close on shutdown, a readiness check. */
  install(app: App): this {
    app.onStartup(() => this.open());
    app.onShutdown(() => this.close());
    app.addReadinessCheck(this.name, () => this.ready());
    return this;
  }

  /** Whether the file is open and answers. */
  async ready(): Promise<boolean> {
    try {
      return this.#db?.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }

  /** Counters of this database (the pool gauges are 0 or 1: one connection per worker). */
  stats(): PoolStats {
    return {
      system: 'sqlite',
      inUse: 0,
      idle: this.#db === undefined ? 0 : 1,
      connecting: 0,
      waiting: 0,
      max: 1,
      acquireWaitCount: 0,
      acquireWaitTotalMs: 0,
      acquireWaitMaxMs: 0,
      acquireRejected: this.#stats.acquireRejected,
      queries: this.#stats.queries,
      queryErrors: this.#stats.queryErrors,
      connectionErrors: 0,
      breaker: 'closed',
    };
  }

  /** Closes the file (statements are synchronous, so nothing is in flight). */
  async close(): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    this.#statements.clear();
    this.#unregister?.();
    db.close();
  }

  /** The better-sqlite3 handle, for what the shared interface does not cover (backups, UDFs). */
  get handle(): BetterSqlite3.Database {
    if (this.#db === undefined) throw new DatabaseUnavailableError('The database is not open.');
    return this.#db;
  }

  /** Runs one statement. */
  async query<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>> {
    const wrong = queryArgumentError(text, values);
    if (wrong !== undefined) throw wrong;
    while (this.#gate !== undefined) await this.#gate;
    return this.#traced(text, options, () => this.#exec(text, values)) as QueryResult<R>;
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

  /**
   * A loader of one statement (the shared interface with the pool): each call runs at once, as
   * statements are synchronous here and there is no round trip to save by batching.
   */
  loader<R = Row>(text: string): Loader<R> {
    const wrong = queryArgumentError(text, undefined, 'db.loader()');
    if (wrong !== undefined) throw wrong;
    const checked = (values: readonly unknown[] | undefined, call: string) => {
      const bad = queryArgumentError(text, values, call);
      if (bad !== undefined) throw bad;
    };
    return {
      query: async (values, o) => {
        checked(values, 'loader.query()');
        return this.query<R>(text, values, o);
      },
      one: async (values, o) => {
        checked(values, 'loader.one()');
        return this.one<R>(text, values, o);
      },
    };
  }

  /** Runs statements back to back. */
  async batch<R = Row>(
    statements: readonly Statement[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>[]> {
    const wrong = batchArgumentError(statements);
    if (wrong !== undefined) throw wrong;
    while (this.#gate !== undefined) await this.#gate;
    const text = statements.map((s) => s.text).join(';\n');
    return this.#traced(text, options, () =>
      statements.map((s) => this.#exec(s.text, s.values)),
    ) as QueryResult<R>[];
  }

  /**
   * Runs `fn` in a transaction (BEGIN IMMEDIATE, so the write lock is taken up front and a busy
   * database fails at once instead of half-way). Other calls in this worker wait their turn.
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: QueryOptions): Promise<T> {
    while (this.#gate !== undefined) await this.#gate;
    let open!: () => void;
    this.#gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const run = (text: string, values?: readonly unknown[], o?: QueryOptions) =>
      this.#traced(text, o ?? options, () => this.#exec(text, values));
    const checked = (wrong: TypeError | undefined) => {
      if (wrong !== undefined) throw wrong;
    };
    const tx: Queryable = {
      dialect: 'sqlite',
      query: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) => {
        checked(queryArgumentError(text, values, 'tx.query()'));
        return run(text, values, o) as QueryResult<R>;
      },
      one: async <R = Row>(text: string, values?: readonly unknown[], o?: QueryOptions) => {
        checked(queryArgumentError(text, values, 'tx.one()'));
        return run(text, values, o).rows[0] as R | undefined;
      },
      batch: async <R = Row>(statements: readonly Statement[], o?: QueryOptions) => {
        checked(batchArgumentError(statements));
        return statements.map((st) => run(st.text, st.values, o)) as QueryResult<R>[];
      },
    };
    try {
      run('BEGIN IMMEDIATE');
      try {
        const result = await fn(tx);
        run('COMMIT');
        return result;
      } catch (err) {
        if (this.#db?.inTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    } finally {
      this.#gate = undefined;
      open();
    }
  }

  #traced<T>(text: string, options: QueryOptions | undefined, run: () => T): T {
    options?.signal?.throwIfAborted();
    const deadline = options?.req?.deadline;
    if (deadline !== undefined && deadline <= Date.now()) throw new StatementTimeoutError(0);
    if (!dbQueryChannel.hasSubscribers) return run();
    const ctx: DbQueryContext = {
      system: 'sqlite',
      pool: this.name,
      text,
      operation: cachedOperationOf(text),
      namespace: this.#namespace,
      start: performance.now(),
    };
    return dbQueryChannel.traceSync(() => {
      try {
        const r = run();
        ctx.rowCount = Array.isArray(r)
          ? r.reduce((n: number, x: QueryResult) => n + x.rowCount, 0)
          : (r as QueryResult).rowCount;
        return r;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string') ctx.errorCode = code;
        throw err;
      }
    }, ctx);
  }

  #prepare(text: string): { stmt: BetterSqlite3.Statement; numbered: boolean } {
    let entry = this.#statements.get(text);
    if (entry !== undefined) {
      // PERF: refresh recency only when the cache is near full, to keep hits to one Map lookup.
      if (this.#statements.size >= this.#cacheSize) {
        this.#statements.delete(text);
        this.#statements.set(text, entry);
      }
      return entry;
    }
    entry = { stmt: this.handle.prepare(text), numbered: NUMBERED.test(text) };
    if (this.#statements.size >= this.#cacheSize) {
      this.#statements.delete(this.#statements.keys().next().value!);
    }
    this.#statements.set(text, entry);
    return entry;
  }

  #exec(text: string, values: readonly unknown[] | undefined): QueryResult {
    this.#stats.queries++;
    try {
      const { stmt, numbered } = this.#prepare(text);
      let bind: Bind = [];
      if (values !== undefined && values.length > 0) {
        if (numbered) {
          const named: Record<string, BindValue> = {};
          for (let i = 0; i < values.length; i++) named[i + 1] = toSqlite(values[i]);
          bind = named;
        } else bind = values.map(toSqlite);
      }
      if (stmt.reader) {
        const rows = (Array.isArray(bind) ? stmt.all(...bind) : stmt.all(bind)) as Row[];
        return { rows, rowCount: rows.length };
      }
      const info = Array.isArray(bind) ? stmt.run(...bind) : stmt.run(bind);
      return { rows: [], rowCount: info.changes };
    } catch (err) {
      this.#stats.queryErrors++;
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
        this.#stats.acquireRejected++;
        throw new PoolBusyError('The database is locked by another writer; retry shortly.');
      }
      throw err;
    }
  }
}
