import { DataError } from '../data/errors.ts';

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
