/**
 * OTLP export requests (protobuf or JSON) to flat span and metric-point records. Everything is
 * validated before anything is stored: a request either decodes whole or is refused whole.
 */
import { MetricsRequest, TraceRequest } from './proto.ts';

/** An attribute value as stored (JSON). */
export type AttrValue =
  | string
  | number
  | boolean
  | null
  | AttrValue[]
  | { [key: string]: AttrValue };
/** Attributes by key. */
export type Attrs = Record<string, AttrValue>;

/** Span kinds (OTLP numbering). */
export const SPAN_KIND = [
  'unspecified',
  'internal',
  'server',
  'client',
  'producer',
  'consumer',
] as const;

/** One span, flattened. Times in microseconds since the epoch. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentId: string;
  service: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  startUs: number;
  durationUs: number;
  /** OTLP StatusCode: 0 unset, 1 ok, 2 error. */
  status: number;
  statusMessage: string;
  attributes: Attrs;
  resource: Attrs;
  scope: string;
  events: { timeUs: number; name: string; attributes: Attrs }[];
}

/** One metric data point, flattened. */
export interface MetricPoint {
  service: string;
  name: string;
  /** gauge, sum, histogram, exponential_histogram or summary. */
  type: string;
  unit: string;
  timeUs: number;
  attributes: Attrs;
  /** A number for gauge and sum; the point's fields for the others. */
  value: AttrValue;
}

/** A payload that cannot be taken (answered 400, or 413 when `tooLarge`). */
export class BadPayload extends Error {
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge = false) {
    super(message);
    this.tooLarge = tooLarge;
  }
}

/** Limits applied while decoding. */
export interface DecodeLimits {
  /** Longer string attribute values are cut to this many characters. */
  maxAttributeLength: number;
  /** More spans (or points) in one request are refused (413). */
  maxItems: number;
}

const MAX_DEPTH = 16;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function fail(message: string): never {
  throw new BadPayload(message);
}

function list(v: unknown, what: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${what} must be an array`);
  return v;
}

function obj(v: unknown, what: string): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) fail(`${what} must be an object`);
  return v;
}

function str(v: unknown, what: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(`${what} must be a string`);
  return v;
}

/** A 64-bit integer as protobufjs (Long), or OTLP/JSON (decimal string or number) gives it. */
function int64(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(`${what} must be an integer`);
    return v;
  }
  if (typeof v === 'string') {
    if (!/^-?\d{1,20}$/.test(v)) fail(`${what} must be an integer`);
    return Number(v);
  }
  if (isObj(v) && typeof v.low === 'number' && typeof v.high === 'number') {
    const high = v.unsigned === true ? v.high >>> 0 : v.high;
    return high * 4294967296 + (v.low >>> 0);
  }
  return fail(`${what} must be an integer`);
}

function int(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${what} must be an integer`);
  return v;
}

const HEX = '0123456789abcdef';

/** A trace or span id: bytes from protobuf, hex from OTLP/JSON. */
function id(v: unknown, bytes: number, what: string, required: boolean): string {
  // An absent bytes field is protobufjs's default on the prototype: an empty array or buffer.
  const empty = (v instanceof Uint8Array || Array.isArray(v)) && v.length === 0;
  if (v === undefined || v === null || empty || v === '') {
    if (required) fail(`${what} is missing`);
    return '';
  }
  if (v instanceof Uint8Array) {
    if (v.length !== bytes) fail(`${what} must be ${bytes} bytes`);
    let out = '';
    for (const b of v) out += HEX[b >> 4]! + HEX[b & 15]!;
    return out;
  }
  if (typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(v)) {
    return v.toLowerCase();
  }
  return fail(`${what} must be ${bytes * 2} hex digits`);
}

/** Whether a oneof member is set (protobufjs keeps defaults on the prototype, JSON has none). */
function has(v: Obj, key: string): boolean {
  return Object.hasOwn(v, key) && v[key] !== undefined && v[key] !== null;
}

function anyValue(v: unknown, limits: DecodeLimits, depth: number): AttrValue {
  if (depth > MAX_DEPTH) fail('attribute values are nested too deeply');
  if (v === undefined || v === null) return null;
  if (!isObj(v)) fail('an attribute value must be an AnyValue object');
  if (has(v, 'stringValue')) {
    const s = str(v.stringValue, 'stringValue');
    return s.length > limits.maxAttributeLength ? s.slice(0, limits.maxAttributeLength) : s;
  }
  if (has(v, 'boolValue')) {
    if (typeof v.boolValue !== 'boolean') fail('boolValue must be a boolean');
    return v.boolValue;
  }
  if (has(v, 'intValue')) return int64(v.intValue, 'intValue');
  if (has(v, 'doubleValue')) {
    if (typeof v.doubleValue !== 'number') fail('doubleValue must be a number');
    return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue);
  }
  if (has(v, 'arrayValue')) {
    return list(obj(v.arrayValue, 'arrayValue').values, 'arrayValue.values').map((x) =>
      anyValue(x, limits, depth + 1),
    );
  }
  if (has(v, 'kvlistValue')) {
    return attrs(obj(v.kvlistValue, 'kvlistValue').values, limits, depth + 1);
  }
  if (has(v, 'bytesValue')) {
    if (v.bytesValue instanceof Uint8Array) return Buffer.from(v.bytesValue).toString('base64');
    return str(v.bytesValue, 'bytesValue');
  }
  return null;
}

function attrs(v: unknown, limits: DecodeLimits, depth = 0): Attrs {
  const out: Attrs = {};
  for (const kv of list(v, 'attributes')) {
    if (!isObj(kv)) fail('an attribute must be a KeyValue object');
    out[str(kv.key, 'attribute key')] = anyValue(kv.value, limits, depth);
  }
  return out;
}

function serviceOf(resource: Attrs): string {
  const name = resource['service.name'];
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

/** Turns a decoded (protobufjs message or parsed JSON) trace request into span records. */
export function spansFrom(request: unknown, limits: DecodeLimits): SpanRecord[] {
  const out: SpanRecord[] = [];
  if (!isObj(request)) fail('the request must be an object');
  for (const rs of list(request.resourceSpans, 'resourceSpans')) {
    if (!isObj(rs)) fail('resourceSpans[] must be objects');
    const resource = attrs(obj(rs.resource, 'resource').attributes, limits);
    const service = serviceOf(resource);
    for (const ss of list(rs.scopeSpans, 'scopeSpans')) {
      if (!isObj(ss)) fail('scopeSpans[] must be objects');
      const scope = str(obj(ss.scope, 'scope').name, 'scope.name');
      for (const s of list(ss.spans, 'spans')) {
        if (!isObj(s)) fail('spans[] must be objects');
        if (out.length >= limits.maxItems) {
          throw new BadPayload(`more than ${limits.maxItems} spans in one request`, true);
        }
        const start = int64(s.startTimeUnixNano, 'startTimeUnixNano');
        const end = int64(s.endTimeUnixNano, 'endTimeUnixNano');
        const status = obj(s.status, 'status');
        const events = list(s.events, 'events').map((e) => {
          if (!isObj(e)) fail('events[] must be objects');
          return {
            timeUs: Math.floor(int64(e.timeUnixNano, 'event time') / 1000),
            name: str(e.name, 'event name'),
            attributes: attrs(e.attributes, limits),
          };
        });
        const kind = int(s.kind, 'kind');
        const code = int(status.code, 'status.code');
        if (kind < 0 || kind > 5) fail('kind must be 0–5');
        if (code < 0 || code > 2) fail('status.code must be 0–2');
        out.push({
          traceId: id(s.traceId, 16, 'traceId', true),
          spanId: id(s.spanId, 8, 'spanId', true),
          parentId: id(s.parentSpanId, 8, 'parentSpanId', false),
          service,
          name: str(s.name, 'name'),
          kind,
          startUs: Math.floor(start / 1000),
          durationUs: Math.max(0, Math.round((end - start) / 1000)),
          status: code,
          statusMessage: str(status.message, 'status.message'),
          attributes: attrs(s.attributes, limits),
          resource,
          scope,
          events,
        });
      }
    }
  }
  return out;
}

function num(v: unknown, what: string): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  return int64(v, what);
}

function pointValue(type: string, p: Obj): AttrValue {
  if (type === 'gauge' || type === 'sum') {
    if (has(p, 'asDouble')) return num(p.asDouble, 'asDouble');
    return num(p.asInt, 'asInt');
  }
  if (type === 'histogram') {
    return {
      count: num(p.count, 'count'),
      sum: num(p.sum, 'sum'),
      bucketCounts: list(p.bucketCounts, 'bucketCounts').map((c) => num(c, 'bucketCounts')),
      explicitBounds: list(p.explicitBounds, 'explicitBounds').map((c) => num(c, 'explicitBounds')),
    };
  }
  if (type === 'summary') {
    return {
      count: num(p.count, 'count'),
      sum: num(p.sum, 'sum'),
      quantiles: list(p.quantileValues, 'quantileValues').map((q) => {
        const o = obj(q, 'quantileValues[]');
        return [num(o.quantile, 'quantile'), num(o.value, 'value')];
      }),
    };
  }
  return { count: num(p.count, 'count'), sum: num(p.sum, 'sum'), scale: num(p.scale, 'scale') };
}

const METRIC_TYPES = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const;

/** Turns a decoded metrics request into points. */
export function pointsFrom(request: unknown, limits: DecodeLimits): MetricPoint[] {
  const out: MetricPoint[] = [];
  if (!isObj(request)) fail('the request must be an object');
  for (const rm of list(request.resourceMetrics, 'resourceMetrics')) {
    if (!isObj(rm)) fail('resourceMetrics[] must be objects');
    const service = serviceOf(attrs(obj(rm.resource, 'resource').attributes, limits));
    for (const sm of list(rm.scopeMetrics, 'scopeMetrics')) {
      if (!isObj(sm)) fail('scopeMetrics[] must be objects');
      for (const m of list(sm.metrics, 'metrics')) {
        if (!isObj(m)) fail('metrics[] must be objects');
        const name = str(m.name, 'metric name');
        const unit = str(m.unit, 'unit');
        for (const key of METRIC_TYPES) {
          if (!has(m, key)) continue;
          const type = key === 'exponentialHistogram' ? 'exponential_histogram' : key;
          for (const p of list(obj(m[key], key).dataPoints, 'dataPoints')) {
            if (!isObj(p)) fail('dataPoints[] must be objects');
            if (out.length >= limits.maxItems) {
              throw new BadPayload(`more than ${limits.maxItems} points in one request`, true);
            }
            out.push({
              service,
              name,
              type,
              unit,
              timeUs: Math.floor(num(p.timeUnixNano, 'timeUnixNano') / 1000),
              attributes: attrs(p.attributes, limits),
              value: pointValue(type, p),
            });
          }
        }
      }
    }
  }
  return out;
}

/** Decodes a body (already gunzipped) of the given content type. */
export function decodeBody(
  signal: 'traces' | 'metrics',
  body: Buffer,
  json: boolean,
  limits: DecodeLimits,
): SpanRecord[] | MetricPoint[] {
  let message: unknown;
  try {
    if (json) message = JSON.parse(body.toString('utf8'));
    else message = (signal === 'traces' ? TraceRequest : MetricsRequest).decode(body);
  } catch (err) {
    throw new BadPayload(
      `cannot decode the ${json ? 'JSON' : 'protobuf'} body: ${(err as Error).message}`,
    );
  }
  try {
    return signal === 'traces' ? spansFrom(message, limits) : pointsFrom(message, limits);
  } catch (err) {
    if (err instanceof BadPayload) throw err;
    // e.g. RangeError from a structure nested past the stack
    throw new BadPayload(`cannot read the request: ${(err as Error).message}`);
  }
}
