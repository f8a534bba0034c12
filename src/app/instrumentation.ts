import type { Request } from './request.ts';
import type { Response } from './response.ts';
import type { RawResponse } from './transport.ts';

/** What an instrumentation keeps per route; resolved once when the route compiles. */
export type RouteProbe = object;

/** Runs the request pipeline (the instrumentation may wrap it in a trace context). */
export type PipelineRunner = (req: Request, resp: Response, out: RawResponse) => void;

/**
 * The App's only telemetry hook. Peregrine's telemetry implements it; an App built with
 * `instrumentation: false` has none and pays a single `undefined` check per request.
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
}
