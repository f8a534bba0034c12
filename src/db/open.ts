import type { Database } from './db.ts';
import { type PostgresOptions, PostgresPool } from './pool/postgres.ts';
import { SqliteDatabase, type SqliteOptions } from './sqlite/sqlite.ts';

/** Options of `openDatabase`: those of either backend. */
export type DatabaseOptions = Omit<PostgresOptions, 'url'> & Omit<SqliteOptions, 'path'>;

/**
 * The database a URL names: `postgres://…` / `postgresql://…` → a PostgreSQL pool;
 * `sqlite:path`, `file:path` or a bare path → an embedded SQLite file. Without a URL it reads
 * `$DATABASE_URL`, and without that it uses SQLite at `./data/peregrine.db` — so a service runs
 * with no database server until one is configured.
 */
export function openDatabase(url?: string, options: DatabaseOptions = {}): Database {
  const target = url ?? process.env.DATABASE_URL ?? '';
  if (/^postgres(?:ql)?:\/\//i.test(target)) return new PostgresPool({ ...options, url: target });
  const path = target.replace(/^(?:sqlite|file):(?:\/\/)?/i, '');
  return new SqliteDatabase({ ...options, path: path === '' ? undefined : path });
}
