import type { Fortune, World } from './rules.ts';

/**
 * What a benchmark server needs from a data layer. Every test's database work goes through it,
 * so implementations differ only in the framework: peers use `pg-data.ts` (node-postgres), and
 * Peregrine's `servers/peregrine/data.ts` can switch to Peregrine's own data path alone.
 */
export interface DataPath {
  /** One World row by id (one query). */
  world(id: number): Promise<World>;
  /** All Fortune rows (one query). */
  fortunes(): Promise<Fortune[]>;
  /** Writes the rows' randomNumber back (one statement for all rows is allowed by the rules). */
  updateWorlds(rows: readonly World[]): Promise<void>;
  /** One CachedWorld row through a read-through cache. */
  cachedWorld(id: number): Promise<World>;
  /** The CachedWorld row if the cache holds it now (no I/O, no promise), else undefined. */
  cachedWorldNow(id: number): World | undefined;
  /** Closes connections. */
  close(): Promise<void>;
}

/** Settings of a data path, the same for every server. */
export interface DataPathOptions {
  /** PostgreSQL URL. */
  url: string;
  /** Connections this process may open (the node-wide pool divided among workers). */
  poolSize: number;
}
