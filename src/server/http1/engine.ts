import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { ANSWER, BLOCKED, BODY, CLOSING, Connection, DISCARD, HEAD, IDLE } from './connection.ts';
import { LINGER_MS } from './refusals.ts';
import type { EngineRequest } from './request.ts';
import type { EngineResponseImpl } from './response.ts';

export type { EngineResponse } from './response.ts';

/**
 * Peregrine's HTTP/1.1 engine: serves connections straight from `node:net`, with its own
 * incremental request-head scanner and a response writer that sends head and body in one write.
 * It exists for speed: node:http builds a Readable IncomingMessage and a Writable ServerResponse
 * per request and formats headers through several layers; on a hello-world route that is most
 * of the cost (see docs/performance.md: `npm run bench` runs the same App as
 * `peregrine-node-engine`).
 *
 * It serves the strict subset of HTTP/1.1 that API clients send (see ./scan.ts), refuses with
 * 400 at the first byte what no valid request can contain, and hands anything else — chunked
 * request bodies, Expect, Upgrade, HTTP/1.0, ambiguous heads — with every byte not yet consumed,
 * to a node:http server, which serves it from then on exactly as it would serve any connection.
 * Every connection state has a time and a byte bound (./connection.ts, docs/http-engine.md).
 */
export interface EngineOptions {
  /** Idle keep-alive timeout (ms). */
  keepAliveTimeout: number;
  /** Time allowed for the request head (ms). */
  headersTimeout: number;
  /** Time allowed for the whole request, head and body (ms; 0 = none). */
  receiveTimeout: number;
  /** Time a response may go without the client taking any of it (ms; 0 = none). */
  sendTimeout: number;
  /** Largest request head (bytes); a larger one goes to node:http, which answers 431. */
  maxHeaderSize: number;
  /** How often timeouts are checked (ms). */
  checkInterval: number;
}

export type EngineListener = (req: EngineRequest, res: EngineResponseImpl) => void;

/** How long past the advertised keep-alive timeout an idle connection is closed. */
const KEEP_ALIVE_MARGIN = 1000;

/** What the engine reports besides requests. */
export interface EngineHooks {
  /** The request listener threw. */
  onError?: (err: unknown) => void;
  /** The engine refused a head with 400 (a byte no valid request can have). */
  onRefused?: (socket: Socket) => void;
}

/** The engine: connection table, timeouts, hand-off to node:http. */
export class Http1Engine {
  readonly options: EngineOptions;
  readonly listener: EngineListener;
  readonly connections = new Set<Connection>();
  readonly keepAliveLines: string;
  readonly #fallback: Server;
  readonly onError: (err: unknown) => void;
  readonly onRefused: (socket: Socket) => void;
  draining = false;
  /**
   * Checks done so far. PERF: a connection that goes idle notes this count, not the time (no
   * clock read per request); the next check stamps it with its own time, which is after the
   * connection went idle, so the keep-alive timeout is never early.
   */
  ticks = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    listener: EngineListener,
    fallback: Server,
    options: EngineOptions,
    hooks: EngineHooks = {},
  ) {
    this.listener = listener;
    this.#fallback = fallback;
    this.options = options;
    this.onError = hooks.onError ?? noop;
    this.onRefused = hooks.onRefused ?? noop;
    this.keepAliveLines =
      options.keepAliveTimeout > 0
        ? `Connection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeout / 1000)}\r\n`
        : 'Connection: keep-alive\r\n';
  }

  /** Starts the timeout checks. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.check(), this.options.checkInterval);
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
    for (const c of this.connections) if (c.idle) c.socket.destroy();
  }

  /** Closes every connection now. */
  closeAll(): void {
    for (const c of this.connections) c.socket.destroy();
  }

  /**
   * Enforces every connection's bounds in time (the byte bounds hold as bytes arrive). A bound
   * fires at the first check at or after it expires: never early, late by at most the interval.
   */
  check(): void {
    const now = Date.now();
    const tick = this.ticks++;
    const { headersTimeout, receiveTimeout, keepAliveTimeout, sendTimeout } = this.options;
    for (const c of this.connections) {
      switch (c.state) {
        case IDLE:
          // Idle counts from when the last answer has left (a slow reader is the send
          // timeout's business), and from a check that saw it, never from before.
          if (c.idleTick === tick || c.socket.writableLength > 0) c.idleSince = now;
          else if (
            keepAliveTimeout > 0 &&
            now - c.idleSince >= keepAliveTimeout + KEEP_ALIVE_MARGIN
          ) {
            // A second past the advertised timeout, like node:http, so a client reusing the
            // connection right at the limit does not race the close.
            c.socket.destroy();
            continue;
          }
          break;
        case HEAD:
          // A head on its way, or a new connection that has not sent one yet (slowloris).
          if (headersTimeout > 0 && c.since !== 0 && now - c.since >= headersTimeout) {
            c.timeout();
            continue;
          }
          break;
        case BODY:
        case DISCARD:
          // A body, or the rest of an answered request's body, which must still arrive in time.
          if (receiveTimeout > 0 && c.since !== 0 && now - c.since >= receiveTimeout) {
            c.timeout();
            continue;
          }
          break;
        case CLOSING:
          if (c.socket.writableLength === 0 && now - c.since >= LINGER_MS) {
            c.socket.destroy();
            continue;
          }
          break;
        case ANSWER:
        case BLOCKED:
          // Bounded by the App's deadline, and by the send timeout below.
          break;
      }
      if (sendTimeout > 0) {
        const socket = c.socket;
        const queued = socket.writableLength;
        if (queued === 0) c.sentMark = -1;
        else {
          // Bytes the kernel took so far: moves whenever the client reads.
          const sent = socket.bytesWritten - queued;
          if (sent !== c.sentMark) {
            c.sentMark = sent;
            c.stallSince = now;
          } else if (now - c.stallSince >= sendTimeout) socket.destroy();
        }
      }
    }
  }
}

function noop(): void {}
