import { DataError } from '../data/errors.ts';

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
