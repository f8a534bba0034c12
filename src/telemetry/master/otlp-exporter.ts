import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { Agent } from 'undici';
import { chunkBytes, encodeResource, frameTraceExport, splitChunk } from '../otlp/frame.ts';
import { encodeWireSpans } from '../otlp/records.ts';
import type { EncodedSpans, WireAttributeValue, WireSpan } from '../wire.ts';
import { type ExportLog, FailureReport } from './export-failures.ts';

export type { ExportLog };

type Undici = typeof import('undici');
let undici: Undici | undefined;
// PERF: undici (~110 modules, ~25 MiB of RSS in the master) loads when an exporter is created,
// not when the master starts: most masters never export.
function loadUndici(): Undici {
  undici ??= createRequire(import.meta.url)('undici') as Undici;
  return undici;
}

/** Options of the OTLP/HTTP span exporter. */
export interface OtlpExporterOptions {
  /** Full URL of the traces endpoint (…/v1/traces). */
  url: string;
  /** Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`). */
  headers?: Record<string, string>;
  /** Resource attributes (service.name …). */
  resource: Record<string, WireAttributeValue>;
  /** Most spans waiting; beyond it new spans are dropped and counted (default 8192). */
  maxQueue?: number;
  /** Most spans per request (default 512). */
  maxBatch?: number;
  /** Time between exports when the queue is not full (ms, default 1000). */
  interval?: number;
  /** Request timeout (ms, default 10 s). */
  timeout?: number;
  /** Called with counts as they happen (exported / dropped by reason). */
  onCount?: (event: 'exported' | 'queue_full' | 'export_failed', spans: number) => void;
  /**
   * Where failed exports are told: the first failure at once, then at most one line per
   * `logEvery` with what failed since (a dead collector would otherwise go unnoticed, or flood
   * the log once a second).
   */
  log?: ExportLog;
  /** The least time between two failure lines (ms, default 60 s). */
  logEvery?: number;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Batches kept spans from all workers to an OTLP/HTTP (protobuf) endpoint, from the master only.
 * The queue is bounded and one request is in flight at a time: a slow or dead collector costs
 * dropped spans (counted), never memory growth, and never touches the request path.
 * The queue holds encoded span records (workers encode their spans as they end): a request is
 * framed around them without decoding, and a queued span costs its ~350 bytes, not an object.
 */
export class OtlpExporter {
  readonly #options: Required<Omit<OtlpExporterOptions, 'onCount' | 'headers' | 'log'>> &
    Pick<OtlpExporterOptions, 'onCount' | 'headers' | 'log'>;
  readonly #report: FailureReport;
  #queue: EncodedSpans[] = [];
  /** Spans in the queue. */
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> | undefined;
  readonly #resource: Uint8Array;
  readonly #agent: Agent;
  /** Spans sent and acknowledged. */
  exported = 0;
  /** Spans dropped because the queue was full. */
  droppedQueueFull = 0;
  /** Spans dropped because the collector failed or timed out. */
  droppedFailed = 0;

  constructor(options: OtlpExporterOptions) {
    this.#options = {
      maxQueue: 8192,
      maxBatch: 512,
      interval: 1000,
      timeout: 10_000,
      logEvery: 60_000,
      now: Date.now,
      ...options,
    };
    this.#report = new FailureReport(
      options.url,
      options.log,
      this.#options.logEvery,
      this.#options.now,
    );
    this.#resource = encodeResource(options.resource);
    // PERF: undici's request() on a kept-alive connection, not fetch(): fetch's WebIDL checks,
    // body streams and Response object are a measurable cost per batch when every trace is
    // exported.
    this.#agent = new (loadUndici().Agent)({ connections: 2, keepAliveTimeout: 30_000 });
    this.#timer = setInterval(() => this.#tick(), this.#options.interval);
    this.#timer.unref();
  }

  /** Queues spans for export; drops (and counts) what does not fit. */
  enqueue(spans: readonly WireSpan[]): void {
    const room = this.#options.maxQueue - this.#queued;
    const fit = Math.max(0, Math.min(room, spans.length));
    // Only what fits is encoded.
    if (fit > 0) this.#push(encodeWireSpans(fit === spans.length ? spans : spans.slice(0, fit)));
    this.#dropQueueFull(spans.length - fit);
    if (this.#queued >= this.#options.maxBatch) this.#tick();
  }

  /** Queues encoded span records (a worker's delta); drops (and counts) what does not fit. */
  enqueueEncoded(chunks: readonly EncodedSpans[]): void {
    let dropped = 0;
    for (const chunk of chunks) {
      const room = this.#options.maxQueue - this.#queued;
      if (chunk.count <= room) this.#push([chunk]);
      else {
        dropped += chunk.count - Math.max(0, room);
        if (room > 0) {
          try {
            this.#push([splitChunk(chunk, room)[0]]);
          } catch {
            dropped += room; // not span records: nothing of it can be sent
          }
        }
      }
    }
    this.#dropQueueFull(dropped);
    if (this.#queued >= this.#options.maxBatch) this.#tick();
  }

  /** Spans waiting. */
  get queued(): number {
    return this.#queued;
  }

  #push(chunks: readonly EncodedSpans[]): void {
    for (const c of chunks) {
      if (c.count <= 0) continue;
      // Bytes once here, so splitting and framing never decode base64 again.
      this.#queue.push(typeof c.data === 'string' ? { ...c, data: chunkBytes(c) } : c);
      this.#queued += c.count;
    }
  }

  #dropQueueFull(n: number): void {
    if (n <= 0) return;
    this.droppedQueueFull += n;
    this.#options.onCount?.('queue_full', n);
  }

  /** The next request's chunks: up to `maxBatch` spans, splitting a chunk where a batch ends. */
  #nextBatch(): { chunks: EncodedSpans[]; spans: number; unsendable: number } {
    const max = this.#options.maxBatch;
    const chunks: EncodedSpans[] = [];
    let spans = 0;
    let unsendable = 0;
    while (spans < max && this.#queue.length > 0) {
      const c = this.#queue[0]!;
      if (spans + c.count <= max) {
        this.#queue.shift();
        chunks.push(c);
        spans += c.count;
        continue;
      }
      try {
        const [head, rest] = splitChunk(c, max - spans);
        this.#queue[0] = rest;
        chunks.push(head);
        spans += head.count;
      } catch {
        this.#queue.shift();
        unsendable += c.count;
      }
    }
    this.#queued -= spans + unsendable;
    return { chunks, spans, unsendable };
  }

  #tick(): void {
    if (this.#inflight !== undefined || this.#queued === 0) return;
    const { chunks, spans, unsendable } = this.#nextBatch();
    if (unsendable > 0) {
      this.#failed(unsendable);
      this.#report.failed('span records that cannot be framed were dropped', unsendable);
    }
    if (spans === 0) return;
    this.#inflight = this.#send(chunks, spans).finally(() => {
      this.#inflight = undefined;
      if (this.#queued >= this.#options.maxBatch) this.#tick();
    });
  }

  #failed(n: number): void {
    this.droppedFailed += n;
    this.#options.onCount?.('export_failed', n);
  }

  async #send(chunks: EncodedSpans[], spans: number): Promise<void> {
    try {
      const body = frameTraceExport(chunks, this.#resource);
      const res = await loadUndici().request(this.#options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', ...this.#options.headers },
        body,
        dispatcher: this.#agent,
        signal: AbortSignal.timeout(this.#options.timeout),
      });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        // The collector's own words (an OTLP Status, or text) say why; a little is enough.
        const said = await res.body.text().catch(() => '');
        const why = said
          .replace(/[^\x20-\x7e]+/g, ' ')
          .trim()
          .slice(0, 200);
        throw new Error(`the collector answered ${res.statusCode}${why === '' ? '' : ` (${why})`}`);
      }
      await res.body.dump().catch(() => undefined);
      this.exported += spans;
      this.#options.onCount?.('exported', spans);
      this.#report.succeeded();
    } catch (err) {
      this.#failed(spans);
      const error = err instanceof Error ? err.message : String(err);
      this.#report.failed(error, spans);
    }
  }

  /** Sends what is queued now and waits for it (on shutdown). */
  async flush(): Promise<void> {
    while (this.#inflight !== undefined || this.#queued > 0) {
      if (this.#inflight === undefined) this.#tick();
      await this.#inflight;
    }
  }

  /** Stops the timer (call flush first to send what is left). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#agent.close().catch(() => {});
  }
}

function parseKeyValues(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined) return out;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(
        part.slice(eq + 1).trim(),
      );
    } catch {
      // skip a malformed entry rather than fail startup
    }
  }
  return out;
}

/** The exporter options from the standard `OTEL_*` variables, or undefined if no endpoint is set. */
export function exporterOptionsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): OtlpExporterOptions | undefined {
  const tracesUrl = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporter = env.OTEL_TRACES_EXPORTER;
  if (exporter?.split(',').includes('none')) return undefined;
  let url: string;
  if (tracesUrl !== undefined && tracesUrl !== '') url = tracesUrl;
  else if (base !== undefined && base !== '') url = `${base.replace(/\/+$/, '')}/v1/traces`;
  else return undefined;
  const resource: Record<string, WireAttributeValue> = {
    ...parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES),
    'telemetry.sdk.name': 'peregrine',
    'telemetry.sdk.language': 'nodejs',
    'host.name': hostname(),
    'process.pid': process.pid,
    'process.runtime.name': 'nodejs',
    'process.runtime.version': process.versions.node,
  };
  resource['service.name'] =
    env.OTEL_SERVICE_NAME ??
    (resource['service.name'] as string | undefined) ??
    'unknown_service:peregrine';
  // The batch span processor's standard variables size the queue and the requests.
  const maxQueue = positiveInt(env.OTEL_BSP_MAX_QUEUE_SIZE);
  const maxBatch = positiveInt(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE);
  const interval = positiveInt(env.OTEL_BSP_SCHEDULE_DELAY);
  const timeout = positiveInt(
    env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT ?? env.OTEL_EXPORTER_OTLP_TIMEOUT,
  );
  return {
    url,
    headers: {
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
    resource,
    ...(maxQueue !== undefined ? { maxQueue } : {}),
    ...(maxBatch !== undefined ? { maxBatch } : {}),
    ...(interval !== undefined ? { interval } : {}),
    ...(timeout !== undefined ? { timeout } : {}),
  };
}

/** A positive integer setting, or undefined when unset or not one. */
function positiveInt(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
