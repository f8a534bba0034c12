/** Liveness checking of a pool's server (times in ms). */
export interface LivenessOptions {
  /**
   * Silence after which the server is probed: work has been outstanding (a statement sent or a
   * connection being opened) and nothing at all has come back from the server for this long
   * (default 1000).
   */
  after?: number;
  /** How long the probe may take to be answered (default 500). */
  timeout?: number;
}

/** What the watch needs from its pool. */
export interface LivenessHost {
  /** When the oldest work still waiting on the server began (ms since the epoch), if any. */
  outstandingSince(): number | undefined;
  /** When the server last answered anything (ms since the epoch). */
  lastHeard(): number;
  /** Asks the server whether it answers at all (see probe.ts). */
  probe(timeoutMs: number): Promise<boolean>;
  /** The server is silent and did not answer the probe either: fail fast from now on. */
  unreachable(silentMs: number): void;
  /** Counts a probe and its outcome. */
  probed(alive: boolean): void;
}

/**
 * Tells a silent server from a slow statement. A statement that takes long and a server that is
 * gone look the same from the connection they run on — nothing comes back — and a blackholed
 * network (a partition, a failover, a dead NAT) gives no error to count either: connections hang
 * instead of failing. So once work has waited `after` ms with nothing heard from the server, the
 * watch asks the server, over a fresh connection, whether it answers at all; a server that does
 * is merely slow (its statements keep their own timeouts), one that does not within `timeout` is
 * declared unreachable, which opens the breaker at once — whatever the pool's state, and long
 * before any statement timeout or request deadline.
 */
export class LivenessWatch {
  readonly #after: number;
  readonly #timeout: number;
  readonly #host: LivenessHost;
  #timer: NodeJS.Timeout | undefined;
  #probing = false;
  /** When a probe last found the server alive: no new probe for `after` ms after it. */
  #aliveAt = 0;

  constructor(host: LivenessHost, options: LivenessOptions = {}) {
    this.#host = host;
    this.#after = Math.max(1, options.after ?? 1000);
    this.#timeout = Math.max(1, options.timeout ?? 500);
  }

  /** Starts watching (a check every tenth of `after`, 20 to 100 ms; the timer never holds the process). */
  start(): void {
    if (this.#timer !== undefined) return;
    const every = Math.max(20, Math.min(100, this.#after / 10));
    this.#timer = setInterval(() => this.check(Date.now()), every);
    this.#timer.unref();
  }

  /** Stops watching. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One check: probes the server if work has waited on a silent server for `after` ms. */
  check(now: number): void {
    if (this.#probing) return;
    const since = this.#host.outstandingSince();
    if (since === undefined) return;
    const quietSince = Math.max(since, this.#host.lastHeard(), this.#aliveAt);
    if (now - quietSince < this.#after) return;
    this.#probing = true;
    const heardBefore = this.#host.lastHeard();
    this.#host.probe(this.#timeout).then(
      (alive) => this.#probed(alive, heardBefore),
      () => this.#probed(false, heardBefore),
    );
  }

  #probed(alive: boolean, heardBefore: number): void {
    this.#probing = false;
    this.#host.probed(alive);
    const now = Date.now();
    if (alive) {
      this.#aliveAt = now;
      return;
    }
    // Something came back while the probe waited, or the work is done: not silent after all.
    if (this.#host.lastHeard() !== heardBefore) return;
    const since = this.#host.outstandingSince();
    if (since === undefined) return;
    this.#host.unreachable(now - Math.max(since, heardBefore));
  }
}
