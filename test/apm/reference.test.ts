/**
 * The `npm start` reference system (examples/reference): started from its module with no
 * traffic, a counted number of calls through the gateway gives exactly the expected map — four
 * services (one on the plain OpenTelemetry SDK), the database leaf, four edges whose call counts
 * are the calls made and whose failing calls are errors. `npm start` itself: it prints the URLs,
 * the map fills within 10 s, Ctrl-C (SIGINT to the process group) and SIGTERM leave no process
 * behind and exit 0. With DATABASE_URL and REDIS_URL: PostgreSQL is the database leaf, and Redis
 * holds the cache's second tier and is a cache leaf with its exact call count.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { Redis } from 'ioredis';
import { redisNode, startReferenceSystem } from '../../examples/reference/system.ts';
import { nextPath, runTraffic } from '../../examples/reference/traffic.ts';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { requireService } from '../helpers/services.ts';
import { eventually } from '../helpers/wait.ts';
import type { MapDoc } from './helpers.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
/** The default mode: no PostgreSQL, no Redis, whatever the test's environment has. */
const DEFAULT_MODE = { DATABASE_URL: undefined, REDIS_URL: undefined };

/**
 * The counted calls: [path, status]. 10 product calls (7 distinct SKUs, one unknown, three
 * failing — never five in a row, which would open catalog's breaker) and 2 list calls.
 */
const PLAN: readonly (readonly [string, number])[] = [
  ['/products/TENT-2P', 200],
  ['/products/LANTERN-OLD', 502],
  ['/products/TENT-2P', 200],
  ['/products/BAG-0C', 200],
  ['/products/KAYAK-SEA', 200],
  ['/products/ROPE-60M', 502],
  ['/products', 200],
  ['/products/BAG-0C', 200],
  ['/products/NOPE-0', 404],
  ['/products/LANTERN-OLD', 502],
  ['/products?limit=5', 200],
  ['/products/POT-1L', 200],
];

/**
 * The map those calls make, as `id:kind:calls:errors` and `source->target:calls:errors`. With a
 * Redis leaf (`cache`): the 7 product reads that miss catalog's in-process cache (7 distinct
 * SKUs, the unknown one included) are each a GET that misses Redis too (a fresh key prefix) and,
 * after the database read, a SET: 14 calls. The 3 repeated SKUs are in-process hits: no call.
 */
function expectedMap(db: string, cache?: string) {
  return {
    nodes: [
      'catalog:service:12:3',
      'gateway:service:12:3',
      'inventory:service:10:0',
      'pricing:service:9:3',
      `${db}:database:9:0`,
      ...(cache === undefined ? [] : [`${cache}:cache:14:0`]),
    ].sort(),
    edges: [
      `catalog->${db}:9:0`,
      'catalog->pricing:9:3',
      'gateway->catalog:12:3',
      'gateway->inventory:10:0',
      ...(cache === undefined ? [] : [`catalog->${cache}:14:0`]),
    ].sort(),
  };
}

function summary(map: MapDoc) {
  return {
    nodes: map.nodes.map((n) => `${n.id}:${n.kind}:${n.calls}:${n.errors}`).sort(),
    edges: map.edges.map((e) => `${e.source}->${e.target}:${e.calls}:${e.errors}`).sort(),
  };
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return (await res.json()) as T;
}

/** Makes the PLAN's calls through the gateway, in order, checking each status. */
async function makeCalls(gateway: string): Promise<void> {
  for (const [path, status] of PLAN) {
    const res = await fetch(gateway + path);
    const body = await res.text();
    assert.equal(res.status, status, `${path}: ${body}`);
  }
}

/** Waits until the map is exactly `expected` (spans arrive within a second or two). */
async function waitForMap(apmApi: string, expected: ReturnType<typeof expectedMap>) {
  let last: ReturnType<typeof summary> | undefined;
  try {
    return await eventually(
      async () => {
        const map = await getJson<MapDoc>(`${apmApi}/api/map?window=3600`);
        last = summary(map);
        return JSON.stringify(last) === JSON.stringify(expected) ? map : undefined;
      },
      20_000,
      'the map of the counted calls',
      250,
    );
  } catch (err) {
    // The actual map, so a failure says how it differs.
    assert.deepEqual(last, expected, (err as Error).message);
    throw err;
  }
}

/** Every process descending from `root` (itself included), from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid …; comm may hold spaces and parentheses.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie (exited, not yet reaped) counts as gone.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** `npm start` in its own process group, its stdout collected. */
function npmStart(t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}) {
  const proc: ChildProcess = spawn('npm', ['start', '--', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let seen: number[] = [];
  t.after(async () => {
    // On failure: nothing of the system may outlive the test.
    if (proc.exitCode === null && proc.signalCode === null) {
      seen = [...new Set([...seen, ...processTree(proc.pid!)])];
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {}
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    }
    for (const pid of seen) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
  return {
    proc,
    exited,
    output: () => ({ stdout, stderr }),
    /** The URL on the line starting with `label`, once printed. */
    url: (label: string) =>
      eventually(
        () => new RegExp(`${label}\\s+(http://\\S+)`).exec(stdout)?.[1],
        30_000,
        `npm start printing "${label}"\n${stdout}\n${stderr}`,
        50,
      ),
    /** Records the process tree now (for the no-orphans check and the cleanup). */
    tree: () => {
      seen = processTree(proc.pid!);
      return seen;
    },
  };
}

test('the reference system: counted calls give exactly the expected map', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prg-reference-'));
  const system = await startReferenceSystem({
    traffic: false,
    basePort: 0,
    dataDir: dir,
    env: { ...process.env, ...DEFAULT_MODE },
  });
  t.after(async () => {
    await system.stop();
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(system.traffic, undefined);
  assert.deepEqual(system.mode, { database: 'sqlite', cache: 'local' });
  assert.equal(system.databaseNode, 'sqlite/catalog.db');
  assert.equal(system.cacheNode, undefined);
  // The services answer where the URLs say; the dashboards are there.
  const product = await getJson<{ sku: string; price: { amount: number }; stock: object }>(
    `${system.urls.gateway}/products/TENT-4P`,
  );
  assert.equal(product.sku, 'TENT-4P');
  assert.ok(product.price.amount > 0 && product.stock !== null);
  for (const url of Object.values(system.urls.dashboards)) {
    const res = await fetch(url);
    assert.equal(res.status, 200, url);
    await res.arrayBuffer();
  }
  // The warm-up call above counts too: the plan's numbers are on top of one product call.
  await waitForMap(system.urls.apmApi, {
    nodes: [
      'catalog:service:1:0',
      'gateway:service:1:0',
      'inventory:service:1:0',
      'pricing:service:1:0',
      'sqlite/catalog.db:database:1:0',
    ],
    edges: [
      'catalog->pricing:1:0',
      'catalog->sqlite/catalog.db:1:0',
      'gateway->catalog:1:0',
      'gateway->inventory:1:0',
    ],
  });
  const bad = await fetch(`${system.urls.gateway}/products/not%20a%20sku`);
  assert.equal(bad.status, 400);
  assert.match(bad.headers.get('content-type') ?? '', /problem\+json/);
  await bad.arrayBuffer();

  await makeCalls(system.urls.gateway);
  const exp = expectedMap('sqlite/catalog.db');
  const plus = (line: string, calls: number) =>
    line.replace(/:(\d+):(\d+)$/, (_, c: string, e: string) => `:${Number(c) + calls}:${e}`);
  // The warm-up and the 400 (gateway only: it never called downstream) are on top of the plan.
  const expected = {
    nodes: exp.nodes.map((n) => (n.startsWith('gateway:') ? plus(n, 2) : plus(n, 1))).sort(),
    edges: exp.edges.map((e) => plus(e, 1)).sort(),
  };
  const map = await waitForMap(system.urls.apmApi, expected);
  for (const e of map.edges) {
    assert.equal(e.health, e.errors > 0 ? 'critical' : 'ok', `${e.source}->${e.target}`);
  }

  // The failing calls' traces: pricing's server span failed, called by catalog's client span.
  const failed = await getJson<{
    traces: { traceId: string; services: string[]; errors: number }[];
  }>(`${system.urls.apmApi}/api/traces?service=pricing&status=error&limit=100`);
  assert.equal(failed.traces.length, 3);
  const one = failed.traces[0]!;
  assert.deepEqual(one.services, ['catalog', 'gateway', 'inventory', 'pricing']);
  const trace = await getJson<{
    spans: {
      spanId: string;
      parentSpanId: string;
      service: string;
      kind: string;
      status: string;
    }[];
  }>(`${system.urls.apmApi}/api/traces/${one.traceId}`);
  const servers = trace.spans.filter((s) => s.kind === 'server');
  assert.deepEqual(servers.map((s) => `${s.service}:${s.status}`).sort(), [
    'catalog:error',
    'gateway:error',
    'inventory:unset',
    'pricing:error',
  ]);
  const pricingSpan = servers.find((s) => s.service === 'pricing')!;
  const parent = trace.spans.find((s) => s.spanId === pricingSpan.parentSpanId)!;
  assert.equal(`${parent.service}:${parent.kind}`, 'catalog:client');

  const pids = system.pids();
  assert.ok(pids.length >= 8, `5 processes and 3 workers: ${pids}`);
  await system.stop();
  assert.deepEqual(
    pids.filter((pid) => alive(pid)),
    [],
    'every process of the system is gone',
  );
});

test('npm start: prints the URLs, the map fills within 10 s, Ctrl-C leaves nothing and exits 0', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'prg-reference-npm-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // The 10 s is a timing: it holds the machine-wide load lock, so no benchmark runs beside it.
  const release = await acquireLoadLock();
  t.after(release);
  // Fixed ports, as `npm start` has by default (so the services start side by side), below the
  // ephemeral range so no outbound connection holds one.
  const base = 20_000 + Math.floor(Math.random() * 1_200) * 10;
  const started = Date.now();
  const run = npmStart(
    t,
    ['--base-port', String(base), '--data-dir', dir, '--rate', '10', '--requests', '60'],
    DEFAULT_MODE,
  );
  const mapUrl = await run.url('apm: service map \\(JSON\\)');
  for (const label of ['gateway \\(the public API\\)', 'gateway dashboard', 'catalog dashboard']) {
    await run.url(label);
  }
  const { stdout } = run.output();
  assert.match(stdout, /pricing dashboard\s+http:\/\/127\.0\.0\.1:\d+\/dashboard/);
  assert.match(stdout, /apm: the map \(pages\)\s+http:\/\/127\.0\.0\.1:\d+\/\n/);
  assert.match(stdout, /traffic: 10\/s to the gateway for 5 min or 60 requests/);
  const full = await eventually(
    async () => {
      const map = (await (await fetch(`${mapUrl}?window=3600`)).json()) as MapDoc;
      const nodes = map.nodes.map((n) => `${n.id}:${n.kind}`).sort();
      const edges = map.edges.map((e) => `${e.source}->${e.target}`).sort();
      return nodes.length === 5 && edges.length === 4 ? { nodes, edges } : undefined;
    },
    15_000,
    'the map with every service, edge and the database',
    100,
  );
  const elapsed = Date.now() - started;
  const ready = /ready in ([\d.]+) s/.exec(run.output().stdout)?.[1];
  t.diagnostic(
    `the map was full ${elapsed} ms after npm start was spawned (the script said ready in ${ready} s; load average ${loadavg()[0]!.toFixed(1)})`,
  );
  assert.deepEqual(full, {
    nodes: [
      'catalog:service',
      'gateway:service',
      'inventory:service',
      'pricing:service',
      'sqlite/catalog.db:database',
    ],
    edges: [
      'catalog->pricing',
      'catalog->sqlite/catalog.db',
      'gateway->catalog',
      'gateway->inventory',
    ],
  });
  // Eight Node processes start (about 5 s of CPU): on two cores shared with other work this is
  // where a busy machine shows, so the message carries the load average.
  assert.ok(
    elapsed < 10_000,
    `the map filled ${elapsed} ms after npm start (load average ${loadavg().map((l) => l.toFixed(1))})`,
  );

  // The traffic is bounded: it stops by itself after 60 requests.
  await eventually(
    () => /traffic done: 60 requests/.test(run.output().stdout),
    20_000,
    'the traffic to stop after 60 requests',
    100,
  );
  const tree = run.tree();
  // npm, the start script, the apm, inventory, three masters and three workers.
  assert.ok(tree.length >= 10, `process tree: ${tree}`);
  // Ctrl-C in a terminal: SIGINT to the whole foreground process group.
  process.kill(-run.proc.pid!, 'SIGINT');
  const { code, signal } = await run.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, run.output().stderr);
  await eventually(() => tree.every((pid) => !alive(pid)), 5_000, 'no process left', 50).catch(() =>
    assert.deepEqual(tree.filter(alive), [], 'processes left behind'),
  );
  assert.match(run.output().stdout, /stopping…\n[\s\S]*stopped\n/);
});

test('npm start with DATABASE_URL and REDIS_URL: PostgreSQL and Redis; SIGTERM leaves nothing', async (t) => {
  const databaseUrl = await requireService(t, 'postgres');
  const redisUrl = await requireService(t, 'redis');
  if (databaseUrl === undefined || redisUrl === undefined) return;
  const dir = await mkdtemp(join(tmpdir(), 'prg-reference-pg-'));
  const prefix = `reference-test-${process.pid}-${Date.now()}:`;
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  t.after(async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  });
  const run = npmStart(t, ['--base-port', '0', '--data-dir', dir, '--no-traffic'], {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    CACHE_PREFIX: prefix,
  });
  const gateway = (await run.url('gateway \\(the public API\\)')).replace(/\/products$/, '');
  const mapUrl = await run.url('apm: service map \\(JSON\\)');
  assert.match(run.output().stdout, /catalog on PostgreSQL, cache in-process \+ Redis/);
  await makeCalls(gateway);
  const db = `postgresql/${decodeURIComponent(new URL(databaseUrl).pathname.slice(1)) || 'postgres'}`;
  // Catalog's cache has its Redis leaf: every GET and SET of its Redis tier is a client span.
  await waitForMap(mapUrl.replace(/\/api\/map$/, ''), expectedMap(db, redisNode(redisUrl)));
  // The products read went through Redis: one key per SKU catalog loaded (the unknown one is
  // remembered as "none" in-process only, or in Redis too: at least the six found).
  const keys = await redis.keys(`${prefix}*`);
  assert.ok(keys.length >= 6, `Redis keys under ${prefix}: ${keys}`);

  const tree = run.tree();
  assert.ok(tree.length >= 10, `process tree: ${tree}`);
  // SIGTERM to npm alone (a supervisor stopping it): npm passes it on.
  process.kill(run.proc.pid!, 'SIGTERM');
  const { code, signal } = await run.exited;
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, run.output().stderr);
  await eventually(() => tree.every((pid) => !alive(pid)), 5_000, 'no process left', 50).catch(() =>
    assert.deepEqual(tree.filter(alive), [], 'processes left behind'),
  );
});

test('the traffic generator: the mix, and it stops by itself', async (t) => {
  // The mix, by the generator's first draw (the second picks the SKU or the page size).
  const at = (first: number) => {
    const draws = [first, 0];
    return nextPath(() => draws.shift()!);
  };
  assert.equal(at(0), '/products/TENT-2P');
  assert.equal(at(0.59), '/products/TENT-2P');
  assert.equal(at(0.6), '/products?limit=5');
  assert.equal(at(0.8), '/products/KAYAK-SEA');
  assert.equal(at(0.9), '/products/LANTERN-OLD');
  assert.equal(at(0.97), '/products/NOPE-0');
  // A seeded generator (mulberry32), so the shares are the same on every run.
  let seed = 20261205;
  const seeded = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const counts = { fast: 0, list: 0, slow: 0, failing: 0, unknown: 0 };
  for (let i = 0; i < 20_000; i++) {
    const p = nextPath(seeded);
    if (p.startsWith('/products?')) counts.list++;
    else if (/KAYAK|CANOE/.test(p)) counts.slow++;
    else if (/LANTERN|ROPE/.test(p)) counts.failing++;
    else if (p.endsWith('NOPE-0')) counts.unknown++;
    else counts.fast++;
  }
  const share = (n: number) => Math.round((n / 20_000) * 100);
  assert.deepEqual(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, share(v)])), {
    fast: 60,
    list: 15,
    slow: 10,
    failing: 10,
    unknown: 5,
  });

  // Bounded by requests: exactly that many reach the server, then it stops by itself.
  let received = 0;
  const server = createServer((req, res) => {
    received++;
    res.statusCode = req.url?.includes('LANTERN') ? 502 : 200;
    res.end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const reports: boolean[] = [];
  const traffic = runTraffic(url, {
    rate: 200,
    maxRequests: 50,
    onReport: (_s, done) => reports.push(done),
  });
  const summary = await traffic.done;
  assert.equal(summary.sent, 50);
  assert.equal(received, 50);
  const b = summary.byStatus;
  assert.equal(b['2xx'] + b['5xx'], 50);
  assert.deepEqual(reports, [true]);
  // Bounded by time.
  const timed = await runTraffic(url, { rate: 100, durationMs: 300 }).done;
  assert.ok(timed.sent >= 10 && timed.sent <= 40, `${timed.sent} requests in 300 ms at 100/s`);
  assert.throws(() => runTraffic(url, { rate: 0 }), RangeError);
});

test('npm start: a bad option is a usage error (exit 2)', () => {
  const run = (args: string[]) =>
    spawnSync(
      process.execPath,
      ['--conditions=peregrine-source', 'examples/reference/start.ts', ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: 20_000 },
    );
  for (const bad of [['--rate', 'x'], ['--bogus'], ['--base-port', '70000'], ['--minutes', '0']]) {
    const r = run(bad);
    assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^npm start: .*\nUsage: npm start -- /);
  }
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--no-traffic/);
});
