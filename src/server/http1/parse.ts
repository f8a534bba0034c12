import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request-head parser of the Peregrine HTTP/1.1 engine. It accepts a strict subset of
 * HTTP/1.1 — what API clients send — and says "not mine" (returns null) for everything else, so
 * the connection goes to node:http's own parser (llhttp), which accepts or rejects it exactly as a
 * plain node:http server would. Nothing here ever answers 400 itself: what is unusual, ambiguous
 * or malformed is handed off, never guessed at.
 *
 * Handed off: any version but HTTP/1.1, methods outside the common seven, targets that are not
 * origin-form printable ASCII, obs-fold, a header name that is not a token, control characters in
 * a value, a repeated header, Transfer-Encoding, Expect, Upgrade, Connection with other tokens
 * than close/keep-alive, a Content-Length that is not plain digits, a missing Host, `__proto__`.
 */
export interface ParsedHead {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Body length from Content-Length (0 when absent). */
  readonly length: number;
  /** The client asked to close the connection after this exchange. */
  readonly close: boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Origin-form target: "/" then visible ASCII only. */
const TARGET = /^\/[\x21-\x7e]*$/;
/** Control characters other than horizontal tab (CR and LF included: they only end lines). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: it looks for control characters.
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]/;
const DIGITS = /^\d{1,15}$/;

/** Lower-cased names of the headers clients send most, so most lines skip toLowerCase. */
const LOWER = new Map<string, string>();
for (const name of [
  'Host',
  'User-Agent',
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Connection',
  'Content-Type',
  'Content-Length',
  'Authorization',
  'Cookie',
  'Referer',
  'Origin',
  'Cache-Control',
  'If-None-Match',
  'If-Modified-Since',
  'X-Request-Id',
  'X-Forwarded-For',
  'X-Forwarded-Proto',
  'X-Forwarded-Host',
  'Traceparent',
  'Tracestate',
]) {
  LOWER.set(name, name.toLowerCase());
  LOWER.set(name.toLowerCase(), name.toLowerCase());
}

function isOws(code: number): boolean {
  return code === 32 || code === 9;
}

/**
 * Parses a request head (request line and header lines, without the final CRLF CRLF), given as a
 * latin1 string. Returns null when the head is not one this engine serves.
 */
export function parseHead(head: string): ParsedHead | null {
  let eol = head.indexOf('\r\n');
  if (eol === -1) eol = head.length;
  const sp1 = head.indexOf(' ');
  if (sp1 === -1 || sp1 > eol) return null;
  const method = head.slice(0, sp1);
  if (!METHODS.has(method)) return null;
  const sp2 = head.indexOf(' ', sp1 + 1);
  if (sp2 === -1 || sp2 > eol) return null;
  if (eol - sp2 !== 9 || !head.startsWith('HTTP/1.1', sp2 + 1)) return null;
  const url = head.slice(sp1 + 1, sp2);
  if (!TARGET.test(url)) return null;

  const headers: IncomingHttpHeaders = {};
  let length = 0;
  let close = false;
  let i = eol + 2;
  while (i < head.length) {
    let end = head.indexOf('\r\n', i);
    if (end === -1) end = head.length;
    const colon = head.indexOf(':', i);
    if (colon === -1 || colon >= end || colon === i) return null;
    const rawName = head.slice(i, colon);
    let name = LOWER.get(rawName);
    if (name === undefined) {
      if (!TOKEN.test(rawName)) return null;
      name = rawName.toLowerCase();
      if (name === '__proto__') return null;
    }
    let vs = colon + 1;
    let ve = end;
    while (vs < ve && isOws(head.charCodeAt(vs))) vs++;
    while (ve > vs && isOws(head.charCodeAt(ve - 1))) ve--;
    const value = head.slice(vs, ve);
    if (BAD_VALUE.test(value)) return null;
    if (headers[name] !== undefined) return null;
    switch (name) {
      case 'content-length':
        if (!DIGITS.test(value)) return null;
        length = Number(value);
        break;
      case 'transfer-encoding':
      case 'expect':
      case 'upgrade':
      case 'http2-settings':
        return null;
      case 'connection': {
        const v = value.toLowerCase();
        if (v === 'close') close = true;
        else if (v !== 'keep-alive') return null;
        break;
      }
    }
    headers[name] = value;
    i = end + 2;
  }
  if (headers.host === undefined) return null;
  return { method, url, headers, length, close };
}
