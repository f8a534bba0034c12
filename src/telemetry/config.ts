import { SETTINGS, type ServerSettings } from '../server/settings/all.ts';
import { envName, type Setting, SettingError } from '../server/settings/setting.ts';
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
  maxBufferedSpans: number;
  /** How often a worker sends its delta, in ms. */
  flushInterval: number;
}

function positive(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return value === undefined || value === '' || !(n > 0) ? fallback : n;
}

/** The server settings telemetry reads. */
export type TelemetrySettings = Pick<
  ServerSettings,
  'telemetry' | 'tracing' | 'tracesSlowMs' | 'tracesKeepErrors' | 'telemetryInterval' | 'accessLog'
>;

const TELEMETRY_SETTINGS = [
  'telemetry',
  'tracing',
  'tracesSlowMs',
  'tracesKeepErrors',
  'telemetryInterval',
  'accessLog',
] as const satisfies readonly (keyof TelemetrySettings)[];

/**
 * The telemetry settings from `PEREGRINE_*` variables, parsed, checked and defaulted by the same
 * declarations `peregrine serve` resolves them with (one boolean parser: `PEREGRINE_TRACING=`
 * is off, `PEREGRINE_TRACING=disabled` an error, under both). Throws a SettingError naming the
 * variable on a bad value.
 */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): TelemetrySettings {
  const values: Record<string, unknown> = {};
  for (const key of TELEMETRY_SETTINGS) {
    const s = SETTINGS[key] as Setting;
    const name = envName(s.name);
    const text = env[name];
    if (text === undefined) {
      values[key] = s.default(env);
      continue;
    }
    let value: unknown;
    try {
      value = s.parse(text);
    } catch (err) {
      throw new SettingError(`env (${name}): ${(err as Error).message}`);
    }
    const problem = s.validate?.(value as never);
    if (problem !== undefined) throw new SettingError(`env (${name}): ${problem}`);
    values[key] = value;
  }
  return values as TelemetrySettings;
}

/**
 * The telemetry configuration from resolved settings (a `peregrine serve` worker's). The sampler
 * (`OTEL_TRACES_SAMPLER*`) and `PEREGRINE_TRACES_BUFFER` are environment-only, read from `env`.
 */
export function configFromSettings(
  s: TelemetrySettings,
  env: NodeJS.ProcessEnv = process.env,
): TelemetryConfig {
  return {
    metrics: s.telemetry,
    tracing: s.telemetry && s.tracing,
    sampler: samplerFromEnv(env),
    slowMs: s.tracesSlowMs,
    keepErrors: s.tracesKeepErrors,
    accessLog: s.accessLog,
    maxBufferedSpans: positive(env.PEREGRINE_TRACES_BUFFER, 20_000),
    flushInterval: s.telemetryInterval,
  };
}

/** The telemetry configuration from the environment (`serve()` in one process). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): TelemetryConfig {
  return configFromSettings(settingsFromEnv(env), env);
}
