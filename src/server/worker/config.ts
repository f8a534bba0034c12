import type { ServerSettings } from '../settings/all.ts';
import type { Address } from '../settings/setting.ts';

/** What the master tells a worker it spawns (JSON in the `PEREGRINE_WORKER_CONFIG` variable). */
export interface WorkerConfig {
  /** The worker's id, unique for the master's lifetime. */
  id: number;
  /** Its generation (a reload starts a new one). */
  generation: number;
  /** Workers alive when it was spawned. */
  workerCount: number;
  /** `MODULE[:EXPORT]`. */
  app: string;
  /** Modules imported before the App: the worker sides of the master's extensions. */
  modules: string[];
  /** Where relative module paths resolve. */
  cwd: string;
  /** The node's id, the same in every worker of the master (the node bus). */
  nodeId: string;
  /** The resolved settings. */
  settings: ServerSettings;
  /** The addresses served (`--bind`, with port 0 resolved). */
  listen: Address[];
  /** The master holds the listening sockets and hands connections over (not `--reuse-port`). */
  external: boolean;
  /** The log format in effect (`auto` resolved by the master, which owns the terminal). */
  logFormat: 'json' | 'pretty';
  /** This worker's request budget (`--max-requests` plus its jitter; 0 = none). */
  maxRequests: number;
  /** Heartbeat interval, ms. */
  heartbeatMs: number;
  /** Where the worker records when its event loop last turned (null: the master judges by heartbeats). */
  loopClockFile: string | null;
  /** How often it records a loop turn, ms. */
  turnMs: number;
  /** Where the watchdog thread writes a captured stack (null: no capture). */
  stackFile: string | null;
  /** Silence after which the watchdog thread captures the stack, ms. */
  stackAfterMs: number;
}

/** The environment variable carrying the WorkerConfig. */
export const WORKER_CONFIG_ENV = 'PEREGRINE_WORKER_CONFIG';
