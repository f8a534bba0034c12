import { createHash } from 'node:crypto';
import { HTTPServiceUnavailable, HTTPTooManyRequests } from '../../app/errors/classes.ts';
import type { Middleware } from '../../app/middleware.ts';
import type { Request } from '../../app/request.ts';
import type { Response } from '../../app/response.ts';
import type { Algorithm, PolicySpec } from './algorithms.ts';
import { nodeStore } from './node-store.ts';
import { statsFor } from './stats.ts';
import type { Decision, RateLimitStore } from './store.ts';

/**
 * Whose budget a request spends: the client address (`ip`, behind the App's trusted proxies),
 * the authenticated subject (`subject`: `req.context.principal.subject`, as `peregrine/auth`
 * sets it), an API key header
 * (`{ header }`, hashed before it is used as a key), or a function (`undefined`: not limited).
 * `subject` and a header fall back to the client address when the request has none.
 */
export type RateLimitKey =
  | 'ip'
  | 'subject'
  | { header: string }
  | ((req: Request) => string | undefined);

/** Options of the rate limiter. */
export interface RateLimitOptions {
  /** Units (requests) per window. */
  limit: number;
  /** The window, seconds (default 1). */
  window?: number;
  /** `token-bucket` (default) or `sliding-window`. */
  algorithm?: Algorithm;
  /** Token bucket: requests that may come at once after a quiet spell (default `limit`). */
  burst?: number;
  /** Whose budget a request spends (default `ip`). */
  key?: RateLimitKey;
  /**
   * The policy's name: in the `RateLimit-Policy` header, the metric label and the store's keys
   * (default `default`; letters, digits, `_`, `-`, `.`). Give each limiter of an App its own.
   */
  name?: string;
  /**
   * URI templates the limit applies to (`['/orders/{id}']`); default every request. With
   * `perRoute` each template has its own budget, otherwise they share one.
   */
  routes?: readonly string[];
  /** With `routes`: one budget per route rather than one for all of them. */
  perRoute?: boolean;
  /** Requests that are not limited (health checks, internal callers). */
  skip?: (req: Request) => boolean;
  /** Where budgets are kept (default `nodeStore()`: one per node, shared by its workers). */
  store?: RateLimitStore;
  /**
   * When the store cannot decide (Redis down or slow): `open` lets the request through
   * (default), `closed` answers 503 `PRG_RATE_LIMIT_UNAVAILABLE`. Either way it is counted.
   */
  failure?: 'open' | 'closed';
  /** Send `RateLimit-Policy` and `RateLimit` on allowed responses too (default true). */
  headers?: boolean;
}

/** A rate limiter: the middleware, plus `close()` for the store's connections and timers. */
export interface RateLimiter extends Middleware {
  /** The policy as the stores see it. */
  readonly policy: PolicySpec;
  /** Releases the store (an App registers it with `onShutdown`). */
  close(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function positive(value: number, what: string, integer: boolean): number {
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new TypeError(`rateLimit: ${what} must be a positive ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

function hashed(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 22);
}

function keyOf(spec: RateLimitKey): (req: Request) => string | undefined {
  if (spec === 'ip') return (req) => `ip:${req.clientAddress}`;
  if (spec === 'subject') {
    return (req) => {
      const subject = (req.context as { principal?: { subject?: unknown } }).principal?.subject;
      return typeof subject === 'string' && subject !== ''
        ? `sub:${subject}`
        : `ip:${req.clientAddress}`;
    };
  }
  if (typeof spec === 'function') {
    return (req) => {
      const k = spec(req);
      return k === undefined ? undefined : `fn:${k}`;
    };
  }
  const header = spec.header.toLowerCase();
  // A secret must not sit in Redis or in memory dumps as it is: its hash is the key.
  return (req) => {
    const value = req.headers[header];
    return typeof value === 'string' && value !== ''
      ? `key:${hashed(value)}`
      : `ip:${req.clientAddress}`;
  };
}

/**
 * Rate limiting per key, app-wide or per route, with a token bucket or a sliding window. By
 * default the budget holds for the whole node (the workers of `peregrine serve` share it through
 * the master); with `redisStore()` for the whole fleet. A refused request gets 429 problem+json
 * `PRG_RATE_LIMITED` with `Retry-After`, `RateLimit-Policy` and `RateLimit` (IETF
 * draft-ietf-httpapi-ratelimit-headers). Counts land in `peregrine_rate_limit_requests_total`.
 */
export function rateLimit(options: RateLimitOptions): RateLimiter {
  const limit = positive(options.limit, 'limit', true);
  const windowS = positive(options.window ?? 1, 'window', false);
  const burst = positive(options.burst ?? limit, 'burst', true);
  const algorithm = options.algorithm ?? 'token-bucket';
  if (algorithm !== 'token-bucket' && algorithm !== 'sliding-window') {
    throw new TypeError(`rateLimit: unknown algorithm "${String(algorithm)}"`);
  }
  const name = options.name ?? 'default';
  if (!NAME_RE.test(name)) throw new TypeError(`rateLimit: bad name "${name}"`);
  const windowMs = Math.round(windowS * 1000);
  const policy: PolicySpec = {
    id: `${name}:${algorithm}:${limit}:${windowMs}:${burst}`,
    algorithm,
    limit,
    windowMs,
    burst: algorithm === 'token-bucket' ? burst : limit,
  };
  const store = options.store ?? nodeStore();
  const failOpen = (options.failure ?? 'open') === 'open';
  const sendHeaders = options.headers ?? true;
  const skip = options.skip;
  const stats = statsFor(name);
  const keyFor = keyOf(options.key ?? 'ip');
  const routes = options.routes === undefined ? undefined : new Set(options.routes);
  const perRoute = options.perRoute ?? false;
  const policyHeader = `"${name}";q=${limit};w=${Math.max(1, Math.ceil(windowS))}`;

  const state = (d: Decision) =>
    `"${name}";r=${Math.max(0, Math.floor(d.remaining))};t=${Math.ceil(d.resetMs / 1000)}`;

  const apply = (d: Decision, resp: Response): void => {
    if (d.allowed) {
      stats.allowed++;
      if (sendHeaders) {
        resp.setHeader('ratelimit-policy', policyHeader);
        resp.setHeader('ratelimit', state(d));
      }
      return;
    }
    stats.rejected++;
    throw new HTTPTooManyRequests({
      code: 'PRG_RATE_LIMITED',
      detail: `Over the rate limit of ${limit} requests per ${windowS} s; retry later.`,
      retryAfter: Math.max(1, Math.ceil(d.retryAfterMs / 1000)),
      headers: { 'ratelimit-policy': policyHeader, ratelimit: state(d) },
    });
  };

  const failed = (err: unknown): void => {
    stats.storeErrors++;
    if (failOpen) {
      stats.failedOpen++;
      return;
    }
    throw new HTTPServiceUnavailable({
      code: 'PRG_RATE_LIMIT_UNAVAILABLE',
      detail: 'The rate limit cannot be checked right now; retry shortly.',
      retryAfter: 1,
      cause: err,
    });
  };

  const check = (req: Request, resp: Response): void | Promise<void> => {
    if (skip?.(req)) return;
    let key = keyFor(req);
    if (key === undefined) return;
    if (routes !== undefined) {
      if (req.route === undefined || !routes.has(req.route)) return;
      if (perRoute) key = `${req.route} ${key}`;
    }
    let decision: Decision | Promise<Decision>;
    try {
      decision = store.consume(policy, key);
    } catch (err) {
      failed(err);
      return;
    }
    // PERF: a store that decides at once (a lease in hand) adds no promise to the request.
    if (!(decision instanceof Promise)) return apply(decision, resp);
    return decision.then(
      (d) => apply(d, resp),
      (err: unknown) => failed(err),
    );
  };

  // Before routing unless the key or the routes need what routing and hooks found.
  const late = routes !== undefined || options.key === 'subject';
  return {
    policy,
    ...(late
      ? { processResource: (req: Request, resp: Response) => check(req, resp) }
      : { processRequest: check }),
    close: async () => {
      await store.close?.();
    },
  };
}
