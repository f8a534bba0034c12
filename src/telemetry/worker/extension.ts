import { type WorkerExtension, workerExtensions } from '../../server/extensions.ts';
import type { WorkerRuntime } from '../../server/worker/runtime.ts';
import { configFromSettings } from '../config.ts';
import { forIpc } from '../wire.ts';
import { registerTelemetry } from './provider.ts';
import { configureRecorder, recorder } from './recorder.ts';

/**
 * Telemetry in a `peregrine serve` worker: the process's recorder sends one delta per flush
 * interval to the master, and a last one when the worker drains, so nothing counted is lost.
 */
class TelemetryWorkerExtension implements WorkerExtension {
  readonly name = 'telemetry';
  #runtime: WorkerRuntime | undefined;

  /** The recorder the App will be measured by is built from the worker's settings. */
  prepare(runtime: WorkerRuntime): void {
    if (!configureRecorder(configFromSettings(runtime.config.settings))) {
      runtime.log.warn(
        {},
        "telemetry: the recorder was created before the worker read its settings; it keeps the environment's",
      );
    }
  }

  setup(runtime: WorkerRuntime): void {
    const rec = recorder();
    if (!rec.config.metrics) return;
    this.#runtime = runtime;
    rec.connect((delta) => void runtime.send('telemetry-delta', forIpc(delta)).catch(() => {}));
  }

  async close(): Promise<void> {
    const runtime = this.#runtime;
    if (runtime === undefined) return;
    const rec = recorder();
    rec.disconnect();
    await runtime.send('telemetry-delta', forIpc(rec.flush()));
  }
}

// A worker imports this module before it loads the App, so the App is built measured.
registerTelemetry();
workerExtensions.push(new TelemetryWorkerExtension());
