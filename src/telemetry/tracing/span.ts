import type {
  Exception,
  Link,
  Span,
  SpanAttributes,
  SpanAttributeValue,
  SpanContext,
  SpanStatus,
  TimeInput,
} from '@opentelemetry/api';
import type { WireAttributeValue, WireSpan } from '../wire.ts';
import type { TraceState } from './trace-context.ts';

const MAX_ATTRIBUTES = 128;
const MAX_EVENTS = 128;
const MAX_LINKS = 32;
const MAX_SPANS_PER_TRACE = 1000;
const ORIGIN = performance.timeOrigin;

/** Milliseconds since the epoch, with sub-millisecond precision. */
export function nowMs(): number {
  return ORIGIN + performance.now();
}

/** Converts an OpenTelemetry TimeInput to milliseconds since the epoch. */
export function timeInputMs(t: TimeInput | undefined): number {
  if (t === undefined) return nowMs();
  if (typeof t === 'number') return t < 1e11 ? ORIGIN + t : t; // performance.now()-relative or epoch
  if (Array.isArray(t)) return t[0] * 1000 + t[1] / 1e6;
  return (t as Date).getTime();
}

/** Fills a span's attributes from a subject (see `TracedSpan.describeLater`). */
type Describer = (subject: unknown, attributes: Record<string, WireAttributeValue>) => void;

/** Where finished spans of kept traces go. */
export interface SpanSink {
  keep(span: TracedSpan, reason: string): void;
}

/** How a local trace (one process's part of a trace) decides at its end whether it is kept. */
export interface KeepPolicy {
  /** Keep spans with error status even when not sampled. */
  readonly keepErrors: boolean;
  /** Keep local traces whose root lasted at least this long, in ms (Infinity: never). */
  readonly slowMs: number;
}

/** The spans of one trace made in this process under one local root; decided when the root ends. */
export class LocalTrace {
  readonly sink: SpanSink;
  readonly policy: KeepPolicy;
  pending: TracedSpan[] | undefined = undefined;
  /** undefined until the root ends; then the reason it was kept, or '' if dropped. */
  decision: string | undefined = undefined;
  /** The local root, once it ended. */
  root: TracedSpan | undefined = undefined;
  /** The sink's own mark (the recorder: whether the trace store gets this trace's spans). */
  forStore: boolean | undefined = undefined;
  constructor(sink: SpanSink, policy: KeepPolicy) {
    this.sink = sink;
    this.policy = policy;
  }
}

function isAttributeValue(v: unknown): v is WireAttributeValue {
  const t = typeof v;
  if (t === 'string' || t === 'boolean') return true;
  if (t === 'number') return true;
  if (Array.isArray(v)) {
    const first = v.find((x) => x !== null && x !== undefined);
    const ft = typeof first;
    return v.every((x) => typeof x === ft);
  }
  return false;
}

/**
 * A span of Peregrine's tracer. It implements `@opentelemetry/api`'s Span, so instrumentations
 * written for OpenTelemetry create and see these spans. Every span records (the keep decision is
 * made at the end of the local trace: sampled, error or slow); dropped ones are just garbage.
 */
export class TracedSpan implements Span {
  readonly #ctx: SpanContext;
  // PERF: the parent's context, not its span id: most ids are never read, so never formatted.
  readonly #parent: SpanContext | undefined;
  /** Whether the parent came from another process. */
  readonly remoteParent: boolean;
  /** OpenTelemetry SpanKind number. */
  readonly kind: number;
  /** The instrumentation scope (tracer name). */
  readonly scope: string;
  /** Start, ms since the epoch. */
  readonly start: number;
  /** End, ms since the epoch (0 while open). */
  end_ = 0;
  name: string;
  #attributes: Record<string, WireAttributeValue> | undefined = undefined;
  #describer: Describer | undefined = undefined;
  #subject: unknown = undefined;
  #attributeCount = 0;
  statusCode = 0;
  statusMessage = '';
  events: WireSpan['events'] | undefined = undefined;
  links: WireSpan['links'] | undefined = undefined;
  /** The local trace this span belongs to. */
  readonly local: LocalTrace;
  /** Whether this span is the local root (its end decides the local trace). */
  readonly isLocalRoot: boolean;

  constructor(
    name: string,
    kind: number,
    ctx: SpanContext,
    parent: SpanContext | undefined,
    remoteParent: boolean,
    local: LocalTrace,
    isLocalRoot: boolean,
    scope: string,
    start: number,
  ) {
    this.name = name;
    this.kind = kind;
    this.#ctx = ctx;
    this.#parent = parent;
    this.remoteParent = remoteParent;
    this.local = local;
    this.isLocalRoot = isLocalRoot;
    this.scope = scope;
    this.start = start;
  }

  spanContext(): SpanContext {
    return this.#ctx;
  }

  /**
   * The attributes. PERF: a span described with `describeLater` gets them on first read — when
   * it is kept and exported, or someone asks — so the spans of unsampled traces, dropped at
   * their end, never build them.
   */
  get attributes(): Record<string, WireAttributeValue> {
    let a = this.#attributes;
    if (a === undefined) {
      a = {};
      this.#attributes = a;
    }
    const describe = this.#describer;
    if (describe !== undefined) {
      this.#describer = undefined;
      describe(this.#subject, a);
      this.#subject = undefined;
    }
    return a;
  }

  /**
   * Fills the attributes from `subject` with `describe` when they are first read, which may be
   * after the span ended (the subject's end-time fields are read then).
   */
  describeLater<S>(
    describe: (subject: S, attributes: Record<string, WireAttributeValue>) => void,
    subject: S,
  ): void {
    this.#describer = describe as Describer;
    this.#subject = subject;
  }

  /**
   * Adds attributes built in one piece (an instrumentation's own, as one object literal of a
   * fixed shape): adopted as they are when the span has none yet, else merged over them.
   */
  describe(attributes: Record<string, WireAttributeValue>): void {
    if (this.#attributes === undefined && this.#describer === undefined) {
      this.#attributes = attributes;
    } else Object.assign(this.attributes, attributes);
  }

  /** Whether a `describeLater` describer has not run yet. */
  get describedLater(): boolean {
    return this.#describer !== undefined;
  }

  /** The parent's context (undefined for a root). */
  get parentContext(): SpanContext | undefined {
    return this.#parent;
  }

  /** The parent span id ('' for a root). */
  get parentSpanId(): string {
    return this.#parent?.spanId ?? '';
  }

  /** The trace id. */
  get traceId(): string {
    return this.#ctx.traceId;
  }

  /** The span id. */
  get spanId(): string {
    return this.#ctx.spanId;
  }

  /** Whether the head sampler chose this trace. */
  get sampled(): boolean {
    return (this.#ctx.traceFlags & 1) === 1;
  }

  setAttribute(key: string, value: SpanAttributeValue): this {
    if (this.end_ !== 0 || value === undefined || value === null) return this;
    if (!isAttributeValue(value)) return this;
    if (!(key in this.attributes)) {
      if (this.#attributeCount >= MAX_ATTRIBUTES) return this;
      this.#attributeCount++;
    }
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    for (const key of Object.keys(attributes)) {
      const v = attributes[key];
      if (v !== undefined) this.setAttribute(key, v);
    }
    return this;
  }

  addEvent(
    name: string,
    attributesOrStartTime?: SpanAttributes | TimeInput,
    startTime?: TimeInput,
  ): this {
    if (this.end_ !== 0) return this;
    this.events ??= [];
    if (this.events.length >= MAX_EVENTS) return this;
    let attributes: SpanAttributes | undefined;
    if (
      typeof attributesOrStartTime === 'object' &&
      !Array.isArray(attributesOrStartTime) &&
      !(attributesOrStartTime instanceof Date)
    ) {
      attributes = attributesOrStartTime as SpanAttributes;
    } else if (attributesOrStartTime !== undefined) {
      startTime = attributesOrStartTime as TimeInput;
    }
    this.events.push({ name, time: timeInputMs(startTime), attributes: clean(attributes) });
    return this;
  }

  addLink(link: Link): this {
    if (this.end_ !== 0) return this;
    this.links ??= [];
    if (this.links.length < MAX_LINKS) {
      this.links.push({
        traceId: link.context.traceId,
        spanId: link.context.spanId,
        attributes: clean(link.attributes),
      });
    }
    return this;
  }

  addLinks(links: Link[]): this {
    for (const l of links) this.addLink(l);
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.end_ !== 0) return this;
    // OK is final; UNSET never overrides (the API spec's rules).
    if (this.statusCode === 1 || status.code === 0) return this;
    this.statusCode = status.code;
    this.statusMessage = status.code === 2 ? (status.message ?? '') : '';
    return this;
  }

  updateName(name: string): this {
    if (this.end_ === 0) this.name = name;
    return this;
  }

  isRecording(): boolean {
    return this.end_ === 0;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: SpanAttributes = {};
    if (typeof exception === 'string') {
      attributes['exception.message'] = exception;
    } else {
      const e = exception as {
        name?: string;
        code?: string | number;
        message?: string;
        stack?: string;
      };
      const type = e.name ?? (e.code !== undefined ? String(e.code) : undefined);
      if (type !== undefined) attributes['exception.type'] = type;
      if (e.message !== undefined) attributes['exception.message'] = e.message;
      if (e.stack !== undefined) attributes['exception.stacktrace'] = e.stack;
    }
    this.addEvent('exception', attributes, time);
  }

  end(endTime?: TimeInput): void {
    if (this.end_ !== 0) return;
    this.end_ = endTime === undefined ? nowMs() : Math.max(this.start, timeInputMs(endTime));
    const local = this.local;
    if (this.isLocalRoot) {
      const reason = decide(this, local.policy);
      local.decision = reason;
      local.root = this;
      if (reason !== '') {
        const pending = local.pending;
        local.pending = undefined;
        if (pending !== undefined) for (const s of pending) local.sink.keep(s, reason);
        local.sink.keep(this, reason);
      } else {
        local.pending = undefined;
      }
      return;
    }
    if (local.decision === undefined) {
      local.pending ??= [];
      if (local.pending.length < MAX_SPANS_PER_TRACE) local.pending.push(this);
    } else if (local.decision !== '') {
      local.sink.keep(this, local.decision);
    }
  }

  /** The span as it travels to the master. */
  toWire(kept: string): WireSpan {
    const ctx = this.#ctx;
    return {
      traceId: ctx.traceId,
      spanId: ctx.spanId,
      parentSpanId: this.parentSpanId,
      remoteParent: this.remoteParent,
      traceState: (ctx.traceState as TraceState | undefined)?.serialize() ?? '',
      traceFlags: ctx.traceFlags,
      name: this.name,
      kind: this.kind,
      start: this.start,
      end: this.end_,
      attributes: this.attributes,
      statusCode: this.statusCode,
      statusMessage: this.statusMessage,
      events: this.events ?? [],
      links: this.links ?? [],
      scope: this.scope,
      kept,
    };
  }
}

function clean(attributes: SpanAttributes | undefined): Record<string, WireAttributeValue> {
  const out: Record<string, WireAttributeValue> = {};
  if (attributes === undefined) return out;
  for (const key of Object.keys(attributes)) {
    const v = attributes[key];
    if (v !== undefined && v !== null && isAttributeValue(v)) out[key] = v;
  }
  return out;
}

/** The keep decision of a local root: '' (drop) or why it is kept. */
function decide(root: TracedSpan, policy: KeepPolicy): string {
  if (root.sampled) return 'sampled';
  if (policy.keepErrors && root.statusCode === 2) return 'error';
  if (root.end_ - root.start >= policy.slowMs) return 'slow';
  return '';
}
