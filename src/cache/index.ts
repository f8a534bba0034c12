/** `peregrine/cache`: the tiered read-through cache and the HTTP caching helpers. */

export { contentETag, type Freshness, notModified, versionETag } from '../app/freshness.ts';
export {
  Cache,
  type CacheOptions,
  createCache,
  type GetOptions,
  type LoadContext,
  type Loader,
  type SetOptions,
} from './cache.ts';
export { jsonSerializer, type Serializer } from './entry.ts';
export type { CacheKey } from './keys.ts';
export type { RedisSource } from './redis-tier.ts';
