/**
 * The apm's receiver, store and graph in one process over real HTTP: OTLP/JSON and protobuf,
 * gzip, metrics, the full queue (503 + Retry-After, counted), a hostile corpus (every one 4xx, the
 * store left consistent), pairing with a bounded wait, retention, and the API's answers to bad
 * queries.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { TraceRequest } from '../../src/apm/proto.ts';
import { type ApmOptions, ApmServer } from '../../src/apm/server.ts';
import { eventually } from '../helpers/wait.ts';

let apm: ApmServer;
let otlp: string;
let api: string;

async function start(options: Partial<ApmOptions> = {}) {
  const server = new ApmServer({ otlpPort: 0, apiPort: 0, db: ':memory:', ...options });
  const ports = await server.start();
  return {
    server,
    otlp: `http://127.0.0.1:${ports.otlpPort}`,
    api: `http://127.0.0.1:${ports.apiPort}`,
  };
}

before(async () => {
  ({ server: apm, otlp, api } = await start({ pairWaitMs: 100, maxBodyBytes: 4 * 1024 * 1024 }));
});
after(() => apm.close());

const hex = (n: number) => randomBytes(n).toString('hex');
const nowNs = () => BigInt(Date.now()) * 1_000_000n;

interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: unknown[];
  status?: { code: number; message?: string };
}

function span(o: Partial<JsonSpan> & { traceId: string }): JsonSpan {
  const start = nowNs();
  return {
    spanId: hex(8),
    name: 'op',
    kind: 1,
    startTimeUnixNano: String(start),
    endTimeUnixNano: String(start + 2_000_000n),
    ...o,
  };
}

function request(service: string, spans: unknown[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: 'test' }, spans }],
      },
    ],
  };
}

async function post(path: string, body: string | Uint8Array, headers: Record<string, string>) {
  const res = await fetch(`${otlp}${path}`, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const postJson = (value: unknown, headers: Record<string, string> = {}) =>
  post('/v1/traces', JSON.stringify(value), { 'content-type': 'application/json', ...headers });

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const res = await fetch(`${api}${path}`);
  return { status: res.status, body: (await res.json()) as T };
}

const stored = () => apm.store.counts().spans;
async function settle() {
  await eventually(() => apm.stats.queued === 0, 5000, 'the queue written');
}

test('OTLP/JSON: spans with hex ids, int64 as strings, arrays and kvlists; gzip too', async () => {
  const traceId = hex(16);
  const root = span({
    traceId,
    kind: 2,
    name: 'GET /things/:id',
    attributes: [
      { key: 'http.route', value: { stringValue: '/things/:id' } },
      { key: 'http.response.status_code', value: { intValue: '200' } },
      {
        key: 'tags',
        value: { arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } },
      },
      {
        key: 'nested',
        value: { kvlistValue: { values: [{ key: 'k', value: { doubleValue: 1.5 } }] } },
      },
    ],
  });
  const child = span({ traceId, parentSpanId: root.spanId, kind: 3, name: 'SELECT' });
  const before = stored();
  assert.equal((await postJson(request('json-svc', [root]))).status, 200);
  const gz = gzipSync(JSON.stringify(request('json-svc', [child])));
  const r = await post('/v1/traces', gz, {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  });
  assert.equal(r.status, 200);
  assert.equal(r.text, '{}');
  await settle();
  assert.equal(stored(), before + 2);
  const trace = await getJson<{ spans: { spanId: string; attributes: Record<string, unknown> }[] }>(
    `/api/traces/${traceId}`,
  );
  assert.equal(trace.status, 200);
  assert.equal(trace.body.spans.length, 2);
  assert.deepEqual(trace.body.spans[0]!.attributes, {
    'http.route': '/things/:id',
    'http.response.status_code': 200,
    tags: ['a', true],
    nested: { k: 1.5 },
  });
});

test('OTLP/protobuf (protobufjs encoding) decodes to the same records', async () => {
  const traceId = hex(16);
  const message = TraceRequest.fromObject({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'proto-svc' } }] },
        scopeSpans: [
          {
            spans: [
              {
                traceId: Buffer.from(traceId, 'hex'),
                spanId: randomBytes(8),
                name: 'GET /p',
                kind: 2,
                startTimeUnixNano: String(nowNs()),
                endTimeUnixNano: String(nowNs() + 5_000_000n),
                attributes: [{ key: 'n', value: { intValue: 42 } }],
                status: { code: 2, message: 'boom' },
              },
            ],
          },
        ],
      },
    ],
  });
  const body = TraceRequest.encode(message).finish();
  const r = await post('/v1/traces', gzipSync(body), {
    'content-type': 'application/x-protobuf',
    'content-encoding': 'gzip',
  });
  assert.equal(r.status, 200);
  await settle();
  const trace = await getJson<{
    spans: { status: string; statusMessage: string; attributes: object }[];
  }>(`/api/traces/${traceId}`);
  assert.equal(trace.body.spans[0]!.status, 'error');
  assert.equal(trace.body.spans[0]!.statusMessage, 'boom');
  assert.deepEqual(trace.body.spans[0]!.attributes, { n: 42 });
});

test('metrics: OTLP/JSON points are stored and counted', async () => {
  const before = apm.stats.storedPoints;
  const body = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'm' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'requests',
                sum: {
                  dataPoints: [{ asInt: '7', timeUnixNano: String(nowNs()) }],
                  aggregationTemporality: 2,
                  isMonotonic: true,
                },
              },
              {
                name: 'latency',
                histogram: {
                  dataPoints: [
                    {
                      count: '3',
                      sum: 1.5,
                      bucketCounts: ['1', '2'],
                      explicitBounds: [0.5],
                      timeUnixNano: String(nowNs()),
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  const r = await post('/v1/metrics', JSON.stringify(body), { 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  await settle();
  assert.equal(apm.stats.storedPoints, before + 2);
  const values = apm.store.db
    .prepare("SELECT name, value FROM metric_points WHERE service = 'm' ORDER BY name")
    .all() as { name: string; value: string }[];
  assert.deepEqual(
    values.map((v) => [v.name, JSON.parse(v.value)]),
    [
      ['latency', { count: 3, sum: 1.5, bucketCounts: [1, 2], explicitBounds: [0.5] }],
      ['requests', 7],
    ],
  );
});

test('a client and a server span pair into an edge; an unpaired client span ends on a leaf', async () => {
  const traceId = hex(16);
  const call = span({
    traceId,
    kind: 3,
    attributes: [{ key: 'server.address', value: { stringValue: 'b.internal' } }],
  });
  const served = span({ traceId, kind: 2, parentSpanId: call.spanId });
  // The halves arrive in two requests, server first.
  assert.equal((await postJson(request('svc-b', [served]))).status, 200);
  assert.equal((await postJson(request('svc-a', [call]))).status, 200);
  const db = span({
    traceId,
    kind: 3,
    attributes: [
      { key: 'db.system', value: { stringValue: 'redis' } },
      { key: 'server.address', value: { stringValue: 'cache' } },
    ],
  });
  const lonely = span({
    traceId: hex(16),
    kind: 3,
    status: { code: 2 },
    attributes: [{ key: 'peer.service', value: { stringValue: 'payments-vendor' } }],
  });
  const named = span({
    traceId: hex(16),
    kind: 3,
    attributes: [
      { key: 'service.peer.name', value: { stringValue: 'stripe' } },
      { key: 'server.address', value: { stringValue: 'api.stripe.com' } },
    ],
  });
  assert.equal((await postJson(request('svc-a', [db, lonely, named]))).status, 200);
  type M = {
    nodes: { id: string; kind: string }[];
    edges: { source: string; target: string; calls: number; errors: number }[];
  };
  const map = await eventually(
    async () => {
      const m = (await getJson<M>('/api/map?window=600')).body;
      const leaves = m.edges.filter((e) => e.target === 'payments-vendor' || e.target === 'stripe');
      return leaves.length === 2 ? m : undefined;
    },
    5000,
    'the unpaired client span on its leaf after the wait',
    20,
  );
  const edges = map.edges
    .filter((e) => e.source === 'svc-a')
    .map((e) => `${e.target}:${e.calls}:${e.errors}`)
    .sort();
  assert.deepEqual(edges, ['payments-vendor:1:1', 'redis:1:0', 'stripe:1:0', 'svc-b:1:0']);
  const kinds = Object.fromEntries(map.nodes.map((n) => [n.id, n.kind]));
  assert.equal(kinds.redis, 'cache');
  assert.equal(kinds['payments-vendor'], 'external');
  assert.equal(kinds['svc-b'], 'service');
});

test('hostile payloads: each answered 4xx problem+json, nothing stored half-way', async () => {
  await settle();
  const before = stored();
  const good = request('hostile', [span({ traceId: hex(16) }), span({ traceId: hex(16) })]);
  const goodProto = TraceRequest.encode(
    TraceRequest.fromObject({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: Array.from({ length: 50 }, () => ({
                traceId: randomBytes(16),
                spanId: randomBytes(8),
                name: 'x'.repeat(40),
                startTimeUnixNano: '1',
                endTimeUnixNano: '2',
              })),
            },
          ],
        },
      ],
    }),
  ).finish();
  const proto = { 'content-type': 'application/x-protobuf' };
  const json = { 'content-type': 'application/json' };
  const nested = (depth: number): unknown =>
    depth === 0
      ? { stringValue: 'x' }
      : { kvlistValue: { values: [{ key: 'k', value: nested(depth - 1) }] } };
  const hugeSpans = TraceRequest.encode(
    TraceRequest.fromObject({
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: Array.from({ length: 100_000 }, () => ({
                traceId: randomBytes(16),
                spanId: randomBytes(8),
                startTimeUnixNano: '1',
                endTimeUnixNano: '2',
              })),
            },
          ],
        },
      ],
    }),
  ).finish();
  // One at a time: each request is sent after the previous one was answered, so a failure names
  // its case (and no request is left unawaited).
  const cases: [
    string,
    () => Promise<{ status: number; headers: Headers; text: string }>,
    number,
  ][] = [
    [
      'truncated protobuf',
      () => post('/v1/traces', goodProto.subarray(0, goodProto.length - 7), proto),
      400,
    ],
    ['protobuf garbage', () => post('/v1/traces', randomBytes(4096), proto), 400],
    [
      'truncated gzip',
      () =>
        post('/v1/traces', gzipSync(JSON.stringify(good)).subarray(0, 20), {
          ...json,
          'content-encoding': 'gzip',
        }),
      400,
    ],
    ['truncated JSON', () => post('/v1/traces', JSON.stringify(good).slice(0, -3), json), 400],
    ['spans not an array', () => postJson(request('hostile', 'x' as unknown as unknown[])), 400],
    [
      'traceId a number',
      () => postJson(request('hostile', [{ ...span({ traceId: hex(16) }), traceId: 123 }])),
      400,
    ],
    [
      'spanId too short',
      () => postJson(request('hostile', [span({ traceId: hex(16), spanId: 'abcd' })])),
      400,
    ],
    [
      'time an object',
      () =>
        postJson(request('hostile', [{ ...span({ traceId: hex(16) }), startTimeUnixNano: {} }])),
      400,
    ],
    [
      'kind a string',
      () => postJson(request('hostile', [{ ...span({ traceId: hex(16) }), kind: 'SERVER' }])),
      400,
    ],
    // A good span first and a bad one after it: the request is refused whole.
    [
      'good then bad',
      () => postJson(request('hostile', [span({ traceId: hex(16) }), { traceId: 'zz' }])),
      400,
    ],
    [
      'deeply nested attribute',
      () =>
        postJson(
          request('hostile', [
            span({ traceId: hex(16), attributes: [{ key: 'deep', value: nested(200) }] }),
          ]),
        ),
      400,
    ],
    [
      'deeply nested JSON',
      () => post('/v1/traces', `${'['.repeat(200_000)}${']'.repeat(200_000)}`, json),
      400,
    ],
    [
      'huge attribute value (past the body limit)',
      () =>
        postJson(
          request('hostile', [
            span({
              traceId: hex(16),
              attributes: [{ key: 'big', value: { stringValue: 'x'.repeat(5 * 1024 * 1024) } }],
            }),
          ]),
        ),
      413,
    ],
    [
      'gzip bomb',
      () =>
        post('/v1/traces', gzipSync(Buffer.alloc(64 * 1024 * 1024)), {
          ...json,
          'content-encoding': 'gzip',
        }),
      413,
    ],
    ['100k spans in one request', () => post('/v1/traces', hugeSpans, proto), 413],
    [
      'a media type OTLP has not',
      () => post('/v1/traces', 'x', { 'content-type': 'text/plain' }),
      415,
    ],
    [
      'an encoding OTLP has not',
      () => post('/v1/traces', 'x', { ...json, 'content-encoding': 'br' }),
      415,
    ],
  ];
  for (const [what, send, status] of cases) {
    const r = await send().catch((err: unknown) => {
      throw new Error(`${what}: the request failed`, { cause: err });
    });
    assert.equal(r.status, status, `${what}: ${r.text.slice(0, 200)}`);
    assert.equal(r.headers.get('content-type'), 'application/problem+json', what);
    assert.equal((JSON.parse(r.text) as { status: number }).status, status, what);
  }
  const get = await fetch(`${otlp}/v1/traces`);
  assert.equal(get.status, 405);
  await settle();
  assert.equal(stored(), before, 'nothing of any refused request was stored');
  assert.equal(apm.store.db.pragma('integrity_check', { simple: true }), 'ok');
  // A long (but not huge) value is kept, cut to the attribute limit; the receiver still works.
  const traceId = hex(16);
  const long = span({
    traceId,
    attributes: [{ key: 'sql', value: { stringValue: 'y'.repeat(100_000) } }],
  });
  assert.equal((await postJson(request('hostile', [long]))).status, 200);
  await settle();
  const t = await getJson<{ spans: { attributes: { sql: string } }[] }>(`/api/traces/${traceId}`);
  assert.equal(t.body.spans[0]!.attributes.sql.length, 4096);
});

test('a full queue: 503 with Retry-After, the spans counted as dropped, senders never wait', async () => {
  const small = await start({ queueLimit: 10 });
  try {
    const r = await fetch(`${small.otlp}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        request(
          'q',
          Array.from({ length: 11 }, () => span({ traceId: hex(16) })),
        ),
      ),
    });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.equal(small.server.stats.droppedSpans, 11);
    assert.equal(small.server.stats.throttledRequests, 1);
    const ok = await fetch(`${small.otlp}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(
        request(
          'q',
          Array.from({ length: 10 }, () => span({ traceId: hex(16) })),
        ),
      ),
    });
    assert.equal(ok.status, 200);
    const stats = await (await fetch(`${small.api}/api/stats`)).json();
    assert.equal((stats as { droppedSpans: number }).droppedSpans, 11);
  } finally {
    await small.server.close();
  }
});

test('retention: by age and by size', async () => {
  const r = await start({ retentionMs: 3600_000, retentionBytes: 64 * 1024 });
  try {
    const old = Date.now() - 2 * 3600_000;
    const oldSpans = Array.from({ length: 5 }, () =>
      span({
        traceId: hex(16),
        startTimeUnixNano: String(BigInt(old) * 1_000_000n),
        endTimeUnixNano: String(BigInt(old + 1) * 1_000_000n),
      }),
    );
    const fresh = Array.from({ length: 2000 }, () =>
      span({ traceId: hex(16), attributes: [{ key: 'pad', value: { stringValue: hex(100) } }] }),
    );
    for (const batch of [oldSpans, fresh]) {
      const res = await fetch(`${r.otlp}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(request('ret', batch)),
      });
      assert.equal(res.status, 200);
    }
    await eventually(() => r.server.stats.queued === 0, 5000, 'written');
    assert.equal(r.server.store.counts().spans, 2005);
    assert.ok(r.server.store.liveBytes() > 64 * 1024);
    // In steps, as the server runs it: a step deletes at most its share.
    const first = r.server.store.retain(Date.now(), 3);
    assert.deepEqual(first, { deleted: 3, more: true });
    let steps = 1;
    while (r.server.store.retain(Date.now(), 500).more) steps++;
    assert.ok(steps >= 3, `the size bound took ${steps} steps of 500`);
    const left = r.server.store.db
      .prepare('SELECT min(start_us) AS min, count(*) AS n FROM spans')
      .get() as {
      min: number;
      n: number;
    };
    assert.ok(left.min >= (Date.now() - 3600_000) * 1000, 'the old spans are gone');
    assert.ok(left.n > 0 && left.n < 2000, `the oldest of the rest went for size (${left.n} left)`);
    assert.ok(r.server.store.liveBytes() <= 64 * 1024);
  } finally {
    await r.server.close();
  }
});

test('the API: search filters, 400 on bad queries, 404 on unknown traces', async () => {
  for (const q of [
    'status=bad',
    'minDuration=-1',
    'limit=0',
    'attr=novalue',
    'start=yesterday',
    'window=0',
  ]) {
    const path = q.startsWith('window') ? `/api/map?${q}` : `/api/traces?${q}`;
    const r = await getJson<{ status: number }>(path);
    assert.equal(r.status, 400, q);
  }
  assert.equal((await getJson(`/api/traces/${hex(16)}`)).status, 404);
  assert.equal((await getJson('/api/traces/not-an-id')).status, 400);
  assert.equal((await getJson('/api/nothing')).status, 404);
  const slow = span({
    traceId: hex(16),
    name: 'slow',
    endTimeUnixNano: String(nowNs() + 900_000_000n),
    attributes: [{ key: 'tenant', value: { stringValue: 't-42' } }],
  });
  assert.equal(
    (await postJson(request('search-svc', [slow, span({ traceId: hex(16), name: 'fast' })])))
      .status,
    200,
  );
  await settle();
  const find = async (q: string) =>
    (
      await getJson<{ traces: { rootName: string }[] }>(`/api/traces?service=search-svc&${q}`)
    ).body.traces.map((t) => t.rootName);
  assert.deepEqual((await find('')).sort(), ['fast', 'slow']);
  assert.deepEqual(await find('minDuration=500'), ['slow']);
  assert.deepEqual(await find('attr=tenant%3Dt-42'), ['slow']);
  assert.deepEqual(await find('operation=fast'), ['fast']);
  assert.deepEqual(await find(`end=${Date.now() - 3600_000}`), []);
  const services = await getJson<{ services: { service: string }[] }>('/api/services');
  assert.ok(services.body.services.some((s) => s.service === 'search-svc'));
});

test('GET /api/service: totals, per-minute points, operations and neighbours from the aggregates; an edge search', async () => {
  // web → shop (paired, 3 calls, 1 failed) and web → sqlite/shop.db (a leaf, 2 calls).
  const served: JsonSpan[] = [];
  const calls: JsonSpan[] = [];
  for (let i = 0; i < 3; i++) {
    const traceId = hex(16);
    const call = span({ traceId, kind: 3, name: 'GET' });
    calls.push(call);
    served.push(
      span({
        traceId,
        kind: 2,
        name: i === 0 ? 'GET /b' : 'GET /a',
        parentSpanId: call.spanId,
        ...(i === 2 ? { status: { code: 2 } } : {}),
      }),
    );
  }
  for (let i = 0; i < 2; i++) {
    calls.push(
      span({
        traceId: hex(16),
        kind: 3,
        name: 'SELECT',
        attributes: [
          { key: 'db.system', value: { stringValue: 'sqlite' } },
          { key: 'db.namespace', value: { stringValue: 'shop.db' } },
        ],
      }),
    );
  }
  assert.equal((await postJson(request('page-shop', served))).status, 200);
  assert.equal((await postJson(request('page-web', calls))).status, 200);
  await settle();
  type Detail = {
    service: string;
    totals: { calls: number; errors: number; health: string; p95Ms: number | null };
    points: { start: number; stepMs: number; callsPerSecond: number[]; p95Ms: (number | null)[] };
    operations: { operation: string; calls: number; errors: number }[];
    callers: { source: string; calls: number; errors: number; kind: string }[];
    callees: { target: string; calls: number; kind: string }[];
  };
  const shop = await eventually(
    async () => {
      const r = await getJson<Detail>('/api/service?name=page-shop&window=600');
      return r.body.callers?.length === 1 ? r : undefined;
    },
    5000,
    'the paired calls on shop’s page',
    20,
  );
  assert.equal(shop.status, 200);
  const d = shop.body;
  assert.equal(d.totals.calls, 3);
  assert.equal(d.totals.errors, 1);
  assert.equal(d.totals.health, 'critical');
  assert.ok(d.totals.p95Ms !== null && d.totals.p95Ms > 0);
  assert.equal(d.points.stepMs, 60_000);
  assert.equal(d.points.callsPerSecond.length, 11, 'a point per minute of the window, and now');
  assert.ok(d.points.callsPerSecond.at(-1)! > 0);
  assert.equal(d.points.p95Ms[0], null, 'no latency where there were no calls');
  assert.deepEqual(
    d.operations.map((o) => `${o.operation}:${o.calls}:${o.errors}`),
    ['GET /a:2:1', 'GET /b:1:0'],
  );
  assert.deepEqual(
    d.callers.map((e) => `${e.source}:${e.calls}:${e.errors}:${e.kind}`),
    ['page-web:3:1:service'],
  );
  assert.deepEqual(d.callees, []);
  const web = (await getJson<Detail>('/api/service?name=page-web&window=600')).body;
  assert.equal(web.totals.calls, 0, 'web served nothing, it only called');
  assert.deepEqual(web.callees.map((e) => `${e.target}:${e.calls}:${e.kind}`).sort(), [
    'page-shop:3:service',
    'sqlite/shop.db:2:database',
  ]);
  assert.equal((await getJson('/api/service?name=nobody')).status, 404);
  assert.equal((await getJson('/api/service')).status, 400);
  assert.equal((await getJson('/api/service?name=page-web&window=-5')).status, 400);

  // The traces of one edge: to a service (its server spans under the caller's), to a leaf.
  const edge = async (q: string) =>
    (await getJson<{ traces: { rootService: string; errors: number }[] }>(`/api/traces?${q}`)).body
      .traces;
  const toShop = await edge('caller=page-web&callee=page-shop');
  assert.equal(toShop.length, 3);
  assert.equal(toShop.filter((t) => t.errors > 0).length, 1);
  assert.equal((await edge('caller=page-web&callee=page-shop&status=error')).length, 1);
  assert.equal((await edge('caller=page-web&callee=sqlite%2Fshop.db')).length, 2);
  assert.equal((await edge('caller=page-shop&callee=page-web')).length, 0);
  assert.equal((await getJson('/api/traces?caller=page-web')).status, 400);
});

test('the pages: / and /apm answer the built UI (or 503 saying to build it), /apm/NAME its files', async () => {
  const page = await fetch(`${api}/`);
  const built = page.status === 200;
  if (built) {
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/apm\/app.js">/);
    assert.match(html, /name="peregrine-api" content="\/api"/);
    assert.equal((await fetch(`${api}/apm`)).status, 200);
    const js = await fetch(`${api}/apm/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.equal((await fetch(`${api}/apm/nothing.js`)).status, 404);
  } else {
    assert.equal(page.status, 503);
    assert.match(await page.text(), /npm run build:ui/);
  }
  // The JSON API is where it was.
  assert.equal((await fetch(`${api}/api/map`)).status, 200);
});
