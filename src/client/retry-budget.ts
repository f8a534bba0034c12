/** Options of a retry budget. */
export interface RetryBudgetOptions {
  /** Retries allowed per request sent, on average (default 0.1: at most ~10% extra load). */
  ratio?: number;
  /** Retries that may be spent in a burst, and the starting balance (default 10). */
  burst?: number;
}

/**
 * A token bucket that bounds retries to a share of the traffic: each first attempt deposits
 * `ratio` of a token, each retry spends a whole one. When a downstream fails everything, retries
 * add at most `ratio` extra load (plus a small burst) instead of multiplying it — the retry storm
 * that turns a blip into an outage cannot happen.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #burst: number;
  #balance: number;

  constructor(options: RetryBudgetOptions = {}) {
    this.#ratio = Math.max(0, options.ratio ?? 0.1);
    this.#burst = Math.max(0, options.burst ?? 10);
    this.#balance = this.#burst;
  }

  /** Records a first attempt. */
  deposit(): void {
    this.#balance = Math.min(this.#burst, this.#balance + this.#ratio);
  }

  /** Takes a token for a retry; false when the budget is spent. */
  withdraw(): boolean {
    if (this.#balance < 1 - 1e-9) return false;
    this.#balance -= 1;
    return true;
  }

  /** Tokens left now. */
  get balance(): number {
    return this.#balance;
  }
}
