import { withHooks } from './hooks.ts';
import type { AfterHook, BeforeHook, Responder } from './middleware.ts';
import type { Request } from './request.ts';
import type { Response } from './response.ts';
import type { Params } from './routing/router.ts';
import type { Infer, Schema } from './validation/schema.ts';

/** What a responder declares: schemas, hooks, limits and OpenAPI metadata. */
export interface ResponderSpec {
  /** Schema of the converted path fields. */
  params?: Schema;
  /** Schema of the query string (values are coerced from strings). */
  query?: Schema;
  /** Schema of the headers (lower-case names; values are coerced from strings). */
  headers?: Schema;
  /** Schema of the parsed body. */
  body?: Schema;
  /** Media types the body may have (OpenAPI; default application/json). */
  bodyTypes?: readonly string[];
  /** Response schemas by status, or one schema for 200. */
  response?: Schema | Readonly<Record<number, Schema>>;
  /** Hooks run before this responder (after the resource's). */
  before?: BeforeHook[];
  /** Hooks run after this responder (before the resource's). */
  after?: AfterHook[];
  /** Body limit in bytes for this responder. */
  bodyLimit?: number;
  summary?: string;
  description?: string;
  tags?: readonly string[];
  operationId?: string;
  deprecated?: boolean;
}

type ValidOf<S extends ResponderSpec> = {
  [K in 'params' | 'query' | 'headers' | 'body' as S[K] extends Schema ? K : never]: Infer<S[K]>;
};

/** A Request whose `valid` holds the inputs typed by the responder's schemas. */
export type TypedRequest<S extends ResponderSpec> = Omit<Request, 'valid'> & {
  readonly valid: ValidOf<S>;
};

/** A responder with its declared spec. */
export type SpecifiedResponder<S extends ResponderSpec> = Responder & { readonly spec: S };

const SPEC = Symbol.for('peregrine.spec');

/** The spec attached to a responder by `responder()`, if any. */
export function specOf(fn: unknown): ResponderSpec | undefined {
  return typeof fn === 'function' ? (fn as { [SPEC]?: ResponderSpec })[SPEC] : undefined;
}

/**
 * Declares a responder with schemas: its input is validated before it runs (400 for params,
 * query and headers; 422 for the body, listing every failing field) and arrives typed in
 * `req.valid`. The same spec feeds `app.openapi()`.
 *
 * ```ts
 * class Items {
 *   onPost = responder({ body: Type.Object({ name: Type.String() }) }, (req, resp) => {
 *     resp.status = 201;
 *     resp.media = { name: req.valid.body.name };
 *   });
 * }
 * ```
 */
export function responder<const S extends ResponderSpec>(
  spec: S,
  fn: (
    req: TypedRequest<S>,
    resp: Response,
    params: S['params'] extends Schema ? Infer<S['params']> : Params,
  ) => unknown,
): SpecifiedResponder<S> {
  // A wrapper, not the function itself, carries the spec: one handler may serve several
  // responders (`onPost = responder({ bodyLimit: 16 }, save)`, `onPut = save`) and each keeps
  // its own spec and hooks.
  const target = function (this: unknown, req: TypedRequest<S>, resp: Response, params: never) {
    return fn.call(this, req, resp, params);
  };
  const wrapped = target as unknown as SpecifiedResponder<S>;
  Object.defineProperty(wrapped, SPEC, { value: spec, enumerable: false });
  Object.defineProperty(wrapped, 'spec', { value: spec, enumerable: false });
  if (spec.before !== undefined || spec.after !== undefined) {
    withHooks(wrapped, { before: spec.before ?? [], after: spec.after ?? [] });
  }
  return wrapped;
}
