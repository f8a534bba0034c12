import { type BreakerState, breakerStateChannel } from './diagnostics.ts';

/** Options of a circuit breaker. */
export interface BreakerOptions {
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long it stays open before letting one probe through, in ms (default 1000). */
  cooldown?: number;
  /** Longest cooldown after repeated failed probes, in ms (default 10 × cooldown). */
  maxCooldown?: number;
  /** The clock cooldowns are measured on, ms (default: the real one). */
  clock?: () => number;
}

/**
 * A circuit breaker: after `failureThreshold` consecutive failures it opens and callers fail fast;
 * after a cooldown one probe is let through (half-open); its success closes the breaker, its
 * failure opens it again with a doubled cooldown (up to `maxCooldown`). Time-based rather than
 * call-based so a quiet service still recovers.
 */
export class Breaker {
  /** What it guards (`postgresql`, `redis`, `http`) and which one, for the state channel. */
  readonly kind: string;
  readonly name: string;
  readonly #threshold: number;
  readonly #cooldown: number;
  readonly #maxCooldown: number;
  readonly #now: () => number;
  #state: BreakerState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #currentCooldown: number;
  #probing = false;

  readonly #onChange: ((from: BreakerState, to: BreakerState) => void) | undefined;

  /** `onChange` hears every transition (its owner logs them); it must not throw. */
  constructor(
    kind: string,
    name: string,
    options: BreakerOptions = {},
    onChange?: (from: BreakerState, to: BreakerState) => void,
  ) {
    this.#onChange = onChange;
    this.kind = kind;
    this.name = name;
    this.#threshold = Math.max(1, options.failureThreshold ?? 5);
    this.#cooldown = Math.max(1, options.cooldown ?? 1000);
    this.#maxCooldown = Math.max(this.#cooldown, options.maxCooldown ?? this.#cooldown * 10);
    this.#currentCooldown = this.#cooldown;
    this.#now = options.clock ?? Date.now;
  }

  /** The state now (an open breaker past its cooldown reads as half-open). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#currentCooldown) {
      return 'half-open';
    }
    return this.#state;
  }

  /** Milliseconds until an open breaker lets a probe through (0 when closed). */
  get retryAfterMs(): number {
    if (this.#state !== 'open') return 0;
    return Math.max(0, this.#openedAt + this.#currentCooldown - this.#now());
  }

  /**
   * Whether a call may go ahead now. While half-open only one caller (the probe) gets true until
   * it reports back; everyone else is refused.
   */
  allow(): boolean {
    if (this.#state === 'closed') return true;
    if (this.#probing) return false;
    if (this.#state === 'open') {
      if (this.#now() - this.#openedAt < this.#currentCooldown) return false;
      this.#set('half-open');
    }
    this.#probing = true;
    return true;
  }

  /** Reports a successful call. */
  success(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== 'closed') {
      this.#currentCooldown = this.#cooldown;
      this.#set('closed');
    }
  }

  /** Reports a failed call. */
  failure(): void {
    this.#failures++;
    if (this.#state === 'half-open' || (this.#state === 'open' && this.#probing)) {
      this.#probing = false;
      this.#currentCooldown = Math.min(this.#maxCooldown, this.#currentCooldown * 2);
      this.#open();
    } else if (this.#state === 'closed' && this.#failures >= this.#threshold) {
      this.#open();
    }
  }

  /**
   * Opens now, whatever the count: for conclusive evidence that the service is unreachable (not
   * one failed call, but a silent server that did not answer a liveness probe either). While a
   * probe is out (half-open) the cooldown doubles, as for a failed probe.
   */
  trip(): void {
    if (this.#state === 'open' && !this.#probing) return;
    this.#failures = Math.max(this.#failures, this.#threshold);
    if (this.#state !== 'closed') {
      this.#currentCooldown = Math.min(this.#maxCooldown, this.#currentCooldown * 2);
    }
    this.#probing = false;
    this.#open();
  }

  /** Releases a probe slot without a verdict (the call was abandoned, e.g. by its caller). */
  abandon(): void {
    this.#probing = false;
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#set('open');
  }

  #set(to: BreakerState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#onChange?.(from, to);
    if (breakerStateChannel.hasSubscribers) {
      breakerStateChannel.publish({ kind: this.kind, name: this.name, from, to });
    }
  }
}
