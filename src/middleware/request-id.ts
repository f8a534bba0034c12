import type { Middleware } from '../app/middleware.ts';

/** Options of the request-id middleware. */
export interface RequestIdOptions {
  /** Response header carrying the id (default `X-Request-Id`). */
  header?: string;
}

/**
 * Echoes the request id (a sane incoming `X-Request-Id`, else a new UUID; see `req.id`) on every
 * response, errors included, so clients and logs can be correlated.
 */
export function requestId(options: RequestIdOptions = {}): Middleware {
  const header = options.header ?? 'x-request-id';
  return {
    processResponse(req, resp) {
      resp.setHeader(header, req.id);
    },
  };
}
