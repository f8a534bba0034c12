import {
  type Context,
  isSpanContextValid,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from './trace-context.ts';

/** W3C Trace Context (`traceparent`, `tracestate`) as an OpenTelemetry TextMapPropagator. */
export class W3CTraceContextPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    const ctx = trace.getSpanContext(context);
    if (ctx === undefined || !isSpanContextValid(ctx)) return;
    setter.set(carrier, 'traceparent', formatTraceparent(ctx.traceId, ctx.spanId, ctx.traceFlags));
    const state = ctx.traceState?.serialize();
    if (state) setter.set(carrier, 'tracestate', state);
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    const header = getter.get(carrier, 'traceparent');
    const parent = parseTraceparent(
      Array.isArray(header) ? header[0] : header,
      getter.get(carrier, 'tracestate'),
    );
    if (parent === undefined) return context;
    return trace.setSpanContext(context, {
      traceId: parent.traceId,
      spanId: parent.spanId,
      traceFlags: parent.traceFlags,
      isRemote: true,
      ...(parent.traceState !== undefined ? { traceState: parent.traceState } : {}),
    });
  }

  fields(): string[] {
    return ['traceparent', 'tracestate'];
  }
}
