import { isUtf8 } from 'node:buffer';
import { HTTPBadRequest } from '../errors/classes.ts';
import type { MediaHandler } from './handler.ts';

/** Whether the text nests arrays/objects deeper than `max` (strings are skipped). */
export function exceedsDepth(text: string, max: number): boolean {
  // PERF: a document shorter than the limit cannot exceed it; most bodies skip the scan.
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      if (++depth > max) return true;
    } else if (c === 125 || c === 93) {
      depth--;
    }
  }
  return false;
}

/**
 * Finds a `__proto__` key or a `constructor` object holding `prototype` anywhere in a parsed
 * value. Such keys turn into prototype pollution as soon as the object is merged or spread.
 */
export function findForbiddenKey(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item);
      continue;
    }
    if (Object.hasOwn(v, '__proto__')) return '__proto__';
    const ctor = (v as { constructor?: unknown }).constructor;
    if (
      Object.hasOwn(v, 'constructor') &&
      typeof ctor === 'object' &&
      ctor !== null &&
      Object.hasOwn(ctor, 'prototype')
    ) {
      return 'constructor.prototype';
    }
    for (const key in v) {
      const child = (v as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) stack.push(child);
    }
  }
  return undefined;
}

/** Decodes a body as strict UTF-8 (a leading BOM is dropped), or fails with 400. */
export function decodeUtf8(body: Uint8Array): string {
  if (!isUtf8(body)) {
    throw new HTTPBadRequest({
      code: 'PRG_BODY_INVALID_UTF8',
      detail: 'The request body is not valid UTF-8.',
    });
  }
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses JSON safely: strict UTF-8, a depth limit, and no prototype-poisoning keys. */
export function parseJson(body: Uint8Array, maxDepth: number): unknown {
  const text = decodeUtf8(body);
  if (exceedsDepth(text, maxDepth)) {
    throw new HTTPBadRequest({
      code: 'PRG_JSON_TOO_DEEP',
      detail: `The JSON body nests deeper than ${maxDepth} levels.`,
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HTTPBadRequest({
      code: 'PRG_JSON_MALFORMED',
      detail: `The JSON body does not parse: ${err instanceof Error ? err.message : String(err)}`,
    });
  }
  // PERF: only walk the value when the text could spell a forbidden key (also via \u escapes).
  if (
    typeof value === 'object' &&
    value !== null &&
    (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u'))
  ) {
    const key = findForbiddenKey(value);
    if (key !== undefined) {
      throw new HTTPBadRequest({
        code: 'PRG_JSON_FORBIDDEN_KEY',
        detail: `The JSON body contains a forbidden "${key}" key.`,
      });
    }
  }
  return value;
}

/** The JSON media handler (also used for any `+json` type). */
export function jsonHandler(): MediaHandler {
  return {
    parse: (body, context) => parseJson(body, context.limits.jsonDepth),
    serialize: (value) => JSON.stringify(value),
  };
}
