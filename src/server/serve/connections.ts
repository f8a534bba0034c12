import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

const kOverCap = Symbol('peregrine.overCap');

type TrackedSocket = Socket & {
  [kOverCap]?: boolean;
  /** node:http's response in progress on this socket (internal, stable since Node 0.x). */
  _httpMessage?: ServerResponse | null;
};

/**
 * The open connections of one server, whichever engine serves them: the connection cap (a
 * connection over it is marked, and its requests get a 503), the node:http requests in flight,
 * and the moment the last connection closes (a drain waits for it).
 */
export class Connections {
  readonly #sockets = new Set<TrackedSocket>();
  readonly #cap: number;
  #overCap = 0;
  #emptied: (() => void) | undefined;

  /** `cap`: most concurrent connections (0 = no cap). */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Open connections. */
  get size(): number {
    return this.#sockets.size;
  }

  /** Tracks a new connection until it closes. */
  add(socket: Socket): void {
    const tracked = socket as TrackedSocket;
    // A connection the engine hands to node:http arrives a second time.
    if (this.#sockets.has(tracked)) return;
    this.#sockets.add(tracked);
    if (this.#cap > 0 && this.#sockets.size > this.#cap) {
      tracked[kOverCap] = true;
      this.#overCap++;
    }
    tracked.once('close', () => {
      this.#sockets.delete(tracked);
      if (tracked[kOverCap] === true) this.#overCap--;
      if (this.#sockets.size === 0) this.#emptied?.();
    });
  }

  /** Whether this connection came over the cap. */
  isOverCap(socket: object): boolean {
    // PERF: the socket is only looked at while some connection is over the cap.
    return this.#overCap > 0 && (socket as TrackedSocket)[kOverCap] === true;
  }

  /** Requests node:http is serving (the engine counts its own). */
  get httpInflight(): number {
    let n = 0;
    for (const socket of this.#sockets) if (socket._httpMessage) n++;
    return n;
  }

  /** Every node:http response not started yet will ask its client to close the connection. */
  closeAfterResponses(): void {
    for (const socket of this.#sockets) {
      const res = socket._httpMessage;
      if (res && !res.headersSent) res.shouldKeepAlive = false;
    }
  }

  /** Destroys every connection now. */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  /** Resolves once no connection is open. */
  whenEmpty(): Promise<void> {
    if (this.#sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#emptied = resolve;
    });
  }
}
