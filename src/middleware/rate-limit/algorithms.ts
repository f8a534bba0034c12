/** How a budget refills: a token bucket, or a sliding window (weighted two-window counter). */
export type Algorithm = 'token-bucket' | 'sliding-window';

/** What one budget allows: `limit` units per `windowMs`. Plain data: it travels over IPC. */
export interface PolicySpec {
  /** Identifies the policy and its parameters (state is kept per id and key). */
  readonly id: string;
  readonly algorithm: Algorithm;
  /** Units per window. */
  readonly limit: number;
  /** The window, ms. */
  readonly windowMs: number;
  /** Token bucket only: how many units may be spent at once (default `limit`). */
  readonly burst: number;
}

/**
 * The budget of one key. Every method takes the time (ms) so tests drive it by hand and the
 * master, a worker and a test share one implementation.
 */
export interface Budget {
  /**
   * Takes up to `want` units when at least `min` are available now; returns how many it took
   * (0: none, the budget is unchanged).
   */
  take(now: number, want: number, min: number): number;
  /** Whole units available now. */
  available(now: number): number;
  /** Ms until `n` units are available (0 when they are now). */
  waitMs(now: number, n: number): number;
  /** Ms until the budget is whole again. */
  resetMs(now: number): number;
  /** Gives back `n` units taken and not spent (a lease that expired unused). */
  give(now: number, n: number): void;
  /** Whether the budget is whole, so forgetting it changes nothing. */
  idle(now: number): boolean;
}

// Float dust from refills (0.1 + 0.2) must not cost a unit.
const EPSILON = 1e-9;

/**
 * A token bucket: `burst` tokens, refilled continuously at `limit / windowMs` per ms. A key that
 * spends at a steady rate gets exactly `limit` per window; an idle one may spend `burst` at once.
 */
export class TokenBucket implements Budget {
  readonly #capacity: number;
  readonly #rate: number;
  #tokens: number;
  #at: number;

  constructor(spec: PolicySpec, now: number) {
    this.#capacity = spec.burst;
    this.#rate = spec.limit / spec.windowMs;
    this.#tokens = spec.burst;
    this.#at = now;
  }

  #refill(now: number): void {
    if (now <= this.#at) return;
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#rate);
    this.#at = now;
  }

  take(now: number, want: number, min: number): number {
    const avail = this.available(now);
    if (avail < min) return 0;
    const n = Math.min(want, avail);
    this.#tokens -= n;
    return n;
  }

  available(now: number): number {
    this.#refill(now);
    return Math.floor(this.#tokens + EPSILON);
  }

  waitMs(now: number, n: number): number {
    this.#refill(now);
    const missing = Math.min(n, this.#capacity) - this.#tokens;
    return missing <= EPSILON ? 0 : missing / this.#rate;
  }

  resetMs(now: number): number {
    this.#refill(now);
    return (this.#capacity - this.#tokens) / this.#rate;
  }

  give(now: number, n: number): void {
    this.#refill(now);
    this.#tokens = Math.min(this.#capacity, this.#tokens + n);
  }

  idle(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#capacity - EPSILON;
  }
}

/**
 * A sliding window, approximated the way large proxies do it: the count of the current fixed
 * window plus the previous window's count weighted by how much of it the sliding window still
 * covers. Two numbers per key (not one entry per request), exact when traffic is even and off by
 * at most the previous window's unevenness otherwise; never more than `limit` in a fixed window.
 */
export class SlidingWindow implements Budget {
  readonly #limit: number;
  readonly #window: number;
  #start: number;
  #current = 0;
  #previous = 0;

  constructor(spec: PolicySpec, now: number) {
    this.#limit = spec.limit;
    this.#window = spec.windowMs;
    this.#start = now - (now % spec.windowMs);
  }

  #roll(now: number): void {
    const start = now - (now % this.#window);
    if (start <= this.#start) return;
    this.#previous = start === this.#start + this.#window ? this.#current : 0;
    this.#current = 0;
    this.#start = start;
  }

  #used(now: number): number {
    this.#roll(now);
    const elapsed = (now - this.#start) / this.#window;
    return this.#previous * (1 - elapsed) + this.#current;
  }

  take(now: number, want: number, min: number): number {
    const avail = this.available(now);
    if (avail < min) return 0;
    const n = Math.min(want, avail);
    this.#current += n;
    return n;
  }

  available(now: number): number {
    return Math.max(0, Math.floor(this.#limit - this.#used(now) + EPSILON));
  }

  waitMs(now: number, n: number): number {
    const room = this.#limit - Math.min(n, this.#limit);
    if (this.#used(now) <= room + EPSILON) return 0;
    const end = this.#start + this.#window;
    // Within this window the previous one's weight decays; after it, this one's does.
    if (this.#current <= room && this.#previous > 0) {
      const at = this.#start + this.#window * (1 - (room - this.#current) / this.#previous);
      return Math.max(0, at - now);
    }
    const into = this.#current > 0 ? this.#window * (1 - room / this.#current) : 0;
    return Math.max(0, end + into - now);
  }

  resetMs(now: number): number {
    this.#roll(now);
    if (this.#current > 0) return this.#start + 2 * this.#window - now;
    if (this.#previous > 0) return this.#start + this.#window - now;
    return 0;
  }

  give(now: number, n: number): void {
    this.#roll(now);
    this.#current = Math.max(0, this.#current - n);
  }

  idle(now: number): boolean {
    this.#roll(now);
    return this.#current === 0 && this.#previous === 0;
  }
}

/** A fresh budget for a policy. */
export function createBudget(spec: PolicySpec, now: number): Budget {
  return spec.algorithm === 'sliding-window'
    ? new SlidingWindow(spec, now)
    : new TokenBucket(spec, now);
}

/**
 * The budgets of many keys, created on first use and forgotten once whole again (swept at most
 * once per window), so memory follows the keys active in the last window or two.
 */
export class BudgetTable {
  readonly #budgets = new Map<string, { spec: PolicySpec; budget: Budget }>();
  #swept = 0;

  /** The budget of `key` under `spec`. */
  get(spec: PolicySpec, key: string, now: number): Budget {
    this.#sweep(spec.windowMs, now);
    const id = `${spec.id}\u0000${key}`;
    let entry = this.#budgets.get(id);
    if (entry === undefined) {
      entry = { spec, budget: createBudget(spec, now) };
      this.#budgets.set(id, entry);
    }
    return entry.budget;
  }

  /** How many keys have state. */
  get size(): number {
    return this.#budgets.size;
  }

  #sweep(windowMs: number, now: number): void {
    if (now - this.#swept < windowMs) return;
    this.#swept = now;
    for (const [id, entry] of this.#budgets) {
      if (entry.budget.idle(now)) this.#budgets.delete(id);
    }
  }
}
