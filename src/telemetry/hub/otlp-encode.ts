import type { WireAttributeValue, WireSpan } from '../metrics/wire.ts';

/**
 * OTLP/protobuf encoding of kept spans: an `ExportTraceServiceRequest` (opentelemetry-proto
 * `collector/trace/v1`) written straight from Peregrine's wire spans.
 *
 * PERF: `@opentelemetry/otlp-transformer` serializes the SDK's ReadableSpan: every wire span
 * first became one (closures, hrtime pairs, status and scope objects), then was measured in one
 * pass and written in a second. Here each span is written once into a growing buffer; a nested
 * message reserves one byte for its length and moves its body only when it is 128 bytes or
 * more. `npm run bench:otlp` measures both on the same spans.
 *
 * Fields at their proto3 default (0, empty) are left out, as the protobuf spec allows.
 */

/** Wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** Span.flags: bit 8 says bit 9 is meaningful; bit 9 says the parent was remote. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

const TWO_32 = 2 ** 32;

/** Hex digit values by char code (255: not a digit). */
const HEX = new Uint8Array(128).fill(255);
for (let d = 0; d < 16; d++) {
  HEX['0123456789abcdef'.charCodeAt(d)] = d;
  HEX['0123456789ABCDEF'.charCodeAt(d)] = d;
}

class Writer {
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
    const n = b.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    // PERF: a short copy in JS beats a native call.
    if (n < 48) for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
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
    const n = h.length >>> 1;
    this.ensure(n + 1);
    const buf = this.buf;
    const at = this.pos + 1;
    let i = 0;
    for (; i < n; i++) {
      const hi = HEX[h.charCodeAt(2 * i)] ?? 255;
      const lo = HEX[h.charCodeAt(2 * i + 1)] ?? 255;
      if ((hi | lo) > 15) break;
      buf[at + i] = (hi << 4) | lo;
    }
    // What decodes (a malformed id writes fewer bytes; the length says how many).
    buf[at - 1] = i;
    this.pos = at + i;
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
    // sec × 10^9 = (secHi × 2^16 + secLo) × 10^9, with secHi × 10^9 = yHi × 2^16 + yLo.
    const secLo = sec % 65536;
    const y = Math.floor(sec / 65536) * 1e9;
    const yLo = y % 65536;
    const yHi = Math.floor(y / 65536);
    const low = yLo * 65536 + secLo * 1e9 + sub;
    this.ensure(8);
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

function attributes(w: Writer, field: number, attrs: Record<string, WireAttributeValue>): void {
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
/**
 * Encoded span attributes (the whole KeyValue field) by key, then by value: `null` once a key
 * has had too many values to remember (a path, an id) — those are encoded every time.
 */
const spanAttributeCache = new Map<string, Map<string | number, Uint8Array> | null>();

/**
 * Span attributes, each pair that was seen before copied as its encoded bytes.
 * PERF: most attributes of a server span repeat from span to span (method, scheme, route,
 * address, status, protocol version); writing one was ~25% of the encoder's time.
 */
function spanAttributes(w: Writer, attrs: Record<string, WireAttributeValue>): void {
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined) continue;
    const cacheable =
      typeof value === 'string'
        ? value.length <= CACHED_VALUE_LENGTH
        : typeof value === 'number' && Number.isSafeInteger(value);
    if (!cacheable || (typeof value !== 'string' && typeof value !== 'number')) {
      keyValue(w, 9, key, value);
      continue;
    }
    let byValue = spanAttributeCache.get(key);
    if (byValue === undefined) {
      if (spanAttributeCache.size >= CACHED_KEYS) {
        keyValue(w, 9, key, value);
        continue;
      }
      byValue = new Map();
      spanAttributeCache.set(key, byValue);
    }
    if (byValue === null) {
      keyValue(w, 9, key, value);
      continue;
    }
    const bytes = byValue.get(value);
    if (bytes !== undefined) {
      w.bytes(bytes);
      continue;
    }
    const at = w.pos;
    keyValue(w, 9, key, value);
    if (byValue.size >= CACHED_VALUES_PER_KEY) spanAttributeCache.set(key, null);
    else byValue.set(value, new Uint8Array(w.buf.subarray(at, w.pos)));
  }
}

function span(w: Writer, s: WireSpan): void {
  w.hex(1, s.traceId);
  w.hex(2, s.spanId);
  if (s.traceState !== '') w.string(3, s.traceState);
  if (s.parentSpanId !== '') w.hex(4, s.parentSpanId);
  w.string(5, s.name);
  // The API's SpanKind counts from INTERNAL = 0; the protocol's from UNSPECIFIED = 0.
  w.tag(6, VARINT);
  w.varint(s.kind + 1);
  w.tag(7, I64);
  w.nanos(s.start);
  w.tag(8, I64);
  w.nanos(s.end);
  spanAttributes(w, s.attributes);
  for (const e of s.events) {
    const ev = w.begin(11);
    w.tag(1, I64);
    w.nanos(e.time);
    w.string(2, e.name);
    attributes(w, 3, e.attributes);
    w.close(ev);
  }
  for (const l of s.links) {
    const link = w.begin(13);
    w.hex(1, l.traceId);
    w.hex(2, l.spanId);
    attributes(w, 4, l.attributes);
    w.close(link);
  }
  // Status is always present (an empty one means UNSET), as the SDK's exporter writes it.
  const status = w.begin(15);
  if (s.statusMessage !== '') w.string(2, s.statusMessage);
  if (s.statusCode !== 0) {
    w.tag(3, VARINT);
    w.varint(s.statusCode);
  }
  w.close(status);
  w.tag(16, 5);
  w.fixed32((s.traceFlags & 0xff) | HAS_IS_REMOTE | (s.remoteParent ? IS_REMOTE : 0));
}

/**
 * One `ExportTraceServiceRequest` holding `spans` under one resource, grouped by instrumentation
 * scope (in the order scopes first appear).
 */
export function encodeTraceExport(
  spans: readonly WireSpan[],
  resource: Record<string, WireAttributeValue>,
): Uint8Array {
  const byScope = new Map<string, WireSpan[]>();
  for (const s of spans) {
    const list = byScope.get(s.scope);
    if (list === undefined) byScope.set(s.scope, [s]);
    else list.push(s);
  }
  const w = new Writer(1024 + spans.length * 320);
  const resourceSpans = w.begin(1);
  const res = w.begin(1);
  attributes(w, 1, resource);
  w.close(res);
  for (const [scope, list] of byScope) {
    const scopeSpans = w.begin(2);
    const sc = w.begin(1);
    w.string(1, scope);
    w.close(sc);
    for (const s of list) {
      const one = w.begin(2);
      span(w, s);
      w.close(one);
    }
    w.close(scopeSpans);
  }
  w.close(resourceSpans);
  return w.finish();
}
