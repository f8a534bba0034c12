import express from 'express';
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

/**
 * Express 5. ETag generation and X-Powered-By are switched off, as a production service would,
 * so every server sends the same headers.
 */

const config = readConfig();
const data = createPgDataPath({ url: config.databaseUrl ?? '', poolSize: config.poolSize });
const app = express();
app.set('etag', false);
app.set('x-powered-by', false);

function asString(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

app.get('/json', (_req, res) => {
  res.set('server', 'express').json({ message: 'Hello, World!' });
});
app.get('/plaintext', (_req, res) => {
  res.set('server', 'express').type('text/plain; charset=utf-8').send(PLAINTEXT);
});
app.get('/db', async (_req, res) => {
  res.set('server', 'express').json(await singleQuery(data));
});
app.get('/queries', async (req, res) => {
  const rows = await multipleQueries(data, clampQueries(asString(req.query.queries)));
  res.set('server', 'express').json(rows);
});
app.get('/updates', async (req, res) => {
  const rows = await updates(data, clampQueries(asString(req.query.queries)));
  res.set('server', 'express').json(rows);
});
app.get('/cached-queries', (req, res, next) => {
  const rows = cachedQueries(data, clampQueries(asString(req.query.count)));
  if (Array.isArray(rows)) res.set('server', 'express').json(rows);
  else rows.then((r) => res.set('server', 'express').json(r), next);
});
app.get('/fortunes', async (_req, res) => {
  const html = await fortunesPage(data);
  res.set('server', 'express').type(HTML_TYPE).send(html);
});

const server = app.listen(config.port, config.host);
server.keepAliveTimeout = 75_000;
const stop = () => server.close(() => void data.close().finally(() => process.exit(0)));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
