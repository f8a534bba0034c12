/**
 * Peregrine's data path in the shape the benchmark suite's `DataPath` expects (world, fortunes,
 * updateWorlds, cachedWorld, close), so its Peregrine server can switch to it with one import:
 *
 *   // bench/servers/peregrine/data.ts
 *   export { createPeregrineDataPath as createDataPath } from '../../peregrine-data.ts';
 *   export const DATA_PATH_NAME = 'peregrine';
 *
 * PERF: `world(id)` calls go through `PostgresPool.loader`: the calls of one event-loop turn (a
 * queries test's Promise.all, and every other request read in that turn) are pipelined as one
 * batch on one connection — one write and one round trip instead of one per row.
 */
import { Cache } from '../src/cache/cache.ts';
import { PostgresPool } from '../src/db/pool/postgres.ts';

interface World {
  id: number;
  randomNumber: number;
}
interface Fortune {
  id: number;
  message: string;
}

const SELECT_WORLD = 'SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1';
const SELECT_CACHED = 'SELECT id, randomnumber AS "randomNumber" FROM cachedworld WHERE id = $1';

/** Builds the data path on a Peregrine PostgreSQL pool and a local-tier cache. */
export function createPeregrineDataPath(options: { url: string; poolSize: number }) {
  const db = new PostgresPool({
    url: options.url,
    max: options.poolSize,
    name: 'bench',
    ...(process.env.BENCH_PG_PIPELINE === '0' ? { pipeline: false } : {}),
  });
  const opened = db.open();
  const cache = new Cache<World, number>({ name: 'cachedworld', ttl: 3_600_000, max: 20_000 });

  // Row-by-id reads go through the pool's loader: the reads of one event-loop turn — of every
  // request read in it — go out pipelined on one connection, each answered on its own.
  const selectWorld = db.loader<World>(SELECT_WORLD);
  const selectCached = db.loader<World>(SELECT_CACHED);
  const world = async (id: number): Promise<World> => {
    await opened;
    return (await selectWorld.one([id]))!;
  };
  // A cold cache's misses (up to 20 per request) share batches too, instead of taking a pooled
  // connection each: one by one they overflowed the pool's wait queue while the cache filled.
  const cachedRow = async (id: number): Promise<World> => {
    await opened;
    return (await selectCached.one([id]))!;
  };

  return {
    world,
    async fortunes(): Promise<Fortune[]> {
      return (await db.query<Fortune>('SELECT id, message FROM fortune')).rows;
    },
    async updateWorlds(rows: readonly World[]): Promise<void> {
      const sorted = [...rows].sort((a, b) => a.id - b.id);
      await db.query(
        'UPDATE world SET randomnumber = v.n FROM (SELECT unnest($1::int[]) AS id, unnest($2::int[]) AS n) v WHERE world.id = v.id',
        [sorted.map((r) => r.id), sorted.map((r) => r.randomNumber)],
      );
    },
    cachedWorldNow(id: number): World | undefined {
      return cache.peek(id);
    },
    async cachedWorld(id: number): Promise<World> {
      const hit = cache.peek(id);
      if (hit !== undefined) return hit;
      const w = await cache.get(id, cachedRow);
      return w!;
    },
    async close(): Promise<void> {
      await cache.close();
      await db.close();
    },
  };
}
