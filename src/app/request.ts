import type { IncomingHttpHeaders } from 'node:http';
import { hasBody, readBody } from './body.ts';
import {
  evaluatePreconditions,
  type PreconditionResult,
  preconditionFailed,
  type Validators,
} from './conditional.ts';
import { parseCookies } from './cookies.ts';
import type { DeadlineLink } from './deadlines.ts';
import { HTTPBadRequest, HTTPUnsupportedMediaType } from './errors/classes.ts';
import type { RouteLimits } from './limits.ts';
import type { MediaRegistry } from './media/registry.ts';
import { negotiate } from './negotiation.ts';
import { type ClientOrigin, resolveClient, type TrustedProxies } from './proxies.ts';
import { Query } from './query.ts';
import type { Params } from './routing/router.ts';
import type { RawRequest, RawResponse } from './transport.ts';

// PERF: node:crypto is loaded with the first request that needs an id, not with the framework:
// a worker is ready sooner. Through process.getBuiltinModule: an ESM import of node:crypto
// builds the module's facade, which also loads WebCrypto.
let crypto: typeof import('node:crypto') | undefined;
function newRequestId(): string {
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto.randomUUID();
}

/**
 * The per-request context object. Extend it with declaration merging:
 * `declare module 'peregrine' { interface RequestContext { user?: User } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: an extension point for declaration merging.
export interface RequestContext {}

/** Input that passed the route's schemas. */
export interface ValidInput {
  params?: unknown;
  query?: unknown;
  headers?: unknown;
  body?: unknown;
}

/** What a Request needs from its App. */
export interface RequestEnv {
  readonly media: MediaRegistry;
  readonly proxies: TrustedProxies;
  readonly limits: RouteLimits;
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:+/=@-]{1,128}$/;
const EMPTY_PARAMS: Params = Object.freeze({}) as Params;

/** The incoming request as a responder sees it. Everything costly is computed on first use. */
export class Request {
  /** The underlying request (node:http IncomingMessage, or the simulated one). */
  readonly raw: RawRequest;
  /** The method, upper case. */
  readonly method: string;
  /** The request target as received (path and query). */
  readonly url: string;
  /** The path, without query string, percent-encoded as received; middleware may rewrite it. */
  path: string;
  /** The matched URI template, once routed. */
  route: string | undefined = undefined;
  /** The converted path fields, once routed. */
  params: Params = EMPTY_PARAMS;
  /** Input validated by the route's schemas (typed by `responder()`). */
  valid: ValidInput = {};
  /** Limits in force for this request (the route's, once routed). */
  limits: RouteLimits;
  /** Absolute deadline (ms since epoch), if the server set one. */
  deadline: number | undefined = undefined;
  /** @internal The request's place in the App's in-flight list while under a deadline. */
  deadlineLink: DeadlineLink | undefined = undefined;
  /** @internal Per-request state of the App's instrumentation (start time, server span). */
  probe: unknown = undefined;
  readonly #env: RequestEnv;
  readonly #out: RawResponse;
  readonly #queryStart: number;
  #query: Query | undefined = undefined;
  #cookies: Map<string, string> | undefined = undefined;
  #id: string | undefined = undefined;
  #context: RequestContext | undefined = undefined;
  #controller: AbortController | undefined = undefined;
  #origin: ClientOrigin | undefined = undefined;
  #body: Promise<Buffer> | undefined = undefined;
  #media: Promise<unknown> | undefined = undefined;

  constructor(raw: RawRequest, out: RawResponse, env: RequestEnv) {
    this.raw = raw;
    this.#out = out;
    this.#env = env;
    this.limits = env.limits;
    this.method = raw.method ?? 'GET';
    const url = raw.url ?? '/';
    this.url = url;
    const q = url.indexOf('?');
    this.#queryStart = q;
    this.path = q === -1 ? url : url.slice(0, q);
  }

  /** The request headers (lower-case names). */
  get headers(): IncomingHttpHeaders {
    return this.raw.headers;
  }

  /** One header as a string (repeated values joined with ", "). */
  getHeader(name: string): string | undefined {
    const v = this.raw.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(', ') : v;
  }

  /** The query string parameters, with typed getters. */
  get query(): Query {
    this.#query ??= new Query(this.#queryStart === -1 ? '' : this.url.slice(this.#queryStart + 1));
    return this.#query;
  }

  /** The cookies sent by the client. */
  get cookies(): ReadonlyMap<string, string> {
    this.#cookies ??= parseCookies(this.raw.headers.cookie);
    return this.#cookies;
  }

  /** The request id: a sane incoming `X-Request-Id`, else a new UUID. */
  get id(): string {
    if (this.#id === undefined) {
      const incoming = this.raw.headers['x-request-id'];
      this.#id =
        typeof incoming === 'string' && REQUEST_ID_RE.test(incoming) ? incoming : newRequestId();
    }
    return this.#id;
  }

  /** A per-request object for middleware and hooks to share state. */
  get context(): RequestContext {
    this.#context ??= {};
    return this.#context;
  }

  /**
   * Fires when the client goes away before the response is sent, or when the deadline passes
   * (reason: a TimeoutError DOMException). Created on first use.
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      const out = this.#out;
      out.once('close', () => {
        if (!out.writableFinished && !controller.signal.aborted) {
          controller.abort(new DOMException('The client went away.', 'AbortError'));
        }
      });
      // The App enforces the deadline (it answers 503 first, then calls expire()).
      if (this.deadline !== undefined && this.deadline <= Date.now()) this.expire();
    }
    return this.#controller.signal;
  }

  /** @internal Aborts the signal because the deadline passed. */
  expire(): void {
    const controller = this.#controller;
    if (controller !== undefined && !controller.signal.aborted) {
      controller.abort(new DOMException('The request deadline passed.', 'TimeoutError'));
    }
  }

  /** Milliseconds left until the deadline (Infinity without one). */
  get remaining(): number {
    return this.deadline === undefined ? Number.POSITIVE_INFINITY : this.deadline - Date.now();
  }

  #originInfo(): ClientOrigin {
    this.#origin ??= resolveClient(
      this.raw.socket.remoteAddress ?? '',
      this.raw.headers,
      this.#env.proxies,
    );
    return this.#origin;
  }

  /** The address of the peer that opened the connection. */
  get remoteAddress(): string {
    return this.raw.socket.remoteAddress ?? '';
  }

  /** The client's address, honouring `Forwarded` / `X-Forwarded-For` from trusted proxies. */
  get clientAddress(): string {
    return this.#originInfo().address;
  }

  /** `https` or `http`, honouring forwarded protocol from trusted proxies. */
  get scheme(): string {
    return this.#originInfo().scheme ?? (this.raw.socket.encrypted ? 'https' : 'http');
  }

  /** The host the client asked for, honouring forwarded host from trusted proxies. */
  get host(): string {
    return this.#originInfo().host ?? this.raw.headers.host ?? 'localhost';
  }

  /** The Content-Type header, if any. */
  get contentType(): string | undefined {
    return this.raw.headers['content-type'];
  }

  /** The Content-Length as a number, if sent. */
  get contentLength(): number | undefined {
    const v = this.raw.headers['content-length'];
    return v === undefined ? undefined : Number(v);
  }

  /** Whether the request carries a body. */
  get hasBody(): boolean {
    return hasBody(this.raw);
  }

  /** The raw body bytes (read once, bounded by the route's body limit). */
  bytes(): Promise<Buffer> {
    this.#body ??= readBody(this.raw, this.limits.bodyLimit);
    return this.#body;
  }

  /** The body as UTF-8 text. */
  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /**
   * The body parsed by the media handler for its Content-Type (JSON, form, multipart, or one of
   * the App's). No body → 400 unless `defaultWhenEmpty` is given; unknown type → 415.
   */
  getMedia<T = unknown>(options?: { defaultWhenEmpty?: T }): Promise<T> {
    if (this.#media === undefined) {
      if (!this.hasBody) {
        if (options !== undefined && 'defaultWhenEmpty' in options) {
          return Promise.resolve(options.defaultWhenEmpty as T);
        }
        return Promise.reject(
          new HTTPBadRequest({ code: 'PRG_BODY_MISSING', detail: 'A request body is required.' }),
        );
      }
      this.#media = this.#parseMedia();
    }
    return this.#media as Promise<T>;
  }

  async #parseMedia(): Promise<unknown> {
    const contentType = this.raw.headers['content-type'] ?? '';
    const handler = contentType === '' ? undefined : this.#env.media.parserFor(contentType);
    if (handler?.parse === undefined) {
      throw new HTTPUnsupportedMediaType({
        code: 'PRG_MEDIA_TYPE_UNSUPPORTED',
        detail:
          contentType === ''
            ? 'The request body has no Content-Type.'
            : `No media handler parses "${contentType}".`,
      });
    }
    const body = await this.bytes();
    return handler.parse(body, { contentType, limits: this.limits });
  }

  /**
   * Checks If-Match / If-None-Match / If-(Un)Modified-Since against the current validators, for
   * a PUT, PATCH or DELETE to call before it changes anything: a false condition throws a 412
   * (`PRG_PRECONDITION_FAILED`), so the responder stops there. On GET and HEAD it returns
   * `'not-modified'` when the client's copy is current (answer with `resp.etag` set and no
   * work, or use `notModified()`). `req.preconditions()` is the form that does not throw.
   */
  checkPreconditions(validators: Validators): 'proceed' | 'not-modified' {
    const outcome = evaluatePreconditions(this.method, this.raw.headers, validators);
    if (outcome === 'failed') throw preconditionFailed();
    return outcome;
  }

  /**
   * The outcome of the conditional headers against the current validators, without acting on
   * it: `'proceed'`, `'not-modified'` (GET and HEAD only) or `'failed'`.
   */
  preconditions(validators: Validators): PreconditionResult {
    return evaluatePreconditions(this.method, this.raw.headers, validators);
  }

  /** Whether the client accepts a media type. */
  clientAccepts(mediaType: string): boolean {
    return negotiate(this.raw.headers.accept, [mediaType]) !== undefined;
  }

  /** The media type the client prefers among the given ones, if any is acceptable. */
  clientPrefers(mediaTypes: readonly string[]): string | undefined {
    return negotiate(this.raw.headers.accept, mediaTypes);
  }
}
