/** A variable Peregrine reads from the environment only: no flag, no config key. */
export interface EnvironmentVariable {
  /** The variable. */
  readonly name: string;
  /** Its default, as the docs show it. */
  readonly defaultDoc: string;
  /** What it does (Markdown). */
  readonly doc: string;
}

/**
 * Every environment variable the code reads besides the settings' own `PEREGRINE_*`, for
 * docs/settings.md (a test checks this list against the names the code reads, both ways). The
 * `OTEL_*` ones follow the OpenTelemetry specification's meaning.
 */
export const ENVIRONMENT_VARIABLES: readonly EnvironmentVariable[] = [
  {
    name: 'PEREGRINE_TRACES_BUFFER',
    defaultDoc: '`20000` (1,024 with no master to send to)',
    doc: 'Most kept spans a worker holds that it has not sent to the master yet; more are dropped and counted in `peregrine_trace_spans_total{outcome}`. Full chunks of 128 leave at once, so this bounds a worker whose master does not keep up, not the rate. Raise it with `OTEL_BSP_MAX_QUEUE_SIZE` to export every trace of a busy service.',
  },
  {
    name: 'OTEL_TRACES_SAMPLER',
    defaultDoc: '`parentbased_traceidratio`',
    doc: 'The head sampler: `always_on`, `always_off`, `traceidratio`, or their `parentbased_` forms (follow a remote parent’s decision). An unknown name acts as `parentbased_traceidratio`. Errors and slow requests are kept whatever it decides (`--traces-keep-errors`, `--traces-slow-ms`).',
  },
  {
    name: 'OTEL_TRACES_SAMPLER_ARG',
    defaultDoc: '`0.01` (1 %); `1` when `OTEL_TRACES_SAMPLER` is set',
    doc: 'The ratio (0…1) of new traces the ratio samplers keep.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    defaultDoc: 'none (nothing is exported)',
    doc: 'Where the master exports kept spans, as OTLP/HTTP protobuf to `ENDPOINT/v1/traces`.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    defaultDoc: 'none',
    doc: 'The full URL spans are posted to; wins over `OTEL_EXPORTER_OTLP_ENDPOINT`.',
  },
  {
    name: 'OTEL_TRACES_EXPORTER',
    defaultDoc: '`otlp`',
    doc: '`none` turns the export off.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_HEADERS',
    defaultDoc: 'none',
    doc: 'Headers of every export request: `key=value` pairs, comma-separated, URL-encoded.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
    defaultDoc: 'none',
    doc: 'The same for trace exports; a header named in both takes this value.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TIMEOUT',
    defaultDoc: '`10000`',
    doc: 'How long an export request may take, in milliseconds.',
  },
  {
    name: 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
    defaultDoc: '`OTEL_EXPORTER_OTLP_TIMEOUT`',
    doc: 'The same for trace exports; wins over `OTEL_EXPORTER_OTLP_TIMEOUT`.',
  },
  {
    name: 'OTEL_SERVICE_NAME',
    defaultDoc: '`service.name` of `OTEL_RESOURCE_ATTRIBUTES`, else `unknown_service:peregrine`',
    doc: 'The `service.name` resource attribute of exported spans.',
  },
  {
    name: 'OTEL_RESOURCE_ATTRIBUTES',
    defaultDoc: 'none',
    doc: 'More resource attributes of exported spans: `key=value` pairs, comma-separated, URL-encoded.',
  },
  {
    name: 'OTEL_BSP_MAX_QUEUE_SIZE',
    defaultDoc: '`8192`',
    doc: 'Most spans the master queues for export; more are dropped and counted in `peregrine_trace_spans_total{outcome}`.',
  },
  {
    name: 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    defaultDoc: '`512`',
    doc: 'Most spans in one export request.',
  },
  {
    name: 'OTEL_BSP_SCHEDULE_DELAY',
    defaultDoc: '`1000`',
    doc: 'How often the master exports what is queued, in milliseconds.',
  },
  {
    name: 'DATABASE_URL',
    defaultDoc: 'none',
    doc: 'The database `openDatabase()` opens when given no URL: `postgres://…` for a PostgreSQL pool, `sqlite:PATH` or a path for SQLite; unset, SQLite at `./data/peregrine.db`. A `PostgresPool` without a `url` reads it too (unset: `postgres://postgres@127.0.0.1:5432/postgres`).',
  },
  {
    name: 'PORT',
    defaultDoc: 'none',
    doc: 'When set to a number, the default `--bind` is `0.0.0.0:$PORT` (as platforms that assign the port expect).',
  },
  {
    name: 'NODE_DISABLE_COMPILE_CACHE',
    defaultDoc: 'unset',
    doc: 'Node’s own variable: workers use V8’s on-disk code cache (at `NODE_COMPILE_CACHE`, or Node’s default place), which shortens a replacement worker’s boot, unless it is set.',
  },
  {
    name: 'NODE_OPTIONS',
    defaultDoc: 'unset',
    doc: 'Node’s own variable, passed on to workers. When it sizes the young generation (`--max-semi-space-size` or `--max-heap-size`), workers keep that size and `--young-generation` does not apply.',
  },
];
