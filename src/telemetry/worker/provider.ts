import {
  type InstrumentationProvider,
  setInstrumentationProvider,
} from '../../app/instrumentation.ts';
import { traceFields } from '../tracing/active.ts';
import { defaultInstrumentation } from './http-instrumentation.ts';

/** Peregrine's telemetry as the App sees it: request instrumentation and log-line trace ids. */
const provider: InstrumentationProvider = {
  instrument: defaultInstrumentation,
  logFields: traceFields,
};

/**
 * Turns request telemetry on in this process: Apps built afterwards are measured (unless built
 * with `instrumentation: false`), and default-logger lines inside a trace carry its ids. Called
 * when `peregrine/telemetry` is imported and by every `peregrine serve` worker before it loads
 * the App. The last copy of the package to register wins: with a global CLI and a local install,
 * an App module that imports its own `peregrine/telemetry` gets that copy's instrumentation, the
 * one whose `activeSpan` and `withSpan` it calls.
 */
export function registerTelemetry(): void {
  setInstrumentationProvider(provider);
}
