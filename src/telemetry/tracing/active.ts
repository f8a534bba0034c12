import { type Span, trace } from '@opentelemetry/api';
import { contextManager } from './context.ts';

/** The span active in this async flow (the request's server span, or a child), if any. */
export function activeSpan(): Span | undefined {
  const ctx = contextManager.storage.getStore();
  return ctx === undefined ? undefined : trace.getSpan(ctx);
}

/**
 * `{ trace_id, span_id }` of the active span, for log lines (an empty object outside a trace).
 * Always a new object: pino's mixin merge assigns the line's fields into it.
 */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = activeSpan();
  if (span === undefined) return {};
  const ctx = span.spanContext();
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}
