/**
 * The query interface shared by the PostgreSQL pool and the embedded SQLite database, so a
 * service can move between them by changing a URL. Placeholders are PostgreSQL's `$1, $2, …` in
 * both; rows come back as plain objects keyed by column name.
 */
import type { App } from '../app/app.ts';

/** A result row. */
export type Row = Record<string, unknown>;

/** What a statement returned. */
export interface QueryResult<R = Row> {
  /** The rows (empty for statements that return none). */
  rows: R[];
  /** Rows returned, or affected by INSERT / UPDATE / DELETE. */
  rowCount: number;
}

/** One statement of a batch. */
export interface Statement {
  text: string;
  values?: readonly unknown[];
}

/** Where a statement's deadline comes from: a Request has both fields. */
export interface DeadlineSource {
  /** Absolute deadline, ms since the epoch. */
  readonly deadline: number | undefined;
}

/** Per-statement options. */
export interface QueryOptions {
  /**
   * The request this statement serves: its deadline bounds the acquire wait and the statement
   * timeout, so a query never outlives the request that asked for it.
   */
  req?: DeadlineSource;
  /** A statement timeout in ms for this call (still bounded by the request deadline). */
  timeout?: number;
  /** Cancels the statement when it fires (for example `req.signal`). */
  signal?: AbortSignal;
}

/** Something that runs statements: a database, or a transaction on one connection. */
export interface Queryable {
  /** `postgresql` or `sqlite`, for the few places where SQL differs. */
  readonly dialect: 'postgresql' | 'sqlite';
  /** Runs one statement. */
  query<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>;
  /** Runs one statement and returns its first row, if any. */
  one<R = Row>(
    text: string,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<R | undefined>;
  /**
   * Runs several independent statements on one connection and returns their results in order.
   * PostgreSQL pipelines them (one round trip instead of N); SQLite runs them back to back.
   * They are not a transaction: use `transaction` for all-or-nothing.
   */
  batch<R = Row>(
    statements: readonly Statement[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>[]>;
}

/** A database: PostgreSQL through a pool, or an embedded SQLite file. */
export interface Database extends Queryable {
  /** The name used in metrics and spans. */
  readonly name: string;
  /** Runs `fn` in a transaction on one connection: COMMIT if it resolves, ROLLBACK if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: QueryOptions): Promise<T>;
  /** Opens the database (connects, applies pragmas); idempotent. */
  open(): Promise<void>;
  /** Stops taking work, waits up to `timeoutMs` for running statements, then closes. */
  close(timeoutMs?: number): Promise<void>;
  /** Whether the database can serve now (for readiness checks). */
  ready(): Promise<boolean>;
  /**
   * Ties the database to an App's life: opens on startup (in the worker, after it starts), closes
   * on shutdown after the last request, and adds a readiness check named after the database.
   */
  install(app: App): this;
}

/** A deadline-bounded timeout: the smaller of `timeout` and what is left of the request. */
export function boundedTimeout(timeout: number, options: QueryOptions | undefined): number {
  let t = options?.timeout ?? timeout;
  const deadline = options?.req?.deadline;
  if (deadline !== undefined) t = Math.min(t, deadline - Date.now());
  return t;
}
