import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { App } from '../../app/app.ts';
import type { RawRequest, RawResponse } from '../../app/transport.ts';
import type { EngineOptions, EngineResponse } from '../http1/engine.ts';
import { type Address, formatAddress } from '../settings/setting.ts';
import { accessLogger } from './access-log.ts';
import { Connections } from './connections.ts';
import { Listener } from './listener.ts';
import {
  type RunningServer,
  receiveTimeoutOf,
  type ServeOptions,
  type ServeStats,
} from './options.ts';
import { rejectOverCap, rejectOverloaded } from './rejections.ts';
import { LoadShedder } from './shedder.ts';

/**
 * One App served in this process on one or more addresses. Its parts, in the order a request
 * meets them: the listeners (one per address, each a node:http server with or without
 * Peregrine's engine in front), the connection table (cap, in-flight count), `onRequest` (the
 * per-server policy every request passes before the App: counting, drain, max-requests, the
 * connection cap, load shedding, the fallback access log), and the stop: `close` drains,
 * `destroy` drops.
 */
export class AppServer implements RunningServer {
  readonly stats: ServeStats = { requests: 0, shed: 0, overCap: 0 };
  readonly shedder: LoadShedder;
  readonly #app: App;
  readonly #options: ServeOptions;
  readonly #connections: Connections;
  readonly #listeners: Listener[] = [];
  #servers: readonly Server[] = [];
  #addresses: readonly string[] = [];
  #draining = false;
  /** Set once listening stopped: a connection handed over later is declined. */
  #stopped = false;
  #closing: Promise<void> | undefined;
  // The request path reads these on every request.
  readonly #handle: (req: RawRequest, res: RawResponse) => void;
  readonly #maxRequests: number;
  readonly #onMaxRequests: (() => void) | undefined;
  readonly #logAccess: ((req: RawRequest, res: EngineResponse) => void) | undefined;

  constructor(app: App, options: ServeOptions) {
    this.#app = app;
    this.#options = options;
    this.#connections = new Connections(options.maxConnections ?? 0);
    this.shedder = new LoadShedder({
      delay: options.shedDelay ?? 250,
      utilization: options.shedUtilization ?? 0,
    });
    this.#handle = app.handle;
    this.#maxRequests = options.maxRequests ?? 0;
    this.#onMaxRequests = options.onMaxRequests;
    this.#logAccess = options.accessLog === undefined ? undefined : accessLogger(options.accessLog);
  }

  /** Every request of every listener, on either engine, enters here. */
  readonly #onRequest = (req: RawRequest, res: EngineResponse): void => {
    const n = ++this.stats.requests;
    if (this.#draining) res.shouldKeepAlive = false;
    if (n === this.#maxRequests && this.#onMaxRequests !== undefined) this.#onMaxRequests();
    if (this.#connections.isOverCap(req.socket)) {
      this.stats.overCap++;
      rejectOverCap(res);
      return;
    }
    if (this.shedder.overloaded()) {
      this.stats.shed++;
      rejectOverloaded(res);
      return;
    }
    if (this.#logAccess !== undefined) this.#logAccess(req, res);
    this.#handle(req, res);
  };

  /** Opens a listener per address (binding it, unless `external`), then starts the shedder. */
  async listen(): Promise<void> {
    const o = this.#options;
    // The same limits and timeouts for node:http and the engine.
    const limits: EngineOptions = {
      keepAliveTimeout: o.keepAliveTimeout ?? 75_000,
      headersTimeout: o.headersTimeout ?? 20_000,
      receiveTimeout: receiveTimeoutOf(o) ?? 60_000,
      sendTimeout: o.sendTimeout ?? 60_000,
      maxHeaderSize: o.maxHeaderSize ?? 16 * 1024,
      checkInterval: o.connectionsCheckingInterval ?? 1000,
    };
    const useEngine = (o.httpEngine ?? 'peregrine') === 'peregrine';
    const bind = {
      backlog: o.backlog ?? 2048,
      reusePort: o.reusePort === true,
      exclusive: o.exclusive === true,
      external: o.external === true,
    };
    const wanted: readonly Address[] = o.listen ?? [
      { host: o.host ?? '127.0.0.1', port: o.port ?? 8000 },
    ];
    try {
      for (const address of wanted) {
        this.#listeners.push(
          await Listener.open(address, this.#onRequest, limits, this.#connections, useEngine, bind),
        );
      }
    } catch (err) {
      for (const listener of this.#listeners) listener.abandon();
      throw err;
    }
    this.#servers = this.#listeners.map((l) => l.http);
    this.#addresses = this.#listeners.map((l) => formatAddress(l.address));
    this.shedder.start();
  }

  get server(): Server {
    return this.#servers[0]!;
  }

  get servers(): readonly Server[] {
    return this.#servers;
  }

  get address(): { host: string; port: number } {
    const first = this.#listeners[0]!.address;
    return 'path' in first ? { host: first.path, port: 0 } : first;
  }

  get addresses(): readonly string[] {
    return this.#addresses;
  }

  get draining(): boolean {
    return this.#draining;
  }

  get inflight(): number {
    let n = this.#connections.httpInflight;
    for (const listener of this.#listeners) n += listener.engineInflight;
    return n;
  }

  get connections(): number {
    return this.#connections.size;
  }

  accept(socket: Socket, index = 0): boolean {
    const listener = this.#listeners[index];
    if (this.#stopped || listener === undefined) return false;
    // A draining server still serves a connection handed over late: with Connection: close.
    listener.accept(socket);
    return true;
  }

  close(gracefulTimeout = 30_000): Promise<void> {
    this.#closing ??= (async () => {
      const closed = this.#stopAccepting();
      this.#connections.closeAfterResponses();
      for (const listener of this.#listeners) listener.closeAfterResponses();
      const grace = Math.min(this.#options.drainGrace ?? 1000, gracefulTimeout / 2);
      let sweeper: NodeJS.Timeout | undefined;
      const sweep = () => {
        for (const listener of this.#listeners) listener.closeIdle();
      };
      const graceTimer = setTimeout(() => {
        sweep();
        sweeper = setInterval(sweep, 100);
      }, grace);
      const force = setTimeout(() => this.#dropConnections(), gracefulTimeout);
      await closed;
      this.#stopped = true;
      clearTimeout(graceTimer);
      clearInterval(sweeper);
      clearTimeout(force);
      await this.#stop();
    })();
    return this.#closing;
  }

  destroy(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = this.#stopAccepting();
      this.#dropConnections();
      await closed;
      this.#stopped = true;
      await this.#stop();
    })();
    return this.#closing;
  }

  /**
   * Starts a drain: every response from now on asks its client to close the connection, and
   * the listeners stop listening. Resolves when they have (when connections come from the
   * pre-fork master: when the last connection closed).
   */
  #stopAccepting(): Promise<unknown> {
    this.#draining = true;
    this.#app.draining = true;
    for (const listener of this.#listeners) listener.drain();
    this.shedder.stop();
    if (this.#options.external === true) return this.#connections.whenEmpty();
    return Promise.all(this.#listeners.map((l) => l.stopListening()));
  }

  /** Closes every connection now, on node:http and on the engines. */
  #dropConnections(): void {
    for (const listener of this.#listeners) listener.closeAll();
    this.#connections.destroyAll();
  }

  /** Stops the timers, then runs the App's shutdown functions. */
  #stop(): Promise<void> {
    for (const listener of this.#listeners) listener.stopTimers();
    return this.#app.shutdown();
  }
}
