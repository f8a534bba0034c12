import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { Breaker, type BreakerOptions } from '../data/breaker.ts';
import { type CacheRedisContext, cacheRedisChannel } from '../data/diagnostics.ts';

/** How the Redis tier is given: a URL, ioredis options, or a client the caller owns. */
export type RedisSource = string | RedisOptions | Redis;

/** Options of the Redis tier. */
export interface RedisTierOptions {
  /** The prefix of the cache's keys (what a traced command shows instead of a key). */
  keyPrefix: string;
  /** Bound on every command in ms (default 100): a slow Redis must not slow the request. */
  timeout: number;
  /** The breaker that skips Redis while it keeps failing. */
  breaker?: BreakerOptions;
  /**
   * This process's node (`nodeBus.nodeId`): invalidations carry it, and those from this node
   * are ignored because the node bus delivered them already.
   */
  nodeId(): string;
  /** Called when an invalidation from another node arrives. */
  onInvalidate(keys: string[]): void;
  /** Called when the subscription (re)connects after a loss: invalidations may have been missed. */
  onResubscribe(): void;
}

const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

let redisClass: typeof Redis | undefined;

/**
 * ioredis, loaded when the first Redis tier is made: a cache without a shared tier (and every
 * worker that imports `peregrine/cache` for it) does not pay for it — its command table alone
 * is ~5 MiB of heap, allocated at load.
 */
function loadRedis(): typeof Redis {
  redisClass ??= (createRequire(import.meta.url)('ioredis') as { Redis: typeof Redis }).Redis;
  return redisClass;
}

class RedisTimeout extends Error {
  override name = 'RedisTimeout';
  constructor(ms: number) {
    super(`redis command timed out after ${ms} ms`);
  }
}

/** What a traced round trip shows of a command (`CacheRedisContext`), fixed per tier. */
interface Command {
  operation: string;
  text: string;
  batchSize?: number;
  /** A read: its outcome (hit when the reply is not null) goes on the context. */
  read?: boolean;
}

/** The commands of one tier, described with its key prefix (never a key). */
function commandsOf(prefix: string, channel: string) {
  const publish = `PUBLISH ${channel} ?`;
  return {
    get: { operation: 'GET', text: `GET ${prefix}?`, read: true },
    set: { operation: 'SET', text: `SET ${prefix}? ? PX ?` },
    del: { operation: 'MULTI', text: `MULTI; DEL ${prefix}?…; ${publish}; EXEC`, batchSize: 2 },
    publish: { operation: 'MULTI', text: `MULTI; ${publish}; EXEC`, batchSize: 1 },
    lock: { operation: 'SET', text: `SET ${prefix}?~lock ? PX ? NX` },
    unlock: { operation: 'EVAL', text: `EVAL ? 1 ${prefix}?~lock ?` },
  } satisfies Record<string, Command>;
}

/**
 * The shared tier of a cache: GET/SET/DEL with a hard timeout, a breaker, a lock for single-flight
 * across workers and nodes, and pub/sub invalidation. Every failure is returned as `undefined` or
 * `false` and counted, never thrown: the cache falls back to its local tier and the loader.
 */
export class RedisTier {
  /** This tier instance's id (invalidations it sent itself are ignored). */
  readonly id = randomUUID();
  readonly breaker: Breaker;
  /** Command failures absorbed so far. */
  errors = 0;
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #timeout: number;
  readonly #channel: string;
  readonly #options: RedisTierOptions;
  readonly #name: string;
  readonly #commands: ReturnType<typeof commandsOf>;
  #subscriber: Redis | undefined;
  #lostSubscription = false;

  constructor(source: RedisSource, name: string, channel: string, options: RedisTierOptions) {
    this.#options = options;
    this.#timeout = options.timeout;
    this.#channel = channel;
    this.#name = name;
    this.#commands = commandsOf(options.keyPrefix, channel);
    this.breaker = new Breaker('redis', name, {
      failureThreshold: 3,
      cooldown: 1000,
      maxCooldown: 5000,
      ...options.breaker,
    });
    const tuned: RedisOptions = {
      // Fail at once while disconnected instead of queueing (the breaker and loader take over).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeout,
      connectTimeout: 1000,
      retryStrategy: (times) => Math.min(times * 100, 1000),
      lazyConnect: false,
    };
    const Redis = loadRedis();
    if (source instanceof Redis) {
      this.#client = source;
      this.#owned = false;
    } else if (typeof source === 'string') {
      this.#client = new Redis(source, tuned);
      this.#owned = true;
    } else {
      this.#client = new Redis({ ...tuned, ...source });
      this.#owned = true;
    }
    // ioredis emits 'error' on every failed reconnect; without a listener that would be fatal.
    this.#client.on('error', () => {});
  }

  /** Subscribes to the invalidation channel on a dedicated connection. */
  subscribe(): void {
    if (this.#subscriber !== undefined) return;
    const sub = this.#client.duplicate({ enableOfflineQueue: true, commandTimeout: undefined });
    this.#subscriber = sub;
    sub.on('error', () => {});
    sub.on('close', () => {
      this.#lostSubscription = true;
    });
    sub.on('ready', () => {
      if (this.#lostSubscription) {
        this.#lostSubscription = false;
        this.#options.onResubscribe();
      }
    });
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      try {
        const msg = JSON.parse(message.toString('utf8')) as { o: string; n?: string; k: string[] };
        if (msg.o !== this.id && msg.n !== this.#options.nodeId() && Array.isArray(msg.k))
          this.#options.onInvalidate(msg.k);
      } catch {
        // Not one of ours: ignore.
      }
    });
    this.subscribed = sub.subscribe(this.#channel).then(
      () => true,
      () => {
        this.#lostSubscription = true;
        return false;
      },
    );
  }

  /** Resolves once the invalidation subscription is active (false if it failed). */
  subscribed: Promise<boolean> = Promise.resolve(false);

  /** Resolves once the command connection is ready. */
  commands(): Promise<boolean> {
    if (this.#client.status === 'ready') return Promise.resolve(true);
    return new Promise((resolve) => this.#client.once('ready', () => resolve(true)));
  }

  async #call<T>(command: Command, run: () => Promise<T>): Promise<T | undefined> {
    // PERF: while (re)connecting there is nothing to wait for: fall back at once, no timeout.
    if (this.#client.status !== 'ready') return undefined;
    if (!this.breaker.allow()) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const bounded = (): Promise<T> =>
      Promise.race([
        run(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new RedisTimeout(this.#timeout)), this.#timeout);
        }),
      ]);
    try {
      const result = cacheRedisChannel.hasSubscribers
        ? await this.#traced(command, bounded)
        : await bounded();
      this.breaker.success();
      return result;
    } catch {
      this.errors++;
      this.breaker.failure();
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** One round trip on the tracing channel (only called when someone listens). */
  #traced<T>(command: Command, bounded: () => Promise<T>): Promise<T> {
    const o = this.#client.options;
    const ctx: CacheRedisContext = {
      cache: this.#name,
      system: 'redis',
      operation: command.operation,
      text: command.text,
      namespace: String(o.db ?? 0),
      serverAddress: o.path || o.host || 'localhost',
    };
    if (!o.path) ctx.serverPort = o.port ?? 6379;
    if (command.batchSize !== undefined) ctx.batchSize = command.batchSize;
    return cacheRedisChannel.tracePromise(async () => {
      let result: T;
      try {
        result = await bounded();
      } catch (err) {
        // ioredis's own command timeout (the same bound) usually fires first: one error type.
        throw err instanceof Error && err.message === 'Command timed out'
          ? new RedisTimeout(this.#timeout)
          : err;
      }
      if (command.read) ctx.outcome = result === null || result === undefined ? 'miss' : 'hit';
      return result;
    }, ctx);
  }

  /** GET as bytes; undefined when absent or when Redis failed. */
  async get(key: string): Promise<Buffer | undefined> {
    const r = await this.#call(this.#commands.get, () => this.#client.getBuffer(key));
    return r ?? undefined;
  }

  /** SET with a TTL in ms. */
  async set(key: string, value: Buffer, ttlMs: number): Promise<boolean> {
    const r = await this.#call(this.#commands.set, () =>
      this.#client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs))),
    );
    return r === 'OK';
  }

  /** DEL keys and tell every other node to drop them. */
  async invalidate(keys: string[], localKeys: string[]): Promise<boolean> {
    const msg = JSON.stringify({ o: this.id, n: this.#options.nodeId(), k: localKeys });
    const command = keys.length > 0 ? this.#commands.del : this.#commands.publish;
    const r = await this.#call(command, () => {
      const tx = this.#client.multi();
      if (keys.length > 0) tx.del(...keys);
      return tx.publish(this.#channel, msg).exec();
    });
    return r !== undefined && r !== null;
  }

  /** Takes a lock for `ttlMs`; resolves to the token if this caller holds it now. */
  async lock(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const r = await this.#call(this.#commands.lock, () =>
      this.#client.set(key, token, 'PX', Math.ceil(ttlMs), 'NX'),
    );
    return r === 'OK' ? token : undefined;
  }

  /** Releases a lock if this caller still holds it. */
  async unlock(key: string, token: string): Promise<void> {
    await this.#call(this.#commands.unlock, () => this.#client.eval(RELEASE_LOCK, 1, key, token));
  }

  /** Closes the connections this tier opened. */
  async close(): Promise<void> {
    const sub = this.#subscriber;
    this.#subscriber = undefined;
    if (sub !== undefined) sub.disconnect();
    if (this.#owned) this.#client.disconnect();
  }
}
