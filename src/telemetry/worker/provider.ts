import {
  type InstrumentationProvider,
  instrumentationProvider,
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
 * the App. A provider registered earlier (another copy of the package, the user's own) stays.
 */
export function registerTelemetry(): void {
  if (instrumentationProvider() === undefined) setInstrumentationProvider(provider);
}
