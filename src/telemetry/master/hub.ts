import { MetricRegistry } from '../metrics/registry.ts';
import { chunkBytes, isRecords } from '../otlp/frame.ts';
import type { EncodedSpans, TelemetryDelta } from '../wire.ts';
import {
  type ExpositionFormat,
  negotiateExposition,
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  renderMetrics,
} from './exposition.ts';
import { MASTER_SOURCE, MetricStore } from './metric-store.ts';
import {
  type ExportLog,
  exporterOptionsFromEnv,
  OtlpExporter,
  type OtlpExporterOptions,
} from './otlp-exporter.ts';
import { TraceStore, type TraceStoreOptions } from './trace-store.ts';

/** Options of the master's telemetry hub. */
export interface HubOptions {
  /** OTLP export; default from `OTEL_EXPORTER_OTLP_*` (none when no endpoint is set); false: off. */
  exporter?: OtlpExporterOptions | false;
  /** Limits of the kept-trace store. */
  traces?: TraceStoreOptions;
  /** Where failed exports are reported (the master's log). */
  log?: ExportLog;
}

/** A rendered scrape. */
export interface Scrape {
  readonly contentType: string;
  readonly body: string;
}

/** Called for every delta that arrives (the dashboard builds its time series from these). */
export type DeltaListener = (worker: string, delta: TelemetryDelta) => void;

/**
 * The master side of telemetry: merges every worker's deltas exactly, keeps the kept traces for
 * the dashboard, exports spans over OTLP, and renders `/metrics` from memory (a scrape never
 * waits on a worker). Counters live here, so they never go backwards when a worker restarts.
 */
export class TelemetryHub {
  /** Merged metrics of all workers and of the master. */
  readonly store = new MetricStore();
  /** Recent, slowest and failed kept traces. */
  readonly traces: TraceStore;
  /** The master's own metrics (process model, exporter); merged like a worker's. */
  readonly registry = new MetricRegistry();
  /** The OTLP exporter, when an endpoint is configured. */
  readonly exporter: OtlpExporter | undefined;
  readonly #listeners: DeltaListener[] = [];
  readonly #spans;

  constructor(options: HubOptions = {}) {
    this.traces = new TraceStore(options.traces);
    this.#spans = this.registry.counter({
      name: 'peregrine_trace_spans',
      help: 'Kept spans by outcome: exported, or dropped (worker_buffer, queue_full, export_failed).',
      labels: ['outcome'],
    });
    const exporterOptions =
      options.exporter === false ? undefined : (options.exporter ?? exporterOptionsFromEnv());
    this.exporter =
      exporterOptions === undefined
        ? undefined
        : new OtlpExporter({
            ...(options.log === undefined ? {} : { log: options.log }),
            ...exporterOptions,
            onCount: (event, n) => {
              this.#spans.inc([event === 'exported' ? 'exported' : event], n);
              exporterOptions.onCount?.(event, n);
            },
          });
  }

  /** Takes one worker's delta (never throws: a malformed message is ignored). */
  ingest(worker: string, delta: TelemetryDelta): void {
    try {
      if (delta?.v !== 1) return;
      this.store.ingest(worker, delta.families);
      if (delta.droppedSpans > 0) this.#spans.inc(['worker_buffer'], delta.droppedSpans);
      if (delta.spans.length > 0) this.traces.add(delta.spans);
      // Encoded records carry every kept span (the objects are the store's selection); a delta
      // without them (an older worker) exports its objects.
      if (delta.encoded !== undefined) {
        if (this.exporter !== undefined) {
          const chunks = decodeChunks(delta.encoded);
          if (chunks.bad > 0) this.#spans.inc(['export_failed'], chunks.bad);
          if (chunks.good.length > 0) this.exporter.enqueueEncoded(chunks.good);
        }
      } else if (delta.spans.length > 0) this.exporter?.enqueue(delta.spans);
      for (const l of this.#listeners) l(worker, delta);
    } catch {
      // a bad message from one worker must not break the master
    }
  }

  /** A worker exited: its gauges go; its counted totals stay. */
  workerExited(worker: string): void {
    this.store.forgetWorker(worker);
  }

  /** Subscribes to incoming deltas. */
  onDelta(listener: DeltaListener): void {
    this.#listeners.push(listener);
  }

  /** Renders the metrics in the format the scraper's Accept header asks for. */
  scrape(accept?: string): Scrape {
    return this.render(negotiateExposition(accept));
  }

  /** Renders the metrics in a given format. */
  render(format: ExpositionFormat): Scrape {
    this.store.ingest(MASTER_SOURCE, this.registry.collect());
    return {
      contentType: format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
      body: renderMetrics(this.store, format),
    };
  }

  /** Exports what is queued and stops the exporter. */
  async close(): Promise<void> {
    if (this.exporter === undefined) return;
    await this.exporter.flush();
    this.exporter.close();
  }
}

/** Well-formed chunks, as bytes (they cross IPC as base64), and how many spans the others claim. */
function decodeChunks(chunks: readonly EncodedSpans[]): { good: EncodedSpans[]; bad: number } {
  const good: EncodedSpans[] = [];
  let bad = 0;
  if (!Array.isArray(chunks)) return { good, bad };
  for (const c of chunks) {
    if (typeof c?.scope !== 'string' || !Number.isSafeInteger(c.count) || c.count <= 0) continue;
    const data =
      typeof c.data === 'string' || c.data instanceof Uint8Array ? chunkBytes(c) : undefined;
    // A chunk that is not what it says would fail the whole request it is sent in: left out.
    if (data !== undefined && isRecords(data, c.count)) good.push({ ...c, data });
    else bad += c.count;
  }
  return { good, bad };
}
