/** One thing the master did or saw, as the event timeline shows it. */
export interface MasterEventRecord {
  /** Increases by one per event over the master's life (`?since=` pages on it). */
  seq: number;
  /** When, ms since epoch. */
  at: number;
  /** What kind of event: `scale-up`, `scale-down`, `scale-hold`, `ttin`, `ttou`. */
  type: string;
  /** One line for people (the log line's message). */
  message: string;
  /** The figures behind it (the log line's fields). */
  fields: Record<string, unknown>;
}

/**
 * The master's recent events in a bounded ring, newest last: what `GET /api/events` serves and
 * the dashboard's event timeline reads. Each event is also a log line; this keeps the last ones
 * where a page can poll them without reading logs.
 */
export class MasterEvents {
  readonly #capacity: number;
  readonly #ring: MasterEventRecord[] = [];
  #seq = 0;

  constructor(capacity = 1000) {
    this.#capacity = capacity;
  }

  /** Records an event. */
  record(
    type: string,
    message: string,
    fields: Record<string, unknown> = {},
    at = Date.now(),
  ): MasterEventRecord {
    const event = { seq: ++this.#seq, at, type, message, fields };
    this.#ring.push(event);
    if (this.#ring.length > this.#capacity) this.#ring.shift();
    return event;
  }

  /** Events after `since` (a `seq`), oldest first, at most `limit` (the newest ones). */
  list(since = 0, limit = this.#capacity): MasterEventRecord[] {
    const after = this.#ring.filter((e) => e.seq > since);
    return after.slice(Math.max(0, after.length - limit));
  }
}
