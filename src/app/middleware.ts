import type { Request } from './request.ts';
import type { Response } from './response.ts';
import type { Params } from './routing/router.ts';

/** A value, or a promise of it: every extension point may be sync or async. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Middleware with up to three phases. `processRequest` runs before routing (it may rewrite
 * `req.path`), `processResource` after routing, `processResponse` in reverse order after the
 * responder, always, and is told whether the request succeeded. Setting `resp.complete = true`
 * skips what remains up to `processResponse`.
 */
export interface Middleware {
  processRequest?(req: Request, resp: Response): MaybePromise<void>;
  processResource?(
    req: Request,
    resp: Response,
    resource: object | undefined,
    params: Params,
  ): MaybePromise<void>;
  processResponse?(
    req: Request,
    resp: Response,
    resource: object | undefined,
    succeeded: boolean,
  ): MaybePromise<void>;
}

/** A hook run before a responder; it may change params, answer early or throw. */
export type BeforeHook = (
  req: Request,
  resp: Response,
  resource: object,
  params: Params,
) => MaybePromise<void>;

/** A hook run after a responder succeeded. */
export type AfterHook = (req: Request, resp: Response, resource: object) => MaybePromise<void>;

/** A responder: `onGet(req, resp, params)`. A returned value becomes `resp.media` if no body is set. */
export type Responder = (req: Request, resp: Response, params: Params) => unknown;
