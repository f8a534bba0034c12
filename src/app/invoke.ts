import {
  HTTPBadRequest,
  HTTPInternalServerError,
  HTTPUnprocessableContent,
} from './errors/classes.ts';
import type { Logger } from './logger.ts';
import type { Request } from './request.ts';
import { MEDIA_BODY, NO_BODY, Response } from './response.ts';
import type { Endpoint } from './route.ts';
import type { Params } from './routing/router.ts';
import { isThenable } from './thenable.ts';
import type { Check, FieldError } from './validation/schema.ts';

/** What a check answers, once settled. */
type CheckResult = Awaited<ReturnType<Check>>;

/**
 * What a responder returned becomes the media, unless a body is set already or it returned a
 * Response (`return resp.redirect('/moved', 301)`): that is the answer, not something to serialise.
 */
function useResult(result: unknown, resp: Response): void {
  if (result === undefined || resp.bodyKind !== NO_BODY || result === resp) return;
  if (result instanceof Response) {
    throw new TypeError('a responder returned a Response other than its own resp');
  }
  resp.media = result;
}

/**
 * Runs one endpoint: before hooks, schema validation, the responder, after hooks and the
 * response check. Returns a promise only if something on the way was asynchronous.
 */
export function invoke(
  endpoint: Endpoint,
  resource: object,
  req: Request,
  resp: Response,
  logger: Logger,
): Promise<void> | undefined {
  const before = endpoint.before;
  // PERF: the common case (sync hooks, no schema, sync responder) allocates no promise.
  for (let i = 0; i < before.length; i++) {
    const r = before[i]!(req, resp, resource, req.params);
    if (isThenable(r)) return invokeAsync(endpoint, resource, req, resp, i, r, logger);
    if (resp.complete) return undefined;
  }
  if (endpoint.checks !== undefined)
    return invokeAsync(endpoint, resource, req, resp, before.length, undefined, logger);
  const result = endpoint.fn.call(resource, req, resp, req.params);
  if (isThenable(result)) return finishAsync(endpoint, resource, req, resp, result);
  useResult(result, resp);
  const after = endpoint.after;
  for (let i = 0; i < after.length; i++) {
    const r = after[i]!(req, resp, resource);
    if (isThenable(r)) return afterAsync(endpoint, resource, req, resp, i, r);
  }
  return undefined;
}

async function invokeAsync(
  endpoint: Endpoint,
  resource: object,
  req: Request,
  resp: Response,
  hookIndex: number,
  pending: PromiseLike<unknown> | undefined,
  logger: Logger,
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
  if (endpoint.checks !== undefined) await validate(endpoint, req);
  const result = await endpoint.fn.call(resource, req, resp, req.params);
  useResult(result, resp);
  for (const hook of endpoint.after) await hook(req, resp, resource);
  await checkResponse(endpoint, req, resp, logger);
}

async function finishAsync(
  endpoint: Endpoint,
  resource: object,
  req: Request,
  resp: Response,
  pending: PromiseLike<unknown>,
): Promise<void> {
  const result = await pending;
  useResult(result, resp);
  for (const hook of endpoint.after) await hook(req, resp, resource);
}

async function afterAsync(
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
async function validate(endpoint: Endpoint, req: Request): Promise<void> {
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
function checkResponse(
  endpoint: Endpoint,
  req: Request,
  resp: Response,
  logger: Logger,
): Promise<void> | undefined {
  const check = endpoint.checks?.response?.get(resp.status);
  if (check === undefined || resp.bodyKind !== MEDIA_BODY) return;
  const r = check(resp.body);
  // An async validator (a Standard Schema may be one) is awaited like the input checks.
  if (r instanceof Promise) return r.then((v) => failOnMismatch(v, req, logger));
  failOnMismatch(r, req, logger);
  return undefined;
}

function failOnMismatch(r: CheckResult, req: Request, logger: Logger): void {
  if (!r.ok) {
    logger.error(
      { requestId: req.id, route: req.route, method: req.method, errors: r.errors },
      'response does not match its schema',
    );
    throw new HTTPInternalServerError({
      code: 'PRG_RESPONSE_INVALID',
      extensions: { requestId: req.id },
    });
  }
}
