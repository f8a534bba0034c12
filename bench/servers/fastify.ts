import Fastify from 'fastify';
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

/** Fastify 5 with its defaults (logger off, as in production benchmarks) and async handlers. */

type Q = { Querystring: { queries?: string; count?: string } };

const config = readConfig();
const data = createPgDataPath({ url: config.databaseUrl ?? '', poolSize: config.poolSize });
const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });

app.get('/json', (_req, reply) => {
  reply.header('server', 'fastify').send({ message: 'Hello, World!' });
});
app.get('/plaintext', (_req, reply) => {
  reply.header('server', 'fastify').type('text/plain; charset=utf-8').send(PLAINTEXT);
});
app.get('/db', async (_req, reply) => {
  reply.header('server', 'fastify');
  return singleQuery(data);
});
app.get<Q>('/queries', async (req, reply) => {
  reply.header('server', 'fastify');
  return multipleQueries(data, clampQueries(req.query.queries));
});
app.get<Q>('/updates', async (req, reply) => {
  reply.header('server', 'fastify');
  return updates(data, clampQueries(req.query.queries));
});
app.get<Q>('/cached-queries', (req, reply) => {
  reply.header('server', 'fastify');
  const rows = cachedQueries(data, clampQueries(req.query.count));
  if (Array.isArray(rows)) reply.send(rows);
  else
    rows.then(
      (r) => reply.send(r),
      (err: unknown) => reply.send(err),
    );
});
app.get('/fortunes', async (_req, reply) => {
  reply.header('server', 'fastify').type(HTML_TYPE);
  return fortunesPage(data);
});

app.addHook('onClose', () => data.close());
await app.listen({ host: config.host, port: config.port, backlog: 2048 });
const stop = () => void app.close().finally(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
