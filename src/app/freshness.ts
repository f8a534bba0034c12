import { evaluatePreconditions } from './conditional.ts';
import type { Request } from './request.ts';
import type { CacheControl, Response } from './response.ts';

// PERF: node:crypto when the first ETag is computed, not when the framework is loaded.
let crypto: typeof import('node:crypto') | undefined;

/** A strong ETag from content: a hash of the bytes, or of the JSON of a value. */
export function contentETag(content: string | Uint8Array | object): string {
  const bytes =
    typeof content === 'string' || content instanceof Uint8Array
      ? content
      : JSON.stringify(content);
  crypto ??= process.getBuiltinModule('node:crypto');
  return `"${crypto.createHash('sha1').update(bytes).digest('base64url').slice(0, 27)}"`;
}

/**
 * An ETag from a version the application already has (a row's version column, an updated-at
 * timestamp): no hashing, so a 304 costs no serialisation. Weak by default, since the
 * representation may differ byte-wise (compression, key order) while the version is the same.
 */
export function versionETag(version: string | number | bigint | Date, weak = true): string {
  const v = version instanceof Date ? version.getTime().toString(36) : String(version);
  const tag = `"${v.replace(/[^\x21\x23-\x7e]/g, '_')}"`;
  return weak ? `W/${tag}` : tag;
}

/** The validators and caching policy of a representation. */
export interface Freshness {
  etag?: string;
  lastModified?: Date;
  cacheControl?: CacheControl | string;
}

/**
 * Sets the validators and Cache-Control on the response and tells whether the client's copy is
 * still current. When it returns true the responder can return at once: the response goes out as
 * `304 Not Modified` with no body, and the work of building the body is skipped.
 *
 *     if (notModified(req, resp, { etag: versionETag(row.version), cacheControl: { maxAge: 60 } })) return;
 */
export function notModified(req: Request, resp: Response, freshness: Freshness): boolean {
  if (freshness.etag !== undefined) resp.etag = freshness.etag;
  if (freshness.lastModified !== undefined) resp.lastModified = freshness.lastModified;
  if (freshness.cacheControl !== undefined) resp.cacheControl(freshness.cacheControl);
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const outcome = evaluatePreconditions(req.method, req.headers, {
    etag: resp.etag,
    lastModified: resp.lastModified,
  });
  if (outcome !== 'not-modified') return false;
  resp.status = 200; // send() turns a matching 200 into the 304
  return true;
}
