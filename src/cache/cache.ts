import { EventEmitter } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BreakerOptions } from '../data/breaker.ts';
import {
  type CacheLoadContext,
  type CacheOutcome,
  type CacheStats,
  cacheLoadChannel,
  cacheLookupChannel,
  register,
} from '../data/diagnostics.ts';
import { type NodeSubscription, nodeBus } from '../process/node-bus.ts';
import { decodeEntry, type Entry, encodeEntry, jsonSerializer, type Serializer } from './entry.ts';
import { type CacheKey, KeyForms } from './keys.ts';
import { LocalStore } from './local-store.ts';
import { type RedisSource, RedisTier } from './redis-tier.ts';

/**
 * Date.now(), read once per synchronous run: a request that looks up 20 keys in one loop pays for
 * one clock read instead of 20 (~40 ns each on this kind of VM). The value is dropped at the next
 * microtask, so time never stands still across awaits or turns of the event loop.
 */
let clock = 0;
const dropClock = (): void => {
  clock = 0;
};
function turnNow(): number {
  if (clock === 0) {
    clock = Date.now();
    queueMicrotask(dropClock);
  }
  return clock;
}

/** Options of a cache. Times are in milliseconds. */
export interface CacheOptions<V> {
  /** The cache name: a metric label and part of every Redis key. */
  name: string;
  /** How long a loaded value is fresh (default 60 000). */
  ttl?: number;
  /** After that, how long it may still be served while one caller refreshes it (default 0). */
  staleTtl?: number;
  /** How long "the loader found nothing" is remembered; 0 turns negative caching off (default 5000). */
  negativeTtl?: number;
  /** Entries kept in this process (default 10 000). */
  max?: number;
  /** The shared tier: a Redis URL, ioredis options or client. Without it the cache is local only. */
  redis?: RedisSource;
  /** Prefix of every Redis key and channel (default `prg:cache:`). */
  prefix?: string;
  /** Bound on each Redis command (default 100). */
  redisTimeout?: number;
  /** The breaker that skips Redis while it keeps failing. */
  breaker?: BreakerOptions;
  /**
   * Single-flight across workers and nodes with a Redis lock: one loader call per key cluster-wide
   * instead of one per worker (default off). `ttl` bounds how long a lock holder may take; `wait`
   * how long others wait for its value before loading themselves.
   */
  lock?: boolean | { ttl?: number; wait?: number };
  /** Turns values into bytes for Redis (default JSON). */
  serializer?: Serializer<V>;
  /**
   * The clock of freshness and expiry, ms since epoch (default: the real one). Entries in Redis
   * carry its times, so every process sharing a Redis tier must use the same clock.
   */
  clock?: () => number;
}

/** Per-call options of `get`. */
export interface GetOptions {
  /** Fresh time of a value loaded by this call. */
  ttl?: number;
  /** Stale-while-revalidate window of a value loaded by this call. */
  staleTtl?: number;
}

/** What a loader may adjust for the value it returns. */
export interface LoadContext {
  /** Set to give this value its own fresh time. */
  ttl: number;
  /** Set to give this value its own stale window. */
  staleTtl: number;
}

/** Loads a value on a miss; `undefined` means "there is none" (cached as a negative entry). */
export type CacheLoader<V, K extends CacheKey = string> = (
  key: K,
  ctx: LoadContext,
) => Promise<V | undefined> | V | undefined;

/**
 * @deprecated Use `CacheLoader` (`peregrine/db` exports another `Loader`, the statement
 * batcher); the old name goes in the next release.
 */
export type Loader<V, K extends CacheKey = string> = CacheLoader<V, K>;

/** Per-key options of `set`. */
export type SetOptions = GetOptions;

interface Flight<V> {
  promise: Promise<Entry<V>>;
  /** Bumped by an invalidation while the load runs: its result must not be cached locally. */
  invalidated: boolean;
}

/**
 * A two-tier read-through cache: an in-process LRU with TTLs in front of an optional Redis tier.
 *
 * `get(key, loader)` answers from the local tier, then Redis, then the loader — with one loader
 * call per key per worker at a time (single-flight), or one per cluster with `lock`. A stale entry
 * is served at once while one caller refreshes it; "not found" is cached briefly; each value may
 * carry its own TTL. `delete` and `set` reach every worker of the node through the master (no
 * Redis needed) and every other node through Redis pub/sub. When
 * Redis is slow or down, every command is bounded and a breaker skips it: the cache degrades to
 * the local tier and the loader, and no error reaches the caller.
 */
export class Cache<V = unknown, K extends CacheKey = string> extends EventEmitter<{
  invalidate: [keys: string[], at: number];
}> {
  /** The cache name. */
  readonly name: string;
  readonly #local: LocalStore<K, V>;
  /** Which key forms were held: where a key's twin (42 ↔ '42') may be. */
  readonly #forms = new KeyForms();
  readonly #flights = new Map<K, Flight<V>>();
  readonly #ttl: number;
  readonly #staleTtl: number;
  readonly #negativeTtl: number;
  readonly #prefix: string;
  readonly #serializer: Serializer<V>;
  readonly #lock: { ttl: number; wait: number } | undefined;
  readonly #redis: RedisTier | undefined;
  /** Invalidations among the caches of this name on this node (workers of one master). */
  readonly #node: NodeSubscription;
  readonly #unregister: () => void;
  /** The clock; `#turnNow` is the one lookups read (the real clock: once per synchronous run). */
  readonly #now: () => number;
  readonly #turnNow: () => number;
  #stats = {
    hits: 0,
    staleHits: 0,
    misses: 0,
    negativeHits: 0,
    loads: 0,
    loadErrors: 0,
    remoteInvalidations: 0,
  };

  constructor(options: CacheOptions<V>) {
    super();
    this.name = options.name;
    this.#ttl = options.ttl ?? 60_000;
    this.#staleTtl = options.staleTtl ?? 0;
    this.#negativeTtl = options.negativeTtl ?? 5000;
    this.#prefix = `${options.prefix ?? 'prg:cache:'}${options.name}:`;
    this.#serializer = options.serializer ?? (jsonSerializer as Serializer<V>);
    this.#now = options.clock ?? Date.now;
    this.#turnNow = options.clock ?? turnNow;
    this.#local = new LocalStore<K, V>(options.max ?? 10_000);
    if (options.lock) {
      const l = typeof options.lock === 'object' ? options.lock : {};
      this.#lock = { ttl: l.ttl ?? 5000, wait: l.wait ?? l.ttl ?? 5000 };
    }
    const channel = `${this.#prefix}~invalidate`;
    this.#node = nodeBus.subscribe(channel, (keys) => {
      if (Array.isArray(keys)) this.#dropRemote(keys as string[]);
    });
    if (options.redis !== undefined) {
      this.#redis = new RedisTier(options.redis, options.name, channel, {
        keyPrefix: this.#prefix,
        timeout: options.redisTimeout ?? 100,
        breaker: options.breaker,
        nodeId: () => nodeBus.nodeId,
        onInvalidate: (keys) => this.#dropRemote(keys),
        // Invalidations sent while we were not listening are lost: forget what we hold.
        onResubscribe: () => this.#local.clear(),
      });
      this.#redis.subscribe();
    }
    this.#unregister = register('cache', { name: this.name, stats: () => this.stats() });
  }

  /** Counters of this cache (see diagnostics.ts). */
  stats(): CacheStats {
    return {
      ...this.#stats,
      redisErrors: this.#redis?.errors ?? 0,
      localEntries: this.#local.size,
      breaker: this.#redis === undefined ? 'none' : this.#redis.breaker.state,
    };
  }

  /**
   * The value for `key`: from this process, else Redis, else `loader` (whose result is cached).
   * Resolves to `undefined` when the loader found nothing. A loader error is passed on (and not
   * cached) unless a stale value can be served instead.
   */
  async get(key: K, loader: CacheLoader<V, K>, options?: GetOptions): Promise<V | undefined> {
    const local = this.#local;
    const slot = local.find(key);
    if (slot !== -1) {
      const now = this.#turnNow();
      if (now < local.freshUntil(slot)) {
        const value = local.use(slot);
        this.#count(value === undefined ? 'negative' : 'hit', 'local');
        return value;
      }
      if (now < local.staleUntil(slot)) {
        this.#count('stale', 'local');
        this.#refresh(key, loader, options);
        return local.use(slot);
      }
      local.delete(key);
    }
    let flight = this.#flights.get(key);
    if (flight === undefined) flight = this.#fly(key, loader, options, false);
    const entry = await flight.promise;
    return entry.value;
  }

  /**
   * Resolves true once invalidations from other workers and nodes are being received (at once
   * without Redis; false if Redis did not answer within `timeoutMs`). The cache works either way.
   */
  async connected(timeoutMs = 2000): Promise<boolean> {
    if (this.#redis === undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      const both = Promise.all([this.#redis.subscribed, this.#redis.commands()]).then(
        ([subscribed]) => subscribed,
      );
      return await Promise.race([both, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The locally cached value, if fresh (no Redis, no loader, no counting). */
  peek(key: K): V | undefined {
    return this.#local.freshValue(key, this.#turnNow());
  }

  /** Stores a value in both tiers and tells other workers and nodes to drop their copies. */
  async set(key: K, value: V, options?: SetOptions): Promise<void> {
    const entry = this.#entry(
      value,
      options?.ttl ?? this.#ttl,
      options?.staleTtl ?? this.#staleTtl,
    );
    this.#markInvalidated([key]);
    const other = this.#forms.twin(key);
    if (other !== undefined) this.#local.delete(other as K);
    this.#forms.held(key);
    this.#local.set(key, entry.value, entry.fresh, entry.stale);
    const names = [String(key)];
    if (this.#redis !== undefined) {
      await this.#redis.set(
        this.#prefix + key,
        encodeEntry(entry, this.#serializer),
        entry.stale - this.#now(),
      );
      await this.#redis.invalidate([], names);
    }
    await this.#node.publish(names);
  }

  /**
   * Removes keys from every tier, in every worker and node. Resolves once every worker of this
   * node has dropped them (bounded: a worker that does not answer within a second is not waited
   * for), so a request answered after a write never reads the old value from another worker of
   * the node; other nodes drop them when Redis's message reaches them.
   */
  async delete(...keys: K[]): Promise<void> {
    if (keys.length === 0) return;
    this.#markInvalidated(keys);
    this.#dropLocal(keys);
    const names = keys.map(String);
    // Redis first: a worker that drops its copy on the node's message must not then read the
    // old value back from Redis.
    if (this.#redis !== undefined) {
      await this.#redis.invalidate(
        keys.map((k) => this.#prefix + k),
        names,
      );
    }
    await this.#node.publish(names);
  }

  /** Stops receiving invalidations and closes the Redis connections this cache opened. */
  async close(): Promise<void> {
    this.#unregister();
    this.#node.close();
    await this.#redis?.close();
  }

  #count(outcome: CacheOutcome, tier: 'local' | 'redis' | 'loader'): void {
    if (outcome === 'hit') this.#stats.hits++;
    else if (outcome === 'stale') this.#stats.staleHits++;
    else if (outcome === 'negative') this.#stats.negativeHits++;
    else this.#stats.misses++;
    if (cacheLookupChannel.hasSubscribers) {
      cacheLookupChannel.publish({ cache: this.name, outcome, tier });
    }
  }

  #entry(value: V | undefined, ttl: number, staleTtl: number): Entry<V> {
    const now = this.#now();
    if (value === undefined) {
      return {
        value: undefined,
        negative: true,
        fresh: now + this.#negativeTtl,
        stale: now + this.#negativeTtl,
      };
    }
    return { value, negative: false, fresh: now + ttl, stale: now + ttl + Math.max(0, staleTtl) };
  }

  #remember(key: K, entry: Entry<V>, flight: Flight<V>): void {
    if (entry.stale <= this.#now() || flight.invalidated) return;
    this.#forms.held(key);
    this.#local.set(key, entry.value, entry.fresh, entry.stale);
  }

  /** Flags the loads in flight for these keys (either form) so their results are not kept. */
  #markInvalidated(keys: readonly CacheKey[]): void {
    for (const k of keys) {
      const f = this.#flights.get(k as K);
      if (f !== undefined) f.invalidated = true;
      const other = this.#forms.twin(k);
      if (other === undefined) continue;
      const g = this.#flights.get(other as K);
      if (g !== undefined) g.invalidated = true;
    }
  }

  /** Drops keys (either form) from this process. */
  #dropLocal(keys: readonly CacheKey[]): void {
    for (const k of keys) {
      this.#local.delete(k as K);
      const other = this.#forms.twin(k);
      if (other !== undefined) this.#local.delete(other as K);
    }
  }

  #dropRemote(keys: string[]): void {
    this.#markInvalidated(keys);
    this.#dropLocal(keys);
    this.#stats.remoteInvalidations += keys.length;
    this.emit('invalidate', keys, this.#now());
  }

  /** Refreshes a stale entry in the background, once per key at a time. */
  #refresh(key: K, loader: CacheLoader<V, K>, options: GetOptions | undefined): void {
    if (this.#flights.has(key)) return;
    this.#fly(key, loader, options, true).promise.catch(() => {
      // Keep serving the stale value; the failure is counted in loadErrors.
    });
  }

  #fly(
    key: K,
    loader: CacheLoader<V, K>,
    options: GetOptions | undefined,
    background: boolean,
  ): Flight<V> {
    const flight: Flight<V> = {
      promise: undefined as unknown as Promise<Entry<V>>,
      invalidated: false,
    };
    flight.promise = this.#fill(key, loader, options, background, flight).finally(() => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    });
    this.#forms.held(key);
    this.#flights.set(key, flight);
    return flight;
  }

  /** Redis, then (under the lock, if configured) the loader. */
  async #fill(
    key: K,
    loader: CacheLoader<V, K>,
    options: GetOptions | undefined,
    background: boolean,
    flight: Flight<V>,
  ): Promise<Entry<V>> {
    const redis = this.#redis;
    const redisKey = this.#prefix + key;
    if (redis !== undefined) {
      const shared = await this.#readShared(redisKey);
      if (
        shared !== undefined &&
        (this.#now() < shared.fresh || (!background && this.#now() < shared.stale))
      ) {
        const fresh = this.#now() < shared.fresh;
        this.#count(shared.negative ? 'negative' : fresh ? 'hit' : 'stale', 'redis');
        this.#remember(key, shared, flight);
        if (!fresh) setImmediate(() => this.#refresh(key, loader, options));
        return shared;
      }
    }
    if (!background) this.#count('miss', 'loader');
    if (redis !== undefined && this.#lock !== undefined) {
      const lockKey = `${redisKey}~lock`;
      const token = await redis.lock(lockKey, this.#lock.ttl);
      if (token !== undefined) {
        try {
          return await this.#load(key, loader, options, background, flight);
        } finally {
          await redis.unlock(lockKey, token);
        }
      }
      // Another worker or node is loading: wait for its value rather than load again.
      const waited = await this.#awaitShared(redisKey, lockKey, this.#lock.wait);
      if (waited !== undefined) {
        this.#remember(key, waited, flight);
        return waited;
      }
    }
    return this.#load(key, loader, options, background, flight);
  }

  async #readShared(redisKey: string): Promise<Entry<V> | undefined> {
    const raw = await this.#redis!.get(redisKey);
    if (raw === undefined) return undefined;
    try {
      return decodeEntry(raw, this.#serializer);
    } catch {
      return undefined;
    }
  }

  /** Polls Redis for the value another lock holder is loading, up to `waitMs`. */
  async #awaitShared(
    redisKey: string,
    lockKey: string,
    waitMs: number,
  ): Promise<Entry<V> | undefined> {
    const until = Date.now() + waitMs;
    let pause = 10;
    while (Date.now() < until) {
      await sleep(pause);
      pause = Math.min(100, pause * 1.5);
      const e = await this.#readShared(redisKey);
      if (e !== undefined && this.#now() < e.stale) return e;
      // Redis is failing (breaker open): stop waiting on it.
      if (this.#redis!.breaker.state === 'open') return undefined;
      // The holder gave up without a value (it failed): take our own turn.
      if (
        (await this.#redis!.get(lockKey)) === undefined &&
        (await this.#readShared(redisKey)) === undefined
      ) {
        return undefined;
      }
    }
    return undefined;
  }

  async #load(
    key: K,
    loader: CacheLoader<V, K>,
    options: GetOptions | undefined,
    background: boolean,
    flight: Flight<V>,
  ): Promise<Entry<V>> {
    const ctx: LoadContext = {
      ttl: options?.ttl ?? this.#ttl,
      staleTtl: options?.staleTtl ?? this.#staleTtl,
    };
    this.#stats.loads++;
    let value: V | undefined;
    try {
      if (cacheLoadChannel.hasSubscribers) {
        const trace: CacheLoadContext = { cache: this.name, key: String(key), background };
        value = await cacheLoadChannel.tracePromise(async () => {
          const v = await loader(key, ctx);
          trace.empty = v === undefined;
          return v;
        }, trace);
      } else {
        value = await loader(key, ctx);
      }
    } catch (err) {
      this.#stats.loadErrors++;
      throw err;
    }
    if (value === undefined && this.#negativeTtl <= 0) {
      return { value: undefined, negative: true, fresh: 0, stale: 0 };
    }
    const entry = this.#entry(value, ctx.ttl, ctx.staleTtl);
    this.#remember(key, entry, flight);
    if (this.#redis !== undefined && !flight.invalidated) {
      const write = this.#redis.set(
        this.#prefix + key,
        encodeEntry(entry, this.#serializer),
        entry.stale - this.#now(),
      );
      // Under the lock, waiters poll for this value: it must be there before the lock goes.
      // Otherwise the caller need not wait for Redis (a slow Redis must not slow the answer).
      if (this.#lock !== undefined) await write;
    }
    return entry;
  }
}

/** Creates a cache (see `Cache`). */
export function createCache<V = unknown, K extends CacheKey = string>(
  options: CacheOptions<V>,
): Cache<V, K> {
  return new Cache<V, K>(options);
}
