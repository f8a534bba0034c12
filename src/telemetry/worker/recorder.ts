import { configFromEnv, type TelemetryConfig } from '../config.ts';
import { MetricRegistry } from '../metrics/registry.ts';
import { SpanRecords } from '../otlp/records.ts';
import type { SpanSink, TracedSpan } from '../tracing/span.ts';
import { registerOpenTelemetryBridge, type TracingSetup } from '../tracing/tracer.ts';
import type { TelemetryDelta, WireSpan } from '../wire.ts';
import { DataTelemetry } from './data-path.ts';
import { RuntimeSampler } from './runtime-metrics.ts';

/** Where a worker's deltas go: the master over IPC, or an in-process hub. */
export type DeltaSink = (delta: TelemetryDelta) => void;

/** Kept spans held while no sink is connected. */
const UNCONNECTED_SPANS = 1024;
/** Local traces per flush sent as span objects for the master's trace store, besides errors and slow ones. */
const STORE_PER_FLUSH = 200;
/** How many of the slowest local traces the store lists (a slower one is always sent). */
const STORE_SLOWEST = 50;

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
  /** Kept spans not sent yet, encoded as they ended. */
  readonly #records = new SpanRecords();
  /** The trace store's selection of them, as objects. */
  #spans: WireSpan[] = [];
  #dropped = 0;
  #storeBudget = STORE_PER_FLUSH;
  /** Durations of the slowest local traces sent to the store this interval (descending, ≤ 50). */
  #slowest: number[] = [];
  #slowFloor = 0;
  #timer: NodeJS.Timeout | undefined;
  #sink: DeltaSink | undefined;
  #sendingFull = false;
  /**
   * Sends the full chunks of records at once, outside the request that filled one. PERF: with
   * every trace kept, a second of records is megabytes; sent with the once-a-second delta it
   * paused the worker (base64, the IPC write) and the master (parse) for ~100 ms.
   */
  readonly #sendFull = (): void => {
    this.#sendingFull = false;
    const sink = this.#sink;
    if (sink === undefined || this.#records.full === 0) return;
    try {
      sink({
        v: 1,
        time: Date.now(),
        families: [],
        spans: [],
        encoded: this.#records.takeFull(),
        droppedSpans: 0,
      });
    } catch {
      // as #send: the master is gone or the channel closed
    }
  };
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

  /**
   * SpanSink: a span of a kept trace ended. It is encoded for export at once; the
   * master's trace store also gets it as an object when its local trace is one the store can
   * show (see `#forStore`).
   */
  keep(span: TracedSpan, reason: string): void {
    // With nothing connected (serve() alone, no hub) nobody takes the spans every second: keep a
    // window for a later flush() and count the rest, instead of holding up to a whole buffer.
    const max =
      this.#sink === undefined
        ? Math.min(UNCONNECTED_SPANS, this.config.maxBufferedSpans)
        : this.config.maxBufferedSpans;
    if (this.#records.count >= max) {
      this.#dropped++;
      return;
    }
    try {
      this.#records.add(span);
    } catch {
      this.#dropped++;
      return;
    }
    if (this.#records.full > 0 && !this.#sendingFull && this.#sink !== undefined) {
      this.#sendingFull = true;
      setImmediate(this.#sendFull);
    }
    if (this.#forStore(span)) this.#spans.push(span.toWire(reason));
  }

  /**
   * Whether the spans of this span's local trace go to the trace store as objects, decided once
   * per local trace: the first `STORE_PER_FLUSH` of each interval, every failed one, and every
   * one slower than the slowest this worker sent lately. PERF: with every trace kept, sending
   * and storing all of them as objects cost more than exporting them; the store shows 50 of each.
   */
  #forStore(span: TracedSpan): boolean {
    const local = span.local;
    if (local.forStore !== undefined) return local.forStore;
    const root = local.root ?? span;
    const duration = root.end_ - root.start;
    let send: boolean;
    if (this.#storeBudget > 0) {
      this.#storeBudget--;
      send = true;
    } else send = root.statusCode === 2 || duration > this.#slowFloor;
    if (send) this.#noteDuration(duration);
    local.forStore = send;
    return send;
  }

  #noteDuration(duration: number): void {
    const list = this.#slowest;
    if (list.length >= STORE_SLOWEST && duration <= list[list.length - 1]!) return;
    let i = list.length;
    while (i > 0 && list[i - 1]! < duration) i--;
    list.splice(i, 0, duration);
    if (list.length > STORE_SLOWEST) list.pop();
    if (list.length >= STORE_SLOWEST)
      this.#slowFloor = Math.max(this.#slowFloor, list[list.length - 1]!);
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
    const encoded = this.#records.take();
    this.#spans = [];
    this.#dropped = 0;
    this.#storeBudget = STORE_PER_FLUSH;
    // The slow floor of the next interval: the slowest sent in this one (a sliding window of two).
    const last = this.#slowest;
    this.#slowFloor = last.length >= STORE_SLOWEST ? last[last.length - 1]! : 0;
    this.#slowest = [];
    return {
      v: 1,
      time: Date.now(),
      families: this.registry.collect(),
      spans,
      encoded,
      droppedSpans,
    };
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

// A global symbol rather than a module variable: the CLI and the application may load two copies
// of this package (a global install and a local one), and both must feed the same recorder.
const KEY = Symbol.for('peregrine.recorder');
const slot = globalThis as { [KEY]?: Recorder };

/**
 * Creates this process's recorder with `config` (a `peregrine serve` worker's, from its resolved
 * settings, before the App is loaded); false if a recorder was created already, which keeps its own.
 */
export function configureRecorder(config: TelemetryConfig): boolean {
  if (slot[KEY] !== undefined) return false;
  slot[KEY] = new Recorder(config);
  return true;
}

/** This process's recorder (created from the environment on first use, unless configured). */
export function recorder(): Recorder {
  slot[KEY] ??= new Recorder(configFromEnv());
  return slot[KEY];
}
