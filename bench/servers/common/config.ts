/**
 * How the runner configures a benchmark server: environment variables, so the same settings
 * reach single processes, cluster workers and `peregrine serve` alike.
 */
export interface ServerConfig {
  /** Interface to listen on (loopback only). */
  host: string;
  /** Port to listen on. */
  port: number;
  /** PostgreSQL URL, or undefined when the run needs no database. */
  databaseUrl: string | undefined;
  /** Connections for the whole node; each worker gets its share. */
  poolSize: number;
  /** Worker processes for the cluster variants. */
  workers: number;
}

/** Reads the configuration from `BENCH_*` environment variables. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  return {
    host: env.BENCH_HOST ?? '127.0.0.1',
    port: Number(env.BENCH_PORT ?? 8080),
    databaseUrl: env.BENCH_DATABASE_URL || undefined,
    poolSize: Math.max(1, Number(env.BENCH_POOL ?? 16)),
    workers: Math.max(1, Number(env.BENCH_WORKERS ?? 1)),
  };
}

/** This process's share of a node-wide pool (at least one connection). */
export function poolShare(poolSize: number, workers: number): number {
  return Math.max(1, Math.ceil(poolSize / workers));
}
