/** Consecutive boot failures (after the first good boot) before the master gives up. */
export const MAX_BOOT_FAILURES = 5;

/**
 * When to replace workers that die, and when to stop trying. A crashed worker is replaced at
 * once; a crash loop backs off (up to 10 s). A worker that cannot boot halts the master when no
 * worker has ever booted (the code or the environment is broken: retrying cannot help), and after
 * MAX_BOOT_FAILURES in a row otherwise, with a backoff in between.
 */
export class RestartPolicy {
  #crashes: number[] = [];
  #bootFailures = 0;
  #notBefore = 0;
  #everReady = false;

  /** Whether any worker has ever become ready. */
  get everReady(): boolean {
    return this.#everReady;
  }

  /** Consecutive boot failures. */
  get bootFailures(): number {
    return this.#bootFailures;
  }

  /** Whether a spawn may happen now (no backoff pending). */
  maySpawn(now: number): boolean {
    return now >= this.#notBefore;
  }

  /** A worker became ready. */
  ready(): void {
    this.#everReady = true;
    this.#bootFailures = 0;
  }

  /** A serving worker died; returns the delay before its replacement (ms). */
  crashed(now: number): number {
    this.#crashes = this.#crashes.filter((t) => now - t < 60_000);
    this.#crashes.push(now);
    const n = this.#crashes.length;
    const delay = n <= 2 ? 0 : Math.min(10_000, 250 * 2 ** (n - 3));
    this.#notBefore = Math.max(this.#notBefore, now + delay);
    return delay;
  }

  /** How many serving workers died in the last minute. */
  get recentCrashes(): number {
    return this.#crashes.length;
  }

  /** A worker failed to boot; says whether to halt, or how long to wait before the next try. */
  bootFailed(now: number): { halt: boolean; delayMs: number } {
    if (!this.#everReady) return { halt: true, delayMs: 0 };
    this.#bootFailures++;
    if (this.#bootFailures >= MAX_BOOT_FAILURES) return { halt: true, delayMs: 0 };
    const delayMs = Math.min(5000, 250 * 2 ** (this.#bootFailures - 1));
    this.#notBefore = Math.max(this.#notBefore, now + delayMs);
    return { halt: false, delayMs };
  }
}
