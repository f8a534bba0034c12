/**
 * The telemetry overhead benchmark's server: examples/hello in one process, in a mode given by
 * BENCH_MODE — off | default | traces100 | otel-sdk — with the master-side hub in process and
 * OTLP export to BENCH_OTLP_URL (an accepting sink). Modes for finding where the cost is:
 * metrics (PEREGRINE_TRACING=off), sampler0 (tracing on, nothing sampled), nohub (default
 * telemetry with no hub: the recorder keeps what it would send).
 */
const mode = process.env.BENCH_MODE ?? 'default';
const otlp = process.env.BENCH_OTLP_URL ?? 'http://127.0.0.1:4318/v1/traces';
const port = Number(process.env.PORT ?? 8080);

if (mode === 'off' || mode === 'otel-sdk') process.env.PEREGRINE_TELEMETRY = 'off';
if (mode === 'traces100') {
  process.env.OTEL_TRACES_SAMPLER_ARG = '1';
  // Every trace exported: the worker's buffer holds a second of spans at these rates.
  process.env.PEREGRINE_TRACES_BUFFER ??= '1000000';
}
if (mode === 'sampler0') process.env.OTEL_TRACES_SAMPLER_ARG = '0';
if (mode === 'metrics') process.env.PEREGRINE_TRACING = 'off';

if (mode === 'otel-sdk') {
  // The same App instrumented the way OpenTelemetry's docs say: sdk-node + instrumentation-http,
  // OTLP/HTTP protobuf export, default sampler (parent-based always-on).
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  const sdk = new NodeSDK({
    serviceName: 'bench',
    traceExporter: new OTLPTraceExporter({ url: otlp }),
    instrumentations: [new HttpInstrumentation()],
  });
  sdk.start();
  // instrumentation-http patches node:http when it is require()d (require-in-the-middle); an ESM
  // `import 'node:http'` is not seen. Requiring it once patches the shared Server prototype, which
  // the ESM import below uses too. Checked: the sink receives this mode's spans.
  const { createRequire } = await import('node:module');
  createRequire(import.meta.url)('http');
}

const { serve } = await import('peregrine/server');
// Request telemetry in one process is on once peregrine/telemetry is loaded (before the App is
// built); with PEREGRINE_TELEMETRY=off (modes off, otel-sdk) it stays off.
await import('peregrine/telemetry');
const { default: app } = await import('../../examples/hello/app.ts');
/** What the hub did with the kept spans, printed at exit (run.sh shows it beside the numbers). */
let spanCounts = (): string => '';
if (mode !== 'off' && mode !== 'otel-sdk' && mode !== 'nohub') {
  // The master's side, in process: internal machinery, imported by path.
  const { TelemetryHub } = await import('../../src/telemetry/master/hub.ts');
  const { recorder } = await import('../../src/telemetry/worker/recorder.ts');
  const hub = new TelemetryHub({
    exporter: {
      url: otlp,
      resource: { 'service.name': 'bench' },
      // "Every trace exported": a queue that holds a second of spans, so none is dropped.
      ...(mode === 'traces100' ? { maxQueue: 1_000_000 } : {}),
    },
  });
  recorder().connect((d) => hub.ingest('1', d));
  spanCounts = () => {
    const body = hub.render('prometheus').body;
    const count = (outcome: string) =>
      body.match(
        new RegExp(`^peregrine_trace_spans_total\\{outcome="${outcome}"\\} (\\d+)`, 'm'),
      )?.[1] ?? '0';
    return `spans: exported=${count('exported')} worker_buffer=${count('worker_buffer')} queue_full=${count('queue_full')} export_failed=${count('export_failed')} queued=${hub.exporter?.queued ?? 0}\n`;
  };
}
// OpenTelemetry's instrumentation-http only sees node:http, so that mode serves on node:http.
await serve(app, { port, httpEngine: mode === 'otel-sdk' ? 'node' : 'peregrine' });
process.stdout.write(`ready ${mode}\n`);
const exit = () => {
  process.stdout.write(spanCounts());
  process.exit(0);
};
process.on('SIGINT', exit);
process.on('SIGTERM', exit);
