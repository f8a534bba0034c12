/** Receives a payload another subscriber of the channel published. */
export type NodeHandler = (payload: unknown) => void;

/**
 * How the bus reaches the other processes of the node. The pre-fork server's worker connects
 * one that goes through the master; `publish` resolves once every other worker has handled the
 * message, or after `timeoutMs` when one does not answer (its event loop is stuck, it died).
 */
export interface NodeTransport {
  publish(channel: string, payload: unknown, timeoutMs: number): Promise<void>;
}

/** One subscriber of a channel. */
export interface NodeSubscription {
  /**
   * Sends a payload (JSON-serialisable) to every other subscriber of the channel on this node:
   * in this process at once, in the node's other workers through the master. Resolves once all
   * of them have handled it, or after `timeoutMs` (default 1000) for a worker that does not answer.
   */
  publish(payload: unknown, timeoutMs?: number): Promise<void>;
  /** Stops receiving. */
  close(): void;
}

/**
 * Messages among the processes of one node: every worker of a `peregrine serve` master, or just
 * this process outside one. It is how parts that keep state in process memory (the cache's
 * local tier) tell the node's other workers to drop theirs without a shared server such as
 * Redis. Below both the server (which connects the transport) and its users, like `topology`.
 */
export class NodeBus {
  readonly #channels = new Map<string, Set<NodeHandler>>();
  #transport: NodeTransport | undefined;
  // PERF: drawn when first asked for; a worker of `peregrine serve` is given its master's
  // (connect), so it never loads node:crypto for this.
  #nodeId: string | undefined;

  /**
   * This node's id: the same in every worker of one master, this process's own outside one.
   * Messages that also travel another way (the cache's Redis invalidations) carry it, so a
   * worker can ignore the copy of what the bus already delivered.
   */
  get nodeId(): string {
    this.#nodeId ??= process.getBuiltinModule('node:crypto').randomUUID();
    return this.#nodeId;
  }

  /** Whether messages reach other processes (a worker of `peregrine serve`). */
  get connected(): boolean {
    return this.#transport !== undefined;
  }

  /** Connects the transport to the node's other workers (the pre-fork server's worker does). */
  connect(transport: NodeTransport, nodeId: string): void {
    this.#transport = transport;
    this.#nodeId = nodeId;
  }

  /** Receives the payloads other subscribers publish on `channel`. */
  subscribe(channel: string, handler: NodeHandler): NodeSubscription {
    let handlers = this.#channels.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#channels.set(channel, handlers);
    }
    const set = handlers;
    set.add(handler);
    return {
      publish: (payload, timeoutMs = 1000) => {
        for (const h of set) if (h !== handler) this.#call(h, payload);
        return this.#transport?.publish(channel, payload, timeoutMs) ?? Promise.resolve();
      },
      close: () => {
        set.delete(handler);
        if (set.size === 0 && this.#channels.get(channel) === set) this.#channels.delete(channel);
      },
    };
  }

  /** Hands a payload published in another process of the node to this process's subscribers. */
  deliver(channel: string, payload: unknown): void {
    const handlers = this.#channels.get(channel);
    if (handlers === undefined) return;
    for (const h of [...handlers]) this.#call(h, payload);
  }

  #call(handler: NodeHandler, payload: unknown): void {
    try {
      handler(payload);
    } catch {
      // A subscriber's failure is its own: the others and the publisher go on.
    }
  }
}

/** The bus of this process. */
export const nodeBus = new NodeBus();
