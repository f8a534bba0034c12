import type { TracedSpan } from '../tracing/span.ts';
import type { TraceState } from '../tracing/trace-context.ts';
import type { EncodedSpans, WireAttributeValue, WireSpan } from '../wire.ts';
import { attributes, I64, spanAttributes, VARINT, Writer } from './writer.ts';

/**
 * OTLP span records (ScopeSpans field 2: tag, length, an encoded `Span`), written from an ended
 * span in a worker or from a wire span, grouped by scope in chunks that frame.ts puts into
 * export requests as they are.
 */

/**
 * Spans per chunk of a worker's records. PERF: 128 server spans are ~45 KB, ~60 KB as base64 in
 * an IPC message: within a 64 KB pipe buffer, so the worker's write completes at once; a larger
 * message leaves libuv queueing the rest of each write (bench/results/history.md has the runs).
 */
const CHUNK_SPANS = 128;
/** A chunk's first buffer; it doubles as needed (128 server spans are ~45 KB). */
const CHUNK_BYTES = 8 * 1024;

/** Span.flags: bit 8 says bit 9 is meaningful; bit 9 says the parent was remote. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

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
