/**
 * `peregrine apm` with real processes: two Peregrine services under `peregrine serve` (gateway →
 * catalog, calling through Peregrine's outbound client) and a third service with no Peregrine in
 * it (node:http + the OpenTelemetry Node SDK), all exporting OTLP to the apm. A counted number
 * of calls gives exactly the expected map; a failing downstream call marks the edges and its trace
 * shows the failing span in the right service; the apm restarted mid-run keeps what it stored.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';
import { type ApmProcess, type MapDoc, startApm, startOtelService } from './helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;

test('a fleet on the map: exact nodes, edges and call counts; errors; traces; restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prg-apm-fleet-'));
  const db = join(dir, 'apm.db');
  let apm: ApmProcess = await startApm([
    '--otlp',
    '127.0.0.1:0',
    '--api',
    '127.0.0.1:0',
    '--db',
    db,
  ]);
  const otlp = `http://127.0.0.1:${apm.otlpPort}`;
  const pricing = await startOtelService(otlp);
  const serviceEnv = (name: string, next: string, nextName: string) => ({
    OTEL_SERVICE_NAME: name,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
    OTEL_TRACES_SAMPLER_ARG: '1',
    PEREGRINE_TELEMETRY_INTERVAL: '200',
    APM_NEXT: next,
    APM_NEXT_NAME: nextName,
  });
  const started: ServeProcess[] = [];
  t.after(async () => {
    for (const s of started) await s.stop();
    await pricing.stop();
    await apm.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const args = ['test/fixtures/apm/service.ts', '--workers', '1', '--shed-delay', '0'];
  const catalog = await startServe(args, {
    env: serviceEnv('catalog', `http://127.0.0.1:${pricing.port}`, 'pricing'),
  });
  started.push(catalog);
  const gateway = await startServe(args, {
    env: serviceEnv('gateway', `http://127.0.0.1:${catalog.port}`, 'catalog'),
  });
  started.push(gateway);

  const call = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`);
    await res.arrayBuffer();
    return res.status;
  };
  const ok = 20;
  const failing = 3;
  for (let i = 0; i < ok; i++) assert.equal(await call('/work'), 200);
  for (let i = 0; i < failing; i++) assert.ok((await call('/fail')) >= 500);

  const edge = (map: MapDoc, source: string, target: string) =>
    map.edges.find((e) => e.source === source && e.target === target);
  const settled = (map: MapDoc, calls: number) =>
    edge(map, 'gateway', 'catalog')?.calls === calls &&
    edge(map, 'catalog', 'pricing')?.calls === calls;
  let map = await eventually(
    async () => {
      const m = (await apm.api<MapDoc>('/api/map?window=3600')).body;
      return settled(m, ok + failing) ? m : undefined;
    },
    30_000,
    'both edges with every call',
    200,
  ).catch(async (err: Error) => {
    const m = (await apm.api<MapDoc>('/api/map?window=3600')).body;
    const s = (await apm.api<unknown>('/api/services')).body;
    const tr = (await apm.api<{ traces: { traceId: string }[] }>('/api/traces?limit=1')).body;
    const one =
      tr.traces[0] === undefined
        ? null
        : (await apm.api(`/api/traces/${tr.traces[0].traceId}`)).body;
    assert.fail(
      `${err.message}\n${JSON.stringify({ m, s, one }, null, 1)}\n${apm.output.slice(-5).join('\n')}\n${JSON.stringify(gateway.logs.slice(-8))}`,
    );
  });
  assert.deepEqual(map.nodes.map((n) => `${n.id}:${n.kind}`).sort(), [
    'catalog:service',
    'gateway:service',
    'pricing:service',
  ]);
  assert.deepEqual(map.edges.map((e) => `${e.source}->${e.target}`).sort(), [
    'catalog->pricing',
    'gateway->catalog',
  ]);
  for (const e of map.edges) {
    assert.equal(e.calls, ok + failing, `${e.source}->${e.target} calls`);
    assert.equal(e.errors, failing, `${e.source}->${e.target} errors`);
    assert.equal(e.health, 'critical');
    assert.ok(e.p95Ms !== null && e.p95Ms > 0);
  }
  const node = (id: string) => map.nodes.find((n) => n.id === id)!;
  assert.equal(node('pricing').calls, ok + failing, 'server spans of the SDK service');
  assert.equal(node('pricing').errors, failing);
  const services = await apm.api<{
    services: { service: string; calls: number; errors: number }[];
  }>('/api/services?window=3600');
  assert.deepEqual(
    services.body.services.map((s) => `${s.service}:${s.calls}:${s.errors}`),
    [
      `catalog:${ok + failing}:${failing}`,
      `gateway:${ok + failing}:${failing}`,
      `pricing:${ok + failing}:${failing}`,
    ],
  );

  // The failing calls' traces: the failing span is pricing's server span.
  const failed = await apm.api<{
    traces: { traceId: string; services: string[]; errors: number }[];
  }>('/api/traces?service=pricing&status=error&limit=100');
  assert.equal(failed.status, 200);
  assert.equal(failed.body.traces.length, failing);
  const one = failed.body.traces[0]!;
  assert.deepEqual(one.services, ['catalog', 'gateway', 'pricing']);
  const trace = await apm.api<{
    spans: {
      spanId: string;
      parentSpanId: string;
      service: string;
      kind: string;
      status: string;
    }[];
  }>(`/api/traces/${one.traceId}`);
  assert.equal(trace.status, 200);
  const servers = trace.body.spans.filter((s) => s.kind === 'server');
  assert.deepEqual(servers.map((s) => s.service).sort(), ['catalog', 'gateway', 'pricing']);
  const pricingSpan = servers.find((s) => s.service === 'pricing')!;
  assert.equal(pricingSpan.status, 'error');
  const parent = trace.body.spans.find((s) => s.spanId === pricingSpan.parentSpanId)!;
  assert.equal(parent.service, 'catalog', 'pricing was called by catalog’s client span');
  assert.equal(parent.kind, 'client');
  // Search by route and by attribute.
  const byRoute = await apm.api<{ traces: unknown[] }>(
    '/api/traces?service=gateway&route=/work&limit=100',
  );
  assert.equal(byRoute.body.traces.length, ok);
  const byAttr = await apm.api<{ traces: unknown[] }>(
    '/api/traces?attr=http.response.status_code%3D500&service=pricing&limit=100',
  );
  assert.equal(byAttr.body.traces.length, failing);
  // The SDK service's metrics arrived on /v1/metrics and were stored.
  await eventually(
    async () => (await apm.api<{ storedPoints: number }>('/api/stats')).body.storedPoints > 0,
    15_000,
    'metric points from the SDK service',
    200,
  );

  // Restart mid-run: what was stored is still there, and the map keeps counting.
  const before = (await apm.api<{ storedSpans: number }>('/api/stats')).body;
  assert.ok(before.storedSpans > 0);
  assert.equal(await apm.stop(), 0, 'a clean stop');
  apm = await startApm(['--otlp', `127.0.0.1:${apm.otlpPort}`, '--api', '127.0.0.1:0', '--db', db]);
  const again = await apm.api<{ spans: unknown[] }>(`/api/traces/${one.traceId}`);
  assert.equal(again.status, 200);
  assert.equal(again.body.spans.length, trace.body.spans.length);
  const more = 5;
  for (let i = 0; i < more; i++) assert.equal(await call('/work'), 200);
  map = await eventually(
    async () => {
      const m = (await apm.api<MapDoc>('/api/map?window=3600')).body;
      return settled(m, ok + failing + more) ? m : undefined;
    },
    30_000,
    'the calls after the restart on the same edges',
    200,
  );
  assert.equal(map.edges.length, 2);
  assert.ok(gateway.proc.exitCode === null && catalog.proc.exitCode === null, 'senders alive');
});

test('peregrine apm: usage errors exit 2, a taken port exits 5, --help prints the options', async (t) => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--conditions=peregrine-source', BIN, 'apm', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 30_000,
    });
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--retention-size MIB/);
  for (const bad of [
    ['--bogus'],
    ['--retention', '5x'],
    ['--otlp', '127.0.0.1:99999'],
    ['--queue', '0'],
  ]) {
    const r = run(bad);
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^peregrine apm: /);
  }
  const apm = await startApm(['--otlp', '127.0.0.1:0', '--api', '127.0.0.1:0', '--db', ':memory:']);
  t.after(() => apm.stop());
  const taken = run([
    '--otlp',
    `127.0.0.1:${apm.otlpPort}`,
    '--api',
    '127.0.0.1:0',
    '--db',
    ':memory:',
  ]);
  assert.equal(taken.status, 5, taken.stderr);
  assert.match(taken.stderr, /EADDRINUSE/);
});
