import { HTTPError, type HTTPErrorOptions } from './http-error.ts';

/** A status-bound subclass of HTTPError, constructed from options alone. */
export type StatusErrorClass = new (options?: HTTPErrorOptions) => HTTPError;

/** Builds the HTTPError subclass of one status; the class is named for the status. */
function statusError(status: number, name: string): StatusErrorClass {
  const cls = class extends HTTPError {
    constructor(options?: HTTPErrorOptions) {
      super(status, options);
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
}

// The status table: one generated class per standard 4xx/5xx status.
/** 400 */ export const HTTPBadRequest = statusError(400, 'HTTPBadRequest');
/** 401 */ const HTTPUnauthorizedBase = statusError(401, 'HTTPUnauthorized');
/** 402 */ export const HTTPPaymentRequired = statusError(402, 'HTTPPaymentRequired');
/** 403 */ export const HTTPForbidden = statusError(403, 'HTTPForbidden');
/** 404 */ export const HTTPNotFound = statusError(404, 'HTTPNotFound');
/** 405 */ const HTTPMethodNotAllowedBase = statusError(405, 'HTTPMethodNotAllowed');
/** 406 */ export const HTTPNotAcceptable = statusError(406, 'HTTPNotAcceptable');
/** 407 */ export const HTTPProxyAuthenticationRequired = statusError(
  407,
  'HTTPProxyAuthenticationRequired',
);
/** 408 */ export const HTTPRequestTimeout = statusError(408, 'HTTPRequestTimeout');
/** 409 */ export const HTTPConflict = statusError(409, 'HTTPConflict');
/** 410 */ export const HTTPGone = statusError(410, 'HTTPGone');
/** 411 */ export const HTTPLengthRequired = statusError(411, 'HTTPLengthRequired');
/** 412 */ export const HTTPPreconditionFailed = statusError(412, 'HTTPPreconditionFailed');
/** 413 */ export const HTTPContentTooLarge = statusError(413, 'HTTPContentTooLarge');
/** 414 */ export const HTTPUriTooLong = statusError(414, 'HTTPUriTooLong');
/** 415 */ export const HTTPUnsupportedMediaType = statusError(415, 'HTTPUnsupportedMediaType');
/** 416 */ export const HTTPRangeNotSatisfiable = statusError(416, 'HTTPRangeNotSatisfiable');
/** 417 */ export const HTTPExpectationFailed = statusError(417, 'HTTPExpectationFailed');
/** 421 */ export const HTTPMisdirectedRequest = statusError(421, 'HTTPMisdirectedRequest');
/** 422 */ export const HTTPUnprocessableContent = statusError(422, 'HTTPUnprocessableContent');
/** 423 */ export const HTTPLocked = statusError(423, 'HTTPLocked');
/** 424 */ export const HTTPFailedDependency = statusError(424, 'HTTPFailedDependency');
/** 425 */ export const HTTPTooEarly = statusError(425, 'HTTPTooEarly');
/** 426 */ export const HTTPUpgradeRequired = statusError(426, 'HTTPUpgradeRequired');
/** 428 */ export const HTTPPreconditionRequired = statusError(428, 'HTTPPreconditionRequired');
/** 429 */ const HTTPTooManyRequestsBase = statusError(429, 'HTTPTooManyRequests');
/** 431 */ export const HTTPRequestHeaderFieldsTooLarge = statusError(
  431,
  'HTTPRequestHeaderFieldsTooLarge',
);
/** 451 */ export const HTTPUnavailableForLegalReasons = statusError(
  451,
  'HTTPUnavailableForLegalReasons',
);
/** 500 */ export const HTTPInternalServerError = statusError(500, 'HTTPInternalServerError');
/** 501 */ export const HTTPNotImplemented = statusError(501, 'HTTPNotImplemented');
/** 502 */ export const HTTPBadGateway = statusError(502, 'HTTPBadGateway');
/** 503 */ const HTTPServiceUnavailableBase = statusError(503, 'HTTPServiceUnavailable');
/** 504 */ export const HTTPGatewayTimeout = statusError(504, 'HTTPGatewayTimeout');
/** 505 */ export const HTTPVersionNotSupported = statusError(505, 'HTTPVersionNotSupported');
/** 507 */ export const HTTPInsufficientStorage = statusError(507, 'HTTPInsufficientStorage');
/** 508 */ export const HTTPLoopDetected = statusError(508, 'HTTPLoopDetected');
/** 511 */ export const HTTPNetworkAuthenticationRequired = statusError(
  511,
  'HTTPNetworkAuthenticationRequired',
);

/** 405 with the `Allow` header listing the methods the resource supports. */
export class HTTPMethodNotAllowed extends HTTPMethodNotAllowedBase {
  /** The allowed methods. */
  readonly allowed: readonly string[];
  constructor(allowed: readonly string[], options: HTTPErrorOptions = {}) {
    super({
      code: 'PRG_METHOD_NOT_ALLOWED',
      ...options,
      headers: { ...options.headers, allow: allowed.join(', ') },
    });
    this.allowed = allowed;
  }
}

/** 401 with a `WWW-Authenticate` challenge. */
export class HTTPUnauthorized extends HTTPUnauthorizedBase {
  constructor(options: HTTPErrorOptions & { challenges?: string[] } = {}) {
    const headers =
      options.challenges && options.challenges.length > 0
        ? { ...options.headers, 'www-authenticate': options.challenges.join(', ') }
        : options.headers;
    super({ ...options, headers });
  }
}

/** Adds a Retry-After header (seconds) when one is given. */
function withRetryAfter(options: HTTPErrorOptions & { retryAfter?: number }): HTTPErrorOptions {
  if (options.retryAfter === undefined) return options;
  const seconds = Math.max(0, Math.ceil(options.retryAfter));
  return {
    ...options,
    headers: { ...options.headers, 'retry-after': String(seconds) },
    extensions: { ...options.extensions, retryAfter: seconds },
  };
}

/** 429 with an optional `Retry-After` (seconds). */
export class HTTPTooManyRequests extends HTTPTooManyRequestsBase {
  constructor(options: HTTPErrorOptions & { retryAfter?: number } = {}) {
    super(withRetryAfter(options));
  }
}

/** 503 with an optional `Retry-After` (seconds). */
export class HTTPServiceUnavailable extends HTTPServiceUnavailableBase {
  constructor(options: HTTPErrorOptions & { retryAfter?: number } = {}) {
    super(withRetryAfter(options));
  }
}
