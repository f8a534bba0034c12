import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { type AddressInfo, Server as NetServer, type Socket } from 'node:net';
import type { RawRequest } from '../../app/transport.ts';
import { BindError } from '../bind-error.ts';
import { type EngineOptions, type EngineResponse, Http1Engine } from '../http1/engine.ts';
import { answerClientError } from '../http1/refusals.ts';
import { Rfc9110Response } from '../reason-phrase.ts';
import { supportsReusePort } from '../reuse-port.ts';
import type { Address } from '../settings/setting.ts';
import type { Connections } from './connections.ts';
import { continueWhenRead } from './expect-continue.ts';

// PERF: node:http through process.getBuiltinModule, not an ESM import: the ESM facade reads every
// export, which loads Node's bundled undici (~14 MiB and ~80 ms of CPU per process).
const { createServer } = process.getBuiltinModule('node:http');

export { supportsReusePort };

/** Where and how a listener binds. */
export interface BindOptions {
  readonly backlog: number;
  readonly reusePort: boolean;
  /** A cluster worker that binds its own socket (reuse-port) rather than the master's. */
  readonly exclusive: boolean;
  /** Do not bind: connections arrive through `accept()`. */
  readonly external: boolean;
}

/**
 * What serves one address: a node:http server, and in front of it, with the `peregrine` engine,
 * the engine on a net server (node:http then serves only the connections the engine hands off).
 * Both get the same limits and timeouts.
 */
export class Listener {
  /** The node:http server. */
  readonly http: Server;
  /** Peregrine's engine, unless node:http serves every connection. */
  readonly engine: Http1Engine | undefined;
  readonly #connections: Connections;
  /** What listens, once bound: the node:http server itself or the engine's net server. */
  #bound: NetServer | undefined;
  #address: Address;

  private constructor(
    address: Address,
    onRequest: (req: RawRequest, res: EngineResponse) => void,
    limits: EngineOptions,
    connections: Connections,
    useEngine: boolean,
  ) {
    this.#address = address;
    this.#connections = connections;
    const nodeListener = onRequest as (req: IncomingMessage, res: ServerResponse) => void;
    const http = createServer(
      {
        keepAliveTimeout: limits.keepAliveTimeout,
        headersTimeout: limits.headersTimeout,
        requestTimeout: limits.receiveTimeout,
        maxHeaderSize: limits.maxHeaderSize,
        connectionsCheckingInterval: limits.checkInterval,
        noDelay: true,
        ServerResponse: Rfc9110Response,
      },
      nodeListener,
    );
    http.on('connection', (socket: Socket) => connections.add(socket));
    http.on('checkContinue', continueWhenRead(nodeListener));
    // Refusals from node:http's parser: problem+json like the engine's, and written after the
    // answers still due on the connection (node:http's default may drop one or the other).
    http.on('clientError', answerClientError);
    this.http = http;
    if (useEngine) {
      this.engine = new Http1Engine(onRequest, http, limits, {
        onError: (err) =>
          process.stderr.write(`peregrine: request listener threw: ${String(err)}\n`),
      });
      this.engine.start();
    }
    // node:http starts its header/request timeout checks (for handed-off connections too) when
    // it starts listening; behind the engine, or when connections come from elsewhere, it never
    // listens itself.
  }

  /**
   * Opens a listener on `address` and binds it (unless `external`); a failed bind closes what
   * was opened and throws a BindError.
   */
  static async open(
    address: Address,
    onRequest: (req: RawRequest, res: EngineResponse) => void,
    limits: EngineOptions,
    connections: Connections,
    useEngine: boolean,
    options: BindOptions,
  ): Promise<Listener> {
    const listener = new Listener(address, onRequest, limits, connections, useEngine);
    if (options.external || useEngine) listener.http.emit('listening');
    if (options.external) return listener;
    const front: NetServer =
      listener.engine === undefined
        ? listener.http
        : new NetServer({ noDelay: true }, (socket) => listener.accept(socket));
    try {
      await bind(front, address, options);
    } catch (err) {
      listener.stopTimers();
      throw new BindError('bind', address, err);
    }
    listener.#bound = front;
    const a = front.address();
    listener.#address =
      typeof a === 'string' || a === null
        ? { path: String(a) }
        : { host: (a as AddressInfo).address, port: (a as AddressInfo).port };
    return listener;
  }

  /** The address served (as bound: a port 0 shows the port picked). */
  get address(): Address {
    return this.#address;
  }

  /** Serves a connection accepted here or elsewhere. */
  accept(socket: Socket): void {
    if (this.engine === undefined) {
      this.http.emit('connection', socket);
      return;
    }
    this.#connections.add(socket);
    this.engine.serve(socket);
  }

  /** Requests the engine is serving (node:http's are counted per connection). */
  get engineInflight(): number {
    return this.engine?.inflight ?? 0;
  }

  /** From now on every response of the engine asks the client to close the connection. */
  drain(): void {
    if (this.engine !== undefined) this.engine.draining = true;
  }

  /** Every engine response not started yet will ask its client to close the connection. */
  closeAfterResponses(): void {
    if (this.engine === undefined) return;
    for (const c of this.engine.connections) {
      if (c.res !== null && !c.res.headersSent) c.res.shouldKeepAlive = false;
    }
  }

  /** Stops listening; open connections stay. */
  stopListening(): Promise<void> {
    const bound = this.#bound;
    if (bound === undefined) return Promise.resolve();
    // net.Server#close only stops listening; node:http's close would also drop idle keep-alive
    // connections at once, racing requests already on their way (the client sees a reset).
    return new Promise((resolve) => {
      NetServer.prototype.close.call(bound, () => resolve());
    });
  }

  /** Closes the connections with no exchange in progress. */
  closeIdle(): void {
    this.http.closeIdleConnections();
    this.engine?.closeIdle();
  }

  /** Closes every connection now. */
  closeAll(): void {
    this.http.closeAllConnections();
    this.engine?.closeAll();
  }

  /** Undoes `open` when the server does not start after all: stops listening and the timers. */
  abandon(): void {
    this.stopTimers();
    if (this.#bound !== undefined && this.#bound !== this.http) this.#bound.close();
  }

  /** Stops the timeout checks: node:http's own close clears its interval; the engine's stop. */
  stopTimers(): void {
    this.http.close();
    this.engine?.stop();
  }
}

function bind(server: NetServer, address: Address, options: BindOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const reuse = options.reusePort && supportsReusePort() && 'port' in address;
    server.listen(
      'path' in address
        ? { path: address.path, backlog: options.backlog }
        : {
            host: address.host,
            port: address.port,
            backlog: options.backlog,
            ...(reuse ? { reusePort: true } : {}),
            ...(reuse || options.exclusive ? { exclusive: true } : {}),
          },
      () => {
        server.removeListener('error', reject);
        resolve();
      },
    );
  });
}
