/**
 * The data path of the Peregrine benchmark server: Peregrine's own pooled PostgreSQL client
 * (`peregrine/db`, node-postgres underneath — the same driver as every peer) and its local-tier
 * cache, in the `DataPath` shape the suite expects. `bench/peregrine-data.ts` builds it.
 */
export { createPeregrineDataPath as createDataPath } from '../../peregrine-data.ts';

/** What the results call this data path (shown next to the db tests). */
export const DATA_PATH_NAME = 'peregrine';
