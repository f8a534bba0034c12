import type { Logger } from './logger.ts';
import type { Request } from './request.ts';
import type { Response } from './response.ts';
import type { RawResponse } from './transport.ts';

/** What an instrumentation keeps per route; resolved once when the route compiles. */
export type RouteProbe = object;

/** Runs the request pipeline (the instrumentation may wrap it in a trace context). */
export type PipelineRunner = (req: Request, resp: Response, out: RawResponse) => void;

/**
 * The App's request lifecycle as telemetry sees it: route compiled, request start (which runs
 * the pipeline), response written (with the route it resolved to, or none), deadline expired.
 * Peregrine's telemetry implements it; an App without one pays a single `undefined` check per
 * request. The App never imports an implementation: telemetry registers one in this process
 * (see `setInstrumentationProvider`).
 */
export interface Instrumentation {
  /** Called when `addRoute` compiles a route: resolve series handles here, not per request. */
  route(template: string): RouteProbe;
  /** Called at request start; must call `run(req, resp, out)` exactly once, and never throw. */
  begin(req: Request, resp: Response, out: RawResponse, run: PipelineRunner): void;
  /** Called once the response head is written (status as sent); never throws. */
  end(req: Request, route: RouteProbe | undefined, status: number): void;
  /** Called when the request deadline passed and the 503 went out instead. */
  expired(req: Request, route: RouteProbe | undefined): void;
  /** Called with an error that became a 5xx (before `end`), so a kept trace shows it. */
  exception?(req: Request, err: unknown): void;
}

/**
 * What telemetry registers in a process so that the framework core can publish to it without
 * importing it (the OpenTelemetry API's global-provider pattern): an instrumentation for each
 * App built afterwards, and the fields that log lines written inside a request carry.
 */
export interface InstrumentationProvider {
  /** The instrumentation of an App being built (undefined when telemetry is turned off). */
  instrument(logger: Logger): Instrumentation | undefined;
  /** Fields for a log line written now (`trace_id`, `span_id` in a trace): a new object each call. */
  logFields(): Record<string, unknown>;
}

// A global symbol rather than a module variable: the CLI and the application may load two copies
// of this package (a global install and a local one), and an App of either must find the
// telemetry the worker registered.
const KEY = Symbol.for('peregrine.instrumentationProvider');
const slot = globalThis as { [KEY]?: InstrumentationProvider };

/**
 * Registers (or with `undefined`, removes) the telemetry of this process. Apps built afterwards
 * are instrumented by it unless built with `instrumentation: false` or their own.
 */
export function setInstrumentationProvider(provider: InstrumentationProvider | undefined): void {
  slot[KEY] = provider;
}

/** The telemetry registered in this process, if any. */
export function instrumentationProvider(): InstrumentationProvider | undefined {
  return slot[KEY];
}
