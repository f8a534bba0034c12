/**
 * The data path of the Peregrine benchmark server: Peregrine's own pooled PostgreSQL client
 * (`peregrine/db`, node-postgres underneath — the same driver as every peer) and its local-tier
 * cache, in the `DataPath` shape the suite expects. `bench/peregrine-data.ts` builds it.
 *
 * `BENCH_DATA_PATH=pg` runs the same App on the peers' data path (`pg.Pool`) instead, to tell
 * the framework's cost from the pool's (`npm run bench:peak-rss -- --env 'peregrine#pg:BENCH_DATA_PATH=pg'`).
 */
import { createPeregrineDataPath } from '../../peregrine-data.ts';
import type { DataPath, DataPathOptions } from '../common/data-path.ts';
import { createPgDataPath } from '../common/pg-data.ts';

const onPg = process.env.BENCH_DATA_PATH === 'pg';

export function createDataPath(options: DataPathOptions): DataPath {
  return onPg ? createPgDataPath(options) : createPeregrineDataPath(options);
}

/** What the results call this data path (shown next to the db tests). */
export const DATA_PATH_NAME = onPg ? 'pg' : 'peregrine';
