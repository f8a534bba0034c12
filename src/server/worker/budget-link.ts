import type { LeaseGrant, LeaseRequest } from '../../process/node-budget.ts';
import { nodeBudgets } from '../../process/node-budget.ts';
import type { MasterMessages, MessageRegistry, WorkerMessages } from '../ipc.ts';

/** What the link needs from the worker runtime. */
export interface BudgetLinkHost {
  readonly messages: MessageRegistry<MasterMessages, undefined>;
  send<K extends keyof WorkerMessages>(type: K, data: WorkerMessages[K]): Promise<void>;
}

/** How long a lease may take before the limiter treats the master as unavailable, ms. */
const LEASE_TIMEOUT_MS = 1000;

/**
 * Connects this worker's rate limiters to the budgets the master keeps for the node
 * (src/server/master/budget-keeper.ts): a lease is one message there and one back.
 */
export function linkNodeBudgets(host: BudgetLinkHost): void {
  let next = 0;
  const waiting = new Map<
    number,
    {
      resolve(grant: LeaseGrant): void;
      timer: NodeJS.Timeout;
      request: LeaseRequest;
      late: boolean;
    }
  >();
  host.messages.on('budget-granted', ({ id, ...grant }) => {
    const w = waiting.get(id);
    if (w === undefined) return;
    waiting.delete(id);
    clearTimeout(w.timer);
    // A lease that came after its request gave up goes back, so the node's budget loses nothing.
    if (w.late) {
      if (grant.granted > 0) {
        void host.send('budget-give', {
          policy: w.request.policy,
          key: w.request.key,
          units: grant.granted,
        });
      }
      return;
    }
    w.resolve(grant);
  });
  nodeBudgets.connect({
    lease(request) {
      return new Promise((resolve, reject) => {
        if (!process.connected) {
          reject(new Error('the master is gone'));
          return;
        }
        const id = ++next;
        const entry = {
          resolve,
          request,
          late: false,
          timer: setTimeout(() => {
            entry.late = true;
            reject(new Error(`the master did not lease within ${LEASE_TIMEOUT_MS} ms`));
            // Its answer, if it ever comes, is given back; after a while it is not waited for.
            entry.timer = setTimeout(() => waiting.delete(id), 60_000);
            entry.timer.unref();
          }, LEASE_TIMEOUT_MS),
        };
        entry.timer.unref();
        waiting.set(id, entry);
        void host.send('budget-lease', { id, ...request });
      });
    },
    give(policy, key, units) {
      void host.send('budget-give', { policy, key, units });
    },
  });
}
