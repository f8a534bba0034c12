import { LRUCache } from 'lru-cache';
import pg from 'pg';
import type { DataPath, DataPathOptions } from './data-path.ts';
import { type Fortune, WORLD_ROWS, type World } from './rules.ts';

interface WorldRow {
  id: number;
  randomnumber: number;
}

const WORLD_QUERY = 'SELECT id, randomnumber FROM world WHERE id = $1';
const CACHED_QUERY = 'SELECT id, randomnumber FROM cachedworld WHERE id = $1';
const FORTUNE_QUERY = 'SELECT id, message FROM fortune';
// One statement for all rows, in id order so concurrent updates lock rows in the same order.
const UPDATE_QUERY =
  'UPDATE world SET randomnumber = v.r FROM ' +
  '(SELECT * FROM unnest($1::int[], $2::int[]) AS t(id, r) ORDER BY id) AS v WHERE world.id = v.id';

const DEADLOCK = '40P01';

/**
 * The node-postgres data path every peer uses: one `pg.Pool` of the same size, named (prepared)
 * statements, and `lru-cache` as the read-through cache of cached-queries.
 */
export function createPgDataPath(options: DataPathOptions): DataPath {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (e.g. the server restarted) must not take the process down.
  pool.on('error', () => {});
  const cache = new LRUCache<number, World>({
    max: WORLD_ROWS,
    fetchMethod: async (id) => {
      const r = await pool.query<WorldRow>({ name: 'cached', text: CACHED_QUERY, values: [id] });
      const row = r.rows[0];
      if (row === undefined) throw new Error(`no CachedWorld row ${id}`);
      return { id: row.id, randomNumber: row.randomnumber };
    },
  });

  return {
    async world(id) {
      const r = await pool.query<WorldRow>({ name: 'world', text: WORLD_QUERY, values: [id] });
      const row = r.rows[0];
      if (row === undefined) throw new Error(`no World row ${id}`);
      return { id: row.id, randomNumber: row.randomnumber };
    },
    async fortunes() {
      const r = await pool.query<Fortune>({ name: 'fortunes', text: FORTUNE_QUERY });
      return r.rows;
    },
    async updateWorlds(rows) {
      // The last value written for a repeated id is the one kept.
      const byId = new Map<number, number>();
      for (const row of rows) byId.set(row.id, row.randomNumber);
      const ids = [...byId.keys()];
      const values = [...byId.values()];
      for (let attempt = 0; ; attempt++) {
        try {
          await pool.query({ name: 'update', text: UPDATE_QUERY, values: [ids, values] });
          return;
        } catch (err) {
          if ((err as { code?: string }).code !== DEADLOCK || attempt >= 2) throw err;
        }
      }
    },
    async cachedWorld(id) {
      const row = await cache.fetch(id);
      if (row === undefined) throw new Error(`no CachedWorld row ${id}`);
      return row;
    },
    cachedWorldNow(id) {
      return cache.get(id);
    },
    async close() {
      await pool.end();
    },
  };
}
