/** Ready-made middleware: CORS, request ids, rate limiting and safe response headers. */
export { type CorsOptions, cors } from './cors.ts';
export type { Algorithm, PolicySpec } from './rate-limit/algorithms.ts';
export { type LocalStoreOptions, localStore } from './rate-limit/local-store.ts';
export { type NodeStoreOptions, nodeStore } from './rate-limit/node-store.ts';
export {
  type RateLimiter,
  type RateLimitKey,
  type RateLimitOptions,
  rateLimit,
} from './rate-limit/rate-limit.ts';
export { type RedisStoreOptions, redisStore } from './rate-limit/redis-store.ts';
export { type RateLimitStats, rateLimitSnapshot } from './rate-limit/stats.ts';
export type { Decision, RateLimitStore } from './rate-limit/store.ts';
export { type RequestIdOptions, requestId } from './request-id.ts';
export { type HstsOptions, type SafeHeadersOptions, safeHeaders } from './safe-headers.ts';
