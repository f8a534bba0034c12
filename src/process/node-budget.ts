/**
 * A policy as it travels to the keeper of the node's budgets (the master): plain data, the
 * same shape as the rate limiter's `PolicySpec`.
 */
export interface BudgetPolicy {
  readonly id: string;
  readonly algorithm: 'token-bucket' | 'sliding-window';
  readonly limit: number;
  readonly windowMs: number;
  readonly burst: number;
}

/** A worker asks for a lease of `want` units of `key`'s budget (and gives back `returned`). */
export interface LeaseRequest {
  policy: BudgetPolicy;
  key: string;
  want: number;
  /** Units of an earlier lease that expired unspent, given back first. */
  returned: number;
}

/** The keeper's answer. */
export interface LeaseGrant {
  /** Units leased: `want`, or 0 when fewer are left. */
  granted: number;
  /** Units left in the node's budget after this lease. */
  remaining: number;
  /** When `granted` is 0: ms until `want` units are available. */
  waitMs: number;
  /** Ms until the node's budget is whole again. */
  resetMs: number;
}

/** How leases reach the keeper: through the master in a worker of `peregrine serve`. */
export interface BudgetTransport {
  /** Asks for a lease; rejects when the keeper does not answer in time. */
  lease(request: LeaseRequest): Promise<LeaseGrant>;
  /** Gives back units of a lease that expired unspent (no answer). */
  give(policy: BudgetPolicy, key: string, units: number): void;
}

/**
 * The node-wide budgets of rate limiters: connected to the master in a worker of the pre-fork
 * server (which keeps every budget of the node, so the workers share them), unconnected in a
 * plain process (where the limiter keeps its budgets itself). Below both the server, which
 * connects it, and the rate limiter, which uses it, like the node bus.
 */
export class NodeBudgets {
  #transport: BudgetTransport | undefined;

  /** The transport, once the pre-fork server connected one. */
  get transport(): BudgetTransport | undefined {
    return this.#transport;
  }

  /** Connects the keeper (the pre-fork server's worker does). */
  connect(transport: BudgetTransport): void {
    this.#transport = transport;
  }
}

/** The node budgets of this process. */
export const nodeBudgets = new NodeBudgets();
