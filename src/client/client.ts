import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { Breaker, type BreakerOptions } from '../data/breaker.ts';
import {
  type ClientStats,
  type HttpClientContext,
  httpClientChannel,
  register,
} from '../data/diagnostics.ts';
import { UpstreamError } from './errors.ts';
import { RetryBudget, type RetryBudgetOptions } from './retry-budget.ts';

/** Options of an outbound client for one origin. Times are in milliseconds. */
export interface ClientOptions {
  /** `http://host:port` of the downstream service. */
  origin: string;
  /** The downstream's service name (`service.peer.name`; default its host). */
  name?: string;
  /** Keep-alive connections to the origin (default 32). */
  connections?: number;
  /** How long an idle connection is kept (default 30 000). */
  keepAliveTimeout?: number;
  /** Default per-call timeout, always bounded by the request deadline (default 5000). */
  timeout?: number;
  /** Connect timeout (default 1000). */
  connectTimeout?: number;
  /** Most retries of one call (default 2). Only idempotent calls are retried. */
  retries?: number;
  /** The budget that keeps retries under ~10% of the traffic. */
  retryBudget?: RetryBudgetOptions;
  /** Statuses worth a retry (default 502, 503, 504). */
  retryOn?: readonly number[];
  /** The per-origin breaker (default: opens after 5 failures in a row, probes after 1 s). */
  breaker?: BreakerOptions;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
}

/** The request a call serves: a Peregrine `Request` fits (deadline and headers). */
export interface IncomingContext {
  readonly deadline: number | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** One call. */
export interface CallOptions {
  method?: string;
  /** Path (and query string) on the origin. */
  path: string;
  /** Query parameters appended to the path. */
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string>;
  /** A JSON body (sets Content-Type). */
  json?: unknown;
  /** A raw body. */
  body?: string | Uint8Array;
  /** The incoming request: its deadline bounds the call and its trace continues in it. */
  req?: IncomingContext;
  /** Timeout of each attempt (bounded by the deadline). */
  timeout?: number;
  /** Aborts the call. */
  signal?: AbortSignal;
  /** Whether the call may be retried; default true for GET, HEAD, OPTIONS, PUT and DELETE. */
  idempotent?: boolean;
}

/** A downstream's answer (any status: 4xx and 5xx are answers, not exceptions). */
export interface ClientResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body as UTF-8. */
  text(): string;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A child `traceparent` continuing the incoming request's trace, or a new trace. */
export function childTraceparent(incoming: string | string[] | undefined): string {
  const span = randomBytes(8).toString('hex');
  const m = typeof incoming === 'string' ? TRACEPARENT.exec(incoming.trim()) : null;
  if (m !== null && m[1] !== 'ff' && !/^0+$/.test(m[2]!)) return `00-${m[2]}-${span}-${m[4]}`;
  return `00-${randomBytes(16).toString('hex')}-${span}-00`;
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: string }).name;
  const code = (err as { code?: string }).code;
  return (
    name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
  );
}

/**
 * An outbound HTTP client for one downstream origin, on undici: a keep-alive pool, a timeout per
 * call bounded by the incoming request's deadline, retries only for idempotent calls and only
 * within a retry budget, a circuit breaker that fails calls fast while the origin is down, and
 * `traceparent` on every call.
 */
export class HttpClient {
  /** The origin called. */
  readonly origin: string;
  /** The downstream's service name. */
  readonly name: string;
  readonly #pool: Pool;
  readonly #url: URL;
  readonly #timeout: number;
  readonly #retries: number;
  readonly #retryOn: ReadonlySet<number>;
  readonly #budget: RetryBudget;
  readonly #breaker: Breaker;
  readonly #headers: Record<string, string>;
  readonly #unregister: () => void;
  #stats = { requests: 0, retries: 0, retriesDenied: 0, failures: 0, shortCircuited: 0 };

  constructor(options: ClientOptions) {
    this.#url = new URL(options.origin);
    this.origin = this.#url.origin;
    this.name = options.name ?? this.#url.hostname;
    this.#pool = new Pool(this.origin, {
      connections: options.connections ?? 32,
      keepAliveTimeout: options.keepAliveTimeout ?? 30_000,
      connect: { timeout: options.connectTimeout ?? 1000 },
    });
    this.#timeout = options.timeout ?? 5000;
    this.#retries = Math.max(0, options.retries ?? 2);
    this.#retryOn = new Set(options.retryOn ?? [502, 503, 504]);
    this.#budget = new RetryBudget(options.retryBudget);
    this.#breaker = new Breaker('http', this.origin, {
      failureThreshold: 5,
      cooldown: 1000,
      ...options.breaker,
    });
    this.#headers = { ...options.headers };
    this.#unregister = register('client', { name: this.origin, stats: () => this.stats() });
  }

  /** Counters of this origin (see diagnostics.ts). */
  stats(): ClientStats {
    return { peerService: this.name, ...this.#stats, breaker: this.#breaker.state };
  }

  /** GET a path. */
  get(path: string, options: Omit<CallOptions, 'path' | 'method'> = {}): Promise<ClientResponse> {
    return this.request({ ...options, path, method: 'GET' });
  }

  /** POST a JSON body. */
  post(
    path: string,
    json: unknown,
    options: Omit<CallOptions, 'path' | 'method' | 'json'> = {},
  ): Promise<ClientResponse> {
    return this.request({ ...options, path, method: 'POST', json });
  }

  /**
   * Calls the origin. Resolves with any HTTP answer; rejects with an `UpstreamError` when the
   * breaker is open (503), the call timed out (504) or the origin could not be reached (502).
   */
  async request(call: CallOptions): Promise<ClientResponse> {
    const method = (call.method ?? 'GET').toUpperCase();
    const idempotent = call.idempotent ?? IDEMPOTENT.has(method);
    let path = call.path.startsWith('/') ? call.path : `/${call.path}`;
    if (call.query !== undefined) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(call.query)) qs.append(k, String(v));
      path += (path.includes('?') ? '&' : '?') + qs.toString();
    }
    let body: string | Uint8Array | undefined = call.body;
    const headers: Record<string, string> = { ...this.#headers, ...call.headers };
    if (call.json !== undefined) {
      body = JSON.stringify(call.json);
      headers['content-type'] ??= 'application/json';
    }
    const deadline = call.req?.deadline;
    this.#stats.requests++;
    this.#budget.deposit();
    for (let attempt = 1; ; attempt++) {
      if (!this.#breaker.allow()) {
        this.#stats.shortCircuited++;
        throw new UpstreamError(
          'circuit-open',
          this.origin,
          `${this.name} is failing; calls are refused for now.`,
        );
      }
      let timeout = call.timeout ?? this.#timeout;
      if (deadline !== undefined) timeout = Math.min(timeout, deadline - Date.now());
      if (timeout <= 0) {
        this.#breaker.abandon();
        throw new UpstreamError('timeout', this.origin, `No time was left to call ${this.name}.`);
      }
      let outcome: { response?: ClientResponse; error?: unknown };
      try {
        outcome = {
          response: await this.#attempt(method, path, headers, body, timeout, call, attempt),
        };
      } catch (error) {
        outcome = { error };
      }
      const { response, error } = outcome;
      const failed = error !== undefined || response!.status >= 500;
      if (failed) {
        this.#breaker.failure();
        this.#stats.failures++;
      } else this.#breaker.success();
      const retryable =
        idempotent &&
        !call.signal?.aborted &&
        (error !== undefined ? !isTimeout(error) : this.#retryOn.has(response!.status));
      if (retryable && attempt <= this.#retries) {
        const pause = Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random() / 2);
        const room = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - Date.now();
        if (room > pause + 10) {
          if (this.#budget.withdraw()) {
            this.#stats.retries++;
            await sleep(pause);
            continue;
          }
          this.#stats.retriesDenied++;
        }
      }
      if (response !== undefined) return response;
      if (isTimeout(error)) {
        throw new UpstreamError(
          'timeout',
          this.origin,
          `${this.name} did not answer within ${Math.round(timeout)} ms.`,
          error,
        );
      }
      if ((error as { name?: string }).name === 'AbortError' && call.signal?.aborted) throw error;
      throw new UpstreamError(
        'unavailable',
        this.origin,
        `${this.name} could not be reached.`,
        error,
      );
    }
  }

  async #attempt(
    method: string,
    path: string,
    base: Record<string, string>,
    body: string | Uint8Array | undefined,
    timeout: number,
    call: CallOptions,
    attempt: number,
  ): Promise<ClientResponse> {
    const headers = { ...base };
    const ctx: HttpClientContext | undefined = httpClientChannel.hasSubscribers
      ? {
          method,
          url: this.origin + path.split('?')[0],
          serverAddress: this.#url.hostname,
          serverPort: Number(this.#url.port || (this.#url.protocol === 'https:' ? 443 : 80)),
          peerService: this.name,
          attempt,
          headers,
        }
      : undefined;
    const send = async (): Promise<ClientResponse> => {
      // Telemetry may have put the call in its trace at `start`; otherwise continue the caller's.
      headers.traceparent ??= childTraceparent(call.req?.headers.traceparent);
      const signals = [AbortSignal.timeout(timeout)];
      if (call.signal !== undefined) signals.push(call.signal);
      const res = await this.#pool.request({
        method: method as 'GET',
        path,
        headers,
        body,
        signal: signals.length === 1 ? signals[0] : AbortSignal.any(signals),
      });
      const buf = Buffer.from(await res.body.arrayBuffer());
      if (ctx !== undefined) ctx.statusCode = res.statusCode;
      return {
        status: res.statusCode,
        headers: res.headers,
        body: buf,
        text: () => buf.toString('utf8'),
        json: <T>() => JSON.parse(buf.toString('utf8')) as T,
      };
    };
    if (ctx === undefined) return send();
    return httpClientChannel.tracePromise(send, ctx);
  }

  /** Closes the connections (waits for calls in flight). */
  async close(): Promise<void> {
    this.#unregister();
    await this.#pool.close();
  }
}

/** Creates a client for one origin (see `HttpClient`). */
export function createClient(options: ClientOptions): HttpClient {
  return new HttpClient(options);
}
