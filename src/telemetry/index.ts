/**
 * `peregrine/telemetry`: what an App author uses — App metrics (counters, gauges, histograms with
 * declared labels, merged over all workers like the built-in RED metrics) and tracing (a tracer,
 * `withSpan`, the active span and its ids for log lines). The recorder, the master's hub and the
 * exporter are machinery the server runs; they are not part of this API.
 *
 * Importing this module turns request telemetry on for Apps built afterwards in this process
 * (`peregrine serve` workers always have it on).
 */
import { type Span, type SpanOptions, type Tracer, trace } from '@opentelemetry/api';
import type {
  Counter,
  Gauge,
  GaugeOptions,
  Histogram,
  HistogramOptions,
  MetricOptions,
} from './metrics/instruments.ts';
import { PeregrineTracerProvider } from './tracing/tracer.ts';
import { registerTelemetry } from './worker/provider.ts';
import { recorder } from './worker/recorder.ts';

export type { Span, SpanOptions, Tracer } from '@opentelemetry/api';
export * from './deprecated.ts';
export { DURATION_BUCKETS } from './metrics/buckets.ts';
export {
  Counter,
  CounterSeries,
  Gauge,
  type GaugeOptions,
  GaugeSeries,
  Histogram,
  type HistogramOptions,
  HistogramSeries,
  type LabelValues,
  type MetricOptions,
} from './metrics/instruments.ts';
export { activeSpan, traceFields } from './tracing/active.ts';

registerTelemetry();

/** Declares an App counter (exposed as `<name>_total`, summed over workers). */
export function counter<L extends string = never>(options: MetricOptions<L>): Counter<L> {
  return recorder().registry.counter(options);
}

/** Declares an App gauge (summed over workers unless `merge: 'worker'`). */
export function gauge<L extends string = never>(options: GaugeOptions<L>): Gauge<L> {
  return recorder().registry.gauge(options);
}

/** Declares an App histogram (fixed buckets, merged exactly over workers). */
export function histogram<L extends string = never>(options: HistogramOptions<L>): Histogram<L> {
  return recorder().registry.histogram(options);
}

let provider: PeregrineTracerProvider | undefined;

/** A tracer whose spans join the active request's trace (an `@opentelemetry/api` Tracer). */
export function tracer(name = 'app', version?: string): Tracer {
  const setup = recorder().tracing;
  // Tracing off: the global API's tracer (a no-op unless another SDK is registered).
  if (setup === undefined) return trace.getTracer(name, version);
  provider ??= new PeregrineTracerProvider(setup);
  return provider.getTracer(name, version);
}

/**
 * Runs `fn` inside a child span of the active span; the span ends when `fn` settles and records
 * the error (and error status) if it throws.
 */
export async function withSpan<T>(
  name: string,
  fn: (span: Span) => T | Promise<T>,
  options: SpanOptions = {},
): Promise<T> {
  return tracer('peregrine').startActiveSpan(name, options, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err instanceof Error ? err : String(err));
      span.setStatus({ code: 2, message: err instanceof Error ? err.message : String(err) });
      throw err;
    } finally {
      span.end();
    }
  });
}
