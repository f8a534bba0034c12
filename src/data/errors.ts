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
