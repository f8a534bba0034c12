import { createHash } from 'node:crypto';
import type { Redis, RedisOptions } from 'ioredis';
import type { PolicySpec } from './algorithms.ts';
import type { Decision, RateLimitStore } from './store.ts';

/**
 * One script, one round trip, atomic: reads the key's state, refills or rolls it on Redis's own
 * clock (so nodes with skewed clocks agree), spends one unit if there is one, writes the state
 * back with an expiry and answers `{allowed, remaining, retryAfterMs, resetMs}`. The same
 * arithmetic as algorithms.ts.
 */
const SCRIPT = `
local key = KEYS[1]
local algorithm = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local eps = 1e-9
if algorithm == 'token-bucket' then
  local rate = limit / window
  local s = redis.call('HMGET', key, 'k', 't')
  local tokens = tonumber(s[1])
  local at = tonumber(s[2])
  if tokens == nil or at == nil then
    tokens = burst
    at = now
  end
  if now > at then
    tokens = math.min(burst, tokens + (now - at) * rate)
    at = now
  end
  local allowed = 0
  local wait = 0
  if tokens >= 1 - eps then
    tokens = tokens - 1
    allowed = 1
  else
    wait = math.ceil((1 - tokens) / rate)
  end
  local reset = math.ceil((burst - tokens) / rate)
  redis.call('HSET', key, 'k', tostring(tokens), 't', tostring(at))
  redis.call('PEXPIRE', key, reset + 1000)
  return {allowed, math.floor(tokens + eps), wait, reset}
end
local s = redis.call('HMGET', key, 's', 'c', 'p')
local start = tonumber(s[1])
local cur = tonumber(s[2]) or 0
local prev = tonumber(s[3]) or 0
local ws = now - (now % window)
if start == nil then start = ws end
if ws > start then
  if ws == start + window then prev = cur else prev = 0 end
  cur = 0
  start = ws
end
local used = prev * (1 - (now - start) / window) + cur
local allowed = 0
local wait = 0
if used + 1 <= limit + eps then
  cur = cur + 1
  used = used + 1
  allowed = 1
else
  local room = limit - 1
  if cur <= room and prev > 0 then
    wait = math.max(0, math.ceil(start + window * (1 - (room - cur) / prev) - now))
  else
    wait = math.max(0, math.ceil(start + window + window * (1 - room / cur) - now))
  end
end
local reset = 0
if cur > 0 then reset = start + 2 * window - now elseif prev > 0 then reset = start + window - now end
redis.call('HSET', key, 's', tostring(start), 'c', tostring(cur), 'p', tostring(prev))
redis.call('PEXPIRE', key, start + 2 * window - now + 1000)
return {allowed, math.max(0, math.floor(limit - used + eps)), wait, reset}
`;
const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** Options of the Redis store. */
export interface RedisStoreOptions {
  /** A Redis URL, or an ioredis client the App owns (the store then leaves it open on close). */
  redis: string | Redis;
  /** Prefix of the keys the store writes (default `peregrine:rl:`). */
  prefix?: string;
  /** Longest wait for Redis, ms, before the request counts as a Redis failure (default 250). */
  timeoutMs?: number;
}

/** Why a Redis call did not answer. */
class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`Redis did not answer within ${ms} ms`);
    this.name = 'RedisTimeout';
  }
}

/** Budgets in Redis, shared by every node of the fleet. */
export class RedisStore implements RateLimitStore {
  readonly #client: Promise<Redis>;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  #loaded = false;
  #connecting: Promise<void> | undefined;
  /** Connection errors the client reported (Redis down, refused, reset). */
  connectionErrors = 0;

  constructor(options: RedisStoreOptions) {
    this.#prefix = options.prefix ?? 'peregrine:rl:';
    this.#timeoutMs = options.timeoutMs ?? 250;
    this.#owned = typeof options.redis === 'string';
    // ioredis is loaded when a store is first used, so `peregrine/middleware` costs nothing more
    // to import for an App that does not use it.
    this.#client =
      typeof options.redis === 'string'
        ? this.#open(options.redis)
        : Promise.resolve(this.#watch(options.redis));
  }

  async #open(url: string): Promise<Redis> {
    const { Redis } = await import('ioredis');
    // No offline queue: while Redis is away a request is decided at once (open or closed), not
    // held until the client reconnects.
    const settings: RedisOptions = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: this.#timeoutMs,
      retryStrategy: (times) => Math.min(times * 100, 2000),
    };
    return this.#watch(new Redis(url, settings));
  }

  #watch(redis: Redis): Redis {
    // An 'error' event with no listener would crash the process; the outage is counted instead.
    redis.on('error', () => {
      this.connectionErrors++;
    });
    return redis;
  }

  async consume(policy: PolicySpec, key: string): Promise<Decision> {
    const redis = await this.#client;
    // The first requests of a fresh client wait for its connection (once), not fail.
    if (redis.status === 'wait' || (redis.status === 'connecting' && !this.#loaded)) {
      await this.#ready(redis);
    }
    const args = [
      `${this.#prefix}${policy.id}:${key}`,
      policy.algorithm,
      policy.limit,
      policy.windowMs,
      policy.burst,
    ] as const;
    let reply: unknown;
    try {
      reply = await this.#bounded(redis.evalsha(SHA, 1, ...args));
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      reply = await this.#bounded(redis.eval(SCRIPT, 1, ...args));
    }
    this.#loaded = true;
    const [allowed, remaining, wait, reset] = reply as [number, number, number, number];
    return { allowed: allowed === 1, remaining, retryAfterMs: wait, resetMs: reset };
  }

  #ready(redis: Redis): Promise<void> {
    this.#connecting ??= new Promise<void>((resolve, reject) => {
      if (redis.status === 'wait') redis.connect().catch(reject);
      redis.once('ready', () => resolve());
    });
    this.#connecting.catch(() => {});
    return this.#bounded(this.#connecting);
  }

  #bounded<T>(promise: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisTimeout(this.#timeoutMs)), this.#timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    if (this.#owned) (await this.#client).disconnect();
  }
}

/**
 * Budgets in Redis: every node (and every worker) spends from one budget per key. One atomic
 * script per request; when Redis cannot answer, the limiter's `failure` setting decides.
 */
export function redisStore(options: RedisStoreOptions): RateLimitStore {
  return new RedisStore(options);
}
