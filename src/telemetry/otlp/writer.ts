import type { SpanContext } from '@opentelemetry/api';
import { LazySpanContext, writeHexId } from '../tracing/ids.ts';
import type { WireAttributeValue } from '../wire.ts';

/**
 * The protobuf writer behind Peregrine's OTLP encoding (records.ts writes spans with it, frame.ts
 * the `ExportTraceServiceRequest` of opentelemetry-proto `collector/trace/v1` around them), and
 * attribute encoding with its cache of repeated span attributes.
 *
 * PERF: each span is written once into a growing buffer, with no intermediate span object and no
 * measuring pass (`@opentelemetry/otlp-transformer` makes an SDK ReadableSpan of each span, then
 * measures it and writes it in two passes); a nested message reserves one byte for its length and
 * moves its body only when it is 128 bytes or more. `npm run bench:otlp` measures both on the
 * same spans; bench/results/history.md has the numbers.
 *
 * Fields at their proto3 default (0, empty) are left out, as the protobuf spec allows.
 */

/** Wire types. */
export const VARINT = 0;
export const I64 = 1;
export const LEN = 2;

const TWO_32 = 2 ** 32;

export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Raw bytes (an encoded field). */
  bytes(b: Uint8Array): void {
    // PERF: TypedArray#set (a memcpy) even for a 20-byte attribute: a JS loop of element
    // stores into the Buffer makes the whole span measurably slower.
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  byte(b: number): void {
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint below 2^53. */
  varint(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    while (v > 0x7fffffff) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v > 0x7f) {
      buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.pos++] = v;
  }

  /** A signed int64 as protobuf writes it: two's complement, 10 bytes when negative. */
  int64(v: number): void {
    if (v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      this.varint(v);
      return;
    }
    let u = BigInt.asUintN(64, BigInt(v));
    this.ensure(10);
    while (u > 0x7fn) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  tag(field: number, wire: number): void {
    this.ensure(2);
    const t = (field << 3) | wire;
    if (t < 0x80) this.buf[this.pos++] = t;
    else this.varint(t);
  }

  /** Starts a length-delimited field (a nested message); returns where its body starts. */
  begin(field: number): number {
    this.tag(field, LEN);
    return this.open();
  }

  /** Reserves one byte for a length; returns where the body starts. */
  open(): number {
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  /** Writes the length of the body that started at `start`, moving the body if it needs more. */
  close(start: number): void {
    const len = this.pos - start;
    if (len < 0x80) {
      this.buf[start - 1] = len;
      return;
    }
    let extra = 0;
    for (let v = len >>> 7; v > 0; v >>>= 7) extra++;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    let p = start - 1;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }

  /** A length-delimited UTF-8 string field. */
  string(field: number, s: string): void {
    this.tag(field, LEN);
    const n = s.length;
    this.ensure(n * 3 + 5);
    const buf = this.buf;
    if (n < 64) {
      // PERF: short ASCII (attribute keys, methods, routes) copied in JS; a native write per
      // string cost more than the copy. Anything else goes to Buffer#write from the start.
      const start = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[start + i] = c;
      }
      if (i === n) {
        buf[start - 1] = n;
        this.pos = start + n;
        return;
      }
    }
    const start = this.open();
    this.pos += buf.write(s, start, 'utf8');
    this.close(start);
  }

  /** A bytes field from hex (trace and span ids). */
  hex(field: number, h: string): void {
    this.tag(field, LEN);
    this.ensure((h.length >>> 1) + 1);
    const at = this.pos + 1;
    // What decodes (a malformed id writes fewer bytes; the length says how many).
    const n = writeHexId(h, this.buf, at);
    this.buf[at - 1] = n;
    this.pos = at + n;
  }

  /**
   * A bytes field with a context's trace id (`trace`) or span id. PERF: Peregrine's own
   * contexts write their random numbers as bytes; the ids are never formatted as hex.
   */
  id(field: number, ctx: SpanContext, trace: boolean): void {
    if (!(ctx instanceof LazySpanContext)) {
      this.hex(field, trace ? ctx.traceId : ctx.spanId);
      return;
    }
    this.tag(field, LEN);
    this.ensure(17);
    const at = this.pos + 1;
    const n = trace ? ctx.writeTraceId(this.buf, at) : ctx.writeSpanId(this.buf, at);
    this.buf[at - 1] = n;
    this.pos = at + n;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /**
   * Milliseconds since the epoch (with a fraction) as fixed64 nanoseconds, exactly: ms × 10^6
   * passes 2^53, so the product is built from parts that stay below it.
   */
  nanos(ms: number): void {
    const sec = Math.floor(ms / 1000);
    const sub = Math.round((ms - sec * 1000) * 1e6);
    this.ensure(8);
    if (sec < 0 || sec >= TWO_32) {
      this.#nanosWide(sec, sub);
      return;
    }
    // PERF: ToUint32 (>>> 0) is an exact modulo 2^32 of an integral double and compiles to a
    // truncation; `%` on doubles is a call to fmod. sec × 10^9 = secHi × 10^9 × 2^16 + secLo × 10^9.
    const a = (sec >>> 16) * 1e9; // < 2^46
    const aLo = (a >>> 0) & 0xffff;
    const low = (sec & 0xffff) * 1e9 + sub + aLo * 65536; // < 2^47
    const lowWord = low >>> 0;
    const highWord = (a - aLo) / 65536 + (low - lowWord) / TWO_32;
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = lowWord & 0xff;
    buf[p++] = (lowWord >>> 8) & 0xff;
    buf[p++] = (lowWord >>> 16) & 0xff;
    buf[p++] = lowWord >>> 24;
    buf[p++] = highWord & 0xff;
    buf[p++] = (highWord >>> 8) & 0xff;
    buf[p++] = (highWord >>> 16) & 0xff;
    buf[p++] = highWord >>> 24;
    this.pos = p;
  }

  /** `nanos` for seconds outside [0, 2^32): parts that stay below 2^53. */
  #nanosWide(sec: number, sub: number): void {
    // sec × 10^9 = (secHi × 2^16 + secLo) × 10^9, with secHi × 10^9 = yHi × 2^16 + yLo.
    const secLo = sec % 65536;
    const y = Math.floor(sec / 65536) * 1e9;
    const yLo = y % 65536;
    const yHi = Math.floor(y / 65536);
    const low = yLo * 65536 + secLo * 1e9 + sub;
    this.buf.writeUInt32LE(low % TWO_32, this.pos);
    this.buf.writeUInt32LE(yHi + Math.floor(low / TWO_32), this.pos + 4);
    this.pos += 8;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

function anyValue(w: Writer, value: WireAttributeValue | undefined): void {
  if (typeof value === 'string') w.string(1, value);
  else if (typeof value === 'boolean') {
    w.tag(2, VARINT);
    w.byte(value ? 1 : 0);
  } else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
      w.tag(3, VARINT);
      w.int64(value);
    } else {
      w.tag(4, I64);
      w.double(value);
    }
  } else if (Array.isArray(value)) {
    const array = w.begin(5);
    for (const item of value) {
      const v = w.begin(1);
      anyValue(w, item);
      w.close(v);
    }
    w.close(array);
  }
}

export function attributes(
  w: Writer,
  field: number,
  attrs: Record<string, WireAttributeValue>,
): void {
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined) continue;
    keyValue(w, field, key, value);
  }
}

function keyValue(w: Writer, field: number, key: string, value: WireAttributeValue): void {
  const kv = w.begin(field);
  w.string(1, key);
  const v = w.begin(2);
  anyValue(w, value);
  w.close(v);
  w.close(kv);
}

/** Most keys, and values per key, whose encoded span attributes are remembered. */
const CACHED_KEYS = 256;
const CACHED_VALUES_PER_KEY = 64;
/** Longest string value remembered. */
const CACHED_VALUE_LENGTH = 64;
/** What is remembered of one attribute key: its last pair, and its pairs by value (bounded). */
interface KeyCache {
  lastValue: string | number | undefined;
  lastBytes: Uint8Array | undefined;
  /** `null` once the key has had too many values to remember (a path, an id). */
  byValue: Map<string | number, Uint8Array> | null;
}

/** Encoded span attributes (the whole KeyValue field) by key. */
const spanAttributeCache = new Map<string, KeyCache>();
/** The keys of the last span written, by position, and their caches. */
const lastKeys: string[] = [];
const lastCaches: KeyCache[] = [];

/**
 * Span attributes, each pair that was seen before copied as its encoded bytes.
 * PERF: most attributes of a server span repeat from span to span (method, scheme, route,
 * address, status, protocol version), and writing them is a large share of the encoder's time.
 * The last pair of each key is checked first, by value, without hashing the value.
 */
export function spanAttributes(w: Writer, attrs: Record<string, WireAttributeValue>): void {
  let i = -1;
  for (const key in attrs) {
    i++;
    const value = attrs[key];
    if (value === undefined) continue;
    if (
      typeof value === 'string' ? value.length > CACHED_VALUE_LENGTH : !Number.isSafeInteger(value)
    ) {
      keyValue(w, 9, key, value);
      continue;
    }
    const v = value as string | number;
    // PERF: spans of one kind list their keys in the same order: the key at this position last
    // time is compared first (one pointer compare for a constant key) before the Map.
    let cache = lastKeys[i] === key ? lastCaches[i] : spanAttributeCache.get(key);
    if (cache === undefined) {
      if (spanAttributeCache.size >= CACHED_KEYS) {
        keyValue(w, 9, key, v);
        continue;
      }
      cache = { lastValue: undefined, lastBytes: undefined, byValue: new Map() };
      spanAttributeCache.set(key, cache);
    }
    if (i < 64) {
      lastKeys[i] = key;
      lastCaches[i] = cache;
    }
    if (v === cache.lastValue) {
      w.bytes(cache.lastBytes!);
      continue;
    }
    const byValue = cache.byValue;
    if (byValue === null) {
      keyValue(w, 9, key, v);
      continue;
    }
    let bytes = byValue.get(v);
    if (bytes === undefined) {
      const at = w.pos;
      keyValue(w, 9, key, v);
      if (byValue.size >= CACHED_VALUES_PER_KEY) {
        cache.byValue = null;
        cache.lastValue = undefined;
        cache.lastBytes = undefined;
        continue;
      }
      bytes = new Uint8Array(w.buf.subarray(at, w.pos));
      byValue.set(v, bytes);
    } else w.bytes(bytes);
    cache.lastValue = v;
    cache.lastBytes = bytes;
  }
}
