import type pg from 'pg';
import type { BreakerOptions } from '../../data/breaker.ts';
import type { Topology } from '../../process/topology.ts';
import type { LivenessOptions } from './liveness.ts';

/** Options of a PostgreSQL pool. Times are in milliseconds. */
export interface PostgresOptions {
  /** `postgres://user:pass@host:port/db` (default `$DATABASE_URL`). */
  url?: string;
  /** Name in metrics, spans and the readiness check (default `postgresql`). */
  name?: string;
  /**
   * Connections this whole node may open (default 20). Each worker gets budget ÷ workers,
   * recomputed when workers are added or removed.
   */
  connectionBudget?: number;
  /** A fixed per-worker pool size; overrides the budget. */
  max?: number;
  /** Longest wait for a free connection before a 503 `PRG_DB_BUSY` (default 1000). */
  acquireTimeout?: number;
  /** Most callers allowed to wait at once; more get an immediate 503 (default 10 000). */
  maxWaiting?: number;
  /** Longest time to open a connection (default 2000). */
  connectTimeout?: number;
  /**
   * Ceiling of every statement (default 10 000); the request deadline lowers it, and a call's
   * own `timeout` replaces it (for the report that legitimately takes a minute). A statement that
   * outlives it is cancelled on the server and answered 503 `PRG_DB_TIMEOUT` at once; it counts
   * toward the breaker only if the server does not answer the cancel either.
   */
  statementTimeout?: number;
  /**
   * Telling a silent server from a slow statement: after `after` ms (1000) with work outstanding
   * and nothing heard from the server, it is asked over a fresh connection whether it answers at
   * all; no answer within `timeout` ms (500) opens the breaker at once. `false` turns it off.
   */
  liveness?: LivenessOptions | false;
  /** After a cancel, how long a silent server gets before its connection is dropped (default 1000). */
  cancelGrace?: number;
  /** Idle connections older than this are closed (default 30 000). */
  idleTimeout?: number;
  /** Use named prepared statements (parsed and planned once per connection; default true). */
  prepare?: boolean;
  /** Pipeline the statements of a `batch` on one connection (default true). */
  pipeline?: boolean;
  /** `application_name` shown in pg_stat_activity (default `peregrine`). */
  applicationName?: string;
  /** The breaker that makes an unreachable database fail fast. */
  breaker?: BreakerOptions;
  /** Worker topology to follow (default: this process's). */
  topology?: Topology;
  /** Extra node-postgres client settings (ssl, types, …). */
  client?: Omit<pg.ClientConfig, 'connectionString'>;
}
