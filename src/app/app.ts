import { Deadlines, deadlineError } from './deadlines.ts';
import { HTTPInternalServerError } from './errors/classes.ts';
import { expectedFailure } from './errors/codes.ts';
import { HTTPError } from './errors/http-error.ts';
import { FailureLog } from './failure-log.ts';
import {
  type Instrumentation,
  instrumentationProvider,
  type PipelineRunner,
  type RouteProbe,
} from './instrumentation.ts';
import { DEFAULT_LIMITS, type RouteLimits } from './limits.ts';
import { defaultLogger, type Logger, silentLogger } from './logger.ts';
import { MediaRegistry } from './media/registry.ts';
import type { MaybePromise, Middleware } from './middleware.ts';
import { buildOpenAPI, type OpenAPIDocument, type OpenAPIOptions } from './openapi.ts';
import { Flow, type PipelineHost } from './pipeline.ts';
import { TrustedProxies } from './proxies.ts';
import { Request, type RequestEnv } from './request.ts';
import { Response } from './response.ts';
import { type CompiledRoute, compileRoute, type Resource, type RouteOptions } from './route.ts';
import type { ConverterFactory } from './routing/converters.ts';
import { type Params, Router } from './routing/router.ts';
import { applyProblem, type SendEnv, send } from './send.ts';
import { serverDefaults } from './server-defaults.ts';
import { isThenable } from './thenable.ts';
import type { RawRequest, RawResponse } from './transport.ts';

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
  /**
   * Request telemetry (RED metrics, server spans); `false` turns it off. Default: the telemetry
   * registered in this process when the App is built — always under `peregrine serve`,
   * in-process once `peregrine/telemetry` was imported; none otherwise.
   */
  instrumentation?: Instrumentation | false;
  /**
   * Expected failures (503s while a dependency is down, shed requests, passed deadlines) are
   * logged once when they start and then one line per this many ms with their count (default
   * 10 000); unexpected errors are logged each time, with their stack.
   */
  failureLogInterval?: number;
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
  readonly #errorHandlers = new Map<unknown, ErrorHandler>();
  readonly #startup: Array<() => MaybePromise<void>> = [];
  readonly #shutdown: Array<() => MaybePromise<void>> = [];
  readonly #readiness = new Map<string, ReadinessCheck>();
  /** The startup run, from the first `startup()` until `shutdown()`. */
  #started: Promise<void> | undefined;
  readonly #limits: RouteLimits;
  readonly #env: RequestEnv & SendEnv;
  /** The per-request deadline, when `requestTimeout` is set. */
  readonly #deadlines: Deadlines | undefined;
  readonly #instrumentation: Instrumentation | undefined;
  readonly #failures: FailureLog;
  readonly #host: PipelineHost;
  readonly #runner: PipelineRunner = (req, resp, out) =>
    new Flow(this.#host, this.#middleware, req, resp, out).run();

  constructor(options: AppOptions = {}) {
    // A server (peregrine serve) may have set defaults for Apps built in its process.
    const server = serverDefaults();
    this.logger =
      options.logger === false
        ? silentLogger
        : (options.logger ?? server.logger ?? defaultLogger());
    const bodyLimit = server.bodyLimit;
    this.#limits = {
      ...DEFAULT_LIMITS,
      ...(bodyLimit === undefined ? {} : { bodyLimit, multipartPartSize: bodyLimit }),
      ...options.limits,
    };
    this.#router = new Router({ stripTrailingSlash: options.stripTrailingSlash ?? false });
    this.#env = {
      media: this.media,
      proxies: new TrustedProxies(options.trustedProxies ?? server.trustedProxies ?? []),
      limits: this.#limits,
      logger: this.logger,
    };
    const timeout = options.requestTimeout ?? server.requestTimeout ?? 0;
    this.#deadlines =
      timeout > 0 ? new Deadlines(timeout, (req, out) => this.#answerLate(req, out)) : undefined;
    this.#failures = new FailureLog(this.logger, options.failureLogInterval);
    this.#instrumentation =
      options.instrumentation === false
        ? undefined
        : (options.instrumentation ?? instrumentationProvider()?.instrument(this.logger));
    this.#host = {
      logger: this.logger,
      find: (path) => this.#router.find(path),
      handleError: (err, req, resp) => this.#handleError(err, req, resp),
      finish: (flow) => this.#finish(flow),
    };
    for (const mw of options.middleware ?? []) this.use(mw);
  }

  /** Adds app-wide middleware (runs in the order added; processResponse in reverse). */
  use(middleware: Middleware): this {
    this.#middleware.push(middleware);
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
    if (this.#instrumentation !== undefined) route.probe = this.#instrumentation.route(template);
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

  /**
   * Runs the startup functions in order, once: a later call gets the same run (a server and a
   * TestClient may both ask) until `shutdown` makes the App startable again.
   */
  startup(): Promise<void> {
    this.#started ??= (async () => {
      for (const fn of this.#startup) await fn();
    })();
    return this.#started;
  }

  /** Whether `startup` has been called (and `shutdown` not since). */
  get started(): boolean {
    return this.#started !== undefined;
  }

  /** Runs the shutdown functions in reverse order; every one runs even if another fails. */
  async shutdown(): Promise<void> {
    this.#started = undefined;
    this.#deadlines?.stop();
    const errors: unknown[] = [];
    for (const fn of [...this.#shutdown].reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    this.#failures.close();
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

  /** Whether request telemetry (metrics, spans, access log) is attached to this App. */
  get instrumented(): boolean {
    return this.#instrumentation !== undefined;
  }

  /** An OpenAPI 3.1 document of the routes, from their templates and responder specs. */
  openapi(options: OpenAPIOptions = {}): OpenAPIDocument {
    return buildOpenAPI(this.#routes, options, this.#middleware);
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
    this.#deadlines?.track(req, out);
    const instrumentation = this.#instrumentation;
    if (instrumentation === undefined) new Flow(this.#host, this.#middleware, req, resp, out).run();
    else instrumentation.begin(req, resp, out, this.#runner);
  };

  /** Writes the response once the pipeline ran: deadline bookkeeping, drain, telemetry. */
  #finish(flow: Flow): void {
    const { req, resp, out } = flow;
    this.#deadlines?.untrack(req);
    if (this.draining) out.shouldKeepAlive = false;
    try {
      const status = send(req, resp, out, this.#env, (err) => this.#toHTTPError(err, req));
      if (this.#instrumentation !== undefined && status !== 0)
        this.#instrumentation.end(req, flow.route?.probe, status);
    } catch (err) {
      // A header the transport refuses (a CR/LF in a value, a bad name) or a broken transport.
      this.logger.error({ err, requestId: req.id }, 'failed to write response');
      if (out.headersSent || out.destroyed) return;
      const fallback = new Response();
      applyProblem(
        fallback,
        new HTTPInternalServerError({ code: 'PRG_INTERNAL', extensions: { requestId: req.id } }),
      );
      try {
        send(req, fallback, out, this.#env, (e) => this.#toHTTPError(e, req));
        this.#instrumentation?.end(req, flow.route?.probe, 500);
      } catch {
        // Nothing more can be sent.
      }
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

  /** How many requests passed their deadline (`requestTimeout`) before they were answered. */
  get deadlinesExpired(): number {
    return this.#deadlines?.expired ?? 0;
  }

  /** Maps any error to an HTTPError; unexpected ones are logged and become a bare 500. */
  #toHTTPError(err: unknown, req: Request): HTTPError {
    // A responder with its own timer on the deadline (AbortSignal.timeout(req.remaining), a
    // driver timeout) may reject before the sweep answers; that is the deadline, not a bug.
    if (
      err instanceof DOMException &&
      err.name === 'TimeoutError' &&
      req.deadline !== undefined &&
      req.remaining <= 0
    ) {
      const deadlines = this.#deadlines;
      if (deadlines?.expireEarly(req) === true)
        this.#instrumentation?.expired(req, this.#routeProbe(req));
      return deadlineError(deadlines?.timeout ?? 0);
    }
    if (err instanceof HTTPError) {
      if (err.status >= 500) {
        if (expectedFailure(err.code)) {
          this.#failures.record(err as HTTPError & { code: string }, {
            requestId: req.id,
            method: req.method,
            route: req.route,
          });
        } else {
          this.logger.error(
            { err, requestId: req.id, method: req.method, route: req.route },
            'server error response',
          );
          this.#instrumentation?.exception?.(req, err);
        }
      }
      return err;
    }
    this.logger.error(
      { err, requestId: req.id, method: req.method, route: req.route, path: req.path },
      'unhandled error',
    );
    this.#instrumentation?.exception?.(req, err);
    return new HTTPInternalServerError({
      code: 'PRG_INTERNAL',
      extensions: { requestId: req.id },
    });
  }

  /** Answers a request whose deadline passed, unless its answer has begun. */
  #answerLate(req: Request, out: RawResponse): void {
    if (out.headersSent || out.destroyed) return;
    const late = new Response();
    applyProblem(late, this.#deadlines!.error());
    send(req, late, out, this.#env, (err) => this.#toHTTPError(err, req));
    this.#instrumentation?.expired(req, this.#routeProbe(req));
  }

  /** The telemetry of the request's route. */
  #routeProbe(req: Request): RouteProbe | undefined {
    return this.#routes.find((r) => r.template === req.route)?.probe;
  }
}
