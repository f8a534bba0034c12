import type { IncomingHttpHeaders } from 'node:http';
import { METHODS as APP_METHODS } from '../../app/route.ts';

/**
 * The request-head scanner of the Peregrine HTTP/1.1 engine: incremental (each byte is looked at
 * once, whatever the reads the head arrives in), with a verdict as soon as one byte decides it:
 *
 * - the head is one the engine serves (a strict subset of HTTP/1.1: what API clients send);
 * - REFUSE: no continuation of the bytes seen can be a request node:http (llhttp) accepts — the
 *   engine answers 400 at once instead of waiting for the end of the head;
 * - HAND_OFF: anything else the engine does not serve, so node:http's own parser (llhttp)
 *   decides, exactly as a plain node:http server would.
 *
 * The refusals mirror llhttp 9 (node 22/24) in its default, strict mode: for each state below the
 * bytes llhttp rejects on the spot were read off llhttp byte by byte, and the differential fuzz
 * test (test/server/http-fuzz.test.ts) checks that the engine and node:http agree on where every
 * request ends and on what is refused. When in doubt a byte is handed off, never refused.
 *
 * Served: request line `METHOD /origin-form HTTP/1.1` (METHOD one of the App's methods, the target
 * printable ASCII); header names that are tokens, values without control characters (tab and
 * obs-text allowed), every header once, a Host; no body or a plain-digits Content-Length below
 * 10^15; Connection absent, `keep-alive` or `close`. Handed off: other llhttp methods, HTTP/1.0
 * and other versions, absolute-form and `*` targets, bare LF line ends, a space at the start of
 * the first header line, Transfer-Encoding, Expect, Upgrade, HTTP2-Settings, Proxy-Connection, any
 * other Connection value, a repeated header, a missing Host, a `__proto__` header, more than
 * MAX_HEADERS headers, a head over the size limit.
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

/** `scan` found no end of the head yet: every byte given is taken (and kept). */
export const NEED_MORE = -1;
/** `scan` met a byte no valid request can have there: answer 400 and close. */
export const REFUSE = -2;
/** `scan` met something the engine does not serve: give the connection to node:http. */
export const HAND_OFF = -3;

/** Most header lines the engine serves in one head (more goes to node:http). */
export const MAX_HEADERS = 100;

/**
 * Every method llhttp knows (HTTP, RTSP, ICE and the HTTP/2 preface), from its constants: a
 * request whose method is a prefix of none of them is refused at the first byte that leaves them.
 */
const LLHTTP_METHODS = [
  'DELETE',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'COPY',
  'LOCK',
  'MKCOL',
  'MOVE',
  'PROPFIND',
  'PROPPATCH',
  'SEARCH',
  'UNLOCK',
  'BIND',
  'REBIND',
  'UNBIND',
  'ACL',
  'REPORT',
  'MKACTIVITY',
  'CHECKOUT',
  'MERGE',
  'M-SEARCH',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PATCH',
  'PURGE',
  'MKCALENDAR',
  'LINK',
  'UNLINK',
  'SOURCE',
  'PRI',
  'DESCRIBE',
  'ANNOUNCE',
  'SETUP',
  'PLAY',
  'PAUSE',
  'TEARDOWN',
  'GET_PARAMETER',
  'SET_PARAMETER',
  'REDIRECT',
  'RECORD',
  'FLUSH',
  'QUERY',
];

// The method trie: one row per node, one column per byte a method may contain (A-Z, '-', '_').
const COLUMN = new Int8Array(256).fill(-1);
let columns = 0;
for (let c = 65; c <= 90; c++) COLUMN[c] = columns++;
COLUMN[45] = columns++;
COLUMN[95] = columns++;
const COLUMNS = columns;
const trieRows: number[] = new Array(COLUMNS).fill(0);
/** Per trie node: the method that ends there (a name the engine serves, '' for another, or undefined). */
const methodAt: (string | undefined)[] = [undefined];
const served = new Set<string>(APP_METHODS);
for (const name of LLHTTP_METHODS) {
  let node = 0;
  for (let i = 0; i < name.length; i++) {
    const col = COLUMN[name.charCodeAt(i)]!;
    let next = trieRows[node * COLUMNS + col]!;
    if (next === 0) {
      next = methodAt.length;
      methodAt.push(undefined);
      for (let j = 0; j < COLUMNS; j++) trieRows.push(0);
      trieRows[node * COLUMNS + col] = next;
    }
    node = next;
  }
  methodAt[node] = served.has(name) ? name : '';
}
const TRIE = Int32Array.from(trieRows);

function table(test: (c: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let c = 0; c < 256; c++) t[c] = test(c) ? 1 : 0;
  return t;
}
const SP = 0x20;
const HT = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;
/** RFC 9110 token characters. */
const TOKEN = table((c) => c < 128 && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(c)));
/** Field-value characters: visible ASCII, space, tab and obs-text. */
const VALUE = table((c) => c === HT || (c >= 0x20 && c !== 0x7f));
/** Request-target characters the engine serves: visible ASCII. */
const TARGET = table((c) => c > 0x20 && c < 0x7f);
/** Bytes llhttp rejects on the spot inside a request target. */
const TARGET_REFUSED = table(
  (c) => c <= 0x08 || c === 0x0b || (c >= 0x0e && c <= 0x1f) || c >= 0x7f,
);
/** First target bytes llhttp may accept (or rejects only later): absolute-form, `*`, whitespace. */
const TARGET_START_OTHER = table(
  (c) =>
    c === HT ||
    c === LF ||
    c === 0x0c ||
    c === CR ||
    c === SP ||
    c === 0x2a ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122),
);
/** `HTTP/1.1` and the line end: what follows the target. */
const VERSION = Buffer.from(' HTTP/1.1\r\n', 'latin1').subarray(1);

/** Scanner states. */
const S_START = 0;
const S_METHOD = 1;
const S_TARGET_START = 2;
const S_TARGET = 3;
const S_VERSION = 4;
const S_LINE = 5;
const S_NAME = 6;
const S_VALUE_OWS = 7;
const S_VALUE = 8;
const S_VALUE_LF = 9;
const S_LENGTH_OWS = 10;
const S_LENGTH = 11;
const S_LENGTH_WS = 12;
const S_END_LF = 13;

/** Content-Length values are exact as two base-10^10 halves; llhttp refuses above 2^64 - 1. */
const HALF = 1e10;
const MAX_HIGH = 1844674407;
const MAX_LOW = 3709551615;
/** Longest Content-Length the engine serves itself (significant digits); longer goes to node. */
const MAX_LENGTH_DIGITS = 15;

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

/** What the header being scanned is, as far as framing goes. */
const H_OTHER = 0;
const H_LENGTH = 1;
const H_HAND_OFF = 2;

/**
 * One connection's head scanner. `scan` takes the bytes of each read in turn; the state between
 * reads is a handful of numbers and, only when a head spans reads, a copy of its bytes so far
 * (grown by doubling, at most the head size limit).
 */
export class HeadScanner {
  readonly #limit: number;
  #state = S_START;
  /** Trie node of the method so far. */
  #node = 0;
  #method = '';
  /** Bytes of `HTTP/1.1\r\n` matched. */
  #version = 0;
  /** Offsets in the head: target start and end, then per header name start, colon, value start, value end. */
  readonly #marks: number[] = [];
  #marked = 0;
  #headers = 0;
  #hasLength = false;
  #lengthHigh = 0;
  #lengthLow = 0;
  #lengthDigits = 0;
  /** Empty lines skipped before this head (counted against the limit). */
  #skipped = 0;
  /** The head's bytes from earlier reads (only when it spans reads). */
  #saved: Buffer | null = null;
  #savedLength = 0;
  /** Where the head's bytes start in the chunk last scanned. */
  from = 0;
  /** Bytes looked at, copied or decoded since the scanner was made (a measure of its work). */
  work = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Whether part of a head (not just empty lines) has been seen. */
  get started(): boolean {
    return this.#state !== S_START;
  }

  /** Bytes of the head so far (from earlier reads, and empty lines skipped). */
  get pending(): number {
    return this.#savedLength + this.#skipped;
  }

  /**
   * Scans `chunk` from `at`. Returns the offset just past the head's final CRLF when the head is
   * complete (then `head()` gives it), or NEED_MORE, REFUSE or HAND_OFF.
   */
  scan(chunk: Buffer, at: number): number {
    const n = chunk.length;
    let i = at;
    this.from = at;
    let state = this.#state;
    // A head position is `i + off` (positions count from the head's first byte).
    let off = this.#savedLength - at;
    const marks = this.#marks;
    let c = 0;
    let verdict = NEED_MORE;
    scan: for (;;) {
      if (state === S_START) {
        // Empty lines before a request line are skipped (RFC 9112 §2.2), as llhttp does.
        while (i < n) {
          c = chunk[i]!;
          if (c !== CR && c !== LF) break;
          i++;
        }
        this.#skipped += i - at;
        this.from = at = i;
        off = -at;
        if (i === n) break;
        state = S_METHOD;
        this.#node = 0;
      }
      if (state === S_METHOD) {
        let node = this.#node;
        while (i < n) {
          c = chunk[i]!;
          const col = COLUMN[c]!;
          if (col < 0) break;
          node = TRIE[node * COLUMNS + col]!;
          if (node === 0) {
            verdict = REFUSE;
            break scan;
          }
          i++;
        }
        this.#node = node;
        if (i === n) break;
        const method = methodAt[node];
        if (c !== SP || method === undefined) {
          verdict = REFUSE;
          break;
        }
        if (method === '') {
          verdict = HAND_OFF;
          break;
        }
        this.#method = method;
        i++;
        state = S_TARGET_START;
      }
      if (state === S_TARGET_START) {
        if (i === n) break;
        c = chunk[i]!;
        if (c !== 0x2f) {
          verdict = TARGET_START_OTHER[c] === 1 ? HAND_OFF : REFUSE;
          break;
        }
        marks[0] = i + off;
        i++;
        state = S_TARGET;
      }
      if (state === S_TARGET) {
        while (i < n && TARGET[chunk[i]!] === 1) i++;
        if (i === n) break;
        c = chunk[i]!;
        if (c !== SP) {
          verdict = TARGET_REFUSED[c] === 1 ? REFUSE : HAND_OFF;
          break;
        }
        marks[1] = i + off;
        this.#marked = 2;
        i++;
        state = S_VERSION;
        this.#version = 0;
      }
      if (state === S_VERSION) {
        let v = this.#version;
        while (i < n && v < 10 && chunk[i] === VERSION[v]) {
          i++;
          v++;
        }
        this.#version = v;
        if (v < 10) {
          if (i === n) break;
          verdict = versionVerdict(v, chunk[i]!);
          break;
        }
        state = S_LINE;
      }
      if (state === S_LINE) {
        for (;;) {
          if (i === n) break scan;
          c = chunk[i]!;
          if (TOKEN[c] === 1) break;
          if (c === CR) {
            i++;
            state = S_END_LF;
            continue scan;
          }
          // A bare LF, or a space opening the first header line: llhttp decides (rejects later).
          verdict = c === LF || (c === SP && this.#headers === 0) ? HAND_OFF : REFUSE;
          break scan;
        }
        if (this.#headers === MAX_HEADERS) {
          verdict = HAND_OFF;
          break;
        }
        marks[this.#marked] = i + off;
        i++;
        state = S_NAME;
      }
      if (state === S_NAME) {
        while (i < n && TOKEN[chunk[i]!] === 1) i++;
        if (i === n) break;
        if (chunk[i] !== COLON) {
          verdict = REFUSE;
          break;
        }
        const start = marks[this.#marked]!;
        marks[this.#marked + 1] = i + off;
        const kind = this.#kindOf(chunk, off, start, i + off - start);
        if (kind === H_HAND_OFF) {
          verdict = HAND_OFF;
          break;
        }
        i++;
        if (kind === H_LENGTH) {
          // llhttp refuses a second Content-Length whatever its value.
          if (this.#hasLength) {
            verdict = REFUSE;
            break;
          }
          this.#hasLength = true;
          state = S_LENGTH_OWS;
          continue;
        }
        state = S_VALUE_OWS;
      }
      if (state === S_VALUE_OWS) {
        while (i < n) {
          c = chunk[i]!;
          if (c !== SP && c !== HT) break;
          i++;
        }
        if (i === n) break;
        marks[this.#marked + 2] = i + off;
        if (c === CR) {
          marks[this.#marked + 3] = i + off;
          i++;
          state = S_VALUE_LF;
          continue;
        }
        if (VALUE[c] === 0) {
          verdict = c === LF ? HAND_OFF : REFUSE;
          break;
        }
        i++;
        state = S_VALUE;
      }
      if (state === S_VALUE) {
        while (i < n && VALUE[chunk[i]!] === 1) i++;
        if (i === n) break;
        if (chunk[i] !== CR) {
          verdict = REFUSE;
          break;
        }
        marks[this.#marked + 3] = i + off;
        i++;
        state = S_VALUE_LF;
      }
      if (state === S_VALUE_LF) {
        if (i === n) break;
        if (chunk[i] !== LF) {
          verdict = REFUSE;
          break;
        }
        i++;
        this.#marked += 4;
        this.#headers++;
        state = S_LINE;
        continue;
      }
      if (state === S_LENGTH_OWS) {
        while (i < n) {
          c = chunk[i]!;
          if (c !== SP && c !== HT) break;
          i++;
        }
        if (i === n) break;
        if (c < 0x30 || c > 0x39) {
          verdict = c === LF ? HAND_OFF : REFUSE;
          break;
        }
        marks[this.#marked + 2] = i + off;
        state = S_LENGTH;
      }
      if (state === S_LENGTH) {
        let high = this.#lengthHigh;
        let low = this.#lengthLow;
        let digits = this.#lengthDigits;
        while (i < n) {
          c = chunk[i]!;
          if (c < 0x30 || c > 0x39) break;
          low = low * 10 + (c - 0x30);
          const carry = Math.floor(low / HALF);
          low -= carry * HALF;
          high = high * 10 + carry;
          if (high > MAX_HIGH || (high === MAX_HIGH && low > MAX_LOW)) {
            verdict = REFUSE;
            break scan;
          }
          if (high > 0 || low > 0) digits++;
          i++;
        }
        this.#lengthHigh = high;
        this.#lengthLow = low;
        this.#lengthDigits = digits;
        if (i === n) break;
        marks[this.#marked + 3] = i + off;
        if (c === CR) {
          i++;
          state = S_VALUE_LF;
          continue;
        }
        if (c !== SP && c !== HT) {
          verdict = REFUSE;
          break;
        }
        state = S_LENGTH_WS;
      }
      if (state === S_LENGTH_WS) {
        while (i < n) {
          c = chunk[i]!;
          if (c !== SP && c !== HT) break;
          i++;
        }
        if (i === n) break;
        if (c !== CR) {
          verdict = REFUSE;
          break;
        }
        i++;
        state = S_VALUE_LF;
        continue;
      }
      if (state === S_END_LF) {
        if (i === n) break;
        if (chunk[i] !== LF) {
          verdict = REFUSE;
          break;
        }
        i++;
        this.#state = state;
        this.work += i - this.from;
        return this.#complete(i);
      }
    }
    this.#state = state;
    this.work += i - this.from;
    if (verdict !== NEED_MORE) return verdict;
    // The read ended inside the head: keep its bytes for the next read, within the limit.
    if (state === S_START) return this.#skipped > this.#limit ? HAND_OFF : NEED_MORE;
    const total = this.#savedLength + (n - this.from) + this.#skipped;
    if (total > this.#limit) return HAND_OFF;
    this.#save(chunk, this.from, n);
    return NEED_MORE;
  }

  /** The bytes of the head so far from a previous read and `chunk` from `from` on (for a hand-off). */
  handOffBytes(chunk: Buffer | null, from: number): Buffer | null {
    const saved = this.#saved;
    const length = this.#savedLength;
    this.#saved = null;
    this.#savedLength = 0;
    if (saved === null || length === 0) {
      return chunk === null || from >= chunk.length ? null : chunk.subarray(from);
    }
    if (chunk === null || from >= chunk.length) return saved.subarray(0, length);
    return Buffer.concat([saved.subarray(0, length), chunk.subarray(from)]);
  }

  #save(chunk: Buffer, from: number, to: number): void {
    const need = this.#savedLength + (to - from);
    let saved = this.#saved;
    if (saved === null || saved.length < need) {
      // Doubling keeps the copying linear in the head's size however it is split.
      const grown = Buffer.allocUnsafe(Math.min(Math.max(need * 2, 256), this.#limit + 1));
      if (saved !== null) {
        saved.copy(grown, 0, 0, this.#savedLength);
        this.work += this.#savedLength;
      }
      this.#saved = saved = grown;
    }
    chunk.copy(saved, this.#savedLength, from, to);
    this.work += to - from;
    this.#savedLength = need;
  }

  /**
   * The head ended at `end` in `chunk`: checks the size, then the rest of what the engine
   * serves. Returns `end`, or HAND_OFF (the bytes stay for handOffBytes).
   */
  #complete(end: number): number {
    const total = this.#savedLength + (end - this.from) + this.#skipped;
    if (total > this.#limit) return HAND_OFF;
    return end;
  }

  /**
   * The head just scanned (after `scan` returned an offset), or null when it is one the engine
   * does not serve after all (a repeated header, no Host, another Connection value); then the
   * caller hands off with handOffBytes. Resets the scanner for the next head either way.
   */
  head(chunk: Buffer, end: number): ParsedHead | null {
    let text: string;
    if (this.#savedLength === 0) {
      text = (chunk as unknown as Latin1Slicer).latin1Slice(this.from, end);
    } else {
      // Once per head that spanned reads: its last part joins the saved bytes.
      this.#save(chunk, this.from, end);
      text = (this.#saved as unknown as Latin1Slicer).latin1Slice(0, this.#savedLength);
      this.from = end;
    }
    this.work += text.length;
    const parsed = this.#build(text);
    if (parsed !== null) this.reset();
    return parsed;
  }

  /** Forgets the head in progress. */
  reset(): void {
    this.#state = S_START;
    this.#marked = 0;
    this.#headers = 0;
    this.#hasLength = false;
    this.#lengthHigh = 0;
    this.#lengthLow = 0;
    this.#lengthDigits = 0;
    this.#skipped = 0;
    this.#saved = null;
    this.#savedLength = 0;
  }

  #build(text: string): ParsedHead | null {
    const marks = this.#marks;
    const url = text.slice(marks[0], marks[1]);
    const headers: IncomingHttpHeaders = {};
    let close = false;
    for (let m = 2; m < this.#marked; m += 4) {
      const rawName = text.slice(marks[m], marks[m + 1]);
      let name = LOWER.get(rawName);
      if (name === undefined) {
        name = rawName.toLowerCase();
        if (name === '__proto__') return null;
      }
      if (headers[name] !== undefined) return null;
      const start = marks[m + 2]!;
      let end = marks[m + 3]!;
      while (end > start && isOws(text.charCodeAt(end - 1))) end--;
      const value = text.slice(start, end);
      if (name === 'connection') {
        const v = value.toLowerCase();
        if (v === 'close') close = true;
        else if (v !== 'keep-alive') return null;
      }
      headers[name] = value;
    }
    if (headers.host === undefined) return null;
    let length = 0;
    if (this.#hasLength) {
      if (this.#lengthDigits > MAX_LENGTH_DIGITS) return null;
      length = this.#lengthHigh * HALF + this.#lengthLow;
    }
    return { method: this.#method, url, headers, length, close };
  }

  /** Classifies a header name (`length` bytes at head offset `start`) by what it does to framing. */
  #kindOf(chunk: Buffer, off: number, start: number, length: number): number {
    switch (length) {
      case 14:
        if (this.#nameIs(chunk, off, start, 'content-length')) return H_LENGTH;
        return this.#nameIs(chunk, off, start, 'http2-settings') ? H_HAND_OFF : H_OTHER;
      case 17:
        return this.#nameIs(chunk, off, start, 'transfer-encoding') ? H_HAND_OFF : H_OTHER;
      case 16:
        return this.#nameIs(chunk, off, start, 'proxy-connection') ? H_HAND_OFF : H_OTHER;
      case 7:
        return this.#nameIs(chunk, off, start, 'upgrade') ? H_HAND_OFF : H_OTHER;
      case 6:
        return this.#nameIs(chunk, off, start, 'expect') ? H_HAND_OFF : H_OTHER;
      default:
        return H_OTHER;
    }
  }

  /** Whether the name at head offset `start` is `lower`, ignoring case (it may span reads). */
  #nameIs(chunk: Buffer, off: number, start: number, lower: string): boolean {
    const saved = this.#saved;
    const savedLength = this.#savedLength;
    for (let k = 0; k < lower.length; k++) {
      const p = start + k;
      const c = p < savedLength ? saved![p]! : chunk[p - off]!;
      if ((c | 0x20) !== lower.charCodeAt(k)) return false;
    }
    return true;
  }
}

/**
 * PERF: Buffer's own latin1 decoder, without toString's argument and encoding checks (node has
 * it on every Buffer; its typings do not declare it).
 */
interface Latin1Slicer {
  latin1Slice(start: number, end: number): string;
}

function isOws(code: number): boolean {
  return code === SP || code === HT;
}

/** What llhttp does with byte `c` where the `v`th byte of `HTTP/1.1\r\n` was expected. */
function versionVerdict(v: number, c: number): number {
  switch (v) {
    case 0:
      // More spaces, or another protocol (ICE/, RTSP/) for llhttp to judge.
      return c === SP || c === HT || c === 0x0c || c === 0x49 || c === 0x52 ? HAND_OFF : REFUSE;
    case 5:
      // HTTP/0.x and HTTP/2.x+ are llhttp's to accept or refuse.
      return c === 0x30 || (c >= 0x32 && c <= 0x39) ? HAND_OFF : REFUSE;
    case 7:
      return c >= 0x30 && c <= 0x39 ? HAND_OFF : REFUSE;
    case 8:
      return c === LF ? HAND_OFF : REFUSE;
    default:
      return REFUSE;
  }
}
