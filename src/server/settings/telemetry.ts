import { parseBoolean, parseInteger, range, setting } from './setting.ts';

/**
 * Telemetry of the workers (RED metrics, runtime metrics, traces). The sampler and the OTLP
 * exporter follow the standard `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` and
 * `OTEL_EXPORTER_OTLP_*` variables.
 */
export const telemetrySettings = {
  telemetry: setting<boolean>({
    name: 'telemetry',
    section: 'Telemetry',
    kind: 'boolean',
    default: () => true,
    parse: parseBoolean,
    doc: 'Measure every request (`http_server_request_duration_seconds`, active requests), sample the runtime and trace, all merged over the workers on `/metrics`. Off removes all per-request instrumentation.',
  }),
  tracing: setting<boolean>({
    name: 'tracing',
    section: 'Telemetry',
    kind: 'boolean',
    default: () => true,
    parse: parseBoolean,
    doc: 'Server spans with W3C trace context, child spans, the OpenTelemetry API bridge. Which traces are kept: `OTEL_TRACES_SAMPLER_ARG` (default 1 %), plus errors and slow requests.',
  }),
  tracesSlowMs: setting<number>({
    name: 'traces-slow-ms',
    section: 'Telemetry',
    kind: 'integer',
    meta: 'MS',
    default: () => 1000,
    parse: parseInteger,
    validate: range(1),
    doc: 'Keep the trace of every request at least this slow (whole milliseconds), whatever the sampler decided.',
  }),
  tracesKeepErrors: setting<boolean>({
    name: 'traces-keep-errors',
    section: 'Telemetry',
    kind: 'boolean',
    default: () => true,
    parse: parseBoolean,
    doc: 'Keep the trace of every request that ended in a 5xx, whatever the sampler decided.',
  }),
  telemetryInterval: setting<number>({
    name: 'telemetry-interval',
    section: 'Telemetry',
    kind: 'integer',
    meta: 'MS',
    default: () => 1000,
    parse: parseInteger,
    validate: range(100),
    doc: 'How often each worker sends its metric deltas and kept spans to the master, in whole milliseconds (at least 100).',
  }),
} as const;
