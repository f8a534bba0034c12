import { type SamplerConfig, samplerFromEnv } from './tracing/sampler.ts';

/** Telemetry settings of a process (read from the environment; the server passes them down). */
export interface TelemetryConfig {
  /** RED metrics and runtime metrics (`PEREGRINE_TELEMETRY=off` turns all telemetry off). */
  metrics: boolean;
  /** Server spans, context propagation and the OpenTelemetry bridge (`PEREGRINE_TRACING`). */
  tracing: boolean;
  /** The head sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`). */
  sampler: SamplerConfig;
  /** Keep requests at least this slow, in ms, whatever the sampler said (`PEREGRINE_TRACES_SLOW_MS`). */
  slowMs: number;
  /** Keep 5xx requests whatever the sampler said (`PEREGRINE_TRACES_KEEP_ERRORS`). */
  keepErrors: boolean;
  /** One JSON access log line per request (`PEREGRINE_ACCESS_LOG`). */
  accessLog: boolean;
  /**
   * Most kept spans a worker holds that are not sent yet (`PEREGRINE_TRACES_BUFFER`); more are
   * dropped and counted. Full chunks of 128 leave at once, so this bounds a worker whose master
   * does not keep up (or, unconnected, what waits for a flush), not the rate.
   */
  maxSpansPerFlush: number;
  /** How often a worker sends its delta, in ms. */
  flushInterval: number;
}

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined || value === '') return fallback;
  return !/^(0|false|off|no)$/i.test(value.trim());
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value === undefined || value === '' || !(n > 0) ? fallback : n;
}

/** The telemetry settings from the environment. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  const on = flag(env.PEREGRINE_TELEMETRY, true);
  return {
    metrics: on,
    tracing: on && flag(env.PEREGRINE_TRACING, true),
    sampler: samplerFromEnv(env),
    slowMs: positive(env.PEREGRINE_TRACES_SLOW_MS, 1000),
    keepErrors: flag(env.PEREGRINE_TRACES_KEEP_ERRORS, true),
    accessLog: flag(env.PEREGRINE_ACCESS_LOG, false),
    maxSpansPerFlush: positive(env.PEREGRINE_TRACES_BUFFER, 20_000),
    flushInterval: positive(env.PEREGRINE_TELEMETRY_INTERVAL, 1000),
  };
}
