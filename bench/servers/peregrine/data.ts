import type { DataPath, DataPathOptions } from '../common/data-path.ts';
import { createPgDataPath } from '../common/pg-data.ts';

/**
 * The data path of the Peregrine benchmark server — the one module to change when Peregrine's
 * own data path (pooled PostgreSQL, tiered cache) lands: return an object with the same
 * `DataPath` shape built on it. Until then it is the same node-postgres pool and lru-cache the
 * peers use, so db, queries, fortunes and updates compare the framework alone.
 */
export function createDataPath(options: DataPathOptions): DataPath {
  return createPgDataPath(options);
}

/** What the results call this data path (shown next to the db tests). */
export const DATA_PATH_NAME = 'pg';
