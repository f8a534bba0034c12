/** A clock that moves only when a test moves it, for the parts that take a `clock` option. */
export interface ManualClock {
  /** The time, ms since epoch. */
  readonly now: () => number;
  /** Moves the time on. */
  advance(ms: number): void;
}

/** A manual clock starting at `start` (a real-looking epoch time by default). */
export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let t = start;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}
