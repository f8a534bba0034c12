import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { encodeTraceExport } from '../../src/telemetry/otlp/frame.ts';
import type { WireAttributeValue, WireSpan } from '../../src/telemetry/wire.ts';
import { decodeTraceRequest } from '../helpers/otlp-receiver.ts';

/** Decoded with the protocol's definitions (test/helpers/otlp-receiver.ts), not Peregrine's. */
function decode(bytes: Uint8Array): { resourceSpans: unknown[] } {
  return decodeTraceRequest(bytes, { longs: String, bytes: String, defaults: true, arrays: true });
}

/** The same span in the SDK's ReadableSpan shape, for OpenTelemetry's own serializer. */
function readable(
  s: WireSpan,
  resource: { attributes: Record<string, WireAttributeValue> },
  scopes: Map<string, { name: string }>,
) {
  const hr = (ms: number): [number, number] => {
    const sec = Math.floor(ms / 1000);
    return [sec, Math.round((ms - sec * 1000) * 1e6)];
  };
  let scope = scopes.get(s.scope);
  if (scope === undefined) {
    scope = { name: s.scope };
    scopes.set(s.scope, scope);
  }
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.traceFlags };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () =>
      s.traceState === '' ? ctx : { ...ctx, traceState: { serialize: () => s.traceState } },
    parentSpanContext:
      s.parentSpanId === ''
        ? undefined
        : {
            traceId: s.traceId,
            spanId: s.parentSpanId,
            traceFlags: s.traceFlags,
            isRemote: s.remoteParent,
          },
    startTime: hr(s.start),
    endTime: hr(s.end),
    duration: hr(s.end - s.start),
    status: { code: s.statusCode, message: s.statusMessage || undefined },
    attributes: s.attributes,
    links: s.links.map((l) => ({
      context: { traceId: l.traceId, spanId: l.spanId, traceFlags: 0 },
      attributes: l.attributes,
      droppedAttributesCount: 0,
    })),
    events: s.events.map((e) => ({
      name: e.name,
      time: hr(e.time),
      attributes: e.attributes,
      droppedAttributesCount: 0,
    })),
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A deterministic pseudo-random sequence (so a failure replays). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

function hexId(rand: () => number, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++)
    s += Math.floor(rand() * 256)
      .toString(16)
      .padStart(2, '0');
  return s;
}

const VALUES: WireAttributeValue[] = [
  'GET',
  '',
  'ünïcödé ✓ 𝄞 emoji 🎉',
  'x'.repeat(200),
  'y'.repeat(20_000),
  0,
  1,
  127,
  128,
  16_383,
  16_384,
  2 ** 31,
  2 ** 32 + 5,
  Number.MAX_SAFE_INTEGER,
  2 ** 60,
  -1,
  -(2 ** 40),
  0.5,
  -3.25,
  1e300,
  Number.NaN,
  true,
  false,
  ['a', 'bb', ''],
  [1, 2, 3000000],
  [true, false],
  [1.5, -2.5],
  [],
];

function randomSpan(rand: () => number, i: number): WireSpan {
  const attrs = (n: number): Record<string, WireAttributeValue> => {
    const out: Record<string, WireAttributeValue> = {};
    for (let k = 0; k < n; k++)
      out[`attr.${k}.${'k'.repeat(Math.floor(rand() * 60))}`] =
        VALUES[Math.floor(rand() * VALUES.length)]!;
    return out;
  };
  const start = 1_764_000_000_000 + rand() * 1e9 + rand();
  const remote = rand() < 0.3;
  const parent = rand() < 0.5 ? hexId(rand, 8) : '';
  return {
    traceId: hexId(rand, 16),
    spanId: hexId(rand, 8),
    parentSpanId: parent,
    remoteParent: parent !== '' && remote,
    traceState: rand() < 0.2 ? 'vendor=value,other=x' : '',
    traceFlags: rand() < 0.5 ? 1 : 0,
    name: rand() < 0.1 ? `GET /${'seg/'.repeat(40)}` : `GET /items/{id}`,
    kind: Math.floor(rand() * 5),
    start,
    end: start + rand() * 5000,
    attributes: attrs(Math.floor(rand() * 8)),
    statusCode: Math.floor(rand() * 3),
    statusMessage: rand() < 0.2 ? 'boom: ünïcödé' : '',
    events: Array.from({ length: Math.floor(rand() * 3) }, (_, k) => ({
      name: `event ${k}`,
      time: start + rand() * 10,
      attributes: attrs(Math.floor(rand() * 3)),
    })),
    links: Array.from({ length: Math.floor(rand() * 2) }, () => ({
      traceId: hexId(rand, 16),
      spanId: hexId(rand, 8),
      attributes: attrs(Math.floor(rand() * 2)),
    })),
    scope: ['peregrine', 'peregrine-db', 'user-lib'][i % 3]!,
    kept: 'sampled',
  };
}

/** Link flags are left out by Peregrine (it does not know whether a linked context was remote). */
function withoutLinkFlags(decoded: { resourceSpans: unknown[] }): unknown {
  return JSON.parse(
    JSON.stringify(decoded, (key, value) =>
      key === 'links' && Array.isArray(value)
        ? value.map((l: Record<string, unknown>) => ({ ...l, flags: 0 }))
        : value,
    ),
  );
}

test('Peregrine encodes what OpenTelemetry’s own serializer encodes, field by field', () => {
  const rand = lcg(42);
  const resource: Record<string, WireAttributeValue> = {
    'service.name': 'orders',
    'process.pid': 4242,
    'telemetry.sdk.language': 'nodejs',
  };
  for (const n of [1, 3, 50, 600]) {
    const spans = Array.from({ length: n }, (_, i) => randomSpan(rand, i));
    const ours = decode(encodeTraceExport(spans, resource));
    const scopes = new Map<string, { name: string }>();
    const sdkResource = { attributes: resource };
    const theirs = ProtobufTraceSerializer.serializeRequest(
      spans.map((s) => readable(s, sdkResource, scopes)) as Parameters<
        typeof ProtobufTraceSerializer.serializeRequest
      >[0],
    );
    assert.ok(theirs !== undefined);
    assert.deepEqual(withoutLinkFlags(ours), withoutLinkFlags(decode(theirs)), `${n} spans`);
  }
});

test('times are exact to the nanosecond; ids, kind, flags and parent as the protocol defines', () => {
  const span = randomSpan(lcg(1), 0);
  // Binary fractions, so the milliseconds are exact doubles.
  span.start = 1_764_000_123_456.75;
  span.end = span.start + 0.5;
  span.kind = 1;
  span.traceFlags = 1;
  span.parentSpanId = '00f067aa0ba902b7';
  span.remoteParent = true;
  const decoded = decode(encodeTraceExport([span], {})) as {
    resourceSpans: Array<{
      scopeSpans: Array<{ spans: Array<Record<string, unknown>> }>;
    }>;
  };
  const s = decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  assert.equal(s.startTimeUnixNano, '1764000123456750000');
  assert.equal(s.endTimeUnixNano, '1764000123457250000');
  // Against BigInt arithmetic, over a range of epochs and fractions.
  const rand = lcg(9);
  for (let i = 0; i < 2000; i++) {
    const ms = rand() * 4e12 + rand();
    const one = { ...span, start: ms, end: ms, events: [], links: [], attributes: {} };
    const d = decode(encodeTraceExport([one], {})) as typeof decoded;
    const sec = Math.floor(ms / 1000);
    const want = BigInt(sec) * 1_000_000_000n + BigInt(Math.round((ms - sec * 1000) * 1e6));
    assert.equal(d.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano, String(want));
  }
  assert.equal(s.kind, 2, 'SPAN_KIND_SERVER');
  assert.equal(s.flags, 0x301, 'sampled, parent known to be remote');
  assert.equal(Buffer.from(s.parentSpanId as string, 'base64').toString('hex'), span.parentSpanId);
  assert.equal(Buffer.from(s.traceId as string, 'base64').toString('hex'), span.traceId);
});

test('repeated attribute pairs encode from memory to the same bytes, and keys with many values still encode', () => {
  const rand = lcg(7);
  const spans = Array.from({ length: 300 }, (_, i) => {
    const s = randomSpan(rand, i);
    // A key with few values (remembered) and one with a value per span (past the per-key limit).
    s.attributes = { ...s.attributes, 'http.route': `/r/${i % 3}`, 'url.path': `/items/${i}` };
    return s;
  });
  const first = encodeTraceExport(spans, {});
  const again = encodeTraceExport(spans, {});
  assert.deepEqual(Buffer.from(again), Buffer.from(first));
  const scopes = new Map<string, { name: string }>();
  const resource = { attributes: {} };
  const theirs = ProtobufTraceSerializer.serializeRequest(
    spans.map((s) => readable(s, resource, scopes)) as Parameters<
      typeof ProtobufTraceSerializer.serializeRequest
    >[0],
  );
  assert.ok(theirs !== undefined);
  assert.deepEqual(withoutLinkFlags(decode(again)), withoutLinkFlags(decode(theirs)));
});

test('nanoseconds are exact on both sides of 2^32 seconds (the fast and the wide path)', () => {
  const rand = lcg(99);
  for (const base of [1_764_000_000_000, 4_294_967_296_000 - 5_000, 7_000_000_000_000]) {
    for (let i = 0; i < 200; i++) {
      const span = randomSpan(rand, 0);
      span.start = base + Math.floor(rand() * 1e7) + Math.floor(rand() * 1024) / 1024;
      span.end = span.start;
      const decoded = decode(encodeTraceExport([span], {})) as {
        resourceSpans: Array<{
          scopeSpans: Array<{ spans: Array<{ startTimeUnixNano: string }> }>;
        }>;
      };
      const sec = Math.floor(span.start / 1000);
      const want =
        BigInt(sec) * 1_000_000_000n + BigInt(Math.round((span.start - sec * 1000) * 1e6));
      assert.equal(
        decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.startTimeUnixNano,
        String(want),
        `${span.start}`,
      );
    }
  }
});
