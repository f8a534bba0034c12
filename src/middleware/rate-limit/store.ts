import type { PolicySpec } from './algorithms.ts';

/** The answer for one request. */
export interface Decision {
  /** Whether the request may go on. */
  allowed: boolean;
  /** Units left for the key (as far as this store knows). */
  remaining: number;
  /** Ms until the key's budget is whole again. */
  resetMs: number;
  /** When refused: ms until a request would be allowed. */
  retryAfterMs: number;
}

/**
 * Where budgets are kept: `nodeStore()` (the default: one budget per node, shared by its
 * workers), `localStore()` (this process alone) or `redisStore()` (every node of the fleet).
 * `consume` may answer synchronously: the middleware then adds no promise to the request.
 */
export interface RateLimitStore {
  /** Spends one unit of `key`'s budget under `policy`, if there is one. */
  consume(policy: PolicySpec, key: string): Decision | Promise<Decision>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}
