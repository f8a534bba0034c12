import { BudgetTable } from '../../middleware/rate-limit/algorithms.ts';
import type { BudgetPolicy } from '../../process/node-budget.ts';
import type { MasterMessages, MessageRegistry, WorkerMessages } from '../ipc.ts';
import type { WorkerRecord } from './worker-table.ts';

/** What the keeper needs from the master. */
export interface KeeperHost {
  readonly messages: MessageRegistry<WorkerMessages, WorkerRecord>;
  send<K extends keyof MasterMessages>(
    worker: WorkerRecord | number,
    type: K,
    data: MasterMessages[K],
  ): void;
}

/** Whether a policy from a worker is one the algorithms can keep (the limiter checked it). */
function sane(p: BudgetPolicy): boolean {
  return (
    typeof p?.id === 'string' &&
    (p.algorithm === 'token-bucket' || p.algorithm === 'sliding-window') &&
    p.limit > 0 &&
    p.windowMs > 0 &&
    p.burst > 0
  );
}

/**
 * Keeps the rate limiters' budgets of the whole node and leases them to workers in batches
 * (src/middleware/rate-limit/node-store.ts), so every worker spends from one budget per key.
 * A token-bucket lease is granted whole or not at all (a sliding window's last units one by
 * one): refused, the worker is told how long until there is one and refuses locally meanwhile.
 * Handled at once rather than enqueued (unlike the arbiter's events): a few arithmetic
 * operations on a map, with no I/O and no log.
 */
export function keepNodeBudgets(host: KeeperHost, clock: () => number = Date.now): BudgetTable {
  const table = new BudgetTable();
  host.messages.on('budget-lease', ({ id, policy, key, want, returned }, from) => {
    if (!sane(policy) || !(want >= 1)) return;
    const now = clock();
    const budget = table.get(policy, key, now);
    if (returned > 0) budget.give(now, returned);
    const n = Math.min(want, policy.algorithm === 'token-bucket' ? policy.burst : policy.limit);
    // A sliding window loses what is left unspent when it rolls over, so its last units go out
    // one by one; a token bucket keeps them, and leases whole batches.
    const min = policy.algorithm === 'sliding-window' ? 1 : n;
    const granted = budget.take(now, n, min);
    host.send(from, 'budget-granted', {
      id,
      granted,
      remaining: budget.available(now),
      waitMs: granted > 0 ? 0 : budget.waitMs(now, min),
      resetMs: budget.resetMs(now),
    });
  });
  host.messages.on('budget-give', ({ policy, key, units }) => {
    if (!sane(policy) || !(units > 0)) return;
    const now = clock();
    table.get(policy, key, now).give(now, units);
  });
  return table;
}
