/**
 * The data path's numbers against raw `node:http` with the same driver (node-postgres), in one
 * run: TechEmpower json, db, queries (N=20), updates (N=20) and cached-queries (N=20), each
 * server in its own process with the same pool size, loaded by wrk.
 *
 *   flock /tmp/peregrine-load.lock node --conditions=peregrine-source bench/data-path.ts [--duration 10]
 *
 * Needs wrk, and the `world` / `cachedworld` tables in DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test); they are created and filled when missing.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ensureDatabase } from './lib/database.ts';
import { chooseLoadGenerator, formatMs, loadOnce } from './lib/load.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const POOL = 10;
type World = { id: number; randomnumber: number };
const rand = () => 1 + Math.floor(Math.random() * 10000);
const count = (q: string | null) => {
  const n = Number(q ?? 1);
  return Number.isNaN(n) ? 1 : Math.min(500, Math.max(1, Math.floor(n)));
};
const SELECT = 'SELECT id, randomnumber FROM world WHERE id = $1';
const UPDATE =
  'UPDATE world SET randomnumber = v.n FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) v WHERE world.id = v.id';

/** Raw node:http + node-postgres: what a hand-written service does. */
async function raw(): Promise<void> {
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL });
  const one = async (id: number) =>
    (await pool.query({ name: 'w', text: SELECT, values: [id] })).rows[0] as World;
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let body: unknown;
    try {
      if (url.pathname === '/json') body = { message: 'Hello, World!' };
      else if (url.pathname === '/db') body = await one(rand());
      else if (url.pathname === '/queries') {
        body = await Promise.all(
          Array.from({ length: count(url.searchParams.get('queries')) }, () => one(rand())),
        );
      } else if (url.pathname === '/updates') {
        const rows = await Promise.all(
          Array.from({ length: count(url.searchParams.get('queries')) }, () => one(rand())),
        );
        for (const r of rows) r.randomnumber = rand();
        rows.sort((a, b) => a.id - b.id);
        await pool.query({
          name: 'u',
          text: UPDATE,
          values: [rows.map((r) => r.id), rows.map((r) => r.randomnumber)],
        });
        body = rows;
      } else {
        res.writeHead(404).end();
        return;
      }
    } catch (err) {
      res.writeHead(500).end(String(err));
      return;
    }
    const json = JSON.stringify(body);
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(json),
    });
    res.end(json);
  });
  server.listen(0, '127.0.0.1', () =>
    process.send?.({ port: (server.address() as AddressInfo).port }),
  );
}

/** Peregrine: the App with the data path (pipelined batches, the tiered cache). */
async function peregrine(): Promise<void> {
  const { App } = await import('../src/app/app.ts');
  const { serve } = await import('../src/server/serve.ts');
  const { PostgresPool } = await import('../src/db/pool/postgres.ts');
  const { Cache } = await import('../src/cache/cache.ts');
  // Default telemetry, as under peregrine serve: registered before the App is built.
  await import('../src/telemetry/index.ts');
  const app = new App({ logger: false });
  const db = new PostgresPool({ url: DATABASE_URL, max: POOL }).install(app);
  const cache = new Cache<World>({ name: 'cachedworld', ttl: 60_000, max: 20_000 });
  const many = async (n: number) =>
    (
      await db.batch<World>(Array.from({ length: n }, () => ({ text: SELECT, values: [rand()] })))
    ).map((r) => r.rows[0]!);
  app.addRoute('/json', {
    onGet(_req, resp) {
      resp.media = { message: 'Hello, World!' };
    },
  });
  app.addRoute('/db', {
    async onGet(_req, resp) {
      resp.media = await db.one<World>(SELECT, [rand()]);
    },
  });
  app.addRoute('/queries', {
    async onGet(req, resp) {
      resp.media = await many(count(req.query.get('queries') ?? null));
    },
  });
  app.addRoute('/updates', {
    async onGet(req, resp) {
      const rows = await many(count(req.query.get('queries') ?? null));
      for (const r of rows) r.randomnumber = rand();
      rows.sort((a, b) => a.id - b.id);
      await db.query(UPDATE, [rows.map((r) => r.id), rows.map((r) => r.randomnumber)]);
      resp.media = rows;
    },
  });
  app.addRoute('/cached-queries', {
    async onGet(req, resp) {
      const n = count(req.query.get('count') ?? null);
      const out: World[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const id = rand();
        // PERF: a local hit answers synchronously from the LRU through `peek`.
        out[i] =
          cache.peek(String(id)) ??
          (await cache.get(String(id), () =>
            db.one<World>('SELECT id, randomnumber FROM cachedworld WHERE id = $1', [id]),
          ))!;
      }
      resp.media = out;
    },
  });
  // As TechEmpower's cached-queries implementations do: the cache starts warm.
  app.onStartup(async () => {
    const all = await db.query<World>('SELECT id, randomnumber FROM cachedworld');
    for (const w of all.rows) await cache.set(String(w.id), w);
  });
  const running = await serve(app, { port: 0 });
  process.send?.({ port: running.address.port });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
    },
  });
  const seconds = Number(values.duration);
  const connections = Number(values.connections);
  await ensureDatabase(DATABASE_URL);
  const load = await chooseLoadGenerator('wrk');
  const tests = [
    '/json',
    '/db',
    '/queries?queries=20',
    '/updates?queries=20',
    '/cached-queries?count=20',
  ];
  const rps: Record<string, Record<string, number>> = {};
  const rows: Array<Record<string, string | number>> = [];
  // Both servers run at once and each test loads them back to back, so drift on a shared
  // machine hits both alike.
  const servers = await Promise.all(
    (['raw', 'peregrine'] as const).map(async (server) => {
      const proc = fork(import.meta.filename, ['--child', server], {
        execArgv: ['--conditions=peregrine-source'],
        stdio: 'inherit',
      });
      const [msg] = (await once(proc, 'message')) as [{ port: number }];
      return { server, proc, port: msg.port };
    }),
  );
  try {
    for (const path of tests) {
      for (const { server, port } of servers) {
        if (server === 'raw' && path.startsWith('/cached')) continue;
        const url = `http://127.0.0.1:${port}${path}`;
        await loadOnce(load, url, 3, connections); // warm-up: JIT, prepared statements, pool
        const r = await loadOnce(load, url, seconds, connections);
        rps[server] ??= {};
        rps[server][path] = r.rps;
        rows.push({
          server,
          test: path,
          rps: Math.round(r.rps),
          p50: formatMs(r.p50Ms),
          p99: formatMs(r.p99Ms),
        });
      }
    }
  } finally {
    for (const { proc } of servers) proc.kill();
  }
  console.table(rows);
  const p = rps.peregrine!;
  const r = rps.raw!;
  console.log('ratios (same run):');
  for (const t of ['/db', '/queries?queries=20', '/updates?queries=20']) {
    console.log(`  ${t}: peregrine / raw node:http + pg = ${(p[t]! / r[t]!).toFixed(2)}x`);
  }
  console.log(`  /json: peregrine / raw = ${(p['/json']! / r['/json']!).toFixed(2)}x`);
  console.log(
    `  cached-queries (N=20) / peregrine json = ${(p['/cached-queries?count=20']! / p['/json']!).toFixed(2)}x`,
  );
}

if (process.argv[2] === '--child') {
  if (process.argv[3] === 'raw') await raw();
  else await peregrine();
} else await main();
