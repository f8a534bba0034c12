import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { HTTPServiceUnavailable } from '../../app/errors/classes.ts';
import { BindError } from '../bind-error.ts';
import { type Address, formatAddress } from '../settings/setting.ts';

/**
 * Milliseconds on a monotonic clock. PERF: process.hrtime, not performance.now(): loading
 * node:perf_hooks (or touching the `performance` global) costs the master ~1.5 MiB RSS.
 */
function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/**
 * How many connections may be on their way to one worker before it is passed over. Node passes
 * sockets over a channel one at a time (each acknowledged by the receiving event loop), so more
 * would only queue inside Node, out of sight of the master's waiting room and its shedding.
 */
const MAX_IN_FLIGHT = 2;

/** A connection held by the master until a worker takes it. */
interface Handoff {
  seq: number;
  socket: Socket;
  bind: number;
  worker: number | undefined;
  /** When the master accepted it (on the listeners' clock). */
  since: number;
}

// PERF: built once. The master answers it without reading the request: a connection shed here
// never reaches a worker.
const SHED_RESPONSE = (() => {
  const body = JSON.stringify(
    new HTTPServiceUnavailable({
      code: 'PRG_OVERLOADED',
      retryAfter: 1,
      detail:
        'The server is overloaded and did not process this request; retry after the given delay.',
    }).toProblem(),
  );
  return Buffer.from(
    'HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nretry-after: 1\r\ncache-control: no-store\r\n` +
      `connection: close\r\n\r\n${body}`,
  );
})();

/** Sends one connection to a worker; calls back with an error if the channel refused it. */
export type SendConnection = (
  workerId: number,
  message: { seq: number; bind: number },
  socket: Socket,
  done: (error: Error | null) => void,
) => void;

/**
 * The listening sockets, held by the master for its whole life (as Gunicorn's arbiter does), and
 * the hand-over of accepted connections to workers.
 *
 * node:cluster's own round-robin closes the port when its last worker leaves (a lone worker that
 * crashes means refused connections until its replacement listens) and loses a connection handed
 * to a worker that dies before taking it (the client hangs). Here the port stays open while the
 * master runs; a connection waits in the master while no worker is ready; a connection sent to a
 * worker is kept until the worker confirms it, and goes to another worker if that one dies or
 * declines. Connections are handed over round-robin, several in flight per worker, skipping a
 * worker whose confirmations stop coming (a blocked event loop).
 */
export class Listeners {
  readonly #servers: Server[] = [];
  readonly #send: SendConnection;
  readonly #waiting: Handoff[] = [];
  readonly #inFlight = new Map<number, Handoff>();
  readonly #perWorker = new Map<number, number>();
  #accepting: number[] = [];
  #next = 0;
  #seq = 0;
  #handedOver = 0;
  #shed = 0;
  readonly #shedAfter: number;
  readonly #now: () => number;
  #sweeper: NodeJS.Timeout | undefined;

  /**
   * `shedAfter` (ms, 0 = never): a connection that waited this long for a busy worker is
   * answered 503 by the master. (Node passes sockets to a process one at a time, each confirmed
   * by its event loop, so a saturated worker takes new connections only as fast as it serves
   * them: the queue builds here, where the worker's own load shedding cannot see it.)
   * `now` is the clock waits are measured with (ms, monotonic).
   */
  constructor(send: SendConnection, shedAfter = 0, now: () => number = monotonicMs) {
    this.#send = send;
    this.#shedAfter = shedAfter;
    this.#now = now;
  }

  /** Binds every address; resolves to them as bound (port 0 resolved). */
  async listen(addresses: readonly Address[], backlog: number): Promise<Address[]> {
    const bound: Address[] = [];
    for (const [index, address] of addresses.entries()) {
      // pauseOnConnect: the master never reads a byte; the worker gets the socket untouched.
      const server = createServer({ pauseOnConnect: true, noDelay: true }, (socket) =>
        this.#dispatch({
          seq: ++this.#seq,
          socket,
          bind: index,
          worker: undefined,
          since: this.#now(),
        }),
      );
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new BindError('bind', address, err)));
        server.listen(
          'path' in address ? { path: address.path, backlog } : { ...address, backlog },
          () => {
            server.removeAllListeners('error');
            resolve();
          },
        );
      });
      this.#servers.push(server);
      if (this.#shedAfter > 0 && this.#sweeper === undefined) {
        const every = Math.max(10, Math.min(50, this.#shedAfter / 2));
        this.#sweeper = setInterval(() => this.#shedLate(), every);
        this.#sweeper.unref();
      }
      const a = server.address();
      bound.push(
        typeof a === 'string' || a === null
          ? { path: String(a) }
          : { host: (a as AddressInfo).address, port: (a as AddressInfo).port },
      );
    }
    return bound;
  }

  /** The addresses, as `HOST:PORT` / `unix:PATH`. */
  addresses(): string[] {
    return this.#servers.map((s) => {
      const a = s.address();
      return typeof a === 'string' || a === null
        ? `unix:${a}`
        : formatAddress({ host: (a as AddressInfo).address, port: (a as AddressInfo).port });
    });
  }

  /** Sets the workers that take new connections (ready, not draining), in a stable order. */
  setAccepting(workerIds: readonly number[]): void {
    this.#accepting = [...workerIds];
    this.#flush();
  }

  /** A worker confirmed (or declined) a connection. */
  confirm(workerId: number, seq: number, taken: boolean): void {
    const h = this.#inFlight.get(seq);
    if (h === undefined || h.worker !== workerId) return;
    this.#inFlight.delete(seq);
    this.#perWorker.set(workerId, (this.#perWorker.get(workerId) ?? 1) - 1);
    if (taken) {
      // The worker has its own descriptor now; this closes only the master's.
      h.socket.destroy();
      this.#handedOver++;
    } else {
      h.worker = undefined;
      this.#dispatch(h);
    }
    this.#flush();
  }

  /** A worker is gone: the connections it had not confirmed go to others. */
  forget(workerId: number): void {
    this.#perWorker.delete(workerId);
    this.#accepting = this.#accepting.filter((id) => id !== workerId);
    for (const h of [...this.#inFlight.values()]) {
      if (h.worker !== workerId) continue;
      this.#inFlight.delete(h.seq);
      h.worker = undefined;
      this.#dispatch(h);
    }
  }

  /** Stops accepting new connections (the sockets close; waiting connections stay). */
  close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    return Promise.all(
      this.#servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    ).then(() => undefined);
  }

  /** Drops the connections no worker took (at the very end of a stop). */
  dropWaiting(): number {
    const n = this.#waiting.length + this.#inFlight.size;
    for (const h of this.#waiting) h.socket.destroy();
    for (const h of this.#inFlight.values()) h.socket.destroy();
    this.#waiting.length = 0;
    this.#inFlight.clear();
    return n;
  }

  /** Connections waiting for a worker, connections on their way, connections handed over. */
  get counts(): { waiting: number; inFlight: number; handedOver: number; shed: number } {
    return {
      waiting: this.#waiting.length,
      inFlight: this.#inFlight.size,
      handedOver: this.#handedOver,
      shed: this.#shed,
    };
  }

  /**
   * Answers 503 to connections that waited too long while workers were busy. While no worker is
   * ready (a lone worker being replaced) connections wait instead: that wait is short and ends.
   */
  #shedLate(): void {
    if (this.#accepting.length === 0) return;
    const limit = this.#now() - this.#shedAfter;
    while (this.#waiting.length > 0 && this.#waiting[0]!.since < limit) {
      const { socket } = this.#waiting.shift()!;
      this.#shed++;
      socket.on('error', () => {});
      // Read and drop the request, so closing does not reset the connection under the answer.
      socket.on('data', () => {});
      socket.resume();
      socket.end(SHED_RESPONSE);
      setTimeout(() => socket.destroy(), 1000).unref();
    }
  }

  #pick(): number | undefined {
    const n = this.#accepting.length;
    for (let i = 0; i < n; i++) {
      const id = this.#accepting[(this.#next + i) % n]!;
      if ((this.#perWorker.get(id) ?? 0) < MAX_IN_FLIGHT) {
        this.#next = (this.#next + i + 1) % n;
        return id;
      }
    }
    return undefined;
  }

  #dispatch(h: Handoff): void {
    if (h.socket.destroyed) return;
    const id = this.#pick();
    if (id === undefined) this.#waiting.push(h);
    else this.#sendTo(h, id);
  }

  #sendTo(h: Handoff, id: number): void {
    h.worker = id;
    this.#inFlight.set(h.seq, h);
    this.#perWorker.set(id, (this.#perWorker.get(id) ?? 0) + 1);
    this.#send(id, { seq: h.seq, bind: h.bind }, h.socket, (error) => {
      if (error !== null && this.#inFlight.get(h.seq) === h) {
        // The channel refused it (the worker is exiting): try another.
        this.#inFlight.delete(h.seq);
        this.#perWorker.set(id, (this.#perWorker.get(id) ?? 1) - 1);
        this.#accepting = this.#accepting.filter((x) => x !== id);
        h.worker = undefined;
        this.#dispatch(h);
      }
    });
  }

  #flush(): void {
    while (this.#waiting.length > 0) {
      const id = this.#pick();
      if (id === undefined) return;
      this.#sendTo(this.#waiting.shift()!, id);
    }
  }
}
