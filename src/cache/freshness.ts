/**
 * The HTTP validator helpers `peregrine/cache` exported before they moved to the framework
 * (`peregrine`): they work on Request and Response, with or without a cache. Kept for one
 * release; each warns once when used.
 */
import {
  notModified as answeredNotModified,
  contentETag as etagOf,
  versionETag as etagOfVersion,
  type Freshness as Validators,
} from '../app/freshness.ts';
import type { Request } from '../app/request.ts';
import type { Response } from '../app/response.ts';

const warned = new Set<string>();

function deprecated(name: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  process.emitWarning(
    `${name} from 'peregrine/cache' moved to 'peregrine'; the old import goes in the next release`,
    { type: 'DeprecationWarning', code: 'PEREGRINE_DEP_CACHE_FRESHNESS' },
  );
}

/** @deprecated Import it from `peregrine`; this one goes in the next release. */
export type Freshness = Validators;

/** @deprecated Import it from `peregrine`; this one goes in the next release. */
export function contentETag(content: string | Uint8Array | object): string {
  deprecated('contentETag');
  return etagOf(content);
}

/** @deprecated Import it from `peregrine`; this one goes in the next release. */
export function versionETag(version: string | number | bigint | Date, weak = true): string {
  deprecated('versionETag');
  return etagOfVersion(version, weak);
}

/** @deprecated Import it from `peregrine`; this one goes in the next release. */
export function notModified(req: Request, resp: Response, freshness: Freshness): boolean {
  deprecated('notModified');
  return answeredNotModified(req, resp, freshness);
}
