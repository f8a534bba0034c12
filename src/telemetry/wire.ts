/**
 * The worker → master telemetry message. One is sent per worker per second; it carries only the
 * series that changed, so its size follows the number of live series, never the request rate.
 * Kept spans ride along as encoded records; when many are kept, each full chunk of records (128
 * spans) also goes on its own as soon as it fills, in a message without metrics.
 */

declare module '../server/ipc.ts' {
  interface WorkerMessages {
    /** A worker's telemetry since its previous message (one per flush interval). */
    'telemetry-delta': TelemetryDelta;
  }
}

/** Kinds of metric family on the wire. */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** How the master combines a gauge reported by several workers. */
export type GaugeMerge = 'sum' | 'worker';

/** What the master must know to expose a family. */
export interface FamilyMeta {
  readonly name: string;
  readonly kind: MetricKind;
  readonly help: string;
  readonly unit: string;
  readonly labels: readonly string[];
  /** Histogram bucket upper bounds (without +Inf). */
  readonly buckets?: readonly number[];
  /** Gauges only. */
  readonly merge?: GaugeMerge;
}

/** An exemplar: the latest kept trace that landed in a bucket. */
export type WireExemplar = [
  bucket: number,
  value: number,
  traceId: string,
  spanId: string,
  timeMs: number,
];

/** A counter increase or a gauge value: label values, then the number. */
export type ScalarDelta = [labelValues: string[], value: number];

/**
 * A histogram increase: label values, count, sum, then the non-zero buckets as pairs
 * [index, count, index, count…], then exemplars if any.
 */
export type HistogramDelta = [
  labelValues: string[],
  count: number,
  sum: number,
  buckets: number[],
  exemplars?: WireExemplar[],
];

/** The changes of one family since the previous message. */
export interface FamilyDelta {
  readonly meta: FamilyMeta;
  readonly series: Array<ScalarDelta | HistogramDelta>;
}

/** A finished span as it travels to the master (times in ms since the epoch, sub-ms precision). */
export interface WireSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** Whether the parent came from another process (traceparent). */
  remoteParent: boolean;
  traceState: string;
  traceFlags: number;
  name: string;
  /** OpenTelemetry SpanKind: 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  kind: number;
  start: number;
  end: number;
  attributes: Record<string, WireAttributeValue>;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string;
  events: Array<{ name: string; time: number; attributes: Record<string, WireAttributeValue> }>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, WireAttributeValue> }>;
  /** The instrumentation scope that made the span. */
  scope: string;
  /** Why the span was kept: 'sampled' | 'error' | 'slow'. */
  kept: string;
}

/**
 * Kept spans of one instrumentation scope as OTLP span records: each is ScopeSpans field 2
 * (tag, length, an encoded `Span`), ready to be framed into an export request.
 */
export interface EncodedSpans {
  readonly scope: string;
  /** How many records. */
  readonly count: number;
  /** The records; base64 when they crossed IPC (JSON carries no bytes). */
  readonly data: Uint8Array | string;
}

/** Attribute values that survive structured cloning and map onto OTLP AnyValue. */
export type WireAttributeValue = string | number | boolean | string[] | number[] | boolean[];

/** The per-second message from a worker. */
export interface TelemetryDelta {
  /** Format version. */
  readonly v: 1;
  /** When the worker cut it (ms since the epoch). */
  readonly time: number;
  readonly families: FamilyDelta[];
  /**
   * Kept spans as objects. With `encoded` present these are a bounded selection for the
   * master's trace store (every kept span is in `encoded`); without it, every kept span.
   */
  readonly spans: WireSpan[];
  /** Every kept span, encoded (what the exporter sends). */
  readonly encoded?: EncodedSpans[];
  /** Spans the worker dropped because its buffer was full. */
  readonly droppedSpans: number;
}

/** The delta as IPC carries it: JSON has no bytes, so encoded spans go as base64. */
export function forIpc(delta: TelemetryDelta): TelemetryDelta {
  const encoded = delta.encoded;
  if (encoded === undefined || encoded.length === 0) return delta;
  return {
    ...delta,
    encoded: encoded.map((c) =>
      typeof c.data === 'string'
        ? c
        : {
            ...c,
            data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength).toString(
              'base64',
            ),
          },
    ),
  };
}
