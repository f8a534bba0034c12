/**
 * The server part: the single-process `serve` function, the worker topology, and the extension
 * points of `peregrine serve` (master and worker extensions, IPC message types, exit codes).
 */

export { Topology, topology } from '../process/topology.ts';
export { EXIT, type ExitCode } from './exit-codes.ts';
export type { MasterExtension, WorkerExtension } from './extensions.ts';
export type { BootError, Heartbeat, MasterMessages, WorkerMessages } from './ipc.ts';
export type { AdminHandler } from './master/admin.ts';
export type { Master, MasterState } from './master/master.ts';
export type { MasterStats, WorkerSnapshot } from './master/stats.ts';
export type { RestartReason, WorkerRecord, WorkerState } from './master/worker-table.ts';
export {
  type RunningServer,
  type ServeOptions,
  type ServeStats,
  serve,
  supportsReusePort,
} from './serve.ts';
export type { WorkerRuntime } from './worker/runtime.ts';
