import type { EncodedSpans, WireAttributeValue, WireSpan } from '../wire.ts';
import { encodeWireSpans } from './records.ts';
import { attributes, LEN, Writer } from './writer.ts';

/**
 * `ExportTraceServiceRequest` framing around span record chunks, without decoding them, and the
 * checks and splits a queue of chunks needs.
 */

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
