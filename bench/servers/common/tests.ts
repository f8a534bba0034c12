import type { DataPath } from './data-path.ts';
import { randomWorldId, renderFortunes, type World, withExtraFortune } from './rules.ts';

/** The plaintext body. A shared constant is allowed by the rules (no per-request object needed). */
export const PLAINTEXT = 'Hello, World!';

/** db: one random World row. */
export function singleQuery(data: DataPath): Promise<World> {
  return data.world(randomWorldId());
}

/** queries: N random World rows, one query each (issued concurrently through the pool). */
export function multipleQueries(data: DataPath, n: number): Promise<World[]> {
  const pending: Promise<World>[] = new Array(n);
  for (let i = 0; i < n; i++) pending[i] = data.world(randomWorldId());
  return Promise.all(pending);
}

/** updates: N rows read one by one, each given a new randomNumber, written back. */
export async function updates(data: DataPath, n: number): Promise<World[]> {
  const rows = await multipleQueries(data, n);
  for (const row of rows) row.randomNumber = randomWorldId();
  await data.updateWorlds(rows);
  return rows;
}

/** fortunes: all rows plus one added now, sorted and rendered with escaping. */
export async function fortunesPage(data: DataPath): Promise<string> {
  return renderFortunes(withExtraFortune(await data.fortunes()));
}

/**
 * cached-queries: N random CachedWorld rows from the read-through cache. Hits are taken
 * synchronously; only misses go through the loader, so a request whose rows are all cached
 * returns the array itself, not a promise (every server handles both).
 */
export function cachedQueries(data: DataPath, n: number): World[] | Promise<World[]> {
  const rows: World[] = new Array(n);
  let misses: Promise<void>[] | undefined;
  for (let i = 0; i < n; i++) {
    const id = randomWorldId();
    const hit = data.cachedWorldNow(id);
    if (hit !== undefined) rows[i] = hit;
    else {
      const load = data.cachedWorld(id).then((w) => {
        rows[i] = w;
      });
      if (misses === undefined) misses = [load];
      else misses.push(load);
    }
  }
  return misses === undefined ? rows : Promise.all(misses).then(() => rows);
}
