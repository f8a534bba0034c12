/**
 * `npm run bench:otlp`: encoding 512 kept server spans (the exporter's batch) as an OTLP
 * ExportTraceServiceRequest, with Peregrine's encoder and with OpenTelemetry's own serializer
 * (`@opentelemetry/otlp-transformer`, fed the SDK's ReadableSpan shape the exporter used to build),
 * side by side in one process. Prints µs per span for each and the ratio. `peregrine-records`
 * is the path a kept span takes: written as a record from the ended span in the worker, then
 * framed into the request in the master; `peregrine` encodes span objects (the fallback path).
 */
import { SpanKind } from '@opentelemetry/api';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  encodeResource,
  encodeTraceExport,
  frameTraceExport,
} from '../src/telemetry/otlp/frame.ts';
import { SpanRecords } from '../src/telemetry/otlp/records.ts';
import type { TracedSpan } from '../src/telemetry/tracing/span.ts';
import { startSpan } from '../src/telemetry/tracing/tracer.ts';
import type { WireAttributeValue, WireSpan } from '../src/telemetry/wire.ts';

const resource: Record<string, WireAttributeValue> = {
  'service.name': 'bench',
  'telemetry.sdk.name': 'peregrine',
  'telemetry.sdk.language': 'nodejs',
  'host.name': 'bench-host',
  'process.pid': 4242,
};
const hex = (n: number, i: number) => (i.toString(16) + 'a1b2c3d4e5f60718'.repeat(4)).slice(0, n);

/** A server span as Peregrine's instrumentation describes a kept request. */
function serverSpan(i: number): WireSpan {
  const start = Date.now() + i * 0.37;
  return {
    traceId: hex(32, i),
    spanId: hex(16, i + 1),
    parentSpanId: '',
    remoteParent: false,
    traceState: '',
    traceFlags: 1,
    name: 'GET /json',
    kind: 1,
    start,
    end: start + 0.42,
    attributes: {
      'http.request.method': 'GET',
      'http.route': '/json',
      'http.response.status_code': 200,
      'url.path': '/json',
      'url.scheme': 'http',
      'server.address': '127.0.0.1',
      'server.port': 8080,
      'client.address': '127.0.0.1',
      'network.peer.address': '127.0.0.1',
      'user_agent.original': 'wrk',
      'network.protocol.version': '1.1',
    },
    statusCode: 0,
    statusMessage: '',
    events: [],
    links: [],
    scope: 'peregrine',
    kept: 'sampled',
  };
}

function readable(s: WireSpan, res: { attributes: Record<string, WireAttributeValue> }) {
  const hr = (ms: number): [number, number] => {
    const sec = Math.floor(ms / 1000);
    return [sec, Math.round((ms - sec * 1000) * 1e6)];
  };
  const ctx = { traceId: s.traceId, spanId: s.spanId, traceFlags: s.traceFlags };
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => ctx,
    parentSpanContext: undefined,
    startTime: hr(s.start),
    endTime: hr(s.end),
    duration: hr(s.end - s.start),
    status: { code: s.statusCode },
    attributes: s.attributes,
    links: [],
    events: [],
    ended: true,
    resource: res,
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
const SCOPE = { name: 'peregrine' };

const batch = Array.from({ length: 512 }, (_, i) => serverSpan(i));
const sdkResource = { attributes: resource };
// The same spans as ended TracedSpans (ids from the tracer's random numbers).
const setup = {
  sampler: { ratio: 1, parentBased: true },
  policy: { keepErrors: true, slowMs: Number.POSITIVE_INFINITY },
  sink: { keep: () => {} },
};
const traced: TracedSpan[] = batch.map((w) => {
  const span = startSpan(setup, w.name, SpanKind.SERVER, undefined, undefined, w.scope, w.start);
  span.describe({ ...w.attributes });
  span.end(w.end);
  return span;
});
const resourceBytes = encodeResource(resource);
const records = new SpanRecords();
const encoders = {
  'peregrine-records': () => {
    for (const span of traced) records.add(span);
    return frameTraceExport(records.take(), resourceBytes).length;
  },
  peregrine: () => encodeTraceExport(batch, resource).length,
  'otlp-transformer': () =>
    ProtobufTraceSerializer.serializeRequest(
      batch.map((s) => readable(s, sdkResource)) as unknown as Parameters<
        typeof ProtobufTraceSerializer.serializeRequest
      >[0],
    )?.length ?? 0,
};

function measure(fn: () => number, ms: number): number {
  let spans = 0;
  const until = performance.now() + ms;
  const t0 = performance.now();
  while (performance.now() < until) {
    fn();
    spans += batch.length;
  }
  return ((performance.now() - t0) * 1000) / spans;
}

const results: Record<string, number[]> = {
  'peregrine-records': [],
  peregrine: [],
  'otlp-transformer': [],
};
for (const fn of Object.values(encoders)) measure(fn, 300);
for (let round = 0; round < 5; round++)
  for (const [name, fn] of Object.entries(encoders)) results[name]!.push(measure(fn, 400));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const records_ = median(results['peregrine-records']!);
const ours = median(results.peregrine!);
const theirs = median(results['otlp-transformer']!);
console.log(`batch: 512 server spans, ${encoders.peregrine()} bytes`);
console.log(`peregrine-records ${records_.toFixed(3)} µs/span`);
console.log(`peregrine         ${ours.toFixed(3)} µs/span`);
console.log(`otlp-transformer  ${theirs.toFixed(3)} µs/span`);
console.log(
  `ratio             ${(theirs / ours).toFixed(2)}x faster (records: ${(theirs / records_).toFixed(2)}x)`,
);
