import { HTTPForbidden, HTTPServiceUnavailable, HTTPUnauthorized } from '../app/errors/classes.ts';
import type { HTTPError } from '../app/errors/http-error.ts';

/** An RFC 9110 quoted-string. */
export function quoted(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/[\r\n]/g, ' ')}"`;
}

/** One challenge: `Bearer realm="api", error="invalid_token"`. */
export function challenge(scheme: string, params: Record<string, string | undefined>): string {
  const parts = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${quoted(v)}`);
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}

/** 401 `PRG_AUTH_REQUIRED`: the route needs credentials and there are none. */
export function authRequired(challenges: string[]): HTTPError {
  return new HTTPUnauthorized({
    code: 'PRG_AUTH_REQUIRED',
    detail: 'This resource needs credentials.',
    challenges,
  });
}

/** 401 `PRG_AUTH_INVALID`: credentials were sent and are not acceptable. */
export function authInvalid(challenges: string[], detail: string): HTTPError {
  return new HTTPUnauthorized({ code: 'PRG_AUTH_INVALID', detail, challenges });
}

/** 403 `PRG_AUTH_FORBIDDEN`: authenticated, but without what the route requires. */
export function authForbidden(detail: string, challenges?: string[]): HTTPError {
  return new HTTPForbidden({
    code: 'PRG_AUTH_FORBIDDEN',
    detail,
    ...(challenges === undefined || challenges.length === 0
      ? {}
      : { headers: { 'www-authenticate': challenges.join(', ') } }),
  });
}

/**
 * 503 `PRG_AUTH_UNAVAILABLE`: the keys that would verify the token could not be had. Not a 401:
 * the token may well be valid, and a 401 would send every client back to its identity provider
 * for nothing while the JWKS endpoint is down.
 */
export class AuthUnavailableError extends HTTPServiceUnavailable {
  constructor(detail: string, retryAfterSeconds: number, cause?: unknown) {
    super({ code: 'PRG_AUTH_UNAVAILABLE', detail, retryAfter: retryAfterSeconds, cause });
  }
}
