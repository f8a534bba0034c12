import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { poolShare, readConfig } from './common/config.ts';
import type { DataPath } from './common/data-path.ts';
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

/** Raw node:http: the baseline every ratio is taken against. No framework, no router. */

const SERVER = 'node';
const JSON_TYPE = 'application/json';
const TEXT_TYPE = 'text/plain; charset=utf-8';

function query(url: string, name: string): string | null {
  const q = url.indexOf('?');
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get(name);
}

function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(body),
    server: SERVER,
  });
  res.end(body);
}

function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) return;
  console.error(err);
  res.writeHead(500, { 'content-type': TEXT_TYPE, 'content-length': 21, server: SERVER });
  res.end('Internal Server Error');
}

/** The request listener; the cluster variant's workers use it too. */
export function createListener(
  data: DataPath,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    switch (path) {
      case '/json':
        sendJson(res, { message: 'Hello, World!' });
        return;
      case '/plaintext':
        res.writeHead(200, { 'content-type': TEXT_TYPE, 'content-length': 13, server: SERVER });
        res.end(PLAINTEXT);
        return;
      case '/db':
        singleQuery(data).then(
          (w) => sendJson(res, w),
          (err) => fail(res, err),
        );
        return;
      case '/queries':
        multipleQueries(data, clampQueries(query(url, 'queries'))).then(
          (rows) => sendJson(res, rows),
          (err) => fail(res, err),
        );
        return;
      case '/updates':
        updates(data, clampQueries(query(url, 'queries'))).then(
          (rows) => sendJson(res, rows),
          (err) => fail(res, err),
        );
        return;
      case '/cached-queries': {
        const rows = cachedQueries(data, clampQueries(query(url, 'count')));
        if (Array.isArray(rows)) sendJson(res, rows);
        else
          rows.then(
            (r) => sendJson(res, r),
            (err) => fail(res, err),
          );
        return;
      }
      case '/fortunes':
        fortunesPage(data).then(
          (html) => {
            res.writeHead(200, {
              'content-type': HTML_TYPE,
              'content-length': Buffer.byteLength(html),
              server: SERVER,
            });
            res.end(html);
          },
          (err) => fail(res, err),
        );
        return;
      case '/io': {
        // The scaling test's I/O-bound responder: wait, then answer.
        const ms = Number(query(url, 'ms') ?? 50);
        const answer = () => sendJson(res, { message: 'Hello, World!' });
        if (ms > 0) sleep(ms).then(answer);
        else answer();
        return;
      }
      default:
        res.writeHead(404, { 'content-type': TEXT_TYPE, 'content-length': 9, server: SERVER });
        res.end('Not Found');
    }
  };
}

/** Starts one raw node:http server from the `BENCH_*` environment. */
export function start(workers = 1): void {
  const config = readConfig();
  const data = createPgDataPath({
    url: config.databaseUrl ?? '',
    poolSize: poolShare(config.poolSize, workers),
  });
  const server = createServer({ keepAliveTimeout: 75_000, noDelay: true }, createListener(data));
  server.listen({ host: config.host, port: config.port, backlog: 2048 });
  const stop = () => server.close(() => void data.close().finally(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) start();
