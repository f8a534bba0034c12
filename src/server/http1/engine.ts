import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Connection } from './connection.ts';
import type { EngineRequest } from './request.ts';
import type { EngineResponseImpl } from './response.ts';

export type { EngineResponse } from './response.ts';

/**
 * Peregrine's HTTP/1.1 engine: serves connections straight from `node:net`, with its own
 * request-head parser and a response writer that sends head and body in one write. It exists for
 * speed: node:http builds a Readable IncomingMessage and a Writable ServerResponse per request and
 * formats headers through several layers; on a hello-world route that is most of the cost (see
 * docs/performance.md: `npm run bench` runs the same App as `peregrine-node-engine`).
 *
 * It serves the strict subset of HTTP/1.1 that API clients send (see ./parse.ts). Anything else —
 * chunked request bodies, Expect, Upgrade, HTTP/1.0, malformed or ambiguous heads — hands the
 * connection, with every byte not yet consumed, to a node:http server, which serves it from then
 * on exactly as it would serve any connection. So node:http remains the authority on what is
 * malformed, and a request is never rejected here that node:http would accept.
 */
export interface EngineOptions {
  /** Idle keep-alive timeout (ms). */
  keepAliveTimeout: number;
  /** Time allowed for the request head (ms). */
  headersTimeout: number;
  /** Time allowed for the whole request, head and body (ms; 0 = none). */
  requestTimeout: number;
  /** Largest request head (bytes); a larger one goes to node:http, which answers 431. */
  maxHeaderSize: number;
  /** How often timeouts are checked (ms). */
  checkInterval: number;
}

export type EngineListener = (req: EngineRequest, res: EngineResponseImpl) => void;

/** How long past the advertised keep-alive timeout an idle connection is closed. */
const KEEP_ALIVE_MARGIN = 1000;

/** The engine: connection table, timeouts, hand-off to node:http. */
export class Http1Engine {
  readonly options: EngineOptions;
  readonly listener: EngineListener;
  readonly connections = new Set<Connection>();
  readonly keepAliveLines: string;
  readonly #fallback: Server;
  readonly onError: (err: unknown) => void;
  draining = false;
  /** A clock for timeouts, advanced by the checker (ms). */
  now = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    listener: EngineListener,
    fallback: Server,
    options: EngineOptions,
    onError: (err: unknown) => void = () => {},
  ) {
    this.listener = listener;
    this.#fallback = fallback;
    this.options = options;
    this.onError = onError;
    this.keepAliveLines =
      options.keepAliveTimeout > 0
        ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeout / 1000)}\r\n`
        : 'Connection: keep-alive\r\n';
  }

  /** Starts the timeout checks. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#check(), this.options.checkInterval);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Serves a connection. */
  serve(socket: Socket): void {
    socket.setNoDelay(true);
    this.connections.add(new Connection(this, socket));
  }

  /** @internal Gives a connection to node:http, bytes already read first. */
  handOff(socket: Socket, buffered: Buffer | null): void {
    this.#fallback.emit('connection', socket);
    if (buffered !== null && buffered.length > 0) socket.emit('data', buffered);
  }

  /** Exchanges in progress. */
  get inflight(): number {
    let n = 0;
    for (const c of this.connections) if (c.res !== null) n++;
    return n;
  }

  /** Closes the connections with no exchange in progress. */
  closeIdle(): void {
    for (const c of this.connections) {
      if (c.idle) {
        c.closed = true;
        c.socket.destroy();
      }
    }
  }

  /** Closes every connection now. */
  closeAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  #check(): void {
    const now = Date.now();
    this.now = now;
    const { headersTimeout, requestTimeout, keepAliveTimeout } = this.options;
    for (const c of this.connections) {
      if (c.closed) continue;
      if (c.res !== null) {
        if (requestTimeout > 0 && !c.req!.complete && now - c.headStart > requestTimeout) {
          c.timeout();
        }
      } else if (c.discarding) {
        // The rest of an answered request's body, which must still arrive in time.
        if (requestTimeout > 0 && now - c.headStart > requestTimeout) c.timeout();
      } else if (!c.idle || c.served === 0) {
        // A head on its way, or a new connection that has not sent one yet (slowloris).
        if (headersTimeout > 0 && now - c.headStart > headersTimeout) c.timeout();
      } else if (keepAliveTimeout > 0 && now - c.idleSince > keepAliveTimeout + KEEP_ALIVE_MARGIN) {
        // Idle keep-alive: a second past the advertised timeout, like node:http, so a client
        // reusing the connection right at the limit does not race the close.
        c.closed = true;
        c.socket.destroy();
      }
    }
  }
}
