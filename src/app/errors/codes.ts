/**
 * Stable codes of Peregrine's own (operational) errors. Each is part of the public interface:
 * clients may branch on them, and docs/errors.md documents every one (a test keeps them in step).
 * `expected` marks the 5xx a healthy service gives while a dependency is down or it is overloaded
 * (breaker open, pool busy, shed, deadline): counted in metrics and logged sampled, without a
 * stack, rather than one line per response.
 */
export const ERROR_CODES = {
  PRG_ROUTE_NOT_FOUND: { status: 404, summary: 'No route matches the request path.' },
  PRG_METHOD_NOT_ALLOWED: {
    status: 405,
    summary: 'The route exists but has no responder for the method.',
  },
  PRG_PATH_INVALID: { status: 400, summary: 'The request path has invalid percent-encoding.' },
  PRG_QUERY_INVALID: { status: 400, summary: 'A query parameter is missing or has a bad value.' },
  PRG_BODY_MISSING: { status: 400, summary: 'The responder needs a body and none was sent.' },
  PRG_BODY_TOO_LARGE: { status: 413, summary: 'The body is larger than the route allows.' },
  PRG_BODY_INCOMPLETE: {
    status: 400,
    summary: 'The client stopped sending before the body ended.',
  },
  PRG_BODY_INVALID_UTF8: { status: 400, summary: 'A text body is not valid UTF-8.' },
  PRG_CONTENT_ENCODING_UNSUPPORTED: {
    status: 415,
    summary: 'The body uses a Content-Encoding the server does not decode.',
  },
  PRG_MEDIA_TYPE_UNSUPPORTED: {
    status: 415,
    summary: 'No media handler parses the Content-Type of the body.',
  },
  PRG_NOT_ACCEPTABLE: {
    status: 406,
    summary: 'No media handler can produce a type the Accept header allows.',
  },
  PRG_JSON_MALFORMED: { status: 400, summary: 'The JSON body does not parse.' },
  PRG_JSON_TOO_DEEP: { status: 400, summary: 'The JSON body nests deeper than the limit.' },
  PRG_JSON_FORBIDDEN_KEY: {
    status: 400,
    summary: 'The JSON body has a `__proto__` or `constructor.prototype` key.',
  },
  PRG_FORM_MALFORMED: { status: 400, summary: 'The form body does not parse.' },
  PRG_FORM_TOO_MANY_FIELDS: { status: 413, summary: 'The form body has too many fields.' },
  PRG_MULTIPART_MALFORMED: { status: 400, summary: 'The multipart body does not parse.' },
  PRG_MULTIPART_LIMIT: {
    status: 413,
    summary: 'The multipart body exceeds a part count or part size limit.',
  },
  PRG_VALIDATION_FAILED: {
    status: 422,
    summary: 'The body fails the route schema (400 for params, query and headers).',
  },
  PRG_PRECONDITION_FAILED: {
    status: 412,
    summary: 'A conditional header is false (If-Match, If-Unmodified-Since…).',
  },
  PRG_CORS_REJECTED: { status: 403, summary: 'A CORS preflight from an origin not allowed.' },
  PRG_AUTH_REQUIRED: {
    status: 401,
    summary: 'The route needs credentials and the request carries none.',
  },
  PRG_AUTH_INVALID: {
    status: 401,
    summary: 'The token or API key is malformed, expired, unknown or not for this service.',
  },
  PRG_AUTH_FORBIDDEN: {
    status: 403,
    summary: 'The caller is authenticated but lacks a scope or role the route requires.',
  },
  PRG_RATE_LIMITED: {
    status: 429,
    summary: 'Over the rate limit; `Retry-After` and `RateLimit` say when to come back.',
  },
  PRG_INTERNAL: { status: 500, summary: 'An unexpected error; the log has the details.' },
  PRG_RESPONSE_INVALID: {
    status: 500,
    summary: 'The responder produced a body that fails its response schema.',
  },
  PRG_REQUEST_MALFORMED: {
    status: 400,
    summary: 'The request is not valid HTTP/1.1; the connection closes.',
  },
  PRG_REQUEST_TIMEOUT: {
    status: 408,
    summary: 'The head or body did not arrive in time; the connection closes.',
  },
  PRG_HEADERS_TOO_LARGE: {
    status: 431,
    summary: 'The request head is over `--max-header-size`; the connection closes.',
  },
  PRG_DEADLINE_EXCEEDED: {
    status: 503,
    summary: 'The request deadline passed before the responder finished.',
    expected: true,
  },
  PRG_RATE_LIMIT_UNAVAILABLE: {
    status: 503,
    summary: 'The rate limit store (Redis) cannot answer and the limiter fails closed.',
    expected: true,
  },
  PRG_OVERLOADED: {
    status: 503,
    summary: 'The worker sheds load; retry after the given delay.',
    expected: true,
  },
  PRG_TOO_MANY_CONNECTIONS: {
    status: 503,
    summary: 'The worker is at its connection cap; this connection closes, retry.',
    expected: true,
  },
  PRG_DB_BUSY: {
    status: 503,
    summary: 'No database connection became free in time, or too many wait.',
    expected: true,
  },
  PRG_DB_UNAVAILABLE: {
    status: 503,
    summary: 'The database cannot be reached; the pool fails fast meanwhile.',
    expected: true,
  },
  PRG_DB_TIMEOUT: {
    status: 503,
    summary: 'A statement outlived its timeout or the request deadline.',
    expected: true,
  },
  PRG_UPSTREAM_CIRCUIT_OPEN: {
    status: 503,
    summary: 'A downstream keeps failing; calls are refused until it recovers.',
    expected: true,
  },
  PRG_UPSTREAM_TIMEOUT: {
    status: 504,
    summary: 'A downstream service did not answer in time.',
    expected: true,
  },
  PRG_UPSTREAM_UNAVAILABLE: {
    status: 502,
    summary: 'A downstream could not be reached or broke the connection.',
    expected: true,
  },
  PRG_AUTH_UNAVAILABLE: {
    status: 503,
    summary: 'The keys that verify a token could not be fetched (JWKS endpoint down or slow).',
    expected: true,
  },
} as const satisfies Record<string, { status: number; summary: string; expected?: true }>;

/** Whether a code is one of the expected failures (see ERROR_CODES). */
export function expectedFailure(code: string | undefined): boolean {
  if (code === undefined || !Object.hasOwn(ERROR_CODES, code)) return false;
  return (ERROR_CODES as Record<string, { expected?: true }>)[code]!.expected === true;
}

/** A stable error code of Peregrine. */
export type ErrorCode = keyof typeof ERROR_CODES;
