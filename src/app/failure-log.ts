import type { HTTPError } from './errors/http-error.ts';
import type { Logger } from './logger.ts';

/** Where a failure happened, for its log line. */
export interface FailureContext {
  readonly requestId: string;
  readonly method: string;
  readonly route: string | undefined;
}

interface Episode {
  /** Failures since the last line. */
  count: number;
  /** All failures of the episode. */
  total: number;
  readonly since: number;
  timer: NodeJS.Timeout;
}

/** The message of a cause, if the error has one (the stack stays out of expected failures). */
function causeOf(err: HTTPError): string | undefined {
  const cause = (err as { cause?: unknown }).cause;
  if (cause === undefined) return undefined;
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Logs expected failures (a 503 while the database is down, a shed request, a passed deadline)
 * the way an operator wants to read an outage: the first of an episode at once — one warn line,
 * code and reason, no stack — then one line per `windowMs` with how many more there were, and
 * nothing once they stop. A 30 s outage under load is a handful of lines, not one per request;
 * the per-request counts are in the metrics.
 */
export class FailureLog {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #episodes = new Map<string, Episode>();

  constructor(logger: Logger, windowMs = 10_000) {
    this.#logger = logger;
    this.#windowMs = windowMs;
  }

  /** Records one expected failure with a code. */
  record(err: HTTPError & { code: string }, where: FailureContext): void {
    const code = err.code;
    const episode = this.#episodes.get(code);
    if (episode !== undefined) {
      episode.count++;
      episode.total++;
      return;
    }
    const timer = setInterval(() => this.#flush(code), this.#windowMs);
    timer.unref();
    this.#episodes.set(code, { count: 0, total: 1, since: Date.now(), timer });
    this.#logger.warn(
      {
        code,
        status: err.status,
        detail: err.detail,
        cause: causeOf(err),
        requestId: where.requestId,
        method: where.method,
        route: where.route,
      },
      `${code}: ${err.detail ?? err.title} (expected failure: further ones are counted, one line per ${this.#windowMs / 1000} s)`,
    );
  }

  /** Ends every episode (logging what is left to report) and stops the timers. */
  close(): void {
    for (const code of [...this.#episodes.keys()]) {
      this.#flush(code);
      this.#end(code);
    }
  }

  #flush(code: string): void {
    const episode = this.#episodes.get(code);
    if (episode === undefined) return;
    if (episode.count === 0) {
      this.#end(code);
      return;
    }
    this.#logger.warn(
      {
        code,
        count: episode.count,
        total: episode.total,
        sinceMs: Date.now() - episode.since,
      },
      `${code}: ${episode.count} more in the last ${this.#windowMs / 1000} s`,
    );
    episode.count = 0;
  }

  #end(code: string): void {
    const episode = this.#episodes.get(code);
    if (episode === undefined) return;
    clearInterval(episode.timer);
    this.#episodes.delete(code);
  }
}
