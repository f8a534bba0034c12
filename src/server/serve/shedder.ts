import { performance } from 'node:perf_hooks';

/** Options of the load shedder. */
export interface ShedderOptions {
  /** Shed while the event loop is at least this many ms behind (0 = off). */
  delay: number;
  /** Shed while the event-loop utilisation of the last window exceeds this ratio (0 = off). */
  utilization: number;
  /** What it reads of the process (default: this process's clock and event loop). */
  loop?: LoopMeter;
}

/** What the shedder reads of its process; unit tests drive it by hand. */
export interface LoopMeter {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  /** The event loop's utilisation (0 to 1) since the previous call (or since it was made). */
  utilization(): number;
}

/** This process's clock and event loop. */
export function processLoop(): LoopMeter {
  let since = performance.eventLoopUtilization();
  return {
    now: () => performance.now(),
    utilization() {
      const window = performance.eventLoopUtilization(since);
      since = performance.eventLoopUtilization();
      return window.utilization;
    },
  };
}

/**
 * Decides, per request, whether the worker is overloaded. A sampler timer is armed every few
 * milliseconds; when the loop falls behind, that timer is overdue. `overloaded()` compares the
 * current time with when the timer was due, so it sees the lag *of the iteration in progress*:
 * once a burst has kept the loop busy past the threshold, the rest of that burst is answered with
 * a cheap 503 instead of being served ever later. That bounds how long an accepted request can
 * wait, and it costs one clock read per request. The utilisation trigger is evaluated per window.
 */
export class LoadShedder {
  readonly #delay: number;
  readonly #utilization: number;
  readonly #interval: number;
  readonly #loop: LoopMeter;
  #due = 0;
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  /** The largest lag seen by the sampler since the last `takeMaxLag()`, in ms. */
  #maxLag = 0;

  constructor(options: ShedderOptions) {
    this.#delay = options.delay;
    this.#utilization = options.utilization;
    this.#loop = options.loop ?? processLoop();
    // Sample often enough that a lag of `delay` is noticed well within `delay`.
    this.#interval = Math.max(5, Math.min(100, options.delay > 0 ? options.delay / 4 : 100));
  }

  /** Whether shedding is configured at all. */
  get enabled(): boolean {
    return this.#delay > 0 || this.#utilization > 0;
  }

  /** Starts sampling. */
  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    this.#arm();
  }

  /** Stops sampling (shedding stops too). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#busy = false;
  }

  #arm(): void {
    this.#due = this.#loop.now() + this.#interval;
    this.#timer = setTimeout(this.#sample, this.#interval);
    this.#timer.unref();
  }

  readonly #sample = (): void => {
    const lag = this.#loop.now() - this.#due;
    if (lag > this.#maxLag) this.#maxLag = lag;
    if (this.#utilization > 0) this.#busy = this.#loop.utilization() > this.#utilization;
    this.#arm();
  };

  /** Whether a request read now should be shed. */
  overloaded(): boolean {
    if (this.#timer === undefined) return false;
    if (this.#busy) return true;
    return this.#delay > 0 && this.#loop.now() - this.#due > this.#delay;
  }

  /** The largest event-loop lag seen since the last call, in ms (for heartbeats). */
  takeMaxLag(): number {
    const lag = this.#maxLag;
    this.#maxLag = 0;
    return Math.max(0, lag);
  }
}
