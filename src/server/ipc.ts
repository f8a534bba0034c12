/**
 * The messages between the master and its workers, in one place. Every message travels as
 * `{ type, data }` over the cluster IPC channel (JSON). Other parts add their own message types
 * by declaration merging, e.g. telemetry:
 *
 *     declare module '../server/ipc.ts' {
 *       interface WorkerMessages { 'telemetry-delta': TelemetryDelta }
 *     }
 *
 * and then receive them with `master.messages.on('telemetry-delta', (data, worker) => …)` and send
 * them with `runtime.send('telemetry-delta', delta)` in the worker.
 */

import type { BudgetPolicy, LeaseGrant, LeaseRequest } from '../process/node-budget.ts';

/** A worker's periodic proof of life, with the counters the master needs. */
export interface Heartbeat {
  /** Resident set size, bytes. */
  rss: number;
  /** V8 heap used, bytes. */
  heapUsed: number;
  /** Requests read since the worker started. */
  requests: number;
  /** Requests shed (503) because the event loop lagged. */
  shed: number;
  /** Requests answered 503 because their connection was over the cap. */
  overCap: number;
  /** Requests whose deadline passed (503 PRG_DEADLINE_EXCEEDED). */
  deadlines: number;
  /** Open connections. */
  connections: number;
  /** Requests in progress. */
  inflight: number;
  /** Largest event-loop lag since the last heartbeat, ms. */
  lagMs: number;
  /** Event-loop utilization since the last heartbeat, 0–1 (what `--workers auto` judges by). */
  elu: number;
  /** CPU time used since the last heartbeat, in cores (1: one core busy all the while). */
  cpu: number;
}

/** Why a worker could not boot. */
export interface BootError {
  /** Where it failed. */
  phase: 'load' | 'startup' | 'listen';
  /** The error message. */
  message: string;
  /** The stack, when there is one. */
  stack?: string;
  /** An error code (`EADDRINUSE`, `ERR_MODULE_NOT_FOUND`…). */
  code?: string;
}

/** Messages from a worker to the master, by type. */
export interface WorkerMessages {
  /** Sent every heartbeat interval while the worker's event loop turns. */
  heartbeat: Heartbeat;
  /** The App started and the listeners are up. */
  ready: { addresses: string[]; bootMs: number };
  /** The worker cannot boot; it exits with EXIT.BOOT_ERROR, APP_LOAD_ERROR or BIND_ERROR next. */
  'boot-error': BootError;
  /** The worker asks to be replaced (it reached `--max-requests`). */
  retire: { reason: 'max-requests'; requests: number };
  /** An uncaught exception: the worker drains and exits; replace it now. */
  crashed: { message: string; stack?: string };
  /** The answer to a readiness probe. */
  readiness: {
    id: number;
    ready: boolean;
    checks: Record<string, { ok: boolean; error?: string }>;
  };
  /** Sent when a drain is complete, just before a clean exit (final counters). */
  drained: Heartbeat;
  /** The worker took (or, once stopped, declined) a connection the master handed over. */
  accepted: { seq: number; taken: boolean };
  /**
   * The node-bus messages published in one turn of this worker's event loop, as `[channel,
   * payload]` pairs (src/process/node-bus.ts); the master relays them to the other workers.
   */
  'node-publish': { id: number; messages: Array<[channel: string, payload: unknown]> };
  /** This worker handled node-bus message `id` of worker `to`; the master tells that worker. */
  'node-handled': { to: number; id: number };
  /** A rate limiter asks for a lease of its node budget (src/process/node-budget.ts). */
  'budget-lease': LeaseRequest & { id: number };
  /** A rate limiter gives back units of a lease that expired unspent. */
  'budget-give': { policy: BudgetPolicy; key: string; units: number };
}

/** Messages from the master to a worker, by type. */
export interface MasterMessages {
  /** A connection accepted by the master (the socket travels with the message); answer `accepted`. */
  connection: { seq: number; bind: number };
  /** Stop accepting, finish in-flight requests, run shutdown hooks, exit. */
  drain: { gracefulTimeout: number };
  /** Stop now: drop connections, run shutdown hooks, exit. */
  quit: Record<string, never>;
  /** How many workers are alive on this node (for budgets divided among workers). */
  topology: { workerCount: number };
  /** Run the App's readiness checks and answer with `readiness`. */
  'readiness-probe': { id: number; timeout: number };
  /** Reopen log files (after `USR1`). */
  'reopen-logs': Record<string, never>;
  /**
   * The answer to `drained`: the master has seen the worker's listeners close, so no connection
   * is on its way to it any more and it may exit. (node:cluster loses a connection handed to a
   * worker that exits before acknowledging it: the client hangs. Waiting for this closes that gap.)
   */
  release: Record<string, never>;
  /** Node-bus messages another worker published; answer `node-handled`. */
  'node-message': {
    from: number;
    id: number;
    messages: Array<[channel: string, payload: unknown]>;
  };
  /** To the publisher: how many workers its messages `id` went to (each answers once). */
  'node-relayed': { id: number; count: number };
  /** To the publisher: one more worker handled its message `id`. */
  'node-handled': { id: number };
  /** The answer to `budget-lease` `id`. */
  'budget-granted': LeaseGrant & { id: number };
}

/** A message on the wire. */
export interface Envelope<M, K extends keyof M = keyof M> {
  type: K;
  data: M[K];
}

/** Whether a value received over IPC is an object with a string `type`. */
export function isTyped(value: unknown): value is { type: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string'
  );
}

/** Whether a value received over IPC is one of ours. */
export function isEnvelope(value: unknown): value is { type: string; data: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { type?: unknown }).type === 'string' &&
    'data' in value
  );
}

/** Handlers of messages by type: one registry per receiving side. */
export class MessageRegistry<M, From> {
  readonly #handlers = new Map<keyof M, Array<(data: never, from: From) => void>>();

  /** Adds a handler for a message type; returns a function that removes it. */
  on<K extends keyof M>(type: K, handler: (data: M[K], from: From) => void): () => void {
    const list = this.#handlers.get(type) ?? [];
    list.push(handler as (data: never, from: From) => void);
    this.#handlers.set(type, list);
    return () => {
      const i = list.indexOf(handler as (data: never, from: From) => void);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Calls the handlers of a message; returns how many there were. */
  dispatch(type: string, data: unknown, from: From): number {
    const list = this.#handlers.get(type as keyof M);
    if (list === undefined) return 0;
    for (const handler of [...list]) handler(data as never, from);
    return list.length;
  }
}
