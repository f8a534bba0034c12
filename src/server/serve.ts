import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { App } from '../app/app.ts';

/** Options of `serve`. Times are in milliseconds, sizes in bytes. */
export interface ServeOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 8000; 0 picks a free one). */
  port?: number;
  /** Listen backlog (default 2048). */
  backlog?: number;
  /** Idle keep-alive timeout; above the common LB idle timeouts (default 75 s). */
  keepAliveTimeout?: number;
  /** Time allowed to receive the request headers (default 20 s). */
  headersTimeout?: number;
  /** Time allowed to receive the whole request (default 60 s). */
  requestTimeout?: number;
  /** Largest request head (default 16 KiB). */
  maxHeaderSize?: number;
  /** Most concurrent connections; more are refused (default unlimited). */
  maxConnections?: number;
  /** Bind with SO_REUSEPORT where the runtime supports it. */
  reusePort?: boolean;
  /** Interval at which Node checks header/request timeouts (default 1 s). */
  connectionsCheckingInterval?: number;
}

/** A running single-process server. */
export interface RunningServer {
  /** The node:http server. */
  readonly server: Server;
  /** Where it listens. */
  readonly address: { host: string; port: number };
  /** Whether a drain has begun. */
  readonly draining: boolean;
  /** In-flight requests. */
  readonly inflight: number;
  /**
   * Stops accepting, lets in-flight requests finish with `Connection: close`, closes idle
   * keep-alive sockets, forces the rest after `gracefulTimeout` ms, then runs the App's
   * shutdown functions.
   */
  close(gracefulTimeout?: number): Promise<void>;
}

/** Whether this runtime's `listen()` understands `reusePort` (Node ≥ 22.12 / 23.1). */
export function supportsReusePort(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return (
    process.platform === 'linux' &&
    (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))
  );
}

/** Serves an App on one `node:http` server in this process (the worker side of `peregrine serve`). */
export async function serve(app: App, options: ServeOptions = {}): Promise<RunningServer> {
  await app.startup();
  const inflight = new Set<ServerResponse>();
  let draining = false;
  const handle = app.handle;
  const server = createServer(
    {
      keepAliveTimeout: options.keepAliveTimeout ?? 75_000,
      headersTimeout: options.headersTimeout ?? 20_000,
      requestTimeout: options.requestTimeout ?? 60_000,
      maxHeaderSize: options.maxHeaderSize ?? 16 * 1024,
      connectionsCheckingInterval: options.connectionsCheckingInterval ?? 1000,
      noDelay: true,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      inflight.add(res);
      res.once('close', () => inflight.delete(res));
      if (draining) res.shouldKeepAlive = false;
      handle(req, res);
    },
  );
  if (options.maxConnections !== undefined) server.maxConnections = options.maxConnections;
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(
      {
        host,
        port: options.port ?? 8000,
        backlog: options.backlog ?? 2048,
        ...(options.reusePort && supportsReusePort() ? { reusePort: true } : {}),
      },
      () => {
        server.removeListener('error', reject);
        resolve();
      },
    );
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    address: { host: address.address, port: address.port },
    get draining() {
      return draining;
    },
    get inflight() {
      return inflight.size;
    },
    close(gracefulTimeout = 30_000) {
      closing ??= (async () => {
        draining = true;
        for (const res of inflight) if (!res.headersSent) res.shouldKeepAlive = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => {
          server.closeAllConnections();
          for (const socket of sockets) socket.destroy();
        }, gracefulTimeout);
        timer.unref();
        await closed;
        clearTimeout(timer);
        await app.shutdown();
      })();
      return closing;
    },
  };
}
