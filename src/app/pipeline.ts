import { HTTPMethodNotAllowed, HTTPNotFound } from './errors/classes.ts';
import { invoke } from './invoke.ts';
import type { Logger } from './logger.ts';
import type { Middleware } from './middleware.ts';
import type { Request } from './request.ts';
import type { Response } from './response.ts';
import type { CompiledRoute, Endpoint } from './route.ts';
import type { RouteMatch } from './routing/router.ts';
import { isThenable } from './thenable.ts';
import type { RawResponse } from './transport.ts';

/** What the pipeline needs from its App. */
export interface PipelineHost {
  readonly logger: Logger;
  /** Routes a path. */
  find(path: string): RouteMatch<CompiledRoute> | null;
  /** Turns an error into the response (a promise only if a user handler was async; never rejects). */
  handleError(err: unknown, req: Request, resp: Response): PromiseLike<void> | undefined;
  /** Writes the response once every phase ran. */
  finish(flow: Flow): void;
}

// The phases of a request, in order.
const REQUEST = 0; // app processRequest
const ROUTE = 1; // routing
const ROUTE_REQUEST = 2; // route processRequest
const APP_RESOURCE = 3; // app processResource
const ROUTE_RESOURCE = 4; // route processResource
const INVOKE = 5; // hooks, validation, responder
const RESPONSE_START = 6;
const ROUTE_RESPONSE = 7; // route processResponse, reverse order
const APP_RESPONSE = 8; // app processResponse, reverse order
const SEND = 9;

/**
 * One request's way through the App: processRequest → routing → processResource → responder →
 * processResponse (reverse) → send. It runs synchronously step by step and only waits when a step
 * returns a promise, then resumes where it stopped.
 * PERF: a synchronous request (the common case) allocates no promise and never leaves the
 * current tick; an `async` function here would cost a promise and a microtask per request.
 */
export class Flow {
  readonly req: Request;
  readonly resp: Response;
  readonly out: RawResponse;
  /** The matched route, once routed. */
  route: CompiledRoute | undefined = undefined;
  /** Whether the request completed without an error so far. */
  succeeded = false;
  readonly #host: PipelineHost;
  readonly #mw: readonly Middleware[];
  #phase = REQUEST;
  #i = 0;
  #ranApp = 0;
  #ranRoute = 0;
  /** The endpoint of the request's method on the matched route, if it has one. */
  #endpoint: Endpoint | undefined = undefined;

  constructor(
    host: PipelineHost,
    middleware: readonly Middleware[],
    req: Request,
    resp: Response,
    out: RawResponse,
  ) {
    this.#host = host;
    this.#mw = middleware;
    this.req = req;
    this.resp = resp;
    this.out = out;
  }

  /** Runs until the response is sent or a step must be awaited. */
  run(): void {
    for (;;) {
      let wait: PromiseLike<unknown> | undefined;
      try {
        wait = this.#step();
      } catch (err) {
        wait = this.#fault(err);
      }
      if (this.#phase > SEND) return;
      if (wait !== undefined) {
        wait.then(
          () => this.run(),
          (err: unknown) => this.#resume(err),
        );
        return;
      }
    }
  }

  #resume(err: unknown): void {
    const wait = this.#fault(err);
    if (wait === undefined) this.run();
    else wait.then(() => this.run());
  }

  /** An error anywhere: the error handler shapes the response, then processResponse runs. */
  #fault(err: unknown): PromiseLike<void> | undefined {
    this.succeeded = false;
    // In the response phases the failing middleware was already passed; carry on with the next.
    if (this.#phase < RESPONSE_START) this.#phase = RESPONSE_START;
    try {
      return this.#host.handleError(err, this.req, this.resp);
    } catch (inner) {
      this.#host.logger.error({ err: inner }, 'error handling failed');
      return undefined;
    }
  }

  /** One unit of work; returns what to wait for, if anything. */
  #step(): PromiseLike<unknown> | undefined {
    const { req, resp } = this;
    switch (this.#phase) {
      case REQUEST: {
        const mw = this.#mw;
        if (this.#i < mw.length && !resp.complete) {
          const m = mw[this.#i++]!;
          this.#ranApp = this.#i;
          if (m.processRequest === undefined) return undefined;
          const r = m.processRequest(req, resp);
          return isThenable(r) ? r : undefined;
        }
        this.#i = 0;
        if (resp.complete) {
          this.succeeded = true;
          this.#phase = RESPONSE_START;
        } else {
          this.#phase = ROUTE;
        }
        return undefined;
      }
      case ROUTE: {
        const match = this.#host.find(req.path);
        if (match === null) throw new HTTPNotFound({ code: 'PRG_ROUTE_NOT_FOUND' });
        const route = match.value;
        this.route = route;
        req.route = match.template;
        req.params = match.params;
        const method = req.method;
        const endpoint =
          route.endpoints.get(method) ??
          (method === 'HEAD' ? route.endpoints.get('GET') : undefined);
        this.#endpoint = endpoint;
        // The responder's limits (its own bodyLimit over the route's over the App's) hold for
        // the middleware too: a body read in processResource is bounded the same way.
        req.limits = endpoint === undefined ? route.limits : endpoint.limits;
        this.#phase = route.middleware.length === 0 ? APP_RESOURCE : ROUTE_REQUEST;
        return undefined;
      }
      case ROUTE_REQUEST: {
        const mw = this.route!.middleware;
        if (this.#i < mw.length && !resp.complete) {
          const m = mw[this.#i++]!;
          this.#ranRoute = this.#i;
          if (m.processRequest === undefined) return undefined;
          const r = m.processRequest(req, resp);
          return isThenable(r) ? r : undefined;
        }
        this.#i = 0;
        this.#phase = APP_RESOURCE;
        return undefined;
      }
      case APP_RESOURCE:
      case ROUTE_RESOURCE: {
        const mw = this.#phase === APP_RESOURCE ? this.#mw : this.route!.middleware;
        const ran = this.#phase === APP_RESOURCE ? this.#ranApp : this.#ranRoute;
        if (this.#i < ran && !resp.complete) {
          const m = mw[this.#i++]!;
          if (m.processResource === undefined) return undefined;
          const r = m.processResource(req, resp, this.route!.resource, req.params);
          return isThenable(r) ? r : undefined;
        }
        this.#i = 0;
        this.#phase = this.#phase === APP_RESOURCE ? ROUTE_RESOURCE : INVOKE;
        return undefined;
      }
      case INVOKE: {
        this.#phase = RESPONSE_START;
        this.succeeded = true;
        if (resp.complete) return undefined;
        const route = this.route!;
        const endpoint = this.#endpoint;
        if (endpoint !== undefined) {
          return invoke(endpoint, route.resource, req, resp, this.#host.logger);
        }
        if (req.method === 'OPTIONS') {
          resp.status = 204;
          resp.setHeader('allow', route.allow);
          return undefined;
        }
        throw new HTTPMethodNotAllowed(route.allowed);
      }
      case RESPONSE_START:
        this.#i = this.#ranRoute - 1;
        this.#phase = this.route === undefined ? APP_RESPONSE : ROUTE_RESPONSE;
        if (this.route === undefined) this.#i = this.#ranApp - 1;
        return undefined;
      case ROUTE_RESPONSE:
      case APP_RESPONSE: {
        const appPhase = this.#phase === APP_RESPONSE;
        const mw = appPhase ? this.#mw : this.route!.middleware;
        if (this.#i >= 0) {
          const m = mw[this.#i--]!;
          if (m.processResponse === undefined) return undefined;
          const r = m.processResponse(req, resp, this.route?.resource, this.succeeded);
          return isThenable(r) ? r : undefined;
        }
        if (appPhase) {
          this.#phase = SEND;
        } else {
          this.#phase = APP_RESPONSE;
          this.#i = this.#ranApp - 1;
        }
        return undefined;
      }
      default:
        this.#phase = SEND + 1;
        this.#host.finish(this);
        return undefined;
    }
  }
}
