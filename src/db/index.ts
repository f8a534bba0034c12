/**
 * `peregrine/db`: pooled PostgreSQL and embedded SQLite behind one query interface.
 * `openDatabase()` picks the backend from `DATABASE_URL` (SQLite when unset).
 */
export { Breaker, type BreakerOptions } from '../data/breaker.ts';
export { dataSnapshot } from '../data/diagnostics.ts';
export { DataError } from '../data/errors.ts';
export type {
  Database,
  DeadlineSource,
  Loader,
  LoaderOptions,
  Queryable,
  QueryOptions,
  QueryResult,
  Row,
  Statement,
} from './db.ts';
export {
  DatabaseUnavailableError,
  PoolBusyError,
  StatementTimeoutError,
} from './errors.ts';
export { type DatabaseOptions, openDatabase } from './open.ts';
export { type PostgresOptions, PostgresPool } from './pool/postgres.ts';
export { SqliteDatabase, type SqliteOptions } from './sqlite/sqlite.ts';
