/**
 * Peregrine's data path in the shape the benchmark suite's `DataPath` expects (world, fortunes,
 * updateWorlds, cachedWorld, close), so its Peregrine server can switch to it with one import:
 *
 *   // bench/servers/peregrine/data.ts
 *   export { createPeregrineDataPath as createDataPath } from '../../peregrine-data.ts';
 *   export const DATA_PATH_NAME = 'peregrine';
 *
 * PERF: `world(id)` calls made in the same tick (a queries test's Promise.all) are pipelined as
 * one batch on one connection — one round trip instead of N, and one pooled connection per
 * request instead of N.
 */
import { Cache } from '../src/data/cache/cache.ts';
import { PostgresPool } from '../src/data/pool/postgres.ts';

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
  const db = new PostgresPool({ url: options.url, max: options.poolSize, name: 'bench' });
  const opened = db.open();
  const cache = new Cache<World, number>({ name: 'cachedworld', ttl: 3_600_000, max: 20_000 });

  /** Row-by-id reads of one tick go out as one pipelined batch on one connection. */
  const batched = (text: string) => {
    let pending: Array<{ id: number; resolve(w: World): void; reject(e: unknown): void }> = [];
    const flush = () => {
      const batch = pending;
      pending = [];
      db.batch<World>(batch.map((p) => ({ text, values: [p.id] }))).then(
        (results) => {
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results[i]!.rows[0]!);
        },
        (err: unknown) => {
          for (const p of batch) p.reject(err);
        },
      );
    };
    return async (id: number): Promise<World> => {
      await opened;
      return new Promise<World>((resolve, reject) => {
        if (pending.length === 0) queueMicrotask(flush);
        pending.push({ id, resolve, reject });
      });
    };
  };
  const world = batched(SELECT_WORLD);
  // A cold cache's misses (up to 20 per request) take one pooled connection per request, not 20:
  // one by one they overflowed the pool's wait queue while the cache filled (503 PRG_DB_BUSY).
  const cachedRow = batched(SELECT_CACHED);

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
