import { pino } from 'pino';
import { traceFields } from '../telemetry/tracing/active.ts';

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

/**
 * The default logger: JSON lines on stderr at `PEREGRINE_LOG_LEVEL` (default info). Lines logged
 * inside a traced request carry its `trace_id` and `span_id`.
 */
export function defaultLogger(): Logger {
  return pino(
    { level: process.env.PEREGRINE_LOG_LEVEL ?? 'info', mixin: traceFields },
    pino.destination(2),
  );
}
