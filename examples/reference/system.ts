/**
 * The reference system: a small shop built the way a team would build it with Peregrine, and the
 * fleet APM watching it. `npm start` runs it (start.ts); tests start it with
 * `startReferenceSystem()`.
 *
 * ```text
 *  client ─▶ gateway ─┬─▶ catalog ─┬─▶ pricing           (peregrine serve ×3, peregrine/client)
 *                     │            └─▶ sqlite/catalog.db  (peregrine/db behind peregrine/cache)
 *                     └─▶ inventory                       (node:http + @opentelemetry/sdk-node)
 *  every service ── OTLP ─▶ peregrine apm  (map + traces API)
 * ```
 *
 * Each service runs under `peregrine serve` (one worker) with its own app and admin (dashboard)
 * port, `OTEL_TRACES_SAMPLER_ARG=1` (every trace kept, so the map's counts are exact) and its
 * spans exported to the apm every 250 ms. With `DATABASE_URL` set catalog uses PostgreSQL
 * (leaf `postgresql/<database>`), with `REDIS_URL` its cache has Redis as the second tier (leaf
 * `redis/<db index>`, kind `cache`).
 *
 * ## Counted calls (what a test can rely on)
 *
 * Start with `traffic: false`, then through `urls.gateway`:
 *
 * - `GET /products/{sku}` is exactly one call gateway → catalog, one gateway → inventory and,
 *   for a SKU catalog has, one catalog → pricing. catalog reads the database (a call to the
 *   database leaf) only when the product is not in its cache: the first time each SKU is asked
 *   within a minute (`UNKNOWN_SKU`: within 5 s, the cache's negative TTL).
 *   - `FAST_SKUS`: 200. `SLOW_SKUS`: 200 after 250–350 ms.
 *   - `FAILING_SKUS`: pricing fails (500), catalog answers 502, the gateway 502: the
 *     gateway → catalog and catalog → pricing edges and the gateway, catalog and pricing nodes
 *     count an error, and the trace's failing server span is pricing's (its parent is catalog's
 *     client span). Send at most four failing calls in a row (five open catalog's breaker to
 *     pricing for a second: 503 and no call to pricing).
 *   - `UNKNOWN_SKU`: 404 (no pricing call; a 4xx is not an error on the map).
 *   - A malformed SKU (`/products/not%20a%20sku`): 400 from the gateway, no downstream call.
 * - `GET /products` is one call gateway → catalog and one catalog → database.
 * - With Redis (`cacheNode`): each product read that misses catalog's in-process cache is one
 *   catalog → `cacheNode` call (GET), and when that misses too (a fresh `CACHE_PREFIX`: always)
 *   the database read is followed by a second one (SET of the loaded value, or of "none" for
 *   `UNKNOWN_SKU`). `GET /products` does not use the cache.
 *
 * The map (`urls.apmMap`) then has nodes `gateway`, `catalog`, `pricing`, `inventory` (kind
 * `service`) and `databaseNode` (`sqlite/catalog.db`, or `postgresql/<db>`; kind `database`),
 * and edges gateway→catalog, gateway→inventory, catalog→pricing, catalog→`databaseNode` (with
 * Redis also `cacheNode`, kind `cache`, and catalog→`cacheNode`); the
 * spans arrive within a second or so (poll). test/apm/reference.test.ts does exactly this.
 *
 * The mode follows `env` (default `process.env`): to be sure of SQLite and no Redis whatever the
 * environment (CI sets DATABASE_URL), pass `env: { ...process.env, DATABASE_URL: undefined,
 * REDIS_URL: undefined }`.
 *
 * ```ts
 * const system = await startReferenceSystem({ traffic: false, basePort: 0, dataDir: tmp });
 * // (test: t.after(() => system.stop()) — stop() may be called more than once)
 * try {
 *   await fetch(`${system.urls.gateway}/products/TENT-2P`);      // 200
 *   await fetch(`${system.urls.gateway}/products/LANTERN-OLD`);  // 502
 *   const map = await (await fetch(`${system.urls.apmApi}/api/map`)).json();
 * } finally {
 *   await system.stop();
 * }
 * ```
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { runTraffic, type Traffic, type TrafficOptions } from './traffic.ts';

export {
  FAILING_SKUS,
  FAST_SKUS,
  PRODUCTS,
  SLOW_SKUS,
  UNKNOWN_SKU,
} from './products.ts';
export type { TrafficOptions, TrafficSummary } from './traffic.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const BIN = join(ROOT, 'bin/peregrine.js');
const HERE = new URL('.', import.meta.url).pathname;

/** The services of the system, in start order (each after the ones it calls). */
export const SERVICES = ['pricing', 'inventory', 'catalog', 'gateway'] as const;
/** A service of the system. */
export type ServiceName = (typeof SERVICES)[number];

/** Every listener's port. 0 lets the system pick a free one. */
export interface Ports {
  gateway: number;
  catalog: number;
  pricing: number;
  inventory: number;
  gatewayAdmin: number;
  catalogAdmin: number;
  pricingAdmin: number;
  apmOtlp: number;
  apmApi: number;
}

/** The ports `npm start` uses: apps on 8080–8083, dashboards on 9471–9473, the apm's defaults. */
export const DEFAULT_PORTS: Readonly<Ports> = {
  gateway: 8080,
  catalog: 8081,
  pricing: 8082,
  inventory: 8083,
  gatewayAdmin: 9471,
  catalogAdmin: 9472,
  pricingAdmin: 9473,
  apmOtlp: 4318,
  apmApi: 9465,
};

/** Options of `startReferenceSystem`. */
export interface ReferenceOptions {
  /** Run the traffic generator (default true); an object tunes it (rate, duration, requests). */
  traffic?: boolean | TrafficOptions;
  /**
   * Where to listen: absent, DEFAULT_PORTS; 0, a free port for every listener (for tests); N,
   * N … N+8 in the order of `Ports`. `ports` overrides single ones.
   */
  basePort?: number;
  ports?: Partial<Ports>;
  /** Where the SQLite files go: catalog.db, apm.db (default `./data/reference`). */
  dataDir?: string;
  /** The apm's store (default `<dataDir>/apm.db`; `:memory:` keeps nothing). */
  apmDb?: string;
  /**
   * The environment the services start with (default `process.env`): `DATABASE_URL` and
   * `REDIS_URL` switch catalog to PostgreSQL and Redis, `CACHE_PREFIX` prefixes its Redis keys.
   */
  env?: NodeJS.ProcessEnv;
  /** Every line the processes write, with the process's name (default: dropped). */
  onLog?: (source: ServiceName | 'apm', line: string) => void;
  /**
   * Called if a process exits once the system has started and before stop() (stop() is not
   * called for you). An exit while starting rejects the start instead.
   */
  onExit?: (source: ServiceName | 'apm', code: number | null, signal: string | null) => void;
}

/** Where everything is. */
export interface ReferenceUrls {
  /** The public API. */
  gateway: string;
  /** Each service's own address. */
  services: Record<ServiceName, string>;
  /** Each Peregrine service's dashboard (on its admin port). */
  dashboards: Record<Exclude<ServiceName, 'inventory'>, string>;
  /** The apm's OTLP receiver (what OTEL_EXPORTER_OTLP_ENDPOINT points at). */
  apmOtlp: string;
  /** The apm's API (`/api/map`, `/api/services`, `/api/traces`). */
  apmApi: string;
  /** The map as JSON. */
  apmMap: string;
}

/** A running reference system. */
export interface ReferenceSystem {
  readonly urls: ReferenceUrls;
  /** What catalog runs on. */
  readonly mode: { database: 'sqlite' | 'postgresql'; cache: 'local' | 'local+redis' };
  /** The map's database leaf for catalog (`sqlite/catalog.db`, `postgresql/<db>`). */
  readonly databaseNode: string;
  /** The map's cache leaf for catalog with Redis (`redis/<db index>`), else undefined. */
  readonly cacheNode: string | undefined;
  /** Pids of the processes started (the serve masters, inventory, the apm) and their workers. */
  pids(): number[];
  /** The traffic generator, when it runs. */
  readonly traffic: Traffic | undefined;
  /** Stops the traffic, then every process (TERM, KILL after 15 s); resolves when all are gone. */
  stop(): Promise<void>;
}

interface Child {
  name: ServiceName | 'apm';
  proc: ChildProcess;
  exited: Promise<void>;
  gone: boolean;
  lines: string[];
  /** Worker pids a serve master logged. */
  workers: Set<number>;
  /** Resolves with the first parsed JSON line that `match` accepts. */
  waitFor(
    match: (line: Record<string, unknown>) => boolean,
    ms: number,
  ): Promise<Record<string, unknown>>;
}

function layout(options: ReferenceOptions): Ports {
  const base = options.basePort;
  const ports: Ports =
    base === undefined
      ? { ...DEFAULT_PORTS }
      : base === 0
        ? {
            gateway: 0,
            catalog: 0,
            pricing: 0,
            inventory: 0,
            gatewayAdmin: 0,
            catalogAdmin: 0,
            pricingAdmin: 0,
            apmOtlp: 0,
            apmApi: 0,
          }
        : {
            gateway: base,
            catalog: base + 1,
            pricing: base + 2,
            inventory: base + 3,
            gatewayAdmin: base + 4,
            catalogAdmin: base + 5,
            pricingAdmin: base + 6,
            apmOtlp: base + 7,
            apmApi: base + 8,
          };
  return { ...ports, ...options.ports };
}

function startChild(
  name: ServiceName | 'apm',
  args: string[],
  env: NodeJS.ProcessEnv,
  options: ReferenceOptions,
): Child {
  const proc = spawn(process.execPath, ['--conditions=peregrine-source', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The apm gets its own process group: a Ctrl-C in the terminal (SIGINT to the whole
    // foreground group) stops the services, which flush their last spans to an apm still
    // listening; stop() ends the apm last.
    detached: name === 'apm',
  });
  const lines: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  const child: Child = {
    name,
    proc,
    gone: false,
    lines,
    workers: new Set(),
    exited: new Promise((resolve) => proc.once('exit', () => resolve())),
    waitFor(match, ms) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = parsed.find(match);
          if (hit !== undefined) {
            done();
            resolve(hit);
          } else if (child.gone) {
            done();
            reject(
              new Error(
                `${name} exited (${proc.exitCode ?? proc.signalCode}) while starting:\n${lines.slice(-15).join('\n')}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`${name} did not start within ${ms} ms:\n${lines.slice(-15).join('\n')}`),
          );
        }, ms);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      nl = buffer.indexOf('\n');
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > 200) lines.shift();
      if (line.startsWith('{')) {
        try {
          const json = JSON.parse(line) as Record<string, unknown>;
          if (json.msg === 'worker spawned' && typeof json.workerPid === 'number') {
            child.workers.add(json.workerPid);
          }
          // Only the lines a start-up waits for are kept.
          if (/listening/.test(String(json.msg))) parsed.push(json);
        } catch {
          // Not JSON after all: only shown.
        }
      }
      options.onLog?.(name, line);
      for (const w of waiters) w();
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  void child.exited.then(() => {
    child.gone = true;
    for (const w of waiters) w();
  });
  return child;
}

function portOf(address: unknown): number {
  return Number(String(address).split(':').pop());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the apm, then pricing and inventory, catalog, the gateway (each once the ones it calls
 * listen), then the traffic generator unless `traffic: false`. Rejects (with everything started
 * stopped again) when a process fails to start, e.g. a port in use.
 */
export async function startReferenceSystem(
  options: ReferenceOptions = {},
): Promise<ReferenceSystem> {
  const ports = layout(options);
  const baseEnv = options.env ?? process.env;
  const dataDir = resolve(ROOT, options.dataDir ?? 'data/reference');
  mkdirSync(dataDir, { recursive: true });
  const apmDb =
    options.apmDb === undefined
      ? join(dataDir, 'apm.db')
      : options.apmDb === ':memory:' || isAbsolute(options.apmDb)
        ? options.apmDb
        : resolve(options.apmDb);
  const databaseUrl = baseEnv.DATABASE_URL;
  const postgres = databaseUrl !== undefined && /^postgres(?:ql)?:\/\//i.test(databaseUrl);
  const redis = baseEnv.REDIS_URL !== undefined && baseEnv.REDIS_URL !== '';

  const children: Child[] = [];
  let stopping = false;
  // Set once started: an exit before that fails the start instead of calling onExit.
  let running = false;
  // If this process ends without stop() (an uncaught error, process.exit), take them along.
  const killAll = () => {
    for (const c of children) {
      if (!c.gone) c.proc.kill('SIGKILL');
      for (const pid of c.workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  };
  process.on('exit', killAll);
  const watch = (child: Child) => {
    children.push(child);
    void child.exited.then(() => {
      if (running && !stopping) {
        options.onExit?.(child.name, child.proc.exitCode, child.proc.signalCode);
      }
    });
    return child;
  };
  const stopAll = async () => {
    stopping = true;
    // Callers first, the apm last so it receives what the services flush as they stop.
    const services = children.filter((c) => c.name !== 'apm');
    await Promise.all(services.map((c) => terminate(c)));
    await Promise.all(children.filter((c) => c.name === 'apm').map((c) => terminate(c)));
    process.off('exit', killAll);
  };

  try {
    const apm = watch(
      startChild(
        'apm',
        [
          BIN,
          'apm',
          '--otlp',
          `127.0.0.1:${ports.apmOtlp}`,
          '--api',
          `127.0.0.1:${ports.apmApi}`,
          '--db',
          apmDb,
        ],
        baseEnv,
        options,
      ),
    );
    const apmUp = apm.waitFor((l) => l.msg === 'apm listening', 20_000);
    // With its OTLP port fixed the services start beside the apm (their first export is 250 ms
    // away, the apm listens well before); on a free port they need to know which first.
    const otlpPort = ports.apmOtlp !== 0 ? ports.apmOtlp : (await apmUp).otlpPort;
    const otlp = `http://127.0.0.1:${otlpPort}`;

    const telemetry = (service: ServiceName): NodeJS.ProcessEnv => ({
      OTEL_SERVICE_NAME: service,
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
      // Keep every trace: the map's counts are then the calls made.
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '1',
      OTEL_BSP_SCHEDULE_DELAY: '250',
    });
    const serve = (service: Exclude<ServiceName, 'inventory'>, env: NodeJS.ProcessEnv) => {
      const child = watch(
        startChild(
          service,
          [
            BIN,
            'serve',
            join(HERE, `${service}.ts`),
            '--bind',
            `127.0.0.1:${ports[service]}`,
            '--admin',
            `127.0.0.1:${ports[`${service}Admin`]}`,
            '--workers',
            '1',
            '--log-format',
            'json',
            '--telemetry-interval',
            '250',
          ],
          { ...baseEnv, ...telemetry(service), ...env },
          options,
        ),
      );
      return Promise.all([
        child.waitFor((l) => l.msg === 'listening', 30_000),
        child.waitFor((l) => l.msg === 'admin listening', 30_000),
      ]).then(([app, admin]) => ({
        url: `http://127.0.0.1:${portOf((app.addresses as string[])[0])}`,
        admin: `http://127.0.0.1:${portOf(admin.address)}`,
      }));
    };

    const inventoryChild = watch(
      startChild(
        'inventory',
        [join(HERE, 'inventory.ts')],
        {
          ...baseEnv,
          ...telemetry('inventory'),
          OTEL_TRACES_SAMPLER: 'parentbased_always_on',
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
          OTEL_METRICS_EXPORTER: 'otlp',
          OTEL_METRIC_EXPORT_INTERVAL: '5000',
          OTEL_LOGS_EXPORTER: 'none',
          // The SDK is a lot of JavaScript: V8's code cache (as `peregrine` keeps for itself)
          // saves most of a second of its start.
          NODE_COMPILE_CACHE: baseEnv.NODE_COMPILE_CACHE ?? join(tmpdir(), 'node-compile-cache'),
          PORT: String(ports.inventory),
          HOST: '127.0.0.1',
        },
        options,
      ),
    );
    // A service starts once the ones it calls listen — at once, when their ports are fixed.
    const pricingUp = serve('pricing', {});
    const inventoryUp = inventoryChild
      .waitFor((l) => l.msg === 'listening', 30_000)
      .then((l) => `http://127.0.0.1:${l.port}`);
    // (A thunk: a promise made and never awaited would reject unhandled when that start fails.)
    const urlOf = async (port: number, up: () => Promise<string>) =>
      port === 0 ? up() : `http://127.0.0.1:${port}`;
    const catalogUp = urlOf(ports.pricing, () => pricingUp.then((p) => p.url)).then((pricingUrl) =>
      serve('catalog', { PRICING_URL: pricingUrl, CATALOG_DB: join(dataDir, 'catalog.db') }),
    );
    const gatewayUp = Promise.all([
      urlOf(ports.catalog, () => catalogUp.then((c) => c.url)),
      urlOf(ports.inventory, () => inventoryUp),
    ]).then(([catalogUrl, inventoryUrl]) =>
      serve('gateway', { CATALOG_URL: catalogUrl, INVENTORY_URL: inventoryUrl }),
    );
    const [listening, pricing, inventoryPort, catalog, gateway] = await Promise.all([
      apmUp,
      pricingUp,
      inventoryUp,
      catalogUp,
      gatewayUp,
    ]);

    const apiUrl = `http://127.0.0.1:${listening.apiPort}`;
    const urls: ReferenceUrls = {
      gateway: gateway.url,
      services: {
        gateway: gateway.url,
        catalog: catalog.url,
        pricing: pricing.url,
        inventory: inventoryPort,
      },
      dashboards: {
        gateway: `${gateway.admin}/dashboard`,
        catalog: `${catalog.admin}/dashboard`,
        pricing: `${pricing.admin}/dashboard`,
      },
      apmOtlp: otlp,
      apmApi: apiUrl,
      apmMap: `${apiUrl}/api/map`,
    };
    running = true;
    const traffic =
      options.traffic === false
        ? undefined
        : runTraffic(gateway.url, options.traffic === true ? {} : (options.traffic ?? {}));
    return {
      urls,
      mode: {
        database: postgres ? 'postgresql' : 'sqlite',
        cache: redis ? 'local+redis' : 'local',
      },
      databaseNode: postgres
        ? `postgresql/${decodeURIComponent(new URL(databaseUrl!).pathname.slice(1)) || 'postgres'}`
        : 'sqlite/catalog.db',
      cacheNode: redis ? redisNode(baseEnv.REDIS_URL!) : undefined,
      traffic,
      pids: () =>
        children.flatMap((c) => [c.proc.pid!, ...c.workers]).filter((pid) => pid !== undefined),
      async stop() {
        stopping = true;
        await traffic?.stop();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The map's leaf for a Redis URL: `redis/<db index>` (what catalog's Redis spans name). */
export function redisNode(url: string): string {
  let index = '0';
  try {
    index = new URL(url).pathname.slice(1) || '0';
  } catch {
    // not a URL ioredis could use either
  }
  return `redis/${index}`;
}

/** TERM, then KILL after 15 s; then any worker the master left behind. */
async function terminate(child: Child): Promise<void> {
  if (!child.gone) {
    child.proc.kill('SIGTERM');
    const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
    await child.exited;
    clearTimeout(timer);
  }
  for (const pid of child.workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
}
