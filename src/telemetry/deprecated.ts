/**
 * Machinery `peregrine/telemetry` exported before it was cut down to its API, kept for one
 * release because a process serving on its own could use it (a hub fed by this process's
 * recorder, the W3C header helpers). Each warns once when used; all go in the next release.
 */
import { createRequire } from 'node:module';
import type { TelemetryHub as Hub, HubOptions } from './master/hub.ts';
import {
  formatTraceparent as format,
  parseTraceparent as parse,
  type RemoteParent,
} from './tracing/trace-context.ts';
import { recorder as processRecorder, type Recorder } from './worker/recorder.ts';

const warned = new Set<string>();

function deprecated(name: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  process.emitWarning(
    `${name} from 'peregrine/telemetry' is internal machinery and goes in the next release (see CHANGELOG.md)`,
    { type: 'DeprecationWarning', code: 'PEREGRINE_DEP_TELEMETRY_MACHINERY' },
  );
}

// PERF: the hub (and the exporter's HTTP client under it) is loaded when first constructed, not
// with the API: every App that declares a metric imports this module.
const load = createRequire(import.meta.url);
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** @deprecated Internal machinery (the master's hub); goes in the next release. */
export const TelemetryHub = function TelemetryHub(options?: HubOptions): Hub {
  deprecated('TelemetryHub');
  const { TelemetryHub: Impl } = load(`./master/hub${EXT}`) as typeof import('./master/hub.ts');
  return new Impl(options);
} as unknown as typeof Hub;

/** @deprecated Internal machinery (the options of `TelemetryHub`); goes in the next release. */
export type { HubOptions };

/** @deprecated Internal machinery (this process's recorder); goes in the next release. */
export function recorder(): Recorder {
  deprecated('recorder');
  return processRecorder();
}

/** @deprecated Internal: `traceFields()` and `activeSpan()` give the ids; goes in the next release. */
export function parseTraceparent(
  header: string | undefined,
  tracestate?: string | string[],
): RemoteParent | undefined {
  deprecated('parseTraceparent');
  return parse(header, tracestate);
}

/** @deprecated Internal: `peregrine/client` propagates the trace; goes in the next release. */
export function formatTraceparent(traceId: string, spanId: string, traceFlags: number): string {
  deprecated('formatTraceparent');
  return format(traceId, spanId, traceFlags);
}
