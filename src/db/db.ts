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

/** Options of `db.loader`. */
export interface LoaderOptions {
  /** PostgreSQL: at most this many calls share one pipelined batch (default 64). */
  maxBatch?: number;
}

/**
 * One statement prepared for many callers (`db.loader(text)`): each call passes its own values
 * and gets its own answer, in the same shapes as `db.one` and `db.query`.
 */
export interface Loader<R = Row> {
  /** Runs the statement with these values; resolves to its first row, or undefined (`db.one`). */
  one(values?: readonly unknown[], options?: QueryOptions): Promise<R | undefined>;
  /** Runs the statement with these values; resolves to its rows and row count (`db.query`). */
  query(values?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
}

/** A database: PostgreSQL through a pool, or an embedded SQLite file. */
export interface Database extends Queryable {
  /** The name used in metrics and spans. */
  readonly name: string;
  /**
   * A loader of one statement for many callers (`byId.one([id], { req })`). On PostgreSQL the
   * calls made in one turn of the event loop — from every request read in it — go out pipelined
   * on one connection, one round trip for all; on SQLite each call runs at once (statements are
   * synchronous: there is no round trip to save). Either way each caller gets its own answer or
   * its own error.
   */
  loader<R = Row>(text: string, options?: LoaderOptions): Loader<R>;
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

/** A string shown in a message, cut to 40 characters. */
function quoted(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}

/** What a wrong argument is, for a message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string (${quoted(value)})`;
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * The TypeError for a statement whose text or values have the wrong type, or undefined. Checked
 * before a connection is touched, so a programming error is never mistaken for a lost connection
 * (which would count toward the breaker).
 */
export function queryArgumentError(
  text: unknown,
  values: unknown,
  call = 'db.query()',
): TypeError | undefined {
  if (typeof text !== 'string') {
    return new TypeError(`${call} expects the SQL text as a string, got ${describe(text)}.`);
  }
  if (values !== undefined && !Array.isArray(values)) {
    return new TypeError(
      `${call} expects its values as an array (for $1, $2, …), got ${describe(values)}.`,
    );
  }
  return undefined;
}

/** The TypeError for a batch that is not an array of `{ text, values? }` statements, or undefined. */
export function batchArgumentError(statements: unknown): TypeError | undefined {
  const shape = 'an array of statements: [{ text: string, values?: unknown[] }, …]';
  if (!Array.isArray(statements)) {
    return new TypeError(`db.batch() expects ${shape}; got ${describe(statements)}.`);
  }
  for (let i = 0; i < statements.length; i++) {
    const s: unknown = statements[i];
    if (typeof s === 'string') {
      return new TypeError(
        `db.batch() expects ${shape}; item ${i} is a string: write { text: ${quoted(s)} }.`,
      );
    }
    if (typeof s !== 'object' || s === null) {
      return new TypeError(`db.batch() expects ${shape}; item ${i} is ${describe(s)}.`);
    }
    const wrong = queryArgumentError(
      (s as { text?: unknown }).text,
      (s as { values?: unknown }).values,
      `db.batch() item ${i}`,
    );
    if (wrong !== undefined) return wrong;
  }
  return undefined;
}

/** A deadline-bounded timeout: the smaller of `timeout` and what is left of the request. */
export function boundedTimeout(timeout: number, options: QueryOptions | undefined): number {
  let t = options?.timeout ?? timeout;
  const deadline = options?.req?.deadline;
  if (deadline !== undefined) t = Math.min(t, deadline - Date.now());
  return t;
}
