/**
 * `peregrine apm`'s processes in one: the OTLP/HTTP receiver (`/v1/traces`, `/v1/metrics`;
 * protobuf or JSON, gzip or not), the bounded write queue in front of the store, the service graph
 * fed at ingest, and the JSON query API. Senders are never made to wait on the store: a request is
 * decoded whole, queued, and answered; when the queue is full it is answered 503 with Retry-After
 * and its spans are counted as dropped.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzip } from 'node:zlib';
import { UiAssets } from '../dashboard/assets.ts';
import {
  BadPayload,
  type DecodeLimits,
  decodeBody,
  type MetricPoint,
  type SpanRecord,
} from './decode.ts';
import { ServiceGraph } from './graph.ts';
import type { TraceQuery } from './query-types.ts';
import { ApmStore } from './store.ts';

/** The built pages (`npm run build:ui` writes them; src/apm and dist/apm are both two levels down). */
export const APM_UI_DIR = fileURLToPath(new URL('../../dist/apm-ui/', import.meta.url));

/** Options of `peregrine apm`. */
export interface ApmOptions {
  /** OTLP/HTTP receiver address. */
  otlpHost: string;
  otlpPort: number;
  /** Query API (and, later, UI) address. */
  apiHost: string;
  apiPort: number;
  /** SQLite file. */
  db: string;
  retentionMs: number;
  retentionBytes: number;
  /** Spans (plus metric points) waiting for the store beyond which requests get 503. */
  queueLimit: number;
  /** Largest request body, after gunzip (bytes). */
  maxBodyBytes: number;
  /** Most spans or points in one request. */
  maxItemsPerRequest: number;
  /** Longer string attribute values are cut. */
  maxAttributeLength: number;
  /** How long a client or server span waits for its other half (ms). */
  pairWaitMs: number;
  /** Most halves waiting. */
  maxPending: number;
  /** How often retention runs (ms). */
  retentionIntervalMs: number;
}

/** Defaults of the options. */
export const APM_DEFAULTS: ApmOptions = {
  otlpHost: '127.0.0.1',
  otlpPort: 4318,
  apiHost: '127.0.0.1',
  apiPort: 9465,
  db: 'peregrine-apm.db',
  retentionMs: 24 * 3600_000,
  retentionBytes: 1024 * 1024 * 1024,
  queueLimit: 100_000,
  maxBodyBytes: 16 * 1024 * 1024,
  maxItemsPerRequest: 50_000,
  maxAttributeLength: 4096,
  pairWaitMs: 10_000,
  maxPending: 100_000,
  retentionIntervalMs: 30_000,
};

/** Counters of the receiver and the writer. */
export interface ApmStats {
  requests: number;
  rejectedRequests: number;
  /** Requests answered 503 because the queue was full. */
  throttledRequests: number;
  /** Spans and points refused because the queue was full. */
  droppedSpans: number;
  droppedPoints: number;
  receivedSpans: number;
  receivedPoints: number;
  storedSpans: number;
  storedPoints: number;
  /** Spans lost because a write to the store failed. */
  writeFailures: number;
  queued: number;
  pairedCalls: number;
  unpairedHalves: number;
  pendingHalves: number;
}

class HttpProblem extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
};

function problem(
  res: ServerResponse,
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
  });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * How many bytes past the limit are read and thrown away before a 413 is answered. A sender
 * still uploading when the server answers and closes gets a reset instead of the 413 (and an
 * OTLP exporter retries a reset forever), so a body up to this much too large is drained first
 * and answered on a connection that stays open; a larger one is answered at once and closed.
 */
const DRAIN_PAST_LIMIT = 64 * 1024 * 1024;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = (close: boolean) =>
      new HttpProblem(
        413,
        `the body is larger than ${limit} bytes`,
        close ? { connection: 'close' } : undefined,
      );
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit + DRAIN_PAST_LIMIT) {
      reject(tooLarge(true));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (over || size > limit) {
        if (!over) chunks.length = 0;
        over = true;
        if (size > limit + DRAIN_PAST_LIMIT) {
          req.removeAllListeners('data');
          req.resume();
          reject(tooLarge(true));
        }
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (over) reject(tooLarge(false));
      else resolve(Buffer.concat(chunks, size));
    });
    req.on('error', reject);
  });
}

function inflate(body: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(body, { maxOutputLength: limit }, (err, out) => {
      if (err === null) resolve(out);
      else if (
        err instanceof RangeError ||
        (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE'
      )
        reject(new HttpProblem(413, `the body inflates past ${limit} bytes`));
      else reject(new HttpProblem(400, `cannot gunzip the body: ${err.message}`));
    });
  });
}

interface Batch {
  spans?: SpanRecord[];
  points?: MetricPoint[];
}

/** A running `peregrine apm`. */
export class ApmServer {
  readonly options: ApmOptions;
  readonly store: ApmStore;
  readonly graph: ServiceGraph;
  readonly stats: ApmStats = {
    requests: 0,
    rejectedRequests: 0,
    throttledRequests: 0,
    droppedSpans: 0,
    droppedPoints: 0,
    receivedSpans: 0,
    receivedPoints: 0,
    storedSpans: 0,
    storedPoints: 0,
    writeFailures: 0,
    queued: 0,
    pairedCalls: 0,
    unpairedHalves: 0,
    pendingHalves: 0,
  };
  readonly #limits: DecodeLimits;
  #queue: Batch[] = [];
  #flushScheduled = false;
  #otlp: Server | undefined;
  #api: Server | undefined;
  #timers: NodeJS.Timeout[] = [];
  #log: (line: Record<string, unknown>) => void;
  #retaining = false;
  #open = true;
  #ui: UiAssets | undefined;

  constructor(
    options: Partial<ApmOptions> = {},
    log: (line: Record<string, unknown>) => void = () => {},
  ) {
    this.options = { ...APM_DEFAULTS, ...options };
    this.#log = log;
    this.#limits = {
      maxAttributeLength: this.options.maxAttributeLength,
      maxItems: this.options.maxItemsPerRequest,
    };
    this.store = new ApmStore({
      path: this.options.db,
      retentionMs: this.options.retentionMs,
      retentionBytes: this.options.retentionBytes,
    });
    this.graph = new ServiceGraph({
      waitMs: this.options.pairWaitMs,
      maxPending: this.options.maxPending,
    });
  }

  /** Starts both listeners; resolves to their ports. */
  async start(): Promise<{ otlpPort: number; apiPort: number }> {
    // Exporters post every few seconds (the OTel SDKs' default is 5 s): node's 5 s keep-alive
    // timeout would close their connections just as they reuse them (a reset, then a retry), so
    // idle connections are kept for 65 s, as load balancers do. close() still ends them at once.
    this.#otlp = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      this.#ingest(req, res).catch((err: unknown) => this.#fail(res, err));
    });
    this.#api = createServer((req, res) => {
      try {
        this.#query(req, res);
      } catch (err) {
        this.#fail(res, err);
      }
    });
    const listen = (server: Server, host: string, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
      });
    const otlpPort = await listen(this.#otlp, this.options.otlpHost, this.options.otlpPort);
    const apiPort = await listen(this.#api, this.options.apiHost, this.options.apiPort);
    this.#timers.push(
      setInterval(() => this.#expire(), Math.min(1000, this.options.pairWaitMs)),
      setInterval(() => this.#retain(), this.options.retentionIntervalMs),
    );
    for (const t of this.#timers) t.unref();
    this.#retain();
    return { otlpPort, apiPort };
  }

  /** Stops listening, writes what is queued (and the unpaired halves' leaf edges), closes the store. */
  async close(): Promise<void> {
    this.#open = false;
    for (const t of this.#timers) clearInterval(t);
    const close = (server: Server | undefined) =>
      new Promise<void>((resolve) => {
        if (server === undefined || !server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    await Promise.all([close(this.#otlp), close(this.#api)]);
    this.#flush();
    this.store.close();
  }

  #fail(res: ServerResponse, err: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpProblem) {
      problem(res, err.status, err.message, err.headers);
      return;
    }
    this.#log({ level: 'error', msg: 'apm request failed', err: (err as Error).message });
    problem(res, 500 as number, 'internal error');
  }

  async #ingest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      json(res, { status: 'ok' });
      return;
    }
    const signal =
      path === '/v1/traces' ? 'traces' : path === '/v1/metrics' ? 'metrics' : undefined;
    if (signal === undefined) throw new HttpProblem(404, `no OTLP endpoint at ${path}`);
    if (req.method !== 'POST')
      throw new HttpProblem(405, 'OTLP export is a POST', { allow: 'POST' });
    this.stats.requests++;
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const isJson = type === 'application/json';
      if (!isJson && type !== 'application/x-protobuf' && type !== 'application/protobuf') {
        throw new HttpProblem(415, 'send application/x-protobuf or application/json');
      }
      const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
      if (encoding !== 'gzip' && encoding !== 'identity') {
        throw new HttpProblem(415, 'content-encoding must be gzip or identity');
      }
      let body = await readBody(req, this.options.maxBodyBytes);
      if (encoding === 'gzip') body = await inflate(body, this.options.maxBodyBytes);
      let items: SpanRecord[] | MetricPoint[];
      try {
        items = decodeBody(signal, body, isJson, this.#limits);
      } catch (err) {
        if (err instanceof BadPayload) throw new HttpProblem(err.tooLarge ? 413 : 400, err.message);
        throw err;
      }
      if (this.stats.queued + items.length > this.options.queueLimit) {
        this.stats.throttledRequests++;
        if (signal === 'traces') this.stats.droppedSpans += items.length;
        else this.stats.droppedPoints += items.length;
        throw new HttpProblem(503, 'the write queue is full; retry later', { 'retry-after': '1' });
      }
      if (signal === 'traces') {
        this.stats.receivedSpans += items.length;
        this.#enqueue({ spans: items as SpanRecord[] });
      } else {
        this.stats.receivedPoints += items.length;
        this.#enqueue({ points: items as MetricPoint[] });
      }
      if (isJson) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
      } else {
        // An empty Export*ServiceResponse: full success.
        res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
        res.end();
      }
    } catch (err) {
      if (err instanceof HttpProblem && err.status !== 503) this.stats.rejectedRequests++;
      throw err;
    }
  }

  #enqueue(batch: Batch): void {
    this.#queue.push(batch);
    this.stats.queued += (batch.spans?.length ?? 0) + (batch.points?.length ?? 0);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** Writes every queued batch in one transaction (each request whole or not at all). */
  #flush(): void {
    this.#flushScheduled = false;
    const batches = this.#queue;
    if (batches.length === 0) return;
    this.#queue = [];
    const spans: SpanRecord[][] = [];
    const points: MetricPoint[][] = [];
    const edges = [];
    const nodes = [];
    const now = Date.now();
    for (const b of batches) {
      if (b.spans !== undefined) {
        spans.push(b.spans);
        const made = this.graph.add(b.spans, now);
        edges.push(...made.edges);
        nodes.push(...made.nodes);
      }
      if (b.points !== undefined) points.push(b.points);
    }
    const nSpans = spans.reduce((n, s) => n + s.length, 0);
    const nPoints = points.reduce((n, p) => n + p.length, 0);
    try {
      this.store.write(spans, points, edges, nodes);
      this.stats.storedSpans += nSpans;
      this.stats.storedPoints += nPoints;
    } catch (err) {
      this.stats.writeFailures += nSpans + nPoints;
      this.#log({ level: 'error', msg: 'apm write failed', err: (err as Error).message });
    } finally {
      this.stats.queued -= nSpans + nPoints;
    }
  }

  #expire(): void {
    const edges = this.graph.expire(Date.now());
    if (edges.length === 0) return;
    try {
      this.store.write([], [], edges, []);
    } catch (err) {
      this.#log({ level: 'error', msg: 'apm write failed', err: (err as Error).message });
    }
  }

  /** Retention in steps of at most 20,000 spans, with I/O let in between (senders never wait long). */
  #retain(): void {
    if (this.#retaining) return;
    this.#retaining = true;
    let total = 0;
    const step = () => {
      if (!this.#open) {
        this.#retaining = false;
        return;
      }
      try {
        const { deleted, more } = this.store.retain(Date.now(), 20_000);
        total += deleted;
        if (more && this.#open) {
          setImmediate(step);
          return;
        }
        if (total > 0) this.#log({ level: 'info', msg: 'apm retention', deletedSpans: total });
      } catch (err) {
        this.#log({ level: 'error', msg: 'apm retention failed', err: (err as Error).message });
      }
      this.#retaining = false;
    };
    step();
  }

  /** Flushes the queue now (tests and benchmarks). */
  flushNow(): void {
    this.#flush();
  }

  #query(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://apm');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpProblem(405, 'the API is read-only', { allow: 'GET, HEAD' });
    }
    if (path === '/healthz') {
      json(res, { status: 'ok' });
      return;
    }
    if (path === '/api/stats') {
      json(res, this.currentStats());
      return;
    }
    if (path === '/api/services') {
      const window = seconds(url.searchParams.get('window'), 900);
      json(res, { windowSeconds: window, services: this.store.services(window * 1000) });
      return;
    }
    if (path === '/api/map') {
      const window = seconds(url.searchParams.get('window'), 900);
      json(res, this.store.map(window * 1000));
      return;
    }
    if (path === '/api/service') {
      const name = url.searchParams.get('name') ?? '';
      if (name === '') throw new HttpProblem(400, 'name (the service) is required');
      const window = seconds(url.searchParams.get('window'), 900);
      const detail = this.store.service(name, window * 1000);
      if (detail === undefined) throw new HttpProblem(404, `no service ${name} is stored`);
      json(res, detail);
      return;
    }
    if (path === '/api/traces') {
      json(res, { traces: this.store.search(traceQuery(url.searchParams)) });
      return;
    }
    const m = /^\/api\/traces\/([^/]+)$/.exec(path);
    if (m !== null) {
      const id = m[1]!.toLowerCase();
      if (!/^[0-9a-f]{32}$/.test(id)) throw new HttpProblem(400, 'a trace id is 32 hex digits');
      const spans = this.store.trace(id);
      if (spans.length === 0) throw new HttpProblem(404, `no trace ${id}`);
      json(res, { traceId: id, spans });
      return;
    }
    // The pages: `/` and `/apm` are the page, `/apm/NAME` its files.
    if (path === '/' || path === '/apm' || path === '/apm/') {
      this.#pages().send(req, res, 'index.html');
      return;
    }
    if (path.startsWith('/apm/')) {
      this.#pages().send(req, res, path.slice(5));
      return;
    }
    throw new HttpProblem(404, `nothing at ${path}`);
  }

  /** The built UI, read on first use. */
  #pages(): UiAssets {
    this.#ui ??= new UiAssets(APM_UI_DIR, 'apm UI');
    return this.#ui;
  }

  /** The counters, with the graph's and the store's. */
  currentStats(): ApmStats & { storeBytes: number } {
    this.stats.pairedCalls = this.graph.paired;
    this.stats.unpairedHalves = this.graph.unpaired;
    this.stats.pendingHalves = this.graph.pending;
    return { ...this.stats, storeBytes: this.store.liveBytes() };
  }
}

function seconds(v: string | null, fallback: number): number {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 30 * 86400) {
    throw new HttpProblem(400, 'window must be a number of seconds (at most 30 days)');
  }
  return n;
}

function time(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n))
    throw new HttpProblem(400, `${what} must be ms since the epoch or an ISO date`);
  return n;
}

/** The search from the query string. */
export function traceQuery(p: URLSearchParams): TraceQuery {
  const q: TraceQuery = {};
  const text = (name: string) => {
    const v = p.get(name);
    return v === null || v === '' ? undefined : v;
  };
  const service = text('service');
  if (service !== undefined) q.service = service;
  const operation = text('operation');
  if (operation !== undefined) q.operation = operation;
  const route = text('route');
  if (route !== undefined) q.route = route;
  const status = text('status');
  if (status !== undefined) {
    if (status !== 'error' && status !== 'ok' && status !== 'unset') {
      throw new HttpProblem(400, 'status must be error, ok or unset');
    }
    q.status = status;
  }
  const min = text('minDuration');
  if (min !== undefined) {
    const n = Number(min);
    if (!Number.isFinite(n) || n < 0) throw new HttpProblem(400, 'minDuration must be ms ≥ 0');
    q.minDurationMs = n;
  }
  const start = time(p.get('start'), 'start');
  if (start !== undefined) q.startMs = start;
  const end = time(p.get('end'), 'end');
  if (end !== undefined) q.endMs = end;
  const limit = text('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new HttpProblem(400, 'limit must be 1–1000');
    q.limit = n;
  }
  const attrs = p.getAll('attr').map((a) => {
    const i = a.indexOf('=');
    if (i <= 0) throw new HttpProblem(400, 'attr must be key=value');
    return [a.slice(0, i), a.slice(i + 1)] as const;
  });
  if (attrs.length > 0) q.attributes = attrs;
  const caller = text('caller');
  const callee = text('callee');
  if ((caller === undefined) !== (callee === undefined)) {
    throw new HttpProblem(400, 'caller and callee go together (one edge of the map)');
  }
  if (caller !== undefined && callee !== undefined) {
    q.caller = caller;
    q.callee = callee;
  }
  return q;
}
