import type { Instrumentation, PipelineRunner, RouteProbe } from '../../app/instrumentation.ts';
import type { Logger } from '../../app/logger.ts';
import type { Request } from '../../app/request.ts';
import type { Response } from '../../app/response.ts';
import { METHODS } from '../../app/route.ts';
import type { RawResponse } from '../../app/transport.ts';
import {
  ACCESS_LOG_MESSAGE,
  type AccessLogLine,
  durationMs,
} from '../../server/serve/access-log.ts';
import type { Gauge, Histogram, HistogramSeries } from '../metrics/instruments.ts';
import { contextManager, SpanOnlyContext } from '../tracing/context.ts';
import type { TracedSpan } from '../tracing/span.ts';
import type { WireAttributeValue } from '../wire.ts';
import { type Recorder, recorder } from './recorder.ts';

const ORIGIN = performance.timeOrigin;

import { parseTraceparent } from '../tracing/trace-context.ts';
import { startServerSpan, type TracingSetup } from '../tracing/tracer.ts';

// The semantic conventions' known methods: the ones a resource answers, plus CONNECT and TRACE.
const KNOWN_METHODS: readonly string[] = [...METHODS, 'CONNECT', 'TRACE'];
const METHOD_INDEX = new Map(KNOWN_METHODS.map((m, i) => [m, i]));
const OTHER = KNOWN_METHODS.length;

/** A new trace's head-sampling decision (the ratio of the trace-id-ratio sampler). */
function headSampled(ratio: number): boolean {
  return ratio >= 1 || (ratio > 0 && Math.random() < ratio);
}

/** The label of a method: known ones as is, anything else `_OTHER` (the semantic conventions). */
function methodIndex(method: string): number {
  return METHOD_INDEX.get(method) ?? OTHER;
}

/** Per-route series: one histogram series per (method, status), resolved on first use and kept. */
class RouteSeries {
  readonly template: string;
  readonly #histogram: Histogram;
  // PERF: an integer-keyed Map; series per route are bounded by methods × statuses (< 5,000).
  readonly #series = new Map<number, HistogramSeries>();
  readonly #spanNames: string[] = [];
  constructor(template: string, histogram: Histogram) {
    this.template = template;
    this.#histogram = histogram;
  }
  /** The server span's name, `METHOD /template`, built once per known method. */
  spanName(method: number, methodName: string): string {
    if (method === OTHER) return `${methodName} ${this.template}`;
    let name = this.#spanNames[method];
    if (name === undefined) {
      name = `${methodName} ${this.template}`;
      this.#spanNames[method] = name;
    }
    return name;
  }
  series(method: number, status: number): HistogramSeries {
    const key = method * 1000 + status;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = this.#histogram.labels([
        method === OTHER ? '_OTHER' : KNOWN_METHODS[method]!,
        this.template,
        String(status),
      ]);
      this.#series.set(key, s);
    }
    return s;
  }
}

/**
 * Per-request state, which is also the request's OpenTelemetry Context: the monotonic start and,
 * with tracing on, the server span — started only when something needs it (a child span, a
 * propagated `traceparent`, a log line's trace id) or when the request ends and is kept.
 * PERF: most requests of a 1%-sampled service create no child spans and are not kept; they never
 * pay for ids, a span or a local trace, and the state and the context are one allocation.
 */
class RequestProbe extends SpanOnlyContext {
  readonly start: number;
  readonly method: number;
  ended = false;
  /** The error that made the answer a 5xx, recorded on the span if it is kept. */
  error: unknown = undefined;
  #span: TracedSpan | undefined = undefined;
  readonly #tracing: TracingSetup | undefined;
  readonly #req: Request;

  constructor(start: number, method: number, tracing: TracingSetup | undefined, req: Request) {
    super(undefined);
    this.start = start;
    this.method = method;
    this.#tracing = tracing;
    this.#req = req;
  }

  /** The server span if it was started. */
  get started(): TracedSpan | undefined {
    return this.#span;
  }

  /** The server span, started now (dated from the request's start) if it was not yet. */
  protected override get span(): TracedSpan | undefined {
    if (this.#span === undefined && this.#tracing !== undefined) {
      const req = this.#req;
      const parent = parseTraceparent(headerOf(req, 'traceparent'), req.headers.tracestate);
      this.#span = startServerSpan(this.#tracing, req.method, parent, ORIGIN + this.start);
    }
    return this.#span;
  }

  /** The server span (see `span`). */
  serverSpan(): TracedSpan | undefined {
    return this.span;
  }
}

function headerOf(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Peregrine's request instrumentation: one histogram observation and an active-requests gauge
 * per request (always), a server span per request when tracing is on, an access log line when
 * asked. Every entry point swallows its own errors: telemetry never fails a request.
 */
export class HttpInstrumentation implements Instrumentation {
  readonly #recorder: Recorder;
  readonly #logger: Logger;
  readonly #duration: Histogram;
  readonly #active: Gauge;
  readonly #activeByMethod: ReturnType<Gauge['labels']>[];
  readonly #expiries: ReturnType<Recorder['registry']['counter']>;
  readonly #unmatched: RouteSeries;
  readonly #tracing: TracingSetup | undefined;
  readonly #accessLog: boolean;

  constructor(rec: Recorder, logger: Logger) {
    this.#recorder = rec;
    this.#logger = logger;
    const r = rec.registry;
    this.#duration = r.histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of HTTP server requests.',
      unit: 'seconds',
      labels: ['http_request_method', 'http_route', 'http_response_status_code'],
    });
    this.#active = r.gauge({
      name: 'http_server_active_requests',
      help: 'Number of active HTTP server requests.',
      labels: ['http_request_method'],
    });
    this.#activeByMethod = [...KNOWN_METHODS, '_OTHER'].map((m) => this.#active.labels([m]));
    this.#expiries = r.counter({
      name: 'peregrine_deadline_expiries',
      help: 'Requests answered 503 because their deadline passed.',
      labels: ['http_route'],
    });
    // Unmatched requests (404 and friends) share one route-less series set, whatever the URL.
    this.#unmatched = new RouteSeries('', this.#duration);
    this.#tracing = rec.tracing;
    this.#accessLog = rec.config.accessLog;
    if (this.#tracing !== undefined) rec.bridge();
  }

  route(template: string): RouteProbe {
    return new RouteSeries(template, this.#duration);
  }

  begin(req: Request, resp: Response, out: RawResponse, run: PipelineRunner): void {
    let probe: RequestProbe | undefined;
    try {
      probe = new RequestProbe(performance.now(), methodIndex(req.method), this.#tracing, req);
      req.probe = probe;
      this.#activeByMethod[probe.method]!.inc();
    } catch {
      // fall through: the request runs untraced
    }
    if (probe === undefined || this.#tracing === undefined) run(req, resp, out);
    else if (req.raw.ownCallback === true) {
      // PERF: called from the transport's own read callback, which ends soon after with the
      // runtime restoring the context: entering is enough. `run` also builds a second frame
      // to restore on return (~0.3–0.5 µs per request between socket calls).
      contextManager.storage.enterWith(probe);
      run(req, resp, out);
    } else contextManager.storage.run(probe, run, req, resp, out);
  }

  end(req: Request, route: RouteProbe | undefined, status: number): void {
    try {
      const probe = req.probe as RequestProbe | undefined;
      if (probe === undefined || probe.ended) return;
      probe.ended = true;
      const now = performance.now();
      const seconds = (now - probe.start) / 1000;
      this.#activeByMethod[probe.method]!.dec();
      const routeSeries = (route as RouteSeries | undefined) ?? this.#unmatched;
      const series = routeSeries.series(probe.method, status);
      let span = probe.started;
      if (span === undefined && this.#tracing !== undefined) {
        // Nothing needed the span while the request ran: start it now only if it is kept.
        const config = this.#recorder.config;
        if (this.#accessLog || req.headers.traceparent !== undefined) {
          span = probe.serverSpan();
        } else {
          const mustKeep = (status >= 500 && config.keepErrors) || seconds * 1000 >= config.slowMs;
          const sampled = !mustKeep && headSampled(this.#tracing.sampler.ratio);
          if (mustKeep || sampled) {
            span = probe.serverSpan();
            // The head decision made here stands for the ratio decision on the id: nobody saw
            // the id before, so no other service can have decided differently.
            const ctx = span?.spanContext();
            if (ctx !== undefined)
              ctx.traceFlags = sampled ? ctx.traceFlags | 1 : ctx.traceFlags & ~1;
          }
        }
      }
      if (span === undefined) {
        series.observe(seconds);
      } else {
        const template = req.route;
        span.updateName(
          template === undefined
            ? req.method
            : template === routeSeries.template
              ? routeSeries.spanName(probe.method, req.method)
              : `${req.method} ${template}`,
        );
        if (status >= 500) span.setStatus({ code: 2 });
        const kept =
          span.sampled ||
          (status >= 500 && this.#recorder.config.keepErrors) ||
          seconds * 1000 >= this.#recorder.config.slowMs;
        if (kept) {
          // PERF: attributes are filled only for spans that will be exported.
          this.#describe(span, req, template, status);
          if (probe.error !== undefined) recordError(span, probe.error);
          series.observeWithTrace(seconds, span.spanContext(), ORIGIN + now);
        } else {
          series.observe(seconds);
        }
        span.end(now);
      }
      if (this.#accessLog) this.#log(req, status, seconds, span);
    } catch {
      // never into the request path
    }
  }

  exception(req: Request, err: unknown): void {
    const probe = req.probe as RequestProbe | undefined;
    if (probe !== undefined && !probe.ended) probe.error = err;
  }

  expired(req: Request, route: RouteProbe | undefined): void {
    try {
      this.#expiries.inc([(route as RouteSeries | undefined)?.template ?? '']);
      this.end(req, route, 503);
    } catch {
      // never into the request path
    }
  }

  #describe(span: TracedSpan, req: Request, template: string | undefined, status: number): void {
    const method = req.method;
    const known = METHOD_INDEX.has(method);
    const host = req.host;
    const colon = host.lastIndexOf(':');
    const port = colon > 0 && !host.endsWith(']');
    // PERF: one object literal of a fixed shape, adopted by the span, instead of a dozen keyed
    // stores into an empty object (each a map transition, the last ones into dictionary mode).
    const a: Record<string, WireAttributeValue> = {
      'http.request.method': known ? method : '_OTHER',
      'http.response.status_code': status,
      'url.path': req.path,
      'url.scheme': req.scheme,
      'server.address': port ? host.slice(0, colon) : host,
      'client.address': req.clientAddress,
      'network.peer.address': req.remoteAddress,
    };
    if (template !== undefined) a['http.route'] = template;
    if (port) a['server.port'] = Number(host.slice(colon + 1));
    const ua = headerOf(req, 'user-agent');
    if (ua !== undefined) a['user_agent.original'] = ua;
    if (req.raw.httpVersion !== undefined) a['network.protocol.version'] = req.raw.httpVersion;
    if (!known) a['http.request.method_original'] = method;
    if (status >= 500) a['error.type'] = String(status);
    span.describe(a);
  }

  #log(req: Request, status: number, seconds: number, span: TracedSpan | undefined): void {
    const line: AccessLogLine = {
      type: 'access',
      method: req.method,
      path: req.path,
      route: req.route,
      status,
      duration_ms: durationMs(seconds * 1000),
      request_id: req.id,
      client: req.clientAddress,
      ...(span !== undefined ? { trace_id: span.traceId, span_id: span.spanId } : {}),
    };
    this.#logger.info(line, ACCESS_LOG_MESSAGE);
  }
}

/** An error that became a 5xx, as the span's exception event and status message. */
function recordError(span: TracedSpan, err: unknown): void {
  if (err instanceof Error) {
    span.recordException(err);
    span.setStatus({ code: 2, message: err.message.slice(0, 1000) });
  } else span.recordException(String(err));
}

/** The instrumentation every App gets unless built with `instrumentation: false`. */
export function defaultInstrumentation(logger: Logger): Instrumentation | undefined {
  const rec = recorder();
  if (!rec.config.metrics) return undefined;
  rec.observeDataPath();
  return new HttpInstrumentation(rec, logger);
}
