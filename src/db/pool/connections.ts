import pg from 'pg';
import type { Logger } from '../../app/logger.ts';
import type { Breaker } from '../../data/breaker.ts';
import { DatabaseUnavailableError, PoolBusyError } from '../errors.ts';

/** One pooled node-postgres connection. */
export interface Conn {
  readonly client: pg.Client;
  busy: boolean;
  broken: boolean;
  destroyed: boolean;
  idleSince: number;
  handedAt: number;
  /** When the work now waiting on the server was sent (ms since the epoch; 0: none). */
  waitingSince: number;
}

interface Waiter {
  resolve(conn: Conn): void;
  reject(err: unknown): void;
  timer: NodeJS.Timeout | undefined;
  since: number;
}

/** The socket under a node-postgres client, if it has one yet. */
function streamOf(client: pg.Client): { destroy(): void } | undefined {
  return (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection
    ?.stream;
}

/** The counters the connection set keeps (part of the pool's stats). */
export interface ConnectionCounters {
  acquireWaitCount: number;
  acquireWaitTotalMs: number;
  acquireWaitMaxMs: number;
  acquireRejected: number;
  connectionErrors: number;
}

export interface ConnectionsOptions {
  readonly name: string;
  readonly clientConfig: pg.ClientConfig;
  readonly maxWaiting: number;
  readonly breaker: Breaker;
  readonly counters: ConnectionCounters;
  readonly logger: () => Logger | undefined;
}

/**
 * The connections of a PostgreSQL pool and the callers waiting for one: hands out idle
 * connections, queues callers within their wait budget (refusing hopeless waits at once), opens
 * connections while callers wait and there is room, replaces lost ones, shrinks and grows with
 * the pool size, closes idle ones, and drains on shutdown. `PostgresPool` runs statements on
 * what it hands out.
 */
export class Connections {
  readonly #options: ConnectionsOptions;
  readonly #all = new Set<Conn>();
  readonly #idle: Conn[] = [];
  readonly #waiters: Waiter[] = [];
  /** Connections being opened. */
  readonly #pending = new Set<Conn>();
  #max = 1;
  #connecting = 0;
  #accepting = false;
  #drained: (() => void) | undefined;
  /** PERF: a moving average of how long a connection is held, to refuse hopeless waits at once. */
  #holdAvg = 0;
  /** When the server last answered anything: a statement, an error, a new connection (ms). */
  lastHeard = Date.now();

  constructor(options: ConnectionsOptions) {
    this.#options = options;
  }

  /** Whether callers are served (between `open()` and `drain()`). */
  get accepting(): boolean {
    return this.#accepting;
  }

  get max(): number {
    return this.#max;
  }

  get size(): number {
    return this.#all.size;
  }

  get idle(): number {
    return this.#idle.length;
  }

  get connecting(): number {
    return this.#connecting;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Starts serving callers. */
  open(): void {
    this.#accepting = true;
    this.lastHeard = Date.now();
  }

  /**
   * When the oldest work still waiting on the server began — a statement sent, a connection
   * being opened — or undefined when nothing waits on it (ms since the epoch).
   */
  outstandingSince(): number | undefined {
    let since: number | undefined;
    for (const c of this.#all) {
      if (c.waitingSince > 0 && (since === undefined || c.waitingSince < since)) {
        since = c.waitingSince;
      }
    }
    for (const c of this.#pending) {
      if (since === undefined || c.waitingSince < since) since = c.waitingSince;
    }
    return since;
  }

  /**
   * The server is unreachable: every connection goes — busy ones fail their statements at once,
   * idle ones would hang the next caller, half-open ones would hang until the connect timeout —
   * and every waiting caller is answered. The breaker (already open) keeps new callers away.
   */
  reset(cause: unknown): void {
    for (const conn of [...this.#all]) {
      conn.broken = true;
      this.destroy(conn);
    }
    for (const conn of this.#pending) {
      // Cut, not end(): node-postgres answers a connect in progress only for an unexpected close.
      conn.destroyed = true;
      streamOf(conn.client)?.destroy();
    }
    this.#failWaiters(cause);
  }

  /**
   * A connection for a caller that can wait until `by` (ms since the epoch); rejects with
   * PoolBusyError when it cannot, DatabaseUnavailableError when the pool is closed or the
   * breaker is open, or the signal's reason when aborted.
   */
  acquire(by: number, signal?: AbortSignal): Promise<Conn> {
    const counters = this.#options.counters;
    const breaker = this.#options.breaker;
    if (!this.#accepting) {
      counters.acquireRejected++;
      return Promise.reject(new DatabaseUnavailableError('The database pool is not open.'));
    }
    if (breaker.state !== 'closed' && !breaker.allow()) {
      counters.acquireRejected++;
      return Promise.reject(
        new DatabaseUnavailableError(
          'The database is not answering; failing fast until it does.',
          undefined,
          breaker.retryAfterMs,
        ),
      );
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      idle.busy = true;
      idle.handedAt = performance.now();
      return Promise.resolve(idle);
    }
    const wait = by - Date.now();
    const position = this.#waiters.length + 1;
    // PERF: a caller that would need more than its whole wait budget just to reach the head of
    // the queue is refused now, so the 503 is fast and the queue stays short.
    const hopeless = this.#holdAvg > 0 && (position / this.#max) * this.#holdAvg > wait;
    if (
      wait <= 0 ||
      position > this.#options.maxWaiting ||
      (hopeless && this.#all.size >= this.#max)
    ) {
      counters.acquireRejected++;
      breaker.abandon();
      return Promise.reject(
        new PoolBusyError(
          wait <= 0
            ? 'The request deadline left no time to wait for a database connection.'
            : 'Too many requests are waiting for a database connection.',
        ),
      );
    }
    return new Promise<Conn>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined, since: performance.now() };
      const onAbort = () => {
        this.#dropWaiter(waiter);
        reject(signal!.reason);
      };
      waiter.resolve = (conn) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(conn);
      };
      waiter.reject = (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      waiter.timer = setTimeout(() => {
        this.#dropWaiter(waiter);
        counters.acquireRejected++;
        breaker.abandon();
        waiter.reject(
          new PoolBusyError(`No database connection became free within ${Math.round(wait)} ms.`),
        );
      }, wait);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#grow();
    });
  }

  /** Hands a connection to the next waiter, or puts it back to idle. */
  release(conn: Conn): void {
    if (conn.destroyed) {
      this.afterLoss();
      return;
    }
    if (conn.handedAt > 0) {
      const held = performance.now() - conn.handedAt;
      this.#holdAvg = this.#holdAvg === 0 ? held : this.#holdAvg * 0.8 + held * 0.2;
    }
    if (conn.broken || this.#all.size > this.#max) {
      this.destroy(conn);
      this.afterLoss();
      return;
    }
    const w = this.#waiters.shift();
    if (w !== undefined) {
      clearTimeout(w.timer);
      const counters = this.#options.counters;
      const waited = performance.now() - w.since;
      counters.acquireWaitCount++;
      counters.acquireWaitTotalMs += waited;
      if (waited > counters.acquireWaitMaxMs) counters.acquireWaitMaxMs = waited;
      conn.busy = true;
      conn.handedAt = performance.now();
      w.resolve(conn);
      return;
    }
    conn.busy = false;
    conn.idleSince = Date.now();
    conn.handedAt = 0;
    this.#idle.push(conn);
    if (this.#drained !== undefined && this.#idle.length === this.#all.size) this.#drained();
  }

  /** After a connection is gone: open another if callers wait, or finish a drain. */
  afterLoss(): void {
    if (!this.#accepting) {
      if (this.#drained !== undefined && this.#idle.length === this.#all.size) this.#drained();
      return;
    }
    if (this.#options.breaker.state === 'open') this.#failWaiters(undefined);
    else this.#grow();
  }

  /** Closes a connection (cutting its socket if statements may still be in flight). */
  destroy(conn: Conn): Promise<void> {
    if (conn.destroyed) return Promise.resolve();
    conn.destroyed = true;
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    const client = conn.client;
    // A connection with statements in flight on a silent server would wait for them forever.
    if (conn.busy || conn.broken) streamOf(client)?.destroy();
    return client.end().catch(() => {});
  }

  /** Sets the pool size: shrinking closes idle connections at once, busy ones when they return. */
  resize(max: number): void {
    if (max === this.#max) return;
    this.#max = max;
    while (this.#all.size > this.#max && this.#idle.length > 0) this.destroy(this.#idle.shift()!);
    this.#grow();
  }

  /** Closes connections idle since before `cutoff` (ms since the epoch). */
  reap(cutoff: number): void {
    for (const conn of [...this.#idle]) if (conn.idleSince < cutoff) this.destroy(conn);
  }

  /**
   * Stops serving: rejects the waiting callers, waits up to `timeoutMs` for busy connections to
   * come back, then closes every connection.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.#accepting = false;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new DatabaseUnavailableError('The database pool is shutting down.'));
    }
    if (this.#all.size > this.#idle.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.#drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.#drained = undefined;
    await Promise.all([...this.#all].map((c) => this.destroy(c)));
  }

  #dropWaiter(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    const i = this.#waiters.indexOf(waiter);
    if (i !== -1) this.#waiters.splice(i, 1);
  }

  /** Opens connections while callers wait and the pool has room. */
  #grow(): void {
    while (
      this.#waiters.length > this.#connecting &&
      this.#all.size + this.#connecting < this.#max &&
      this.#accepting
    ) {
      this.#connect();
    }
  }

  #connect(): void {
    const { breaker, counters } = this.#options;
    this.#connecting++;
    const client = new pg.Client(this.#options.clientConfig);
    const conn: Conn = {
      client,
      busy: false,
      broken: false,
      destroyed: false,
      idleSince: Date.now(),
      handedAt: 0,
      waitingSince: Date.now(),
    };
    this.#pending.add(conn);
    // An error on an idle connection (server restart, network reset) must never crash the
    // process: node-postgres emits it as 'error', which would be fatal without a listener.
    client.on('error', (err: Error) => {
      counters.connectionErrors++;
      conn.broken = true;
      if (!conn.busy) {
        this.#options
          .logger()
          ?.warn({ err, pool: this.#options.name }, 'idle database connection lost');
        this.destroy(conn);
        this.afterLoss();
      }
    });
    client.connect().then(
      () => {
        this.#connecting--;
        this.#pending.delete(conn);
        conn.waitingSince = 0;
        if (conn.destroyed) {
          client.end().catch(() => {});
          return;
        }
        this.lastHeard = Date.now();
        this.#all.add(conn);
        breaker.success();
        if (!this.#accepting) this.destroy(conn);
        else this.release(conn);
      },
      (err: unknown) => {
        this.#connecting--;
        this.#pending.delete(conn);
        conn.waitingSince = 0;
        if (conn.destroyed) {
          // Cut by reset(): the server was already declared unreachable and its waiters answered.
          client.end().catch(() => {});
          return;
        }
        counters.connectionErrors++;
        breaker.failure();
        conn.destroyed = true;
        client.end().catch(() => {});
        // Tell a waiter now rather than let it wait out its timeout for a connection that failed.
        const w = this.#waiters.shift();
        if (w !== undefined) {
          clearTimeout(w.timer);
          counters.acquireRejected++;
          w.reject(new DatabaseUnavailableError('Could not connect to the database.', err));
        }
        if (breaker.state === 'open') this.#failWaiters(err);
        else this.#grow();
      },
    );
  }

  #failWaiters(cause: unknown): void {
    const { breaker, counters } = this.#options;
    for (const w of this.#waiters.splice(0)) {
      clearTimeout(w.timer);
      counters.acquireRejected++;
      w.reject(
        new DatabaseUnavailableError(
          'The database is not answering; failing fast until it does.',
          cause,
          breaker.retryAfterMs,
        ),
      );
    }
  }
}
