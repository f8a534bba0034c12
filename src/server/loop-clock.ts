// PERF: a builtin through process.getBuiltinModule, not an ESM import: an ESM import builds
// the module's facade, which reads every lazy export (node:fs's promises, node:util's types).
const { closeSync, openSync, readSync, writeFileSync, writeSync } =
  process.getBuiltinModule('node:fs');

/**
 * When a worker's event loop last turned, shared with the master through a small file (the page
 * cache makes it shared memory): the worker writes the time on a short timer, the master reads it
 * whenever it judges. Neither side waits on the other, and the master's verdict never depends on
 * when an IPC message happens to arrive — a message queued behind others, or a master busy for a
 * moment, can no longer make a worker look blocked longer than it was.
 */

/** How often a worker records a loop turn for a watchdog timeout: 1/40 of it, 10 to 50 ms. */
export function turnInterval(timeoutSeconds: number): number {
  return Math.max(10, Math.min(50, (timeoutSeconds * 1000) / 40));
}

/** Creates a worker's loop clock file, reading "no turn yet" (0). */
export function createLoopClock(path: string): void {
  writeFileSync(path, Buffer.alloc(8));
}

/** The worker's side: records the time of a loop turn. */
export class LoopClockWriter {
  readonly #fd: number;
  // PERF: one preallocated 8-byte buffer; a turn costs one Date.now() and one pwrite.
  readonly #buf = Buffer.alloc(8);

  constructor(path: string) {
    this.#fd = openSync(path, 'r+');
  }

  /** Records that the loop turned at `at` (ms since the epoch). */
  turned(at: number): void {
    this.#buf.writeDoubleLE(at, 0);
    writeSync(this.#fd, this.#buf, 0, 8, 0);
  }

  /** Closes the file. */
  close(): void {
    closeSync(this.#fd);
  }
}

/** The master's side: reads when a worker's loop last turned. */
export class LoopClockReader {
  readonly #fd: number;
  readonly #buf = Buffer.alloc(8);

  constructor(path: string) {
    this.#fd = openSync(path, 'r');
  }

  /**
   * When the loop last turned (ms since the epoch), or undefined before the first turn or if
   * the value cannot be read or is not plausible (a torn read is ignored, never acted on).
   */
  read(now: number): number | undefined {
    try {
      if (readSync(this.#fd, this.#buf, 0, 8, 0) !== 8) return undefined;
    } catch {
      return undefined;
    }
    const at = this.#buf.readDoubleLE(0);
    if (!Number.isFinite(at) || at <= 0 || at > now + 1000) return undefined;
    return at;
  }

  /** Closes the file. */
  close(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
  }
}
