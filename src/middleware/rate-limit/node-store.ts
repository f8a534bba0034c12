import { type BudgetTransport, type NodeBudgets, nodeBudgets } from '../../process/node-budget.ts';
import { topology } from '../../process/topology.ts';
import type { PolicySpec } from './algorithms.ts';
import { LocalStore } from './local-store.ts';
import type { Decision, RateLimitStore } from './store.ts';

/** Options of the node store. */
export interface NodeStoreOptions {
  /** The clock (ms), for tests. */
  clock?: () => number;
  /**
   * How long a leased unit may wait in a worker before it goes back to the node's budget, ms
   * (default: a tenth of the policy's window, at most 1000).
   */
  leaseMs?: number;
  /** @internal The budgets to lease from (tests). */
  budgets?: NodeBudgets;
}

/** What one worker holds of one key's node budget. */
interface Lease {
  /** Units leased and not spent yet. */
  units: number;
  /** When the units go back (unspent) to the node's budget. */
  expires: number;
  /** The keeper said no: refuse locally until then, without asking again. */
  deniedUntil: number;
  /** The node's budget left after the last lease (for the RateLimit header). */
  remaining: number;
  /** When the node's budget is whole again, as of the last lease. */
  resetAt: number;
  /** A lease being asked for. */
  pending: Promise<void> | undefined;
  readonly policy: PolicySpec;
  readonly key: string;
}

const TOO_SOON: Decision = { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 0 };

/**
 * One budget per node, shared by its workers. In a worker of `peregrine serve` the master keeps
 * the budgets and leases units to workers in batches (about a tenth of the limit over the
 * workers), so the request path asks the master only when its lease is spent — and after a
 * refusal, not again until the budget has refilled. Outside the pre-fork server, the process's
 * own budgets are used.
 */
export class NodeStore implements RateLimitStore {
  readonly #clock: () => number;
  readonly #budgets: NodeBudgets;
  readonly #leaseMs: number | undefined;
  readonly #local: LocalStore;
  readonly #leases = new Map<string, Lease>();
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: NodeStoreOptions = {}) {
    this.#clock = options.clock ?? Date.now;
    this.#budgets = options.budgets ?? nodeBudgets;
    this.#leaseMs = options.leaseMs;
    this.#local = new LocalStore({ clock: this.#clock });
  }

  consume(policy: PolicySpec, key: string): Decision | Promise<Decision> {
    const transport = this.#budgets.transport;
    if (transport === undefined) return this.#local.consume(policy, key);
    const now = this.#clock();
    const id = `${policy.id}\u0000${key}`;
    let lease = this.#leases.get(id);
    if (lease === undefined) {
      lease = {
        units: 0,
        expires: 0,
        deniedUntil: 0,
        remaining: 0,
        resetAt: 0,
        pending: undefined,
        policy,
        key,
      };
      this.#leases.set(id, lease);
      this.#sweeper ??= setInterval(() => this.#sweep(), 1000).unref();
    }
    const decided = this.#spend(transport, lease, now);
    if (decided !== undefined) return decided;
    return this.#wait(transport, lease);
  }

  /**
   * Decides from the lease alone, or undefined when the keeper must be asked. `ahead`: ask for
   * the next lease early (not for the request that just waited for one: a key seen once, such
   * as a client address, then costs one ask, not two).
   */
  #spend(
    transport: BudgetTransport,
    lease: Lease,
    now: number,
    ahead = true,
  ): Decision | undefined {
    if (lease.units > 0 && now < lease.expires) {
      lease.units--;
      // PERF: the next lease is asked for while this one still has units, so a key spending
      // steadily never waits for the master.
      if (ahead && lease.units <= this.#batch(lease.policy) >> 1 && lease.pending === undefined) {
        if (now >= lease.deniedUntil) this.#ask(transport, lease).catch(() => {});
      }
      return {
        allowed: true,
        remaining: lease.remaining + lease.units,
        resetMs: Math.max(0, lease.resetAt - now),
        retryAfterMs: 0,
      };
    }
    if (now < lease.deniedUntil) {
      return {
        allowed: false,
        remaining: 0,
        resetMs: Math.max(0, lease.resetAt - now),
        retryAfterMs: lease.deniedUntil - now,
      };
    }
    return undefined;
  }

  async #wait(transport: BudgetTransport, lease: Lease): Promise<Decision> {
    // Requests that arrive together share one ask; one that finds the lease spent by the others
    // asks again (a few times at most: the keeper answers with units or a refusal).
    for (let i = 0; i < 3; i++) {
      await (lease.pending ?? this.#ask(transport, lease));
      const decided = this.#spend(transport, lease, this.#clock(), false);
      if (decided !== undefined) return decided;
    }
    return { ...TOO_SOON, retryAfterMs: 1 };
  }

  /** Units per lease: about a tenth of the limit spread over the node's workers. */
  #batch(policy: PolicySpec): number {
    const share = Math.floor(policy.limit / (topology.workerCount * 10));
    return Math.max(1, Math.min(share, policy.burst));
  }

  #ask(transport: BudgetTransport, lease: Lease): Promise<void> {
    const now = this.#clock();
    let returned = 0;
    if (lease.units > 0 && now >= lease.expires) {
      returned = lease.units;
      lease.units = 0;
    }
    const want = this.#batch(lease.policy);
    const leaseMs = this.#leaseMs ?? Math.min(1000, lease.policy.windowMs / 10);
    const pending = transport
      .lease({ policy: lease.policy, key: lease.key, want, returned })
      .then((grant) => {
        const at = this.#clock();
        if (grant.granted > 0) {
          lease.units += grant.granted;
          lease.expires = at + leaseMs;
          lease.deniedUntil = 0;
        } else {
          lease.deniedUntil = at + Math.max(1, grant.waitMs);
        }
        lease.remaining = grant.remaining;
        lease.resetAt = at + grant.resetMs;
      })
      .finally(() => {
        if (lease.pending === pending) lease.pending = undefined;
      });
    lease.pending = pending;
    return pending;
  }

  /** Gives back the units of expired leases and forgets keys that went quiet. */
  #sweep(): void {
    const transport = this.#budgets.transport;
    const now = this.#clock();
    for (const [id, lease] of this.#leases) {
      if (lease.pending !== undefined || now < lease.expires || now < lease.deniedUntil) continue;
      if (lease.units > 0) transport?.give(lease.policy, lease.key, lease.units);
      this.#leases.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    this.#sweep();
  }
}

/**
 * The default store: one budget per node, shared by the workers of `peregrine serve` through
 * the master (leases in batches); the process's own budgets elsewhere.
 */
export function nodeStore(options: NodeStoreOptions = {}): RateLimitStore {
  return new NodeStore(options);
}
