/**
 * Driver choice for the PostgreSQL pool: node-postgres (`pg`) against postgres.js on the
 * TechEmpower db, queries (N=20) and updates (N=20) workloads — plus node-postgres through
 * Peregrine's pool, which pipelines a request's statements on one connection — each behind a raw `node:http`
 * server in its own process with the same pool size, loaded by wrk in the same run.
 *
 *   flock /tmp/peregrine-load.lock node bench/pg-drivers.ts [--duration 10] [--connections 64]
 *
 * Needs wrk and DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { chooseLoadGenerator, formatMs, loadOnce } from './lib/load.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const POOL = 10;

type Driver = 'pg' | 'peregrine' | 'postgres';
interface Db {
  one(id: number): Promise<{ id: number; randomnumber: number }>;
  many(ids: number[]): Promise<Array<{ id: number; randomnumber: number }>>;
  update(rows: Array<{ id: number; randomnumber: number }>): Promise<void>;
}

const rand = () => 1 + Math.floor(Math.random() * 10000);
const count = (url: string) => {
  const m = /queries=(\d+)/.exec(url);
  const n = m === null ? 1 : Number(m[1]);
  return Number.isNaN(n) ? 1 : Math.min(500, Math.max(1, n));
};

async function open(driver: Driver): Promise<Db> {
  if (driver === 'pg') {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL });
    const db: Db = {
      async one(id) {
        const r = await pool.query({
          name: 'w1',
          text: 'SELECT id, randomnumber FROM world WHERE id = $1',
          values: [id],
        });
        return r.rows[0];
      },
      many(ids) {
        return Promise.all(ids.map((id) => db.one(id)));
      },
      async update(rows) {
        const ids = rows.map((r) => r.id);
        const nums = rows.map((r) => r.randomnumber);
        await pool.query({
          name: 'wu',
          text: 'UPDATE world SET randomnumber = v.n FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) v WHERE world.id = v.id',
          values: [ids, nums],
        });
      },
    };
    return db;
  }
  if (driver === 'peregrine') {
    // node-postgres underneath, through Peregrine's pool: pipelined batches on one connection.
    const { PostgresPool } = await import('../src/db/pool/postgres.ts');
    const pool = new PostgresPool({ url: DATABASE_URL, max: POOL });
    await pool.open();
    const text = 'SELECT id, randomnumber FROM world WHERE id = $1';
    return {
      async one(id) {
        return (await pool.one(text, [id])) as { id: number; randomnumber: number };
      },
      async many(ids) {
        const rs = await pool.batch(ids.map((id) => ({ text, values: [id] })));
        return rs.map((r) => r.rows[0] as { id: number; randomnumber: number });
      },
      async update(rows) {
        const ids = rows.map((r) => r.id);
        const nums = rows.map((r) => r.randomnumber);
        await pool.query(
          'UPDATE world SET randomnumber = v.n FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) v WHERE world.id = v.id',
          [ids, nums],
        );
      },
    };
  }
  const { default: postgres } = await import('postgres');
  const sql = postgres(DATABASE_URL, { max: POOL, prepare: true });
  const db: Db = {
    async one(id) {
      const r = await sql`SELECT id, randomnumber FROM world WHERE id = ${id}`;
      return r[0] as { id: number; randomnumber: number };
    },
    many(ids) {
      return Promise.all(ids.map((id) => db.one(id)));
    },
    async update(rows) {
      const ids = rows.map((r) => r.id);
      const nums = rows.map((r) => r.randomnumber);
      await sql`UPDATE world SET randomnumber = v.n FROM (SELECT unnest(${ids}::int[]) AS id, unnest(${nums}::int[]) AS n) v WHERE world.id = v.id`;
    },
  };
  return db;
}

async function child(driver: Driver): Promise<void> {
  const db = await open(driver);
  const server = createServer(async (req, res) => {
    try {
      const url = req.url ?? '/';
      let body: unknown;
      if (url.startsWith('/db')) body = await db.one(rand());
      else if (url.startsWith('/queries')) {
        body = await db.many(Array.from({ length: count(url) }, rand));
      } else if (url.startsWith('/updates')) {
        const rows = await db.many(Array.from({ length: count(url) }, rand));
        // Sorted ids keep concurrent batch updates from deadlocking each other.
        for (const r of rows) r.randomnumber = rand();
        rows.sort((a, b) => a.id - b.id);
        await db.update(rows);
        body = rows;
      } else {
        res.writeHead(404).end();
        return;
      }
      const json = JSON.stringify(body);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
      });
      res.end(json);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
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
  const load = await chooseLoadGenerator('wrk');
  const results: Array<Record<string, string | number>> = [];
  for (const driver of ['pg', 'peregrine', 'postgres'] as const) {
    const proc = fork(import.meta.filename, ['--child', driver], { stdio: 'inherit' });
    const [msg] = (await once(proc, 'message')) as [{ port: number }];
    const base = `http://127.0.0.1:${msg.port}`;
    try {
      for (const path of ['/db', '/queries?queries=20', '/updates?queries=20']) {
        await loadOnce(load, `${base}${path}`, 2, connections); // warm-up: JIT, statements, pool
        const r = await loadOnce(load, `${base}${path}`, seconds, connections);
        const p99 = formatMs(r.p99Ms);
        results.push({ driver, test: path, rps: Math.round(r.rps), p99 });
        console.error(`${driver} ${path}: ${Math.round(r.rps)} req/s, p99 ${p99}`);
      }
    } finally {
      proc.kill();
    }
  }
  console.table(results);
}

if (process.argv[2] === '--child') await child(process.argv[3] as Driver);
else await main();
