import type { Readable } from 'node:stream';
import { type CookieOptions, serializeCookie } from './cookies.ts';

/** Header values as the response keeps them. */
export type HeaderValue = string | string[];

/** A task run after the response has been sent. */
export type AfterTask = () => unknown;

/** A streamed body: a Node Readable or any async iterable of chunks. */
export type BodyStream = Readable | AsyncIterable<string | Uint8Array>;

/** Cache-Control directives; `true` writes the bare directive. */
export interface CacheControl {
  public?: boolean;
  private?: boolean;
  noCache?: boolean;
  noStore?: boolean;
  mustRevalidate?: boolean;
  immutable?: boolean;
  maxAge?: number;
  sMaxAge?: number;
  staleWhileRevalidate?: number;
  staleIfError?: number;
}

// What a Response's body holds (`Response.bodyKind`), named like the pipeline's phases.
/** @internal No body. */
export const NO_BODY = 0;
/** @internal `media`: serialised by the negotiated media handler. */
export const MEDIA_BODY = 1;
/** @internal `text`. */
export const TEXT_BODY = 2;
/** @internal `data`. */
export const DATA_BODY = 3;
/** @internal `stream`. */
export const STREAM_BODY = 4;
/** @internal */
export type BodyKind =
  | typeof NO_BODY
  | typeof MEDIA_BODY
  | typeof TEXT_BODY
  | typeof DATA_BODY
  | typeof STREAM_BODY;

/**
 * The response a responder builds: status, headers, cookies and one body (media, text, bytes or
 * a stream). Nothing is written until the pipeline finishes, so middleware can still change it.
 */
export class Response {
  /** The status code (default 200). */
  status = 200;
  /** Set true in middleware or a hook to skip the rest of the pipeline and send as is. */
  complete = false;
  /** The Content-Type; if unset it follows from the body kind. */
  contentType: string | undefined = undefined;
  /** Entity tag (quoted); compared with If-None-Match / If-Match. */
  #etag: string | undefined = undefined;
  /** Last modification time; compared with If-Modified-Since / If-Unmodified-Since. */
  lastModified: Date | undefined = undefined;
  /** @internal */
  headers: Record<string, HeaderValue> | null = null;
  /** @internal What `body` holds: NO_BODY, MEDIA_BODY, TEXT_BODY, DATA_BODY or STREAM_BODY. */
  bodyKind: BodyKind = NO_BODY;
  /** @internal */
  body: unknown = undefined;
  /** @internal */
  tasks: AfterTask[] | null = null;

  /** The media value, serialised by the negotiated media handler (JSON by default). */
  get media(): unknown {
    return this.bodyKind === MEDIA_BODY ? this.body : undefined;
  }
  set media(value: unknown) {
    this.bodyKind = MEDIA_BODY;
    this.body = value;
  }

  /** A text body (UTF-8; `text/plain` unless a Content-Type is set). */
  get text(): string | undefined {
    return this.bodyKind === TEXT_BODY ? (this.body as string) : undefined;
  }
  set text(value: string | undefined) {
    this.bodyKind = value === undefined ? NO_BODY : TEXT_BODY;
    this.body = value;
  }

  /** A binary body (`application/octet-stream` unless a Content-Type is set). */
  get data(): Uint8Array | undefined {
    return this.bodyKind === DATA_BODY ? (this.body as Uint8Array) : undefined;
  }
  set data(value: Uint8Array | undefined) {
    this.bodyKind = value === undefined ? NO_BODY : DATA_BODY;
    this.body = value;
  }

  /** A streamed body, sent with chunked encoding and back-pressure. */
  get stream(): BodyStream | undefined {
    return this.bodyKind === STREAM_BODY ? (this.body as BodyStream) : undefined;
  }
  set stream(value: BodyStream | undefined) {
    this.bodyKind = value === undefined ? NO_BODY : STREAM_BODY;
    this.body = value;
  }

  /** Sets a header, replacing any previous value (names are case-insensitive). */
  setHeader(name: string, value: string | number | readonly string[]): this {
    const key = name.toLowerCase();
    if (key === 'content-type') {
      this.contentType = String(value);
      return this;
    }
    this.headers ??= {};
    this.headers[key] = Array.isArray(value) ? [...value] : String(value);
    return this;
  }

  /** Adds a value to a header, keeping earlier ones. */
  appendHeader(name: string, value: string): this {
    const key = name.toLowerCase();
    this.headers ??= {};
    const prev = this.headers[key];
    if (prev === undefined) this.headers[key] = key === 'set-cookie' ? [value] : value;
    else if (Array.isArray(prev)) prev.push(value);
    else this.headers[key] = key === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
    return this;
  }

  /** Removes a header. */
  deleteHeader(name: string): this {
    const key = name.toLowerCase();
    if (key === 'content-type') this.contentType = undefined;
    else if (this.headers !== null) delete this.headers[key];
    return this;
  }

  /** A header's current value. */
  getHeader(name: string): HeaderValue | undefined {
    const key = name.toLowerCase();
    if (key === 'content-type') return this.contentType;
    return this.headers?.[key];
  }

  /** Sets a cookie (Secure, HttpOnly and SameSite=Lax by default). */
  setCookie(name: string, value: string, options?: CookieOptions): this {
    return this.appendHeader('set-cookie', serializeCookie(name, value, options));
  }

  /** Tells the client to delete a cookie. */
  unsetCookie(name: string, options: Pick<CookieOptions, 'path' | 'domain'> = {}): this {
    return this.appendHeader(
      'set-cookie',
      serializeCookie(name, '', { ...options, maxAge: 0, expires: new Date(0) }),
    );
  }

  /** The entity tag; a bare value is quoted, `W/"…"` marks a weak one. */
  get etag(): string | undefined {
    return this.#etag;
  }
  set etag(value: string | undefined) {
    if (value === undefined) this.#etag = undefined;
    else if (value.startsWith('"') || value.startsWith('W/"')) this.#etag = value;
    else this.#etag = `"${value}"`;
  }

  /** Sets Cache-Control from directives or a raw string. */
  cacheControl(value: CacheControl | string): this {
    if (typeof value === 'string') return this.setHeader('cache-control', value);
    const parts: string[] = [];
    if (value.public) parts.push('public');
    if (value.private) parts.push('private');
    if (value.noCache) parts.push('no-cache');
    if (value.noStore) parts.push('no-store');
    if (value.mustRevalidate) parts.push('must-revalidate');
    if (value.immutable) parts.push('immutable');
    if (value.maxAge !== undefined) parts.push(`max-age=${Math.floor(value.maxAge)}`);
    if (value.sMaxAge !== undefined) parts.push(`s-maxage=${Math.floor(value.sMaxAge)}`);
    if (value.staleWhileRevalidate !== undefined) {
      parts.push(`stale-while-revalidate=${Math.floor(value.staleWhileRevalidate)}`);
    }
    if (value.staleIfError !== undefined) {
      parts.push(`stale-if-error=${Math.floor(value.staleIfError)}`);
    }
    return this.setHeader('cache-control', parts.join(', '));
  }

  /** The Location header. */
  get location(): string | undefined {
    const v = this.headers?.location;
    return typeof v === 'string' ? v : undefined;
  }
  set location(value: string | undefined) {
    if (value === undefined) this.deleteHeader('location');
    else this.setHeader('location', value);
  }

  /** Redirects: sets Location and the status (default 302 Found). */
  redirect(location: string, status: 301 | 302 | 303 | 307 | 308 = 302): this {
    this.status = status;
    this.location = location;
    return this;
  }

  /** Schedules a task to run after the response has been sent; its errors are logged. */
  schedule(task: AfterTask): this {
    this.tasks ??= [];
    this.tasks.push(task);
    return this;
  }
}
