import { hooksOf } from './hooks.ts';
import type { RouteProbe } from './instrumentation.ts';
import type { RouteLimits } from './limits.ts';
import type { AfterHook, BeforeHook, Middleware, Responder } from './middleware.ts';
import { type ResponderSpec, specOf } from './responder.ts';
import type { ParsedTemplate } from './routing/template.ts';
import { type Check, compileCheck, type Schema } from './validation/schema.ts';

/** The methods a resource can answer, in the order `Allow` lists them. */
export const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'QUERY',
] as const;

/** The standard responders a resource may have (suffixed ones like `onGetCollection` too). */
export type Resource = {
  [M in (typeof METHODS)[number] as `on${Capitalize<Lowercase<M>>}`]?: Responder;
};

/** Options of `app.addRoute`. */
export interface RouteOptions {
  /** Responder suffix: `collection` maps GET to `onGetCollection`. */
  suffix?: string;
  /** Middleware for this route only (run after the App's). */
  middleware?: Middleware[];
  /** Hooks before every responder of this route. */
  before?: BeforeHook[];
  /** Hooks after every responder of this route. */
  after?: AfterHook[];
  /** Body limit in bytes for this route. */
  bodyLimit?: number;
  /** Other limits for this route. */
  limits?: Partial<RouteLimits>;
}

/** Compiled schema checks of one responder. */
export interface Checks {
  readonly params: Check | undefined;
  readonly query: Check | undefined;
  readonly headers: Check | undefined;
  readonly body: Check | undefined;
  readonly response: ReadonlyMap<number, Check> | undefined;
}

/** One method of one route, ready to run. */
export interface Endpoint {
  readonly method: string;
  readonly responderName: string;
  readonly fn: Responder;
  readonly before: readonly BeforeHook[];
  readonly after: readonly AfterHook[];
  readonly spec: ResponderSpec | undefined;
  readonly checks: Checks | undefined;
  readonly limits: RouteLimits;
}

/** A route as the App runs it. */
export interface CompiledRoute {
  readonly template: string;
  /** The parsed template (segments, fields and converters). */
  readonly parsed: ParsedTemplate;
  readonly resource: object;
  readonly endpoints: ReadonlyMap<string, Endpoint>;
  /** The `Allow` header value. */
  readonly allow: string;
  readonly allowed: readonly string[];
  readonly middleware: readonly Middleware[];
  readonly limits: RouteLimits;
  /** The instrumentation's handle for this route (series resolved at compile time). */
  probe: RouteProbe | undefined;
}

function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1).toLowerCase();
}

/** The responder name of a method: GET + `collection` → `onGetCollection`. */
export function responderName(method: string, suffix?: string): string {
  return `on${capitalize(method)}${suffix ? suffix.charAt(0).toUpperCase() + suffix.slice(1) : ''}`;
}

function compileChecks(spec: ResponderSpec | undefined): Checks | undefined {
  if (spec === undefined) return undefined;
  const { params, query, headers, body, response } = spec;
  if (!params && !query && !headers && !body && !response) return undefined;
  let responseChecks: Map<number, Check> | undefined;
  if (response !== undefined) {
    responseChecks = new Map();
    const byStatus = isStatusMap(response) ? response : { 200: response };
    for (const [status, schema] of Object.entries(byStatus)) {
      responseChecks.set(Number(status), compileCheck(schema as Schema, 'response'));
    }
  }
  return {
    params: params && compileCheck(params, 'params'),
    query: query && compileCheck(query, 'query'),
    headers: headers && compileCheck(headers, 'headers'),
    body: body && compileCheck(body, 'body'),
    response: responseChecks,
  };
}

/** Whether a response spec is a map of status → schema rather than one schema. */
export function isStatusMap(
  response: Schema | Readonly<Record<number, Schema>>,
): response is Readonly<Record<number, Schema>> {
  const keys = Object.keys(response);
  return keys.length > 0 && keys.every((k) => /^[1-5]\d\d$/.test(k));
}

/**
 * The limits of one responder: its own `bodyLimit` wins over the route's, which wins over the
 * App's. A larger body limit also raises the multipart part size, unless the route set that.
 */
function responderLimits(
  routeLimits: RouteLimits,
  bodyLimit: number | undefined,
  options: RouteOptions,
): RouteLimits {
  if (bodyLimit === undefined) return routeLimits;
  if (!Number.isSafeInteger(bodyLimit) || bodyLimit < 0) {
    throw new TypeError(`bodyLimit must be a whole number of bytes, got ${bodyLimit}`);
  }
  const multipartPartSize =
    options.limits?.multipartPartSize ?? Math.max(routeLimits.multipartPartSize, bodyLimit);
  return { ...routeLimits, bodyLimit, multipartPartSize };
}

/** Finds the responders of a resource and compiles them with their hooks and checks. */
export function compileRoute(
  parsed: ParsedTemplate,
  resource: object,
  options: RouteOptions,
  appLimits: RouteLimits,
): CompiledRoute {
  const template = parsed.template;
  if (typeof resource !== 'object' || resource === null) {
    throw new TypeError(`resource for ${template} must be an object`);
  }
  const routeLimits: RouteLimits = {
    ...appLimits,
    ...options.limits,
    ...(options.bodyLimit !== undefined ? { bodyLimit: options.bodyLimit } : {}),
  };
  if (options.bodyLimit !== undefined && options.limits?.multipartPartSize === undefined) {
    routeLimits.multipartPartSize = Math.max(appLimits.multipartPartSize, options.bodyLimit);
  }
  const classHooks = hooksOf((resource as { constructor?: unknown }).constructor);
  const endpoints = new Map<string, Endpoint>();
  for (const method of METHODS) {
    const name = responderName(method, options.suffix);
    const fn = (resource as Record<string, unknown>)[name];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') {
      throw new TypeError(`${name} of the resource for ${template} is not a function`);
    }
    const methodHooks = hooksOf(fn);
    const spec = specOf(fn);
    endpoints.set(method, {
      method,
      responderName: name,
      fn: fn as Responder,
      before: [...(options.before ?? []), ...classHooks.before, ...methodHooks.before],
      after: [...methodHooks.after, ...classHooks.after, ...(options.after ?? [])],
      spec,
      checks: compileChecks(spec),
      limits: responderLimits(routeLimits, spec?.bodyLimit, options),
    });
  }
  if (endpoints.size === 0) {
    const suffix = options.suffix ? ` with suffix "${options.suffix}"` : '';
    throw new TypeError(
      `the resource for ${template} has no responders${suffix} (onGet, onPost, …)`,
    );
  }
  const allowed = METHODS.filter(
    (m) => endpoints.has(m) || (m === 'HEAD' && endpoints.has('GET')) || m === 'OPTIONS',
  );
  return {
    template,
    parsed,
    resource,
    endpoints,
    allow: allowed.join(', '),
    allowed,
    middleware: options.middleware ?? [],
    limits: routeLimits,
    probe: undefined,
  };
}

/** Default limits, for Apps created without overrides. */
