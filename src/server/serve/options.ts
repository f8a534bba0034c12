import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../app/logger.ts';
import type { Address } from '../settings/setting.ts';
import type { LoadShedder } from './shedder.ts';

/** Options of `serve`. Times are in milliseconds, sizes in bytes. */
export interface ServeOptions {
  /** Interface to listen on (default 127.0.0.1); ignored when `listen` is given. */
  host?: string;
  /** Port (default 8000; 0 picks a free one); ignored when `listen` is given. */
  port?: number;
  /** Addresses to listen on (TCP or Unix socket), instead of `host`/`port`. */
  listen?: readonly Address[];
  /** Listen backlog (default 2048). */
  backlog?: number;
  /** Idle keep-alive timeout; above the common LB idle timeouts (default 75 s). */
  keepAliveTimeout?: number;
  /** Time allowed to receive the request headers (default 20 s). */
  headersTimeout?: number;
  /** Time allowed to receive the whole request, body included (default 60 s; 0 = none). */
  receiveTimeout?: number;
  /**
   * @deprecated Use `receiveTimeout` (the App's `requestTimeout` is the per-request deadline,
   * another thing); still read, with a warning, until the next release.
   */
  requestTimeout?: number;
  /**
   * Time a response may go without the client taking any of its bytes before the connection is
   * closed (default 60 s; 0 = none). Peregrine's engine only; node:http has no such bound.
   */
  sendTimeout?: number;
  /** Largest request head (default 16 KiB). */
  maxHeaderSize?: number;
  /** Most concurrent connections; a connection over it gets one 503 and is closed (default: no cap). */
  maxConnections?: number;
  /**
   * `peregrine` (default): Peregrine's HTTP/1.1 engine on node:net, which hands any connection it
   * does not serve itself to node:http; `node`: node:http for every connection.
   */
  httpEngine?: 'peregrine' | 'node';
  /** Bind with SO_REUSEPORT where the runtime supports it. */
  reusePort?: boolean;
  /** Interval at which Node checks header/request timeouts (default 1 s). */
  connectionsCheckingInterval?: number;
  /** Shed load (503 + Retry-After) while the event loop lags this many ms (default 250; 0 = off). */
  shedDelay?: number;
  /** Also shed while event-loop utilisation exceeds this ratio (default 0 = off). */
  shedUtilization?: number;
  /** How long idle keep-alive connections may still send a request once a drain begins (default 1 s). */
  drainGrace?: number;
  /**
   * When set, one access-log line per request (the format telemetry writes, without route,
   * request id and trace ids); leave it unset for an App whose telemetry logs access itself.
   */
  accessLog?: Logger;
  /** Calls `onMaxRequests` once, when this many requests have been read (0 = never). */
  maxRequests?: number;
  /** See `maxRequests`. */
  onMaxRequests?: () => void;
  /** @internal A cluster worker that binds its own socket (reuse-port) rather than the master's. */
  exclusive?: boolean;
  /**
   * @internal Do not listen: connections arrive through `accept()` (the pre-fork master holds the
   * listening sockets and hands connections over). `listen` still names the addresses served.
   */
  external?: boolean;
}

/** Counters of a running server (cumulative). */
export interface ServeStats {
  /** Requests read. */
  requests: number;
  /** Requests answered 503 because the event loop lagged. */
  shed: number;
  /** Requests answered 503 because their connection was over the cap. */
  overCap: number;
}

/** A running server. */
export interface RunningServer {
  /**
   * The node:http server (the first one when listening on several addresses). With the
   * `peregrine` engine it does not listen itself: it serves the connections the engine hands off.
   */
  readonly server: Server;
  /** Every node:http server, one per address. */
  readonly servers: readonly Server[];
  /** Where the first server listens (a Unix socket shows its path as host and port 0). */
  readonly address: { host: string; port: number };
  /** Every address listened on, as `HOST:PORT` or `unix:PATH`. */
  readonly addresses: readonly string[];
  /** Whether a drain has begun. */
  readonly draining: boolean;
  /** In-flight requests. */
  readonly inflight: number;
  /** Open connections. */
  readonly connections: number;
  /** Counters: requests read, shed, over the connection cap. */
  readonly stats: Readonly<ServeStats>;
  /** The load shedder (its lag samples feed heartbeats). */
  readonly shedder: LoadShedder;
  /**
   * Stops accepting, lets in-flight requests finish with `Connection: close`, gives idle
   * keep-alive connections `drainGrace` to send one last request, closes the rest, forces what
   * remains after `gracefulTimeout` ms, then runs the App's shutdown functions.
   */
  close(gracefulTimeout?: number): Promise<void>;
  /** Fast stop: drops every connection now, then runs the App's shutdown functions. */
  destroy(): Promise<void>;
  /**
   * Serves a connection accepted elsewhere (by the pre-fork master), on the server of address
   * `index`; false once the server has stopped.
   */
  accept(socket: Socket, index?: number): boolean;
}

let warnedRequestTimeout = false;

/** `receiveTimeout`, or the deprecated `requestTimeout` it was called before (warning once). */
export function receiveTimeoutOf(options: ServeOptions): number | undefined {
  if (options.requestTimeout === undefined) return options.receiveTimeout;
  if (!warnedRequestTimeout) {
    warnedRequestTimeout = true;
    process.emitWarning(
      "requestTimeout in serve()'s options is now receiveTimeout (the App's requestTimeout is the per-request deadline); the old name goes in the next release (see CHANGELOG.md)",
      { type: 'DeprecationWarning', code: 'PEREGRINE_DEP_SERVE_REQUEST_TIMEOUT' },
    );
  }
  return options.receiveTimeout ?? options.requestTimeout;
}
