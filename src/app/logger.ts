import { pino } from 'pino';
import { instrumentationProvider } from './instrumentation.ts';

/** A structured logger (pino's interface, so a pino instance can be passed as is). */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  child() {
    return silentLogger;
  },
};

/** The registered telemetry's fields for a log line (none without telemetry); a new object. */
export function logFields(): Record<string, unknown> {
  return instrumentationProvider()?.logFields() ?? {};
}

/**
 * The default logger: JSON lines on stderr at `PEREGRINE_LOG_LEVEL` (default info). With
 * telemetry in the process, lines logged inside a traced request carry its `trace_id` and
 * `span_id` (read when the line is written, so telemetry registered later still counts).
 */
export function defaultLogger(): Logger {
  return pino(
    { level: process.env.PEREGRINE_LOG_LEVEL ?? 'info', mixin: logFields },
    pino.destination(2),
  );
}
