import type { IncomingHttpHeaders } from 'node:http';
import { HTTPPreconditionFailed } from './errors/classes.ts';
import type { HTTPError } from './errors/http-error.ts';

/** The validators of the current representation. */
export interface Validators {
  etag?: string | undefined;
  lastModified?: Date | undefined;
}

/** The outcome of RFC 9110 §13.2.2 precondition evaluation. */
export type PreconditionResult = 'proceed' | 'not-modified' | 'failed';

function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** Whether an If-Match / If-None-Match list matches the tag (weak or strong comparison). */
function listMatches(header: string, etag: string | undefined, strong: boolean): boolean {
  if (header.trim() === '*') return etag !== undefined;
  if (etag === undefined) return false;
  if (strong && etag.startsWith('W/')) return false;
  const mine = opaque(etag);
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (strong && tag.startsWith('W/')) continue;
    if (opaque(tag) === mine) return true;
  }
  return false;
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** Seconds precision, as HTTP dates carry. */
function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}

/** Evaluates the conditional headers of a request against the current validators. */
export function evaluatePreconditions(
  method: string,
  headers: IncomingHttpHeaders,
  validators: Validators,
): PreconditionResult {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!listMatches(ifMatch, validators.etag, true)) return 'failed';
  } else if (validators.lastModified !== undefined) {
    const since = parseDate(headers['if-unmodified-since']);
    if (since !== undefined && seconds(validators.lastModified) > since) return 'failed';
  }
  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (listMatches(ifNoneMatch, validators.etag, false)) return safe ? 'not-modified' : 'failed';
  } else if (safe && validators.lastModified !== undefined) {
    const since = parseDate(headers['if-modified-since']);
    if (since !== undefined && seconds(validators.lastModified) <= since) return 'not-modified';
  }
  return 'proceed';
}

/** The 412 a false precondition is answered with (PRG_PRECONDITION_FAILED). */
export function preconditionFailed(): HTTPError {
  return new HTTPPreconditionFailed({
    code: 'PRG_PRECONDITION_FAILED',
    detail:
      'A condition of the request (If-Match, If-None-Match or If-Unmodified-Since) is false for the current resource.',
  });
}

/** Whether a request carries any conditional header. */
export function isConditional(headers: IncomingHttpHeaders): boolean {
  return (
    headers['if-none-match'] !== undefined ||
    headers['if-match'] !== undefined ||
    headers['if-modified-since'] !== undefined ||
    headers['if-unmodified-since'] !== undefined
  );
}
