import { setTimeout as sleep } from 'node:timers/promises';
import { App, type BeforeHook, type Middleware, type Request, type Response } from 'peregrine';
import { rateLimit } from 'peregrine/middleware';
import { topology } from 'peregrine/server';
import { poolShare, readConfig } from '../common/config.ts';
import type { DataPath } from '../common/data-path.ts';
import { clampQueries, HTML_TYPE } from '../common/rules.ts';
import {
  cachedQueries,
  fortunesPage,
  multipleQueries,
  PLAINTEXT,
  singleQuery,
  updates,
} from '../common/tests.ts';
import { createDataPath } from './data.ts';
import { addFillerRoutes, FILLER_TEMPLATES } from './routes.ts';

declare module 'peregrine' {
  interface RequestContext {
    tenant?: string;
  }
}

/**
 * The Peregrine benchmark service: "the full App" of issue 2 — 50 routes registered, one app
 * middleware (it sends the Server header the rules require) and one hook on each measured route
 * (it files the caller's tenant in the request context, as an auth hook would). The default
 * export is the App, so `peregrine serve bench/servers/peregrine/app.ts` serves it too.
 */
const app = new App();

/** The app middleware: every response names its server. */
const serverHeader: Middleware = {
  processRequest(_req, resp) {
    resp.setHeader('server', 'peregrine');
  },
};
app.use(serverHeader);

// The rate-limit variant of `npm run bench`: every request spends from one key's budget (the
// client address), with a limit no run reaches, so the cost is the guard's and never a 429.
if (process.env.PEREGRINE_BENCH_RATE_LIMIT === '1') {
  app.use(rateLimit({ name: 'bench', limit: 1_000_000_000, window: 1 }));
}

/** The hook on each measured route. */
const tenant: BeforeHook = (req) => {
  const header = req.headers['x-tenant'];
  req.context.tenant = typeof header === 'string' ? header : 'public';
};

let data: DataPath | undefined;
function db(): DataPath {
  if (data === undefined) throw new Error('the data path starts with the App');
  return data;
}

app.onStartup(() => {
  const config = readConfig();
  // json and plaintext runs pass no database: the db routes then answer 500.
  if (config.databaseUrl === undefined) return;
  // Each worker takes its share of the node-wide pool, as every peer does.
  data = createDataPath({
    url: config.databaseUrl,
    poolSize: poolShare(config.poolSize, topology.workerCount),
  });
});
app.onShutdown(async () => {
  await data?.close();
  data = undefined;
});

addFillerRoutes(app);

const hooked = { before: [tenant] };

app.addRoute(
  '/json',
  {
    onGet(_req: Request, resp: Response) {
      resp.media = { message: 'Hello, World!' };
    },
  },
  hooked,
);
app.addRoute(
  '/plaintext',
  {
    onGet(_req: Request, resp: Response) {
      resp.text = PLAINTEXT;
    },
  },
  hooked,
);
app.addRoute(
  '/db',
  {
    async onGet(_req: Request, resp: Response) {
      resp.media = await singleQuery(db());
    },
  },
  hooked,
);
app.addRoute(
  '/queries',
  {
    async onGet(req: Request, resp: Response) {
      resp.media = await multipleQueries(db(), clampQueries(req.query.get('queries')));
    },
  },
  hooked,
);
app.addRoute(
  '/updates',
  {
    async onGet(req: Request, resp: Response) {
      resp.media = await updates(db(), clampQueries(req.query.get('queries')));
    },
  },
  hooked,
);
app.addRoute(
  '/cached-queries',
  {
    onGet(req: Request, resp: Response) {
      const rows = cachedQueries(db(), clampQueries(req.query.get('count')));
      if (Array.isArray(rows)) resp.media = rows;
      else
        return rows.then((r) => {
          resp.media = r;
        });
    },
  },
  hooked,
);
app.addRoute(
  '/fortunes',
  {
    async onGet(_req: Request, resp: Response) {
      resp.contentType = HTML_TYPE;
      resp.text = await fortunesPage(db());
    },
  },
  hooked,
);
// The scaling test's I/O-bound responder: await `ms` (default 50), then answer.
app.addRoute(
  '/io',
  {
    async onGet(req: Request, resp: Response) {
      const ms = Number(req.query.get('ms') ?? 50);
      if (ms > 0) await sleep(ms);
      resp.media = { message: 'Hello, World!' };
    },
  },
  hooked,
);

/** How many routes the App has (the issue asks for 50). */
export const ROUTE_COUNT = FILLER_TEMPLATES.length + 8;

export default app;
