import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { percentile } from '../helpers/load.ts';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { eventually } from '../helpers/wait.ts';
import { ADMIN_PORT, canCreateNamespaces, Fleet } from './netns.ts';
import { type FleetPrometheus, startFleetPrometheus } from './prometheus.ts';

// A real Prometheus, configured from deploy/prometheus/ with file-based discovery, scrapes the
// three nodes of the harness; the fleet-wide RED PromQL (and the shipped recording rules) must
// agree with the requests this test sent: exact counts per route, status and node, the rate,
// the error ratio, and a p99 per route from buckets summed over the nodes.

const usable = canCreateNamespaces();
if (!usable && process.env.CI === 'true') {
  throw new Error('test/scale needs root and iproute2 (ip netns) under CI');
}

// The histogram's bucket bounds (OpenTelemetry's advised ones), for the p99 bound below.
const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

interface Sent {
  route: string;
  status: number;
  node: string;
  ms: number;
}

function get(agent: Agent, host: string, path: string): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host, port: 8000, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

describe('Prometheus across the fleet (deploy/prometheus/)', { skip: !usable }, () => {
  let fleet: Fleet;
  let prom: FleetPrometheus;
  let release: () => Promise<void>;
  const sent: Sent[] = [];
  let loadStart = 0;
  let loadEnd = 0;

  before(async () => {
    release = await acquireLoadLock();
    fleet = new Fleet();
    for (let i = 0; i < 3; i++) fleet.addNode();
    // Settled, not Promise.all: when a node fails to start, Prometheus must still be known to the
    // after hook, or its process keeps this test file alive forever.
    const [started, ...nodes] = await Promise.allSettled([
      startFleetPrometheus(fleet.dir),
      ...fleet.nodes.map((n) => fleet.start(n)),
    ]);
    if (started?.status === 'fulfilled') prom = started.value as FleetPrometheus;
    for (const r of [started, ...nodes]) if (r?.status === 'rejected') throw r.reason;
    prom.setTargets(fleet.nodes.map((n) => `${n.address}:${ADMIN_PORT}`));
    await eventually(
      async () => (await prom.query('sum(up{job="peregrine"})'))[0]?.value[1] === '3' || undefined,
      30_000,
      'Prometheus discovered and scraped the three nodes',
      200,
    );
    // A bounded mix, spread over the nodes by the client: /json 70 %, /items/{id} 20 %, /fail
    // (a 500) 10 %, on 6 keep-alive connections for 8 s.
    const agents = fleet.nodes.map(() => new Agent({ keepAlive: true, maxSockets: 2 }));
    loadStart = Date.now();
    let n = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (Date.now() - loadStart < 8_000) {
          const i = n++;
          const k = i % fleet.nodes.length;
          const pick = i % 10;
          const [route, path] =
            pick === 0
              ? ['/fail', '/fail']
              : pick <= 2
                ? ['/items', `/items/${i}`]
                : ['/json', '/json'];
          const r = await get(agents[k]!, fleet.nodes[k]!.address, path);
          sent.push({ route, status: r.status, node: fleet.nodes[k]!.address, ms: r.ms });
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }),
    );
    loadEnd = Date.now();
    for (const a of agents) a.destroy();
  });

  after(async () => {
    await prom?.stop();
    await fleet?.close();
    await release?.();
  });

  const count = (pick: (s: Sent) => boolean) => sent.filter(pick).length;

  test('counts per route and status, summed over the nodes, equal the requests sent', async () => {
    assert.ok(sent.length > 300, `only ${sent.length} requests`);
    const expected = new Map<string, number>();
    const promRoute = new Map<string, string>();
    for (const s of sent) {
      const key = `${s.route} ${s.status}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const q =
      'sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count{job="peregrine"})';
    const seen = await eventually(
      async () => {
        const got = new Map<string, number>();
        for (const r of await prom.query(q)) {
          // The route label is the template; map it to this test's short names.
          const route = r.metric.http_route!;
          const short = route.startsWith('/items/') ? '/items' : route;
          promRoute.set(short, route);
          got.set(`${short} ${r.metric.http_response_status_code}`, Number(r.value[1]));
        }
        const same =
          got.size === expected.size && [...expected].every(([k, v]) => got.get(k) === v);
        return same ? got : undefined;
      },
      30_000,
      `Prometheus counts equal the ${sent.length} requests sent (${JSON.stringify([...expected])})`,
      500,
    );
    assert.deepEqual(seen, expected);
    assert.equal(promRoute.get('/items'), '/items/{id:int}');
    // …and per node: every node was scraped and carries the share the client sent it.
    const byInstance = await prom.query(
      'sum by (instance) (http_server_request_duration_seconds_count{job="peregrine"})',
    );
    assert.equal(byInstance.length, 3);
    for (const r of byInstance) {
      const host = r.metric.instance!.split(':')[0];
      assert.equal(
        Number(r.value[1]),
        count((s) => s.node === host),
        r.metric.instance,
      );
    }
  });

  test('fleet rate and error ratio (rules.yml) agree with the load', async () => {
    const at = loadEnd / 1000 + 2;
    const seconds = (loadEnd - loadStart) / 1000;
    // Wait until the rules have been evaluated after the load ended.
    await eventually(
      async () =>
        (await prom.query('job:http_server_errors:ratio_rate1m', at)).length > 0 || undefined,
      30_000,
      'recording rules evaluated',
      500,
    );
    const window = `${Math.ceil(seconds) + 2}s`;
    const [rate] = await prom.query(
      `sum(rate(http_server_request_duration_seconds_count{job="peregrine"}[${window}]))`,
      at,
    );
    const sentRate = sent.length / seconds;
    const measured = Number(rate!.value[1]);
    // rate() extrapolates to the window's edges; the load filled most of it.
    assert.ok(
      measured > sentRate * 0.6 && measured < sentRate * 1.4,
      `rate ${measured}/s vs ${sentRate}/s sent`,
    );
    const [ratio] = await prom.query('job:http_server_errors:ratio_rate1m', at);
    const sentRatio = count((s) => s.status >= 500) / sent.length;
    assert.ok(sentRatio > 0.05 && sentRatio < 0.15, String(sentRatio));
    assert.ok(
      Math.abs(Number(ratio!.value[1]) - sentRatio) < 0.02,
      `error ratio ${ratio!.value[1]} vs ${sentRatio} sent`,
    );
    const [perRoute] = await prom.query(
      'sum by (http_route) (rate(http_server_request_duration_seconds_count{job="peregrine",http_route="/fail"}[1m]))' +
        ' / ignoring (http_route) group_left sum(rate(http_server_request_duration_seconds_count{job="peregrine"}[1m]))',
      at,
    );
    assert.ok(Math.abs(Number(perRoute!.value[1]) - sentRatio) < 0.02, JSON.stringify(perRoute));
  });

  test('p99 by route from buckets summed over the nodes is bounded by what the client saw', async () => {
    const at = loadEnd / 1000 + 2;
    const rows = await prom.query(
      'histogram_quantile(0.99, sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket{job="peregrine"}[1m])))',
      at,
    );
    const recorded = await prom.query('job_route:http_server_request_duration_seconds:p99_5m', at);
    assert.equal(rows.length, 3, JSON.stringify(rows));
    for (const row of rows) {
      const route = row.metric.http_route!;
      const short = route.startsWith('/items/') ? '/items' : route;
      const p99 = Number(row.value[1]);
      // Each request's server time is within its client round trip, so the server's 99th
      // percentile lies in a bucket whose upper bound is at most the first bound at or above
      // the client's p99.
      const clientP99 = percentile(
        sent.filter((s) => s.route === short).map((s) => s.ms / 1000),
        99,
      );
      const bound = BOUNDS.find((b) => b >= clientP99) ?? Number.POSITIVE_INFINITY;
      assert.ok(p99 > 0 && p99 <= bound, `${route}: p99 ${p99} s, client p99 ${clientP99} s`);
      const rule = recorded.find((r) => r.metric.http_route === route);
      assert.ok(rule !== undefined, `recording rule has ${route}`);
      assert.ok(Number(rule.value[1]) > 0 && Number(rule.value[1]) <= bound);
    }
  });
});
