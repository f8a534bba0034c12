import type { Master } from './master/master.ts';
import type { WorkerRuntime } from './worker/runtime.ts';

/**
 * A part that runs inside the master (telemetry's hub, for example): it may add admin routes
 * (`master.admin.route`), receive worker messages (`master.messages.on`) and read the process
 * model (`master.stats()`). It never sees application code.
 */
export interface MasterExtension {
  /** A name for logs. */
  readonly name: string;
  /**
   * A module (URL) every worker imports before it loads the App: it registers the worker side
   * of this extension in `workerExtensions`.
   */
  readonly workerModule?: string;
  /** Called once before any worker is spawned. */
  setup(master: Master): void | Promise<void>;
  /** Called when the master stops, after the last worker exited. */
  close?(): void | Promise<void>;
}

/**
 * A part that runs inside every worker (telemetry's recorder, for example): it gets the App after
 * it is loaded and before its startup hooks run, and may send messages to the master.
 */
export interface WorkerExtension {
  /** A name for logs. */
  readonly name: string;
  /**
   * Called once per worker before it loads the App, with the resolved settings in
   * `runtime.config.settings`: the place to set up what the App reads when it is built.
   */
  prepare?(runtime: WorkerRuntime): void | Promise<void>;
  /** Called once per worker, after the App loaded and before it starts. */
  setup(runtime: WorkerRuntime): void | Promise<void>;
  /** Called when the worker has drained, before it exits. */
  close?(): void | Promise<void>;
}

/** The extensions every `peregrine serve` master runs; built-in parts add theirs here. */
export const masterExtensions: MasterExtension[] = [];

/** The extensions every `peregrine serve` worker runs; built-in parts add theirs here. */
export const workerExtensions: WorkerExtension[] = [];
