/** `peregrine/cache`: the tiered read-through cache (in-process LRU + Redis). */
export {
  Cache,
  type CacheLoader,
  type CacheOptions,
  createCache,
  type GetOptions,
  type LoadContext,
  type Loader,
  type SetOptions,
} from './cache.ts';
export { jsonSerializer, type Serializer } from './entry.ts';
export { contentETag, type Freshness, notModified, versionETag } from './freshness.ts';
export type { CacheKey } from './keys.ts';
export type { RedisSource } from './redis-tier.ts';
