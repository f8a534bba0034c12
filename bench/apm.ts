/**
 * `npm run bench:apm`: the apm's store on one core. Ingest: OTLP/protobuf requests of `--batch`
 * spans (traces of 8 spans across 3 services: server, client and database spans, the attributes
 * a Peregrine service sends) decoded, paired into the service graph and written, one transaction
 * per flush, as the receiver does; the time counts decode + graph + write, not building the
 * requests. Then, with `--spans` stored: trace-by-id and search latencies, and bytes per span.
 *
 *   npm run bench:apm -- --spans 1000000
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeBody, type SpanRecord } from '../src/apm/decode.ts';
import { ServiceGraph } from '../src/apm/graph.ts';
import { TraceRequest } from '../src/apm/proto.ts';
import { ApmStore } from '../src/apm/store.ts';

const { values } = parseArgs({
  options: {
    spans: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    db: { type: 'string' },
    lookups: { type: 'string', default: '200' },
  },
});
const TOTAL = Number(values.spans);
const BATCH = Number(values.batch);
const dir = values.db === undefined ? mkdtempSync(join(tmpdir(), 'prg-bench-apm-')) : undefined;
const path = values.db ?? join(dir!, 'apm.db');

const SERVICES = ['gateway', 'catalog', 'pricing'];
const ROUTES = ['/orders/:id', '/items', '/items/:id', '/prices/:sku', '/health'];
const kv = (key: string, value: string | number) => ({
  key,
  value: typeof value === 'string' ? { stringValue: value } : { intValue: value },
});

/** One request body: BATCH spans, traces of 8 spans (3 services, client/server pairs, a db call). */
function makeRequest(startMs: number): { body: Uint8Array; traceIds: Buffer[] } {
  const bySvc = new Map<string, object[]>(SERVICES.map((s) => [s, []]));
  const traceIds: Buffer[] = [];
  let n = 0;
  while (n < BATCH) {
    const traceId = randomBytes(16);
    traceIds.push(traceId);
    const t0 = BigInt(startMs + n) * 1_000_000n;
    const ids = Array.from({ length: 8 }, () => randomBytes(8));
    const route = ROUTES[n % ROUTES.length]!;
    const status = n % 50 === 0 ? 500 : 200;
    const mk = (
      svc: string,
      i: number,
      parent: number,
      kind: number,
      name: string,
      attrs: object[],
      dur: number,
    ) => {
      bySvc.get(svc)!.push({
        traceId,
        spanId: ids[i],
        ...(parent >= 0 ? { parentSpanId: ids[parent] } : {}),
        name,
        kind,
        startTimeUnixNano: String(t0 + BigInt(i) * 100_000n),
        endTimeUnixNano: String(t0 + BigInt(i) * 100_000n + BigInt(dur) * 1000n),
        attributes: attrs,
        status: status === 500 && kind === 2 ? { code: 2 } : {},
      });
    };
    const http = (r: string) => [
      kv('http.request.method', 'GET'),
      kv('http.route', r),
      kv('http.response.status_code', status),
      kv('url.scheme', 'http'),
    ];
    mk('gateway', 0, -1, 2, `GET ${route}`, http(route), 9000);
    mk(
      'gateway',
      1,
      0,
      3,
      'GET',
      [
        kv('http.request.method', 'GET'),
        kv('server.address', 'catalog'),
        kv('server.port', 8080),
        kv('http.response.status_code', status),
      ],
      7000,
    );
    mk('catalog', 2, 1, 2, 'GET /items/:id', http('/items/:id'), 6500);
    mk(
      'catalog',
      3,
      2,
      3,
      'SELECT items',
      [
        kv('db.system', 'sqlite'),
        kv('db.namespace', 'catalog.db'),
        kv('db.operation.name', 'SELECT'),
        kv('db.query.text', 'SELECT id, name, price FROM items WHERE id = ?'),
      ],
      300,
    );
    mk(
      'catalog',
      4,
      2,
      3,
      'GET',
      [kv('http.request.method', 'GET'), kv('server.address', 'pricing'), kv('server.port', 8081)],
      4000,
    );
    mk('pricing', 5, 4, 2, 'GET /prices/:sku', http('/prices/:sku'), 3500);
    mk('pricing', 6, 5, 3, 'GET', [kv('db.system', 'redis'), kv('db.operation.name', 'GET')], 150);
    mk('pricing', 7, 5, 1, 'compute', [kv('pricing.rule', 'standard')], 500);
    n += 8;
  }
  const message = TraceRequest.fromObject({
    resourceSpans: SERVICES.map((svc) => ({
      resource: {
        attributes: [
          kv('service.name', svc),
          kv('host.name', 'bench'),
          kv('telemetry.sdk.name', 'peregrine'),
        ],
      },
      scopeSpans: [{ scope: { name: 'peregrine' }, spans: bySvc.get(svc) }],
    })),
  });
  return { body: TraceRequest.encode(message).finish(), traceIds };
}

const store = new ApmStore({
  path,
  retentionMs: 30 * 86_400_000,
  retentionBytes: Number.MAX_SAFE_INTEGER,
});
const graph = new ServiceGraph({ waitMs: 10_000, maxPending: 100_000 });
const limits = { maxAttributeLength: 4096, maxItems: 100_000 };
const sample: Buffer[] = [];
let busyNs = 0n;
let written = 0;
let requestBytes = 0;
const startMs = Date.now() - 3600_000;
const FLUSH = 4; // requests per transaction, as a busy receiver's queue drains them
while (written < TOTAL) {
  const batches: SpanRecord[][] = [];
  const edges = [];
  const nodes = [];
  const bodies = Array.from({ length: FLUSH }, () => makeRequest(startMs + written));
  const t0 = process.hrtime.bigint();
  for (const { body } of bodies) {
    const spans = decodeBody('traces', Buffer.from(body), false, limits) as SpanRecord[];
    batches.push(spans);
    const made = graph.add(spans, Date.now());
    edges.push(...made.edges);
    nodes.push(...made.nodes);
  }
  store.write(batches, [], edges, nodes);
  busyNs += process.hrtime.bigint() - t0;
  for (const { body, traceIds } of bodies) {
    requestBytes += body.length;
    written += batches[0]!.length;
    if (sample.length < 10_000) sample.push(traceIds[0]!);
    else sample[Math.floor(Math.random() * sample.length)] = traceIds[0]!;
  }
}
const ingestRate = written / (Number(busyNs) / 1e9);

function timeIt(fn: () => unknown, runs: number): { p50: number; p99: number } {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return {
    p50: ms[Math.floor(runs * 0.5)]!,
    p99: ms[Math.min(runs - 1, Math.floor(runs * 0.99))]!,
  };
}
const runs = Number(values.lookups);
const byId = timeIt(() => {
  const id = sample[Math.floor(Math.random() * sample.length)]!.toString('hex');
  if (store.trace(id).length !== 8) throw new Error('a stored trace is missing spans');
}, runs);
const endMs = startMs + written;
const searches = {
  'service + minDuration (last 15 min of data)': () =>
    store.search({ service: 'catalog', minDurationMs: 5, startMs: endMs - 900_000, limit: 20 }),
  'service + status=error': () => store.search({ service: 'pricing', status: 'error', limit: 20 }),
  'service + route': () => store.search({ service: 'gateway', route: '/items', limit: 20 }),
  // The worst case: a filter nothing matches reads every span of the service.
  'service + minDuration matching nothing (full scan of a service)': () =>
    store.search({ service: 'pricing', minDurationMs: 60_000, limit: 20 }),
  'attribute = value (last 15 min)': () =>
    store.search({
      attributes: [['db.namespace', 'catalog.db']],
      startMs: endMs - 900_000,
      limit: 20,
    }),
};
const searchTimes = Object.fromEntries(
  Object.entries(searches).map(([name, fn]) => [
    name,
    timeIt(fn, Math.max(5, Math.floor(runs / 10))),
  ]),
);
store.db.pragma('wal_checkpoint(TRUNCATE)');
const bytes = store.liveBytes();
const result = {
  spans: written,
  ingestSpansPerSecond: Math.round(ingestRate),
  requestBytesPerSpan: +(requestBytes / written).toFixed(1),
  storeBytesPerSpan: +(bytes / written).toFixed(1),
  storeBytes: bytes,
  traceById: { p50Ms: +byId.p50.toFixed(3), p99Ms: +byId.p99.toFixed(3) },
  search: Object.fromEntries(
    Object.entries(searchTimes).map(([k, v]) => [
      k,
      { p50Ms: +v.p50.toFixed(2), p99Ms: +v.p99.toFixed(2) },
    ]),
  ),
  node: process.version,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
store.close();
if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
