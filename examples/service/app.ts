import { createService } from './service.ts';

/** `npx peregrine serve examples/service/app.ts` — SQLite unless DATABASE_URL / REDIS_URL are set. */
export default createService();
