import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { readConfig } from './common/config.ts';
import { createPgDataPath } from './common/pg-data.ts';
import { clampQueries, HTML_TYPE } from './common/rules.ts';
import {
  cachedQueries,
  fortunesPage,
  multipleQueries,
  PLAINTEXT,
  singleQuery,
  updates,
} from './common/tests.ts';

/** Hono on @hono/node-server, with its default router (SmartRouter). */

const config = readConfig();
const data = createPgDataPath({ url: config.databaseUrl ?? '', poolSize: config.poolSize });
const app = new Hono();

app.get('/json', (c) => {
  c.header('server', 'hono');
  return c.json({ message: 'Hello, World!' });
});
app.get('/plaintext', (c) => {
  c.header('server', 'hono');
  c.header('content-type', 'text/plain; charset=utf-8');
  return c.body(PLAINTEXT);
});
app.get('/db', async (c) => {
  c.header('server', 'hono');
  return c.json(await singleQuery(data));
});
app.get('/queries', async (c) => {
  c.header('server', 'hono');
  return c.json(await multipleQueries(data, clampQueries(c.req.query('queries'))));
});
app.get('/updates', async (c) => {
  c.header('server', 'hono');
  return c.json(await updates(data, clampQueries(c.req.query('queries'))));
});
app.get('/cached-queries', (c): Response | Promise<Response> => {
  c.header('server', 'hono');
  const rows = cachedQueries(data, clampQueries(c.req.query('count')));
  if (Array.isArray(rows)) return c.json(rows);
  return rows.then((r): Response => c.json(r));
});
app.get('/fortunes', async (c) => {
  c.header('server', 'hono');
  c.header('content-type', HTML_TYPE);
  return c.body(await fortunesPage(data));
});

const server = serve({
  fetch: app.fetch,
  hostname: config.host,
  port: config.port,
  serverOptions: { keepAliveTimeout: 75_000 },
});
const stop = () => server.close(() => void data.close().finally(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
