import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { SpanKind, trace } from '@opentelemetry/api';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { TelemetryHub } from '../../src/telemetry/master/hub.ts';
import { exporterOptionsFromEnv, OtlpExporter } from '../../src/telemetry/master/otlp-exporter.ts';
import {
  encodeResource,
  encodeTraceExport,
  frameTraceExport,
} from '../../src/telemetry/otlp/frame.ts';
import { encodeWireSpans } from '../../src/telemetry/otlp/records.ts';
import { startSpan } from '../../src/telemetry/tracing/tracer.ts';
import { type EncodedSpans, forIpc, type WireSpan } from '../../src/telemetry/wire.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { simulate } from '../../src/testing/index.ts';
import { decodeTraceRequest, startOtlpReceiver } from '../helpers/otlp-receiver.ts';
import { startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';

interface DecodedSpan {
  spanId: string;
  [key: string]: unknown;
}
interface Decoded {
  resourceSpans: Array<{
    scopeSpans: Array<{ scope: { name: string }; spans: DecodedSpan[] }>;
  }>;
}

/** Every span of a request body with its scope, by span id (decoded with the protocol's own definitions). */
function spansOf(bytes: Uint8Array): Map<string, unknown> {
  const msg = decodeTraceRequest<Decoded>(bytes, {
    longs: String,
    bytes: String,
    defaults: true,
    arrays: true,
  });
  const out = new Map<string, unknown>();
  for (const rs of msg.resourceSpans)
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans) out.set(s.spanId, { scope: ss.scope.name, ...s });
  return out;
}

function total(chunks: readonly EncodedSpans[] | undefined): number {
  return (chunks ?? []).reduce((n, c) => n + c.count, 0);
}

test('spans encoded as they end decode exactly as their objects encoded in the master would', async () => {
  const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }));
  const app = new App({
    logger: false,
    instrumentation: new HttpInstrumentation(rec, silentLogger),
  });
  app.addRoute('/work/{id}', {
    onGet: async (req) => {
      const tracer = trace.getTracer('user-lib');
      await tracer.startActiveSpan('load', { kind: SpanKind.CLIENT }, async (span) => {
        span.setAttribute('db.rows', 3);
        span.setAttribute('tags', ['a', 'b']);
        span.addEvent('retry', { attempt: 2 });
        const inner = tracer.startSpan('parse', {
          links: [
            {
              context: {
                traceId: '0af7651916cd43dd8448eb211c80319c',
                spanId: 'b7ad6b7169203331',
                traceFlags: 1,
              },
              attributes: { why: 'batch' },
            },
          ],
        });
        inner.setStatus({ code: 2, message: 'bad row ✓' });
        inner.end();
        span.end();
      });
      return { id: req.params.id };
    },
  });
  for (let i = 0; i < 5; i++) await simulate(app, { path: `/work/${i}` });
  // A remote parent with a tracestate, and a failed request.
  await simulate(app, {
    path: '/work/remote',
    headers: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=x,other=y',
    },
  });
  await simulate(app, { path: '/nowhere' });
  const delta = rec.flush();
  assert.equal(delta.spans.length, 19, 'every span of 7 local traces is within the store budget');
  assert.equal(total(delta.encoded), 19);
  const resource = { 'service.name': 'svc' };
  const encoded = spansOf(frameTraceExport(delta.encoded ?? [], encodeResource(resource)));
  const fromObjects = spansOf(encodeTraceExport(delta.spans, resource));
  assert.equal(encoded.size, 19);
  assert.deepEqual(encoded, fromObjects);
  // The remote parent's ids are the ones it sent.
  const remote = [...encoded.values()].find(
    (s) =>
      (s as { parentSpanId: string }).parentSpanId !== '' && (s as { kind: number }).kind === 2,
  ) as { traceId: string; traceState: string } | undefined;
  assert.equal(
    Buffer.from(remote?.traceId ?? '', 'base64').toString('hex'),
    '4bf92f3577b34da6a3ce929d0e0e4736',
  );
  assert.equal(remote?.traceState, 'vendor=x,other=y');
});

test('the trace store gets a bounded selection as objects: the first 200, failed and slow traces', () => {
  const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }));
  const setup = rec.tracing!;
  const t0 = Date.now();
  const root = (ms: number, failed = false) => {
    const span = startSpan(setup, 'GET /x', SpanKind.SERVER, undefined, undefined, 'peregrine', t0);
    const child = startSpan(setup, 'q', SpanKind.CLIENT, undefined, span, 'peregrine', t0);
    child.end(t0 + 1);
    if (failed) span.setStatus({ code: 2 });
    span.end(t0 + ms);
  };
  for (let i = 0; i < 200; i++) root(5 + (i % 40));
  for (let i = 0; i < 90; i++) root(1);
  for (let i = 0; i < 5; i++) root(1, true);
  for (let i = 0; i < 5; i++) root(10_000);
  const delta = rec.flush();
  assert.equal(total(delta.encoded), 600, 'every kept span is encoded');
  // 200 budgeted traces, then only the 5 failed and the 5 slower than the slowest 50: 2 spans each.
  assert.equal(delta.spans.length, 420);
  assert.equal(delta.spans.filter((s) => s.end - s.start === 10_000).length, 5);
  assert.equal(delta.spans.filter((s) => s.statusCode === 2).length, 5);
  // The next interval has its own budget.
  root(1);
  assert.equal(rec.flush().spans.length, 2);
});

/** A collector that decodes every request with the protocol's definitions and counts spans per request. */
async function collector() {
  const batches: number[] = [];
  const ids = new Set<string>();
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const spans = spansOf(Buffer.concat(parts));
      batches.push(spans.size);
      for (const id of spans.keys()) ids.add(id);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    batches,
    ids,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function wireSpans(n: number, scope: string): WireSpan[] {
  return Array.from({ length: n }, (_, i) => ({
    traceId: `${scope.padEnd(8, '0')}`
      .replace(/[^0-9a-f]/g, 'a')
      .repeat(4)
      .slice(0, 32),
    spanId: `${scope === 'a' ? 'a' : 'b'}${(i + 1).toString(16).padStart(15, '0')}`,
    parentSpanId: '',
    remoteParent: false,
    traceState: '',
    traceFlags: 1,
    name: `span ${i}`,
    kind: 1,
    start: 1_764_000_000_000 + i,
    end: 1_764_000_000_001 + i,
    attributes: { 'http.route': '/x', n: i },
    statusCode: 0,
    statusMessage: '',
    events: [],
    links: [],
    scope,
    kept: 'sampled',
  }));
}

test('the exporter sends queued records in batches of maxBatch, split where a batch ends; what does not fit is counted', async () => {
  const sink = await collector();
  const exporter = new OtlpExporter({
    url: sink.url,
    resource: { 'service.name': 'svc' },
    maxBatch: 3,
    maxQueue: 7,
    interval: 60_000,
  });
  try {
    const a = encodeWireSpans(wireSpans(5, 'a'));
    const b = encodeWireSpans(wireSpans(4, 'b'));
    exporter.enqueueEncoded([...a, ...b]);
    // 7 fit; a full batch goes out at once.
    assert.equal(exporter.droppedQueueFull, 2);
    assert.equal(exporter.queued, 4);
    await exporter.flush();
    assert.deepEqual(sink.batches, [3, 3, 1]);
    assert.equal(sink.ids.size, 7);
    assert.equal(exporter.exported, 7);
  } finally {
    exporter.close();
    await sink.close();
  }
});

test('the hub leaves out a chunk that is not what it says (counted), and sends the rest', async () => {
  const sink = await collector();
  const hub = new TelemetryHub({
    exporter: { url: sink.url, resource: { 'service.name': 'svc' }, interval: 60_000 },
  });
  try {
    const good = forIpc({
      v: 1,
      time: Date.now(),
      families: [],
      spans: [],
      encoded: encodeWireSpans(wireSpans(4, 'a')),
      droppedSpans: 0,
    });
    assert.equal(typeof good.encoded?.[0]?.data, 'string', 'IPC carries base64');
    hub.ingest('1', good);
    hub.ingest('2', {
      v: 1,
      time: Date.now(),
      families: [],
      spans: [],
      encoded: [
        { scope: 'x', count: 3, data: Buffer.from([0x12, 0x05, 1, 2]).toString('base64') },
        { scope: 'y', count: 2, data: encodeWireSpans(wireSpans(1, 'b'))[0]!.data },
      ],
      droppedSpans: 0,
    });
    await hub.close();
    assert.equal(sink.ids.size, 4);
    assert.match(
      hub.render('prometheus').body,
      /^peregrine_trace_spans_total\{outcome="export_failed"\} 5$/m,
    );
  } finally {
    await sink.close();
  }
});

test('peregrine serve: every kept span of 2 workers reaches the collector through the master', async (t) => {
  const receiver = await startOtlpReceiver();
  // Shedding off: a request shed on a busy machine has no span, and this test counts spans.
  const server = await startServe(
    ['test/fixtures/telemetry/app.ts', '--workers', '2', '--shed-delay', '0'],
    {
      env: {
        OTEL_TRACES_SAMPLER_ARG: '1',
        PEREGRINE_TELEMETRY_INTERVAL: '200',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url.replace(/\/v1\/traces$/, ''),
        OTEL_SERVICE_NAME: 'fixture',
      },
    },
  );
  t.after(async () => {
    await server.stop();
    await receiver.close();
  });
  await server.waitForReady(2);
  const n = 600;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < n) {
        sent++;
        const res = await fetch(`http://127.0.0.1:${server.port}/fast`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
    }),
  );
  const fast = () => receiver.spans.filter((s) => s.name === 'GET /fast');
  // On a timeout the assertions below say what did arrive.
  await eventually(() => fast().length >= n, 15_000, 'the spans', 100).catch(() => {});
  const spans = fast();
  assert.equal(spans.length, n);
  assert.equal(new Set(spans.map((s) => s.spanId)).size, n, 'each once');
  assert.ok(spans.every((s) => s.service === 'fixture' && /^[0-9a-f]{32}$/.test(s.traceId)));
  assert.ok(spans.every((s) => s.attributes['http.route'] === '/fast'));
});

test('the OTel batch span processor variables size the exporter; bad values are ignored', () => {
  const options = exporterOptionsFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/',
    OTEL_BSP_MAX_QUEUE_SIZE: '100000',
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1024',
    OTEL_BSP_SCHEDULE_DELAY: 'soon',
    OTEL_EXPORTER_OTLP_TIMEOUT: '-5',
  });
  assert.equal(options?.url, 'http://collector:4318/v1/traces');
  assert.equal(options?.maxQueue, 100_000);
  assert.equal(options?.maxBatch, 1024);
  assert.equal(options?.interval, undefined);
  assert.equal(options?.timeout, undefined);
  assert.equal(exporterOptionsFromEnv({}), undefined, 'no endpoint: no exporter');
});

test('full chunks of records leave as soon as they fill, between flushes, without metrics', async () => {
  const rec = new Recorder(
    configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1', PEREGRINE_TELEMETRY_INTERVAL: '60000' }),
  );
  const got: Array<{ families: number; encoded: number }> = [];
  rec.connect((d) => got.push({ families: d.families.length, encoded: total(d.encoded) }));
  try {
    const t0 = Date.now();
    for (let i = 0; i < 1100; i++) {
      const span = startSpan(
        rec.tracing!,
        'GET /x',
        SpanKind.SERVER,
        undefined,
        undefined,
        'peregrine',
        t0,
      );
      span.end(t0 + 1);
    }
    assert.equal(got.length, 0, 'nothing is sent inside the span that filled a chunk');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [{ families: 0, encoded: 1024 }]);
    assert.equal(total(rec.flush().encoded), 76, 'the rest goes with the next delta');
  } finally {
    rec.disconnect();
  }
});
