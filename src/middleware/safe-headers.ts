import type { Middleware } from '../app/middleware.ts';
import type { Request } from '../app/request.ts';
import type { Response } from '../app/response.ts';

/** `Strict-Transport-Security` parts. */
export interface HstsOptions {
  /** Seconds browsers remember to use HTTPS only (default 31 536 000, one year). */
  maxAge?: number;
  /** Also for every subdomain (default false: that is the operator's call for the domain). */
  includeSubDomains?: boolean;
  /** Ask to be put on the browsers' preload list (default false). */
  preload?: boolean;
}

/**
 * Options of `safeHeaders()`. Every header can be replaced by another value or turned off with
 * `false`; a header the responder (or an error handler) set itself is never overwritten.
 */
export interface SafeHeadersOptions {
  /** `X-Content-Type-Options` (default `nosniff`). */
  contentTypeOptions?: string | false;
  /**
   * `Cache-Control` on authenticated responses (default `no-store`), so no shared cache keeps one
   * caller's answer for the next. Set only when the response has no Cache-Control of its own.
   */
  authenticatedCacheControl?: string | false;
  /**
   * Whether the request is authenticated. Default: it carries `Authorization`, one of
   * `apiKeyHeaders`, or `peregrine/auth` put a principal in `req.context`.
   */
  authenticated?: (req: Request, resp: Response) => boolean;
  /** Headers that carry an API key (default `x-api-key`), for the default `authenticated`. */
  apiKeyHeaders?: readonly string[];
  /**
   * `Strict-Transport-Security`, sent only when the request came over TLS: on the connection
   * itself, or as a trusted proxy says (`Forwarded: proto=https` / `X-Forwarded-Proto`, see the
   * App's `trustedProxies`). A plain-HTTP answer never carries it (browsers ignore it there).
   */
  hsts?: HstsOptions | string | false;
  /** `Content-Security-Policy` (default `default-src 'none'; frame-ancestors 'none'`: JSON is never a page). */
  contentSecurityPolicy?: string | false;
  /** `X-Frame-Options` (default `DENY`) for browsers without CSP `frame-ancestors`. */
  frameOptions?: string | false;
  /** `Referrer-Policy` (default `no-referrer`). */
  referrerPolicy?: string | false;
  /** Headers removed from every response (default `x-powered-by`): they only inform attackers. */
  remove?: readonly string[];
}

function hstsValue(option: SafeHeadersOptions['hsts']): string | undefined {
  if (option === false) return undefined;
  if (typeof option === 'string') return option;
  const maxAge = option?.maxAge ?? 31_536_000;
  if (!Number.isSafeInteger(maxAge) || maxAge < 0) {
    throw new TypeError(`safeHeaders: hsts.maxAge must be whole seconds ≥ 0, got ${maxAge}`);
  }
  let value = `max-age=${maxAge}`;
  if (option?.includeSubDomains === true) value += '; includeSubDomains';
  if (option?.preload === true) value += '; preload';
  return value;
}

function orDefault(value: string | false | undefined, fallback: string): string | undefined {
  return value === false ? undefined : (value ?? fallback);
}

/**
 * Response headers every API should send (OWASP's REST list): `X-Content-Type-Options: nosniff`,
 * `Cache-Control: no-store` on authenticated responses, `Strict-Transport-Security` on HTTPS
 * requests (direct or through a trusted proxy), a CSP and `X-Frame-Options` that keep a response
 * from being framed or run as a page, `Referrer-Policy: no-referrer`, and no `X-Powered-By`.
 * They go on every answer, errors and 404s included; each one is overridable or off.
 */
export function safeHeaders(options: SafeHeadersOptions = {}): Middleware {
  // The fixed headers, computed once; set per response only where the response has none.
  const fixed: Array<[string, string]> = [];
  const add = (name: string, value: string | undefined) => {
    if (value !== undefined) fixed.push([name, value]);
  };
  add('x-content-type-options', orDefault(options.contentTypeOptions, 'nosniff'));
  add(
    'content-security-policy',
    orDefault(options.contentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'"),
  );
  add('x-frame-options', orDefault(options.frameOptions, 'DENY'));
  add('referrer-policy', orDefault(options.referrerPolicy, 'no-referrer'));
  const hsts = hstsValue(options.hsts);
  const noStore = orDefault(options.authenticatedCacheControl, 'no-store');
  const keyHeaders = (options.apiKeyHeaders ?? ['x-api-key']).map((h) => h.toLowerCase());
  const authenticated =
    options.authenticated ??
    ((req: Request) => {
      const headers = req.headers;
      if (headers.authorization !== undefined) return true;
      for (const name of keyHeaders) if (headers[name] !== undefined) return true;
      return (req.context as { principal?: unknown }).principal !== undefined;
    });
  const remove = (options.remove ?? ['x-powered-by']).map((h) => h.toLowerCase());

  return {
    processResponse(req, resp) {
      for (const [name, value] of fixed) {
        if (resp.getHeader(name) === undefined) resp.setHeader(name, value);
      }
      if (
        hsts !== undefined &&
        req.scheme === 'https' &&
        resp.getHeader('strict-transport-security') === undefined
      ) {
        resp.setHeader('strict-transport-security', hsts);
      }
      if (
        noStore !== undefined &&
        resp.getHeader('cache-control') === undefined &&
        authenticated(req, resp)
      ) {
        resp.setHeader('cache-control', noStore);
      }
      for (const name of remove) resp.deleteHeader(name);
    },
  };
}
