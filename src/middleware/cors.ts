import { HTTPForbidden } from '../app/errors/classes.ts';
import type { Middleware } from '../app/middleware.ts';
import type { Request } from '../app/request.ts';
import type { Response } from '../app/response.ts';

/** Options of the CORS middleware. */
export interface CorsOptions {
  /** Allowed origins: an exact list, a predicate, or `'*'` (not with credentials). */
  origins: readonly string[] | ((origin: string, req: Request) => boolean) | '*';
  /** Allow cookies / Authorization (`Access-Control-Allow-Credentials: true`). */
  credentials?: boolean;
  /** Methods allowed in preflight (default GET, HEAD, POST, PUT, PATCH, DELETE). */
  methods?: readonly string[];
  /** Request headers allowed in preflight; default: those the browser asks for. */
  allowHeaders?: readonly string[];
  /** Response headers the browser may read. */
  exposeHeaders?: readonly string[];
  /** Seconds a preflight may be cached (default 600). */
  maxAge?: number;
}

function appendVary(resp: Response, value: string): void {
  const prev = resp.getHeader('vary');
  if (prev === undefined) resp.setHeader('vary', value);
  else if (
    !String(prev)
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(value.toLowerCase())
  ) {
    resp.setHeader('vary', `${String(prev)}, ${value}`);
  }
}

/**
 * CORS for browsers: answers preflight requests (before routing) and adds the allow headers to
 * responses for allowed origins. `*` is never combined with credentials: that combination throws
 * when the middleware is created, and with credentials the exact origin is echoed.
 */
export function cors(options: CorsOptions): Middleware {
  const { origins, credentials = false } = options;
  if (origins === '*' && credentials) {
    throw new TypeError('CORS: origins "*" cannot be combined with credentials');
  }
  const exact = Array.isArray(origins) ? new Set<string>(origins) : undefined;
  const methods = (options.methods ?? ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']).join(', ');
  const allowHeaders = options.allowHeaders?.join(', ');
  const exposeHeaders = options.exposeHeaders?.join(', ');
  const maxAge = String(options.maxAge ?? 600);

  const allowed = (origin: string, req: Request): boolean => {
    if (origins === '*') return true;
    if (exact !== undefined) return exact.has(origin);
    return (origins as (o: string, r: Request) => boolean)(origin, req);
  };

  return {
    processRequest(req, resp) {
      const origin = req.headers.origin;
      const requested = req.headers['access-control-request-method'];
      if (req.method !== 'OPTIONS' || origin === undefined || requested === undefined) return;
      if (!allowed(origin, req)) {
        throw new HTTPForbidden({
          code: 'PRG_CORS_REJECTED',
          detail: 'The origin is not allowed to make cross-origin requests.',
        });
      }
      resp.status = 204;
      resp.setHeader('access-control-allow-origin', origins === '*' ? '*' : origin);
      resp.setHeader('access-control-allow-methods', methods);
      const headers = allowHeaders ?? req.getHeader('access-control-request-headers');
      if (headers) resp.setHeader('access-control-allow-headers', headers);
      if (credentials) resp.setHeader('access-control-allow-credentials', 'true');
      resp.setHeader('access-control-max-age', maxAge);
      if (origins !== '*') appendVary(resp, 'Origin');
      if (allowHeaders === undefined) appendVary(resp, 'Access-Control-Request-Headers');
      resp.complete = true;
    },
    processResponse(req, resp) {
      if (origins !== '*') appendVary(resp, 'Origin');
      const origin = req.headers.origin;
      if (origin === undefined || resp.getHeader('access-control-allow-origin') !== undefined) {
        return;
      }
      if (!allowed(origin, req)) return;
      resp.setHeader('access-control-allow-origin', origins === '*' ? '*' : origin);
      if (credentials) resp.setHeader('access-control-allow-credentials', 'true');
      if (exposeHeaders) resp.setHeader('access-control-expose-headers', exposeHeaders);
    },
  };
}
