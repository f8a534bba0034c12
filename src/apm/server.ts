/**
 * `peregrine apm`'s processes in one: the OTLP/HTTP receiver (`/v1/traces`, `/v1/metrics`;
 * protobuf or JSON, gzip or not), the bounded write queue in front of the store, the service graph
 * fed at ingest, and the query listener (`query-api.ts`: the JSON API and the pages). Senders are never made to wait on the store: a request is
 * decoded whole, queued, and answered; when the queue is full it is answered 503 with Retry-After
 * and its spans are counted as dropped.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BadPayload,
  type DecodeLimits,
  decodeBody,
  type MetricPoint,
  type SpanRecord,
} from './decode.ts';
import { ServiceGraph } from './graph.ts';
import { HttpProblem, inflate, json, problem, readBody } from './http.ts';
import { QueryApi } from './query-api.ts';
import { ApmStore } from './store.ts';

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
  readonly #queries: QueryApi;

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
    this.#queries = new QueryApi(this.store, () => this.currentStats());
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
        this.#queries.answer(req, res);
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

  /** The counters, with the graph's and the store's. */
  currentStats(): ApmStats & { storeBytes: number } {
    this.stats.pairedCalls = this.graph.paired;
    this.stats.unpairedHalves = this.graph.unpaired;
    this.stats.pendingHalves = this.graph.pending;
    return { ...this.stats, storeBytes: this.store.liveBytes() };
  }
}
