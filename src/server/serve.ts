import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { App } from '../app/app.ts';
import type { Logger } from '../app/logger.ts';
import type { RawRequest } from '../app/transport.ts';
import { BindError } from './bind-error.ts';
import { type EngineOptions, type EngineResponse, Http1Engine } from './http1/engine.ts';
import { answerClientError } from './http1/refusals.ts';
import { Rfc9110Response } from './reason-phrase.ts';
import { type Address, formatAddress } from './settings/setting.ts';
import { rejectOverCap, rejectOverloaded } from './worker/rejections.ts';
import { LoadShedder } from './worker/shedder.ts';

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
  /** Time allowed to receive the whole request (default 60 s; 0 = none). */
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
  /** When set, one log line per request. */
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

/** Whether this runtime's `listen()` understands `reusePort` (Node ≥ 22.12 / 23.1). */
export function supportsReusePort(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return (
    process.platform === 'linux' &&
    (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))
  );
}

const kOverCap = Symbol('peregrine.overCap');
type TrackedSocket = Socket & {
  [kOverCap]?: boolean;
  /** node:http's response in progress on this socket (internal, stable since Node 0.x). */
  _httpMessage?: ServerResponse | null;
};

function accessLogger(log: Logger): (req: RawRequest, res: EngineResponse) => void {
  return (req, res) => {
    const start = performance.now();
    res.once('finish', () => {
      log.info(
        {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          ms: Math.round((performance.now() - start) * 100) / 100,
          bytes: Number(res.getHeader('content-length') ?? 0),
          remote: req.socket.remoteAddress,
        },
        'request',
      );
    });
  };
}

/** Serves an App on `node:http` in this process: the worker side of `peregrine serve`. */
export async function serve(app: App, options: ServeOptions = {}): Promise<RunningServer> {
  await app.startup();
  // An App served again after an earlier serve() was closed answers with keep-alive again.
  app.draining = false;
  let draining = false;
  const stats: ServeStats = { requests: 0, shed: 0, overCap: 0 };
  const sockets = new Set<TrackedSocket>();
  const cap = options.maxConnections ?? 0;
  let overCap = 0;
  const shedder = new LoadShedder({
    delay: options.shedDelay ?? 250,
    utilization: options.shedUtilization ?? 0,
  });
  const handle = app.handle;
  const maxRequests = options.maxRequests ?? 0;
  const onMaxRequests = options.onMaxRequests;
  const logAccess = options.accessLog === undefined ? undefined : accessLogger(options.accessLog);

  const listener = (req: RawRequest, res: EngineResponse): void => {
    const n = ++stats.requests;
    if (draining) res.shouldKeepAlive = false;
    if (n === maxRequests && onMaxRequests !== undefined) onMaxRequests();
    // PERF: the socket is only looked at while some connection is over the cap.
    if (overCap > 0 && (req.socket as TrackedSocket)[kOverCap] === true) {
      stats.overCap++;
      rejectOverCap(res);
      return;
    }
    if (shedder.overloaded()) {
      stats.shed++;
      rejectOverloaded(res);
      return;
    }
    if (logAccess !== undefined) logAccess(req, res);
    handle(req, res);
  };

  /**
   * `Expect: 100-continue` (node:http serves it on both engines: the Peregrine engine hands such
   * requests over). node:http would send `100 Continue` at once; RFC 9110 §10.1.1 lets a server
   * answer with the final status instead, and a client must not be told to send a body that
   * will be refused. So `100 Continue` goes out only when something starts reading the body (a
   * `data` or `readable` listener, or `resume()`); a request answered without reading it — 413
   * from its Content-Length, 401 from middleware, 404 — gets only its answer, and node:http then
   * closes the connection, since the client may still send the body.
   */
  const continueWhenRead = (req: IncomingMessage, res: ServerResponse): void => {
    const go = (): void => {
      req.removeListener('newListener', onListener);
      req.removeListener('resume', go);
      if (!res.headersSent && !res.writableEnded) res.writeContinue();
    };
    const onListener = (event: string | symbol): void => {
      if (event === 'data' || event === 'readable') go();
    };
    req.on('newListener', onListener);
    req.once('resume', go);
    listener(req, res);
  };

  const onConnection = (socket: TrackedSocket): void => {
    // A connection the engine hands to node:http arrives here a second time.
    if (sockets.has(socket)) return;
    sockets.add(socket);
    if (cap > 0 && sockets.size > cap) {
      socket[kOverCap] = true;
      overCap++;
    }
    socket.once('close', () => {
      sockets.delete(socket);
      if (socket[kOverCap] === true) overCap--;
      if (sockets.size === 0) allClosed?.();
    });
  };

  // The same limits and timeouts for node:http and the engine.
  const limits: EngineOptions = {
    keepAliveTimeout: options.keepAliveTimeout ?? 75_000,
    headersTimeout: options.headersTimeout ?? 20_000,
    requestTimeout: options.requestTimeout ?? 60_000,
    sendTimeout: options.sendTimeout ?? 60_000,
    maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
    checkInterval: options.connectionsCheckingInterval ?? 1000,
  };
  const useEngine = (options.httpEngine ?? 'peregrine') === 'peregrine';
  const engines: Http1Engine[] = [];
  const serveOn = (engine: Http1Engine, socket: Socket): void => {
    onConnection(socket);
    engine.serve(socket);
  };
  /** What listens: the node:http server itself, or the engine's net server. */
  const listening: NetServer[] = [];

  const listen = async (address: Address): Promise<Server> => {
    const server = createServer(
      {
        keepAliveTimeout: limits.keepAliveTimeout,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.requestTimeout,
        maxHeaderSize: limits.maxHeaderSize,
        connectionsCheckingInterval: limits.checkInterval,
        noDelay: true,
        ServerResponse: Rfc9110Response,
      },
      listener as (req: IncomingMessage, res: ServerResponse) => void,
    );
    server.on('connection', onConnection);
    server.on('checkContinue', continueWhenRead);
    // Refusals from node:http's parser: problem+json like the engine's, and written after the
    // answers still due on the connection (node:http's default may drop one or the other).
    server.on('clientError', answerClientError);
    let front: NetServer = server;
    if (useEngine) {
      const engine = new Http1Engine(listener, server, limits, {
        onError: (err) =>
          process.stderr.write(`peregrine: request listener threw: ${String(err)}\n`),
      });
      engine.start();
      engines.push(engine);
      // node:http starts its header/request timeout checks (for handed-off connections) when it
      // starts listening; it never listens itself here.
      server.emit('listening');
      front = new NetServer({ noDelay: true }, (socket) => serveOn(engine, socket));
    }
    if (options.external === true) {
      if (!useEngine) server.emit('listening');
      return server;
    }
    const bound = new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      const reuse = options.reusePort === true && supportsReusePort() && 'port' in address;
      front.listen(
        'path' in address
          ? { path: address.path, backlog: options.backlog ?? 2048 }
          : {
              host: address.host,
              port: address.port,
              backlog: options.backlog ?? 2048,
              ...(reuse ? { reusePort: true } : {}),
              ...(reuse || options.exclusive ? { exclusive: true } : {}),
            },
        () => {
          front.removeListener('error', reject);
          resolve();
        },
      );
    });
    try {
      await bound;
    } catch (err) {
      // node:http's close also clears the timeout checks started by 'listening'.
      server.close();
      engines.at(-1)?.stop();
      throw new BindError('bind', address, err);
    }
    listening.push(front);
    return server;
  };

  const wanted: readonly Address[] = options.listen ?? [
    { host: options.host ?? '127.0.0.1', port: options.port ?? 8000 },
  ];
  const servers: Server[] = [];
  try {
    for (const address of wanted) servers.push(await listen(address));
  } catch (err) {
    for (const s of servers) s.close();
    for (const s of listening) s.close();
    for (const e of engines) e.stop();
    await app.shutdown().catch(() => {});
    throw err;
  }
  shedder.start();

  const addresses = servers.map((_, i) => {
    if (options.external === true) return wanted[i]!;
    const s = listening[i]!;
    const a = s.address();
    if (typeof a === 'string' || a === null) return { path: String(a) } as Address;
    return { host: (a as AddressInfo).address, port: (a as AddressInfo).port } as Address;
  });
  const first = addresses[0]!;

  let stopped = false;
  let allClosed: (() => void) | undefined;
  const noConnections = (): Promise<void> =>
    sockets.size === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          allClosed = resolve;
        });
  const stopAccepting = (): Promise<unknown> => {
    draining = true;
    // Every response the App writes from now on asks the client to close its connection.
    app.draining = true;
    for (const engine of engines) engine.draining = true;
    shedder.stop();
    if (options.external === true) return noConnections();
    // net.Server#close only stops listening; node:http's close would also drop idle keep-alive
    // connections at once, racing requests already on their way (the client sees a reset).
    return Promise.all(
      listening.map(
        (server) =>
          new Promise<void>((resolve) => {
            NetServer.prototype.close.call(server, () => resolve());
          }),
      ),
    );
  };

  /** Closes every connection now, on node:http and on the engines. */
  const dropConnections = (): void => {
    for (const server of servers) server.closeAllConnections();
    for (const engine of engines) engine.closeAll();
    for (const socket of sockets) socket.destroy();
  };
  /** Stops the timeout checks: node:http's own close clears its interval; the engines' stop. */
  const stopTimers = (): void => {
    for (const server of servers) server.close();
    for (const engine of engines) engine.stop();
  };

  let closing: Promise<void> | undefined;
  return {
    server: servers[0]!,
    servers,
    address: 'path' in first ? { host: first.path, port: 0 } : first,
    addresses: addresses.map(formatAddress),
    get draining() {
      return draining;
    },
    get inflight() {
      let n = 0;
      for (const socket of sockets) if (socket._httpMessage) n++;
      for (const engine of engines) n += engine.inflight;
      return n;
    },
    get connections() {
      return sockets.size;
    },
    stats,
    shedder,
    close(gracefulTimeout = 30_000) {
      closing ??= (async () => {
        const closed = stopAccepting();
        for (const socket of sockets) {
          const res = socket._httpMessage;
          if (res && !res.headersSent) res.shouldKeepAlive = false;
        }
        for (const engine of engines) {
          for (const c of engine.connections) {
            if (c.res !== null && !c.res.headersSent) c.res.shouldKeepAlive = false;
          }
        }
        const grace = Math.min(options.drainGrace ?? 1000, gracefulTimeout / 2);
        let sweeper: NodeJS.Timeout | undefined;
        const sweep = () => {
          for (const server of servers) server.closeIdleConnections();
          for (const engine of engines) engine.closeIdle();
        };
        const graceTimer = setTimeout(() => {
          sweep();
          sweeper = setInterval(sweep, 100);
        }, grace);
        const force = setTimeout(dropConnections, gracefulTimeout);
        await closed;
        stopped = true;
        clearTimeout(graceTimer);
        clearInterval(sweeper);
        clearTimeout(force);
        stopTimers();
        await app.shutdown();
      })();
      return closing;
    },
    accept(socket, index = 0) {
      const server = servers[index];
      if (stopped || server === undefined) return false;
      // A draining server still serves a connection handed over late: with Connection: close.
      const engine = engines[index];
      if (engine === undefined) server.emit('connection', socket);
      else serveOn(engine, socket);
      return true;
    },
    destroy() {
      closing ??= (async () => {
        const closed = stopAccepting();
        dropConnections();
        await closed;
        stopped = true;
        stopTimers();
        await app.shutdown();
      })();
      return closing;
    },
  };
}
