import { defaultInstrumentation } from '../telemetry/instrumentation.ts';
import {
  HTTPBadRequest,
  HTTPInternalServerError,
  HTTPMethodNotAllowed,
  HTTPNotFound,
  HTTPServiceUnavailable,
  HTTPUnprocessableContent,
} from './errors/classes.ts';
import { HTTPError } from './errors/http-error.ts';
import type { Instrumentation, PipelineRunner } from './instrumentation.ts';
import { DEFAULT_LIMITS, type RouteLimits } from './limits.ts';
import { defaultLogger, type Logger, silentLogger } from './logger.ts';
import { MediaRegistry } from './media/registry.ts';
import type { MaybePromise, Middleware } from './middleware.ts';
import { buildOpenAPI, type OpenAPIDocument, type OpenAPIOptions } from './openapi.ts';
import { TrustedProxies } from './proxies.ts';
import { Request, type RequestEnv } from './request.ts';
import { Response } from './response.ts';
import {
  type CompiledRoute,
  compileRoute,
  type Endpoint,
  type Resource,
  type RouteOptions,
} from './route.ts';
import type { ConverterFactory } from './routing/converters.ts';
import { type Params, Router } from './routing/router.ts';
import { applyProblem, type SendEnv, send } from './send.ts';
import type { RawRequest, RawResponse } from './transport.ts';
import type { FieldError } from './validation/schema.ts';

/** Options of an App. */
export interface AppOptions {
  /** Logger for errors and diagnostics; `false` silences it (default: pino JSON on stderr). */
  logger?: Logger | false;
  /** Proxies whose Forwarded / X-Forwarded-* headers are believed (addresses, CIDRs, `loopback`…). */
  trustedProxies?: readonly string[];
  /** Default limits for every route. */
  limits?: Partial<RouteLimits>;
  /** Treat `/items/` like `/items`. */
  stripTrailingSlash?: boolean;
  /** Per-request deadline in ms (0 = none): fires `req.signal` and answers 503. */
  requestTimeout?: number;
  /** App-wide middleware, in order. */
  middleware?: readonly Middleware[];
  /** Request telemetry (RED metrics, server spans); `false` turns it off (default: Peregrine's). */
  instrumentation?: Instrumentation | false;
}

/** Handles an error of a given class: set up `resp` as the answer. */
export type ErrorHandler<E = unknown> = (
  err: E,
  req: Request,
  resp: Response,
  params: Params,
) => MaybePromise<void>;

/** A readiness check: true when the dependency it guards can serve. */
export type ReadinessCheck = () => MaybePromise<boolean>;

/** The outcome of the readiness checks. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

/** A route as `peregrine routes` prints it. */
export interface RouteInfo {
  template: string;
  resource: string;
  methods: Array<{
    method: string;
    responder: string;
    before: number;
    after: number;
    schema: boolean;
  }>;
  middleware: string[];
}

type ErrorClass = Function & { prototype: unknown };

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return (
    v !== null &&
    (typeof v === 'object' || typeof v === 'function') &&
    typeof (v as { then?: unknown }).then === 'function'
  );
}

function nameOf(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const ctor = (value as { constructor?: { name?: string } }).constructor;
    if (ctor?.name && ctor.name !== 'Object') return ctor.name;
  }
  return 'anonymous';
}

/**
 * A Peregrine application: resources routed by URI templates, middleware, hooks, media handlers
 * and error handlers. It is a function from a request to a response — `app.handle` plugs into
 * `node:http` or the simulated client — and knows nothing about sockets or processes.
 */
export class App {
  /** The media handlers (JSON, forms and multipart by default). */
  readonly media = new MediaRegistry();
  /** The App's logger. */
  readonly logger: Logger;
  /**
   * While true, every response asks the client to close its connection. A server sets it when it
   * drains, so in-flight requests finish with `Connection: close` without per-request tracking.
   */
  draining = false;
  readonly #router: Router<CompiledRoute>;
  readonly #routes: CompiledRoute[] = [];
  readonly #middleware: Middleware[] = [];
  #reqMw: Middleware[] = [];
  #resMw: Middleware[] = [];
  readonly #errorHandlers = new Map<unknown, ErrorHandler>();
  readonly #startup: Array<() => MaybePromise<void>> = [];
  readonly #shutdown: Array<() => MaybePromise<void>> = [];
  readonly #readiness = new Map<string, ReadinessCheck>();
  readonly #limits: RouteLimits;
  readonly #env: RequestEnv & SendEnv;
  readonly #timeout: number;
  readonly #inflight = new Map<Request, RawResponse>();
  #sweeper: NodeJS.Timeout | undefined;
  readonly #probe: Instrumentation | undefined;
  readonly #runner: PipelineRunner = (req, resp, out) => void this.#run(req, resp, out);

  constructor(options: AppOptions = {}) {
    this.logger = options.logger === false ? silentLogger : (options.logger ?? defaultLogger());
    this.#limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.#router = new Router({ stripTrailingSlash: options.stripTrailingSlash ?? false });
    this.#env = {
      media: this.media,
      proxies: new TrustedProxies(options.trustedProxies ?? []),
      limits: this.#limits,
      logger: this.logger,
    };
    this.#timeout = options.requestTimeout ?? 0;
    this.#probe =
      options.instrumentation === false
        ? undefined
        : (options.instrumentation ?? defaultInstrumentation(this.logger));
    for (const mw of options.middleware ?? []) this.use(mw);
  }

  /** Adds app-wide middleware (runs in the order added; processResponse in reverse). */
  use(middleware: Middleware): this {
    this.#middleware.push(middleware);
    this.#reqMw = this.#middleware;
    this.#resMw = this.#middleware;
    return this;
  }

  /**
   * Routes a URI template to a resource. Its responders (`onGet`, `onPost`, … or with a suffix,
   * `onGetCollection`) answer the methods. Fails at once on a malformed or conflicting template.
   */
  addRoute<T extends object>(
    template: string,
    resource: T & Resource,
    options: RouteOptions = {},
  ): this {
    const route = compileRoute(this.#router.parse(template), resource, options, this.#limits);
    this.#router.add(template, route);
    if (this.#probe !== undefined) route.probe = this.#probe.route(template);
    this.#routes.push(route);
    return this;
  }

  /** Registers a path converter for templates added afterwards (`{id:name(args)}`). */
  addConverter(name: string, factory: ConverterFactory): this {
    this.#router.addConverter(name, factory);
    return this;
  }

  /** Handles errors of a class (and its subclasses, unless they have their own handler). */
  addErrorHandler<E extends ErrorClass>(
    errorClass: E,
    handler: ErrorHandler<E['prototype']>,
  ): this {
    this.#errorHandlers.set(errorClass, handler as ErrorHandler);
    return this;
  }

  /** Runs a function when a server starts the App, before it accepts requests. */
  onStartup(fn: () => MaybePromise<void>): this {
    this.#startup.push(fn);
    return this;
  }

  /** Runs a function when the server stops, after the last request (reverse order). */
  onShutdown(fn: () => MaybePromise<void>): this {
    this.#shutdown.push(fn);
    return this;
  }

  /** Adds a readiness check (e.g. the database answers); `/readyz` is 200 only when all pass. */
  addReadinessCheck(name: string, check: ReadinessCheck): this {
    this.#readiness.set(name, check);
    return this;
  }

  /** Runs the startup functions in order. */
  async startup(): Promise<void> {
    for (const fn of this.#startup) await fn();
  }

  /** Runs the shutdown functions in reverse order; every one runs even if another fails. */
  async shutdown(): Promise<void> {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    const errors: unknown[] = [];
    for (const fn of [...this.#shutdown].reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'shutdown failed');
  }

  /** Runs every readiness check (each bounded by `timeoutMs`). */
  async checkReadiness(timeoutMs = 1000): Promise<Readiness> {
    const checks: Readiness['checks'] = {};
    let ready = true;
    await Promise.all(
      [...this.#readiness].map(async ([name, check]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const ok = await Promise.race([
            Promise.resolve().then(check),
            new Promise<boolean>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`timed out after ${timeoutMs} ms`)),
                timeoutMs,
              );
            }),
          ]);
          checks[name] = { ok: ok === true };
          if (ok !== true) ready = false;
        } catch (err) {
          checks[name] = { ok: false, error: err instanceof Error ? err.message : String(err) };
          ready = false;
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ready, checks };
  }

  /** The routes, their responders, hooks and middleware. */
  describeRoutes(): RouteInfo[] {
    return this.#routes.map((route) => ({
      template: route.template,
      resource: nameOf(route.resource),
      methods: [...route.endpoints.values()].map((e) => ({
        method: e.method,
        responder: e.responderName,
        before: e.before.length,
        after: e.after.length,
        schema: e.checks !== undefined,
      })),
      middleware: route.middleware.map(nameOf),
    }));
  }

  /** An OpenAPI 3.1 document of the routes, from their templates and responder specs. */
  openapi(options: OpenAPIOptions = {}): OpenAPIDocument {
    return buildOpenAPI(this.#routes, options);
  }

  /** @internal The compiled routes, for OpenAPI and tooling. */
  get compiledRoutes(): readonly CompiledRoute[] {
    return this.#routes;
  }

  /** App-wide middleware, in order. */
  get middleware(): readonly Middleware[] {
    return this.#middleware;
  }

  /**
   * Handles one request: plug into `http.createServer(app.handle)`. Never throws; every error
   * becomes a problem+json response.
   */
  readonly handle = (raw: RawRequest, out: RawResponse): void => {
    const req = new Request(raw, out, this.#env);
    const resp = new Response();
    if (this.#timeout > 0) this.#track(req, out);
    const probe = this.#probe;
    if (probe === undefined) void this.#run(req, resp, out);
    else probe.begin(req, resp, out, this.#runner);
  };

  async #run(req: Request, resp: Response, out: RawResponse): Promise<void> {
    const reqMw = this.#reqMw;
    let ranApp = 0;
    let ranRoute = 0;
    let route: CompiledRoute | undefined;
    let resource: object | undefined;
    let succeeded = false;
    try {
      for (let i = 0; i < reqMw.length; i++) {
        ranApp = i + 1;
        const fn = reqMw[i]!.processRequest;
        if (fn !== undefined) {
          const r = fn.call(reqMw[i], req, resp);
          if (isThenable(r)) await r;
          if (resp.complete) break;
        }
      }
      if (!resp.complete) {
        const match = this.#router.find(req.path);
        if (match === null) {
          throw new HTTPNotFound({ code: 'PRG_ROUTE_NOT_FOUND' });
        }
        route = match.value;
        resource = route.resource;
        req.route = match.template;
        req.params = match.params;
        req.limits = route.limits;
        const routeMw = route.middleware;
        for (let i = 0; i < routeMw.length && !resp.complete; i++) {
          ranRoute = i + 1;
          const fn = routeMw[i]!.processRequest;
          if (fn !== undefined) {
            const r = fn.call(routeMw[i], req, resp);
            if (isThenable(r)) await r;
          }
        }
        for (let i = 0; i < ranApp && !resp.complete; i++) {
          const fn = reqMw[i]!.processResource;
          if (fn !== undefined) {
            const r = fn.call(reqMw[i], req, resp, resource, req.params);
            if (isThenable(r)) await r;
          }
        }
        for (let i = 0; i < ranRoute && !resp.complete; i++) {
          const fn = routeMw[i]!.processResource;
          if (fn !== undefined) {
            const r = fn.call(routeMw[i], req, resp, resource, req.params);
            if (isThenable(r)) await r;
          }
        }
        if (!resp.complete) {
          const method = req.method;
          const endpoint =
            route.endpoints.get(method) ??
            (method === 'HEAD' ? route.endpoints.get('GET') : undefined);
          if (endpoint !== undefined) {
            const r = this.#invoke(endpoint, resource, req, resp);
            if (r !== undefined) await r;
          } else if (method === 'OPTIONS') {
            resp.status = 204;
            resp.setHeader('allow', route.allow);
          } else {
            throw new HTTPMethodNotAllowed(route.allowed);
          }
        }
      }
      succeeded = true;
    } catch (err) {
      const r = this.#handleError(err, req, resp);
      if (r !== undefined) await r;
    }
    if (route !== undefined) {
      const routeMw = route.middleware;
      for (let i = ranRoute - 1; i >= 0; i--) {
        const fn = routeMw[i]!.processResponse;
        if (fn === undefined) continue;
        try {
          const r = fn.call(routeMw[i], req, resp, resource, succeeded);
          if (isThenable(r)) await r;
        } catch (err) {
          succeeded = false;
          const r = this.#handleError(err, req, resp);
          if (r !== undefined) await r;
        }
      }
    }
    const resMw = this.#resMw;
    for (let i = ranApp - 1; i >= 0; i--) {
      const fn = resMw[i]!.processResponse;
      if (fn === undefined) continue;
      try {
        const r = fn.call(resMw[i], req, resp, resource, succeeded);
        if (isThenable(r)) await r;
      } catch (err) {
        succeeded = false;
        const r = this.#handleError(err, req, resp);
        if (r !== undefined) await r;
      }
    }
    if (this.#timeout > 0) this.#untrack(req);
    if (this.draining) out.shouldKeepAlive = false;
    try {
      const status = send(req, resp, out, this.#env, (err) => this.#toHTTPError(err, req));
      if (this.#probe !== undefined && status !== 0) this.#probe.end(req, route?.probe, status);
    } catch (err) {
      // Only a broken transport gets here; nothing more can be sent.
      this.logger.error({ err, requestId: req.id }, 'failed to write response');
    }
  }

  /** Runs hooks, validation and the responder; returns a promise only if something was async. */
  #invoke(
    endpoint: Endpoint,
    resource: object,
    req: Request,
    resp: Response,
  ): Promise<void> | undefined {
    const before = endpoint.before;
    // PERF: the common case (sync hooks, no schema, sync responder) allocates no promise.
    for (let i = 0; i < before.length; i++) {
      const r = before[i]!(req, resp, resource, req.params);
      if (isThenable(r)) return this.#invokeAsync(endpoint, resource, req, resp, i, r);
      if (resp.complete) return undefined;
    }
    if (endpoint.checks !== undefined)
      return this.#invokeAsync(endpoint, resource, req, resp, before.length, undefined);
    const result = endpoint.fn.call(resource, req, resp, req.params);
    if (isThenable(result)) return this.#finishAsync(endpoint, resource, req, resp, result);
    if (result !== undefined && resp.bodyKind === 0) resp.media = result;
    const after = endpoint.after;
    for (let i = 0; i < after.length; i++) {
      const r = after[i]!(req, resp, resource);
      if (isThenable(r)) return this.#afterAsync(endpoint, resource, req, resp, i, r);
    }
    return undefined;
  }

  async #invokeAsync(
    endpoint: Endpoint,
    resource: object,
    req: Request,
    resp: Response,
    hookIndex: number,
    pending: PromiseLike<unknown> | undefined,
  ): Promise<void> {
    if (pending !== undefined) {
      await pending;
      if (resp.complete) return;
      hookIndex++;
    }
    const before = endpoint.before;
    for (let i = hookIndex; i < before.length; i++) {
      await before[i]!(req, resp, resource, req.params);
      if (resp.complete) return;
    }
    if (endpoint.checks !== undefined) await this.#validate(endpoint, req);
    const result = await endpoint.fn.call(resource, req, resp, req.params);
    if (result !== undefined && resp.bodyKind === 0) resp.media = result;
    for (const hook of endpoint.after) await hook(req, resp, resource);
    this.#checkResponse(endpoint, req, resp);
  }

  async #finishAsync(
    endpoint: Endpoint,
    resource: object,
    req: Request,
    resp: Response,
    pending: PromiseLike<unknown>,
  ): Promise<void> {
    const result = await pending;
    if (result !== undefined && resp.bodyKind === 0) resp.media = result;
    for (const hook of endpoint.after) await hook(req, resp, resource);
  }

  async #afterAsync(
    endpoint: Endpoint,
    resource: object,
    req: Request,
    resp: Response,
    index: number,
    pending: PromiseLike<unknown>,
  ): Promise<void> {
    await pending;
    const after = endpoint.after;
    for (let i = index + 1; i < after.length; i++) await after[i]!(req, resp, resource);
  }

  /** Validates params, query and headers (400) and then the body (422). */
  async #validate(endpoint: Endpoint, req: Request): Promise<void> {
    const checks = endpoint.checks!;
    const errors: FieldError[] = [];
    const valid = req.valid;
    if (checks.params !== undefined) {
      const r = await checks.params({ ...req.params });
      if (r.ok) {
        valid.params = r.value;
        req.params = r.value as Params;
      } else errors.push(...r.errors);
    }
    if (checks.query !== undefined) {
      const r = await checks.query(req.query.toObject());
      if (r.ok) valid.query = r.value;
      else errors.push(...r.errors);
    }
    if (checks.headers !== undefined) {
      const r = await checks.headers({ ...req.headers });
      if (r.ok) valid.headers = r.value;
      else errors.push(...r.errors);
    }
    if (errors.length > 0) {
      throw new HTTPBadRequest({
        code: 'PRG_VALIDATION_FAILED',
        detail: 'The request parameters are invalid.',
        extensions: { errors },
      });
    }
    if (checks.body !== undefined) {
      const body = await req.getMedia();
      const r = await checks.body(body);
      if (!r.ok) {
        throw new HTTPUnprocessableContent({
          code: 'PRG_VALIDATION_FAILED',
          detail: 'The request body is invalid.',
          extensions: { errors: r.errors },
        });
      }
      valid.body = r.value;
    }
  }

  /** Checks a media body against the response schema of its status; a mismatch is a 500. */
  #checkResponse(endpoint: Endpoint, req: Request, resp: Response): void {
    const check = endpoint.checks?.response?.get(resp.status);
    if (check === undefined || resp.bodyKind !== 1) return;
    const r = check(resp.body);
    if (r instanceof Promise) return;
    if (!r.ok) {
      this.logger.error(
        { requestId: req.id, route: req.route, method: req.method, errors: r.errors },
        'response does not match its schema',
      );
      throw new HTTPInternalServerError({
        code: 'PRG_RESPONSE_INVALID',
        extensions: { requestId: req.id },
      });
    }
  }

  /** Finds the most specific error handler along the prototype chain, or the default one. */
  #handleError(err: unknown, req: Request, resp: Response): Promise<void> | undefined {
    if (this.#errorHandlers.size > 0 && typeof err === 'object' && err !== null) {
      for (let p = Object.getPrototypeOf(err); p !== null; p = Object.getPrototypeOf(p)) {
        const handler = this.#errorHandlers.get(p.constructor);
        if (handler === undefined) continue;
        try {
          const r = handler(err, req, resp, req.params);
          if (isThenable(r)) {
            return Promise.resolve(r).then(
              () => undefined,
              (inner: unknown) => applyProblem(resp, this.#toHTTPError(inner, req)),
            );
          }
        } catch (inner) {
          applyProblem(resp, this.#toHTTPError(inner, req));
        }
        return undefined;
      }
    }
    applyProblem(resp, this.#toHTTPError(err, req));
    return undefined;
  }

  /** Maps any error to an HTTPError; unexpected ones are logged and become a bare 500. */
  #toHTTPError(err: unknown, req: Request): HTTPError {
    if (err instanceof HTTPError) {
      if (err.status >= 500) {
        this.logger.error(
          { err, requestId: req.id, method: req.method, route: req.route },
          'server error response',
        );
      }
      return err;
    }
    this.logger.error(
      { err, requestId: req.id, method: req.method, route: req.route, path: req.path },
      'unhandled error',
    );
    return new HTTPInternalServerError({
      code: 'PRG_INTERNAL',
      extensions: { requestId: req.id },
    });
  }

  #track(req: Request, out: RawResponse): void {
    req.deadline = Date.now() + this.#timeout;
    this.#inflight.set(req, out);
    // PERF: one sweeper per App instead of a timer per request; deadlines are checked every 50 ms.
    this.#sweeper ??= setInterval(() => this.#sweep(), Math.min(50, this.#timeout)).unref();
  }

  #untrack(req: Request): void {
    this.#inflight.delete(req);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [req, out] of this.#inflight) {
      if (req.deadline! > now) continue;
      this.#inflight.delete(req);
      // Answer first, then abort: a responder that reacts to the abort must not win the race.
      if (!out.headersSent && !out.destroyed) {
        const late = new Response();
        applyProblem(
          late,
          new HTTPServiceUnavailable({
            code: 'PRG_DEADLINE_EXCEEDED',
            detail: `The request did not complete within ${this.#timeout} ms.`,
          }),
        );
        send(req, late, out, this.#env, (err) => this.#toHTTPError(err, req));
        this.#probe?.expired(req, this.#routes.find((r) => r.template === req.route)?.probe);
      }
      req.expire();
    }
  }
}
