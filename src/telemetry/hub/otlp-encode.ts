import type { SpanContext } from '@opentelemetry/api';
import type { EncodedSpans, WireAttributeValue, WireSpan } from '../metrics/wire.ts';
import { LazySpanContext, writeHexId } from '../tracing/ids.ts';
import type { TracedSpan } from '../tracing/span.ts';
import type { TraceState } from '../tracing/trace-context.ts';

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

/**
 * Spans per chunk of a worker's records. PERF: 128 server spans are ~45 KB, ~60 KB as base64 in
 * an IPC message: within a 64 KB pipe buffer, so the worker's write completes at once. Chunks of
 * 512 (~240 KB messages) left libuv queueing the rest of each write: 18.5 against 22.2 µs of CPU
 * per response with every trace exported under `peregrine serve` (5 interleaved rounds).
 */
const CHUNK_SPANS = 128;
/** A chunk's first buffer; it doubles as needed (128 server spans are ~45 KB). */
const CHUNK_BYTES = 8 * 1024;

/** Wire types. */
const VARINT = 0;
const I64 = 1;
const LEN = 2;

/** Span.flags: bit 8 says bit 9 is meaningful; bit 9 says the parent was remote. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

const TWO_32 = 2 ** 32;

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
    // PERF: TypedArray#set (a memcpy) even for a 20-byte attribute: a JS loop of element
    // stores into the Buffer was ~25% slower for the whole span.
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
 * address, status, protocol version); writing one was ~25% of the encoder's time. The last
 * pair of each key is checked first, by value, without hashing the value.
 */
function spanAttributes(w: Writer, attrs: Record<string, WireAttributeValue>): void {
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

/** Span fields 5 to 16, the part both span shapes share. */
function spanBody(
  w: Writer,
  name: string,
  kind: number,
  start: number,
  end: number,
  attrs: Record<string, WireAttributeValue>,
  events: WireSpan['events'] | undefined,
  links: WireSpan['links'] | undefined,
  statusCode: number,
  statusMessage: string,
  traceFlags: number,
  remoteParent: boolean,
): void {
  w.string(5, name);
  // The API's SpanKind counts from INTERNAL = 0; the protocol's from UNSPECIFIED = 0.
  w.tag(6, VARINT);
  w.varint(kind + 1);
  w.tag(7, I64);
  w.nanos(start);
  w.tag(8, I64);
  w.nanos(end);
  spanAttributes(w, attrs);
  if (events !== undefined)
    for (const e of events) {
      const ev = w.begin(11);
      w.tag(1, I64);
      w.nanos(e.time);
      w.string(2, e.name);
      attributes(w, 3, e.attributes);
      w.close(ev);
    }
  if (links !== undefined)
    for (const l of links) {
      const link = w.begin(13);
      w.hex(1, l.traceId);
      w.hex(2, l.spanId);
      attributes(w, 4, l.attributes);
      w.close(link);
    }
  // Status is always present (an empty one means UNSET), as the SDK's exporter writes it.
  const status = w.begin(15);
  if (statusMessage !== '') w.string(2, statusMessage);
  if (statusCode !== 0) {
    w.tag(3, VARINT);
    w.varint(statusCode);
  }
  w.close(status);
  w.tag(16, 5);
  w.fixed32((traceFlags & 0xff) | HAS_IS_REMOTE | (remoteParent ? IS_REMOTE : 0));
}

/** One span record (ScopeSpans field 2) from a wire span. */
function wireSpanRecord(w: Writer, s: WireSpan): void {
  const one = w.begin(2);
  w.hex(1, s.traceId);
  w.hex(2, s.spanId);
  if (s.traceState !== '') w.string(3, s.traceState);
  if (s.parentSpanId !== '') w.hex(4, s.parentSpanId);
  spanBody(
    w,
    s.name,
    s.kind,
    s.start,
    s.end,
    s.attributes,
    s.events,
    s.links,
    s.statusCode,
    s.statusMessage,
    s.traceFlags,
    s.remoteParent,
  );
  w.close(one);
}

/** One span record (ScopeSpans field 2) straight from an ended span. */
function tracedSpanRecord(w: Writer, s: TracedSpan): void {
  const one = w.begin(2);
  const ctx = s.spanContext();
  w.id(1, ctx, true);
  w.id(2, ctx, false);
  const state = (ctx.traceState as TraceState | undefined)?.serialize() ?? '';
  if (state !== '') w.string(3, state);
  const parent = s.parentContext;
  if (parent !== undefined) w.id(4, parent, false);
  spanBody(
    w,
    s.name,
    s.kind,
    s.start,
    s.end_,
    s.attributes,
    s.events,
    s.links,
    s.statusCode,
    s.statusMessage,
    ctx.traceFlags,
    s.remoteParent,
  );
  w.close(one);
}

/**
 * Span records by instrumentation scope, written as spans end: what a worker sends instead of
 * span objects, and what the exporter frames into requests without decoding.
 * PERF: a kept span is written once, from its own fields (ids as bytes); nothing of it stays on
 * the heap until the next flush, and the master only copies bytes.
 */
export class SpanRecords {
  readonly #byScope = new Map<string, { w: Writer; count: number; done: EncodedSpans[] }>();
  /** The size a full chunk of each scope reached, to start the next one at (no regrowth). */
  readonly #chunkSize = new Map<string, number>();
  #count = 0;
  #full = 0;

  /** Spans written and not taken yet. */
  get count(): number {
    return this.#count;
  }

  /** Writes one ended span. */
  add(span: TracedSpan): void {
    let entry = this.#byScope.get(span.scope);
    if (entry === undefined) {
      entry = { w: new Writer(this.#chunkSize.get(span.scope) ?? CHUNK_BYTES), count: 0, done: [] };
      this.#byScope.set(span.scope, entry);
    }
    const w = entry.w;
    const at = w.pos;
    try {
      tracedSpanRecord(w, span);
    } catch (err) {
      w.pos = at; // a span that cannot be written leaves nothing half-written behind
      throw err;
    }
    this.#count++;
    // PERF: a chunk per CHUNK_SPANS spans instead of one buffer doubling to tens of MB at high
    // rates, whose copies paused the event loop.
    if (++entry.count === CHUNK_SPANS) {
      entry.done.push({ scope: span.scope, count: entry.count, data: w.finish() });
      this.#full++;
      if (this.#chunkSize.size < 64 || this.#chunkSize.has(span.scope))
        this.#chunkSize.set(span.scope, w.buf.length);
      entry.w = new Writer(w.buf.length);
      entry.count = 0;
    }
  }

  /** The records written since the last take, in chunks of one scope. */
  take(): EncodedSpans[] {
    const out: EncodedSpans[] = [];
    for (const [scope, { w, count, done }] of this.#byScope) {
      for (const c of done) out.push(c);
      if (count > 0) out.push({ scope, count, data: w.finish() });
    }
    this.#byScope.clear();
    this.#count = 0;
    this.#full = 0;
    return out;
  }

  /** Chunks that reached CHUNK_SPANS and wait to be taken. */
  get full(): number {
    return this.#full;
  }

  /** Only the full chunks (the partial ones keep filling). */
  takeFull(): EncodedSpans[] {
    const out: EncodedSpans[] = [];
    for (const entry of this.#byScope.values()) {
      for (const c of entry.done) {
        out.push(c);
        this.#count -= c.count;
      }
      entry.done = [];
    }
    this.#full = 0;
    return out;
  }
}

/** Wire spans as span records, one chunk per scope (in the order scopes first appear). */
export function encodeWireSpans(spans: readonly WireSpan[]): EncodedSpans[] {
  const byScope = new Map<string, WireSpan[]>();
  for (const s of spans) {
    const list = byScope.get(s.scope);
    if (list === undefined) byScope.set(s.scope, [s]);
    else list.push(s);
  }
  const out: EncodedSpans[] = [];
  for (const [scope, list] of byScope) {
    const w = new Writer(256 + list.length * 320);
    for (const s of list) wireSpanRecord(w, s);
    out.push({ scope, count: list.length, data: w.finish() });
  }
  return out;
}

/** A chunk's records as bytes (chunks from another process arrive as base64). */
export function chunkBytes(chunk: EncodedSpans): Uint8Array {
  return typeof chunk.data === 'string' ? Buffer.from(chunk.data, 'base64') : chunk.data;
}

/**
 * Where the record after the first `n` records of `data` starts, reading only tags and lengths;
 * -1 if the bytes are not that many span records.
 */
function recordsEnd(data: Uint8Array, n: number): number {
  let p = 0;
  for (let i = 0; i < n; i++) {
    if (data[p] !== 0x12) return -1;
    p++;
    let len = 0;
    let shift = 1;
    for (;;) {
      const b = data[p++];
      if (b === undefined || shift > 2 ** 28) return -1;
      len += (b & 0x7f) * shift;
      if (b < 0x80) break;
      shift *= 128;
    }
    p += len;
    if (p > data.length) return -1;
  }
  return p;
}

/** Whether `data` is exactly `count` span records. */
export function isRecords(data: Uint8Array, count: number): boolean {
  return count > 0 && recordsEnd(data, count) === data.length;
}

/** Splits a chunk after its first `n` records (0 < n < count). Throws on bytes that are not. */
export function splitChunk(chunk: EncodedSpans, n: number): [EncodedSpans, EncodedSpans] {
  const data = chunkBytes(chunk);
  const p = recordsEnd(data, n);
  if (p < 0) throw new Error('not span records');
  return [
    { scope: chunk.scope, count: n, data: data.subarray(0, p) },
    { scope: chunk.scope, count: chunk.count - n, data: data.subarray(p) },
  ];
}

/** The Resource message's body for `resource` (encoded once per exporter). */
export function encodeResource(resource: Record<string, WireAttributeValue>): Uint8Array {
  const w = new Writer(256);
  attributes(w, 1, resource);
  return w.finish();
}

/**
 * One `ExportTraceServiceRequest` from span record chunks under one resource: one ScopeSpans
 * per chunk, the records copied as they are.
 */
export function frameTraceExport(
  chunks: readonly EncodedSpans[],
  resource: Uint8Array,
): Uint8Array {
  // PERF: every length is known up front, so each is written once before its body and no body
  // is moved (a batch is ~200 KB; `begin`/`close` would move it twice).
  const bytes = chunks.map(chunkBytes);
  const names = chunks.map((c) => Buffer.from(c.scope, 'utf8'));
  const scopeLens: number[] = [];
  const scopeSpansLens: number[] = [];
  const resourceLen = fieldSize(resource.length);
  let resourceSpansLen = resourceLen;
  for (let i = 0; i < chunks.length; i++) {
    const scopeLen = fieldSize(names[i]!.length);
    const len = fieldSize(scopeLen) + bytes[i]!.length;
    scopeLens.push(scopeLen);
    scopeSpansLens.push(len);
    resourceSpansLen += fieldSize(len);
  }
  const w = new Writer(fieldSize(resourceSpansLen));
  w.tag(1, LEN);
  w.varint(resourceSpansLen);
  w.tag(1, LEN);
  w.varint(resource.length);
  w.bytes(resource);
  for (let i = 0; i < chunks.length; i++) {
    w.tag(2, LEN);
    w.varint(scopeSpansLens[i]!);
    w.tag(1, LEN);
    w.varint(scopeLens[i]!);
    w.tag(1, LEN);
    w.varint(names[i]!.length);
    w.bytes(names[i]!);
    w.bytes(bytes[i]!);
  }
  return w.finish();
}

/** The size of a length-delimited field (one-byte tag) with a body of `len` bytes. */
function fieldSize(len: number): number {
  let n = 2;
  for (let v = len >>> 7; v > 0; v >>>= 7) n++;
  return n + len;
}

/**
 * One `ExportTraceServiceRequest` holding `spans` under one resource, grouped by instrumentation
 * scope (in the order scopes first appear).
 */
export function encodeTraceExport(
  spans: readonly WireSpan[],
  resource: Record<string, WireAttributeValue>,
): Uint8Array {
  return frameTraceExport(encodeWireSpans(spans), encodeResource(resource));
}
