import {
  type Context,
  context as otelContext,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { contextManager } from './context.ts';
import { LazySpanContext } from './ids.ts';
import { W3CTraceContextPropagator } from './propagator.ts';
import { type SamplerConfig, sampledByRatio } from './sampler.ts';
import {
  type KeepPolicy,
  LocalTrace,
  nowMs,
  type SpanSink,
  TracedSpan,
  timeInputMs,
} from './span.ts';
import type { RemoteParent } from './trace-context.ts';

/** Everything a tracer needs: the sampler, the keep policy and where kept spans go. */
export interface TracingSetup {
  sampler: SamplerConfig;
  policy: KeepPolicy;
  sink: SpanSink;
}

/** Starts a span under a parent context (the core of both Peregrine's and the OTel tracer). */
export function startSpan(
  setup: TracingSetup,
  name: string,
  kind: number,
  parent: SpanContext | undefined,
  parentSpan: TracedSpan | undefined,
  scope: string,
  start: number,
): TracedSpan {
  if (parentSpan !== undefined && parentSpan.isRecording() !== false) {
    const ctx = parentSpan.spanContext();
    return new TracedSpan(
      name,
      kind,
      ctx instanceof LazySpanContext
        ? LazySpanContext.childOf(ctx)
        : new LazySpanContext(ctx.traceId, ctx.traceFlags, ctx.traceState),
      ctx,
      false,
      parentSpan.local,
      false,
      scope,
      start,
    );
  }
  const local = new LocalTrace(setup.sink, setup.policy);
  if (parent !== undefined) {
    // A remote parent (or a local span of another tracer): follow its decision if parent-based.
    const sampled = setup.sampler.parentBased
      ? (parent.traceFlags & 1) === 1
      : sampledByRatio(parent.traceId, setup.sampler.ratio);
    return new TracedSpan(
      name,
      kind,
      new LazySpanContext(parent.traceId, sampled ? 1 : 0, parent.traceState),
      parent,
      parent.isRemote === true,
      local,
      true,
      scope,
      start,
    );
  }
  // The trace-id-ratio decision on the new id's low 56 bits, without formatting the id.
  const ctx = new LazySpanContext(undefined, 0);
  const ratio = setup.sampler.ratio;
  if (ratio >= 1 || (ratio > 0 && ctx.low56 < ratio * 2 ** 56)) ctx.traceFlags = 1;
  return new TracedSpan(name, kind, ctx, undefined, false, local, true, scope, start);
}

/** Starts a server span for an incoming request, as a child of its `traceparent` if any. */
export function startServerSpan(
  setup: TracingSetup,
  name: string,
  parent: RemoteParent | undefined,
  start: number,
): TracedSpan {
  return startSpan(
    setup,
    name,
    SpanKind.SERVER,
    parent === undefined
      ? undefined
      : {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.traceFlags,
          isRemote: true,
          ...(parent.traceState !== undefined ? { traceState: parent.traceState } : {}),
        },
    undefined,
    'peregrine',
    start,
  );
}

/** An OpenTelemetry Tracer whose spans are Peregrine's. */
export class PeregrineTracer implements Tracer {
  readonly #setup: TracingSetup;
  readonly #scope: string;

  constructor(setup: TracingSetup, scope: string) {
    this.#setup = setup;
    this.#scope = scope;
  }

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const ctx = options.root ? undefined : (context ?? contextManager.active());
    const parentSpan = ctx === undefined ? undefined : trace.getSpan(ctx);
    const local =
      parentSpan instanceof TracedSpan && parentSpan.isRecording() ? parentSpan : undefined;
    const remote = local === undefined ? parentSpan?.spanContext() : undefined;
    const span = startSpan(
      this.#setup,
      name,
      options.kind ?? SpanKind.INTERNAL,
      remote !== undefined && remote.traceId !== '' ? remote : undefined,
      local,
      this.#scope,
      options.startTime === undefined ? nowMs() : timeInputMs(options.startTime),
    );
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    if (options.links !== undefined) span.addLinks(options.links);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a?: SpanOptions | F,
    b?: Context | F,
    c?: F,
  ): ReturnType<F> {
    const fn = (c ?? (typeof b === 'function' ? b : a)) as F;
    const options = typeof a === 'object' ? a : {};
    const parent = typeof b === 'object' ? b : contextManager.active();
    const span = this.startSpan(name, options, parent);
    return contextManager.with(trace.setSpan(parent, span), () => fn(span)) as ReturnType<F>;
  }
}

/** An OpenTelemetry TracerProvider handing out Peregrine tracers. */
export class PeregrineTracerProvider implements TracerProvider {
  readonly #setup: TracingSetup;
  readonly #tracers = new Map<string, PeregrineTracer>();
  constructor(setup: TracingSetup) {
    this.#setup = setup;
  }
  getTracer(name: string, version?: string): Tracer {
    const key = `${name}@${version ?? ''}`;
    let t = this.#tracers.get(key);
    if (t === undefined) {
      t = new PeregrineTracer(this.#setup, name);
      this.#tracers.set(key, t);
    }
    return t;
  }
}

/**
 * Registers Peregrine as the global OpenTelemetry tracer provider, context manager and
 * propagator, so `@opentelemetry/api` users (and OTel instrumentations) join Peregrine's traces.
 * Returns false for any part another SDK registered first (Peregrine then leaves it alone).
 */
export function registerOpenTelemetryBridge(setup: TracingSetup): {
  tracerProvider: boolean;
  contextManager: boolean;
  propagator: boolean;
} {
  return {
    contextManager: otelContext.setGlobalContextManager(contextManager),
    tracerProvider: trace.setGlobalTracerProvider(new PeregrineTracerProvider(setup)),
    propagator: propagation.setGlobalPropagator(new W3CTraceContextPropagator()),
  };
}
