import { BudgetTable, type PolicySpec } from './algorithms.ts';
import type { Decision, RateLimitStore } from './store.ts';

/** Options of the in-process store. */
export interface LocalStoreOptions {
  /** The clock (ms), for tests. */
  clock?: () => number;
}

/** The budgets of this process, decided synchronously. */
export class LocalStore implements RateLimitStore {
  readonly #table = new BudgetTable();
  readonly #clock: () => number;

  constructor(options: LocalStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
  }

  consume(policy: PolicySpec, key: string): Decision {
    const now = this.#clock();
    const budget = this.#table.get(policy, key, now);
    const allowed = budget.take(now, 1, 1) === 1;
    return {
      allowed,
      remaining: budget.available(now),
      resetMs: budget.resetMs(now),
      retryAfterMs: allowed ? 0 : budget.waitMs(now, 1),
    };
  }
}

/**
 * Budgets kept in this process only: each worker of a node has its own (so a node of N workers
 * allows up to N times the limit). For single-process use and tests; `nodeStore()` is the default.
 */
export function localStore(options: LocalStoreOptions = {}): RateLimitStore {
  return new LocalStore(options);
}
