/**
 * The master's inbox. Signal, IPC and timer handlers only `push`; the master's single loop
 * `take`s one event at a time and does the work, so no handler ever runs inside another.
 */
export class EventQueue<T> {
  readonly #items: T[] = [];
  #waiter: ((item: T) => void) | undefined;

  /** Adds an event (safe to call from any handler). */
  push(item: T): void {
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter(item);
    } else {
      this.#items.push(item);
    }
  }

  /** The next event, waiting for one if there is none. */
  take(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Events waiting. */
  get size(): number {
    return this.#items.length;
  }
}
