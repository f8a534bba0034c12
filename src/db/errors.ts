import { HTTPError, type HTTPErrorOptions } from '../app/errors/http-error.ts';

/** Seconds a client should wait before retrying after a data-path 503. */
function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/**
 * Base of the data path's operational errors. Each is an HTTPError, so one that escapes a
 * responder answers with the right status, a stable code and `Retry-After` — never a hang or a
 * bare 500 — while `cause` (logged, never sent) keeps the driver's error.
 */
export class DataError extends HTTPError {
  constructor(status: number, options: HTTPErrorOptions & { retryAfterMs?: number }) {
    const headers: Record<string, string> = { ...options.headers };
    let extensions = options.extensions;
    if (options.retryAfterMs !== undefined) {
      const seconds = retryAfterSeconds(options.retryAfterMs);
      headers['retry-after'] = String(seconds);
      extensions = { ...extensions, retryAfter: seconds };
    }
    super(status, { ...options, headers, extensions });
  }
}

/** No connection became free in time, or the wait queue is full (503 `PRG_DB_BUSY`). */
export class PoolBusyError extends DataError {
  constructor(detail: string, retryAfterMs = 1000) {
    super(503, { code: 'PRG_DB_BUSY', detail, retryAfterMs });
  }
}

/** The database cannot be reached (503 `PRG_DB_UNAVAILABLE`). */
export class DatabaseUnavailableError extends DataError {
  constructor(detail: string, cause?: unknown, retryAfterMs = 1000) {
    super(503, { code: 'PRG_DB_UNAVAILABLE', detail, cause, retryAfterMs });
  }
}

/** A statement outlived its timeout or the request deadline (503 `PRG_DB_TIMEOUT`). */
export class StatementTimeoutError extends DataError {
  constructor(timeoutMs: number, cause?: unknown) {
    super(503, {
      code: 'PRG_DB_TIMEOUT',
      detail: `A database statement did not finish within ${Math.round(timeoutMs)} ms.`,
      cause,
      retryAfterMs: 1000,
    });
  }
}

/** What an UpstreamError says went wrong. */
export type UpstreamFailure = 'circuit-open' | 'timeout' | 'unavailable';

/**
 * An outbound call failed: the breaker is open (503), the call timed out (504) or the peer could
 * not be reached (502). `origin` names the downstream.
 */
export class UpstreamError extends DataError {
  /** The downstream origin. */
  readonly origin: string;
  /** The kind of failure. */
  readonly failure: UpstreamFailure;

  constructor(failure: UpstreamFailure, origin: string, detail: string, cause?: unknown) {
    const status = failure === 'circuit-open' ? 503 : failure === 'timeout' ? 504 : 502;
    const code =
      failure === 'circuit-open'
        ? 'PRG_UPSTREAM_CIRCUIT_OPEN'
        : failure === 'timeout'
          ? 'PRG_UPSTREAM_TIMEOUT'
          : 'PRG_UPSTREAM_UNAVAILABLE';
    super(status, {
      code,
      detail,
      cause,
      ...(failure === 'circuit-open' ? { retryAfterMs: 1000 } : {}),
    });
    this.origin = origin;
    this.failure = failure;
  }
}
