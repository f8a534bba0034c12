import { configFromEnv, type TelemetryConfig } from './config.ts';
import { DataTelemetry } from './data.ts';
import { MetricRegistry } from './metrics/registry.ts';
import { TELEMETRY_MESSAGE, type TelemetryDelta, type WireSpan } from './metrics/wire.ts';
import { RuntimeSampler } from './runtime/sampler.ts';
import type { SpanSink, TracedSpan } from './tracing/span.ts';
import { registerOpenTelemetryBridge, type TracingSetup } from './tracing/tracer.ts';

/** Where a worker's deltas go: the master over IPC, or an in-process hub. */
export type DeltaSink = (delta: TelemetryDelta) => void;

/** Kept spans held while no sink is connected. */
const UNCONNECTED_SPANS = 1024;

/**
 * The worker side of telemetry: the process's metric registry, the kept-span buffer, and the
 * once-a-second flush of both to the master as one delta message.
 */
export class Recorder implements SpanSink {
  /** The process's metric families (RED, runtime, the App's own). */
  readonly registry = new MetricRegistry();
  /** Settings in force. */
  readonly config: TelemetryConfig;
  /** Sampler, keep policy and span sink (undefined when tracing is off). */
  readonly tracing: TracingSetup | undefined;
  #spans: WireSpan[] = [];
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #sink: DeltaSink | undefined;
  #bridged = false;
  #data: DataTelemetry | undefined;
  #runtime: RuntimeSampler | undefined;

  constructor(config: TelemetryConfig) {
    this.config = config;
    this.tracing = config.tracing
      ? {
          sampler: config.sampler,
          policy: { keepErrors: config.keepErrors, slowMs: config.slowMs },
          sink: this,
        }
      : undefined;
  }

  /** @internal SpanSink: a span of a kept trace ended. */
  keep(span: TracedSpan, reason: string): void {
    // With nothing connected (serve() alone, no hub) nobody takes the spans every second: keep a
    // window for a later flush() and count the rest, instead of holding up to a whole buffer.
    const max =
      this.#sink === undefined
        ? Math.min(UNCONNECTED_SPANS, this.config.maxSpansPerFlush)
        : this.config.maxSpansPerFlush;
    if (this.#spans.length >= max) {
      this.#dropped++;
      return;
    }
    this.#spans.push(span.toWire(reason));
  }

  /** Subscribes to the data path's channels once (db, cache, outbound client telemetry). */
  observeDataPath(): void {
    this.#data ??= new DataTelemetry(this);
  }

  /** Registers the OpenTelemetry API bridge once (when tracing is on). */
  bridge(): void {
    if (this.#bridged || this.tracing === undefined) return;
    this.#bridged = true;
    registerOpenTelemetryBridge(this.tracing);
  }

  /** Cuts the delta since the previous flush. */
  flush(): TelemetryDelta {
    const spans = this.#spans;
    const droppedSpans = this.#dropped;
    this.#spans = [];
    this.#dropped = 0;
    return { v: 1, time: Date.now(), families: this.registry.collect(), spans, droppedSpans };
  }

  /** Sends a delta every `flushInterval` ms to `sink` (replacing any previous sink). */
  connect(sink: DeltaSink): void {
    this.#sink = sink;
    if (this.config.metrics) this.#runtime ??= new RuntimeSampler(this.registry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#send(), this.config.flushInterval);
      this.#timer.unref();
    }
  }

  /** Sends what is pending now (before a worker exits, so nothing counted is lost). */
  flushNow(): void {
    this.#send();
  }

  /** Stops the periodic flush. */
  disconnect(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#sink = undefined;
    this.#runtime?.stop();
    this.#runtime = undefined;
  }

  #send(): void {
    const sink = this.#sink;
    if (sink === undefined) return;
    try {
      sink(this.flush());
    } catch {
      // The master is gone or the channel closed: telemetry never takes a worker down.
    }
  }
}

/** Sends deltas to the master of a node:cluster worker. */
export function ipcSink(): DeltaSink {
  return (delta) => {
    if (process.send !== undefined && process.connected) {
      process.send({ type: TELEMETRY_MESSAGE, delta });
    }
  };
}

// A global symbol rather than a module variable: the CLI and the application may load two copies
// of this package (a global install and a local one), and both must feed the same recorder.
const KEY = Symbol.for('peregrine.recorder');
const slot = globalThis as { [KEY]?: Recorder };

/** This process's recorder (created from the environment on first use). */
export function recorder(): Recorder {
  slot[KEY] ??= new Recorder(configFromEnv());
  return slot[KEY];
}
