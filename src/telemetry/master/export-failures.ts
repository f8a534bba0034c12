/** What the exporter logs with (a pino logger fits). */
export interface ExportLog {
  warn(fields: object, message: string): void;
  info(fields: object, message: string): void;
}

/**
 * Failed exports as log lines: the first of a run of failures at once, then at most one line per
 * interval with the failures since the last line, and one line when exports work again after a
 * reported failure. A collector that flaps writes at most one warning per interval.
 */
export class FailureReport {
  readonly #log: ExportLog | undefined;
  readonly #every: number;
  readonly #now: () => number;
  readonly #url: string;
  #loggedAt = Number.NEGATIVE_INFINITY;
  /** Failures (requests, spans) not yet in a log line. */
  #requests = 0;
  #spans = 0;
  /** Whether the current run of failures has been reported. */
  #reported = false;

  constructor(url: string, log: ExportLog | undefined, every: number, now: () => number) {
    this.#url = url;
    this.#log = log;
    this.#every = every;
    this.#now = now;
  }

  /** An export failed: `spans` were dropped because of `error`. */
  failed(error: string, spans: number): void {
    this.#requests++;
    this.#spans += spans;
    const now = this.#now();
    if (this.#log === undefined || now - this.#loggedAt < this.#every) return;
    const fields = {
      url: this.#url,
      error,
      failedRequests: this.#requests,
      droppedSpans: this.#spans,
    };
    const since = `${this.#requests} requests and ${this.#spans} spans dropped since the last report`;
    this.#log.warn(
      fields,
      this.#reported
        ? `OTLP export still failing: ${error}; ${since}`
        : `OTLP export to ${this.#url} failed: ${error}; its spans are dropped and counted in ` +
            `peregrine_trace_spans_total{outcome="export_failed"}${this.#requests > 1 ? ` (${since})` : ''}`,
    );
    this.#reported = true;
    this.#loggedAt = now;
    this.#requests = 0;
    this.#spans = 0;
  }

  /** An export went through. */
  succeeded(): void {
    if (!this.#reported) return;
    this.#reported = false;
    this.#log?.info(
      { url: this.#url, failedRequests: this.#requests, droppedSpans: this.#spans },
      'OTLP export works again',
    );
    this.#requests = 0;
    this.#spans = 0;
  }
}
