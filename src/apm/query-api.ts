/**
 * `peregrine apm`'s query listener: the read-only JSON API over the store (map, services, one
 * service, trace search, one trace, stats) and the built pages that read it.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { UiAssets } from '../dashboard/assets.ts';
import { HttpProblem, json } from './http.ts';
import type { TraceQuery } from './query-types.ts';
import type { ApmStore } from './store.ts';

/** The built pages (`npm run build:ui` writes them; src/apm and dist/apm are both two levels down). */
export const APM_UI_DIR = fileURLToPath(new URL('../../dist/apm-ui/', import.meta.url));

/** The API and the pages on `--api`. */
export class QueryApi {
  readonly #store: ApmStore;
  readonly #stats: () => object;
  #ui: UiAssets | undefined;

  /** `stats` gives `/api/stats`'s answer (the server's counters). */
  constructor(store: ApmStore, stats: () => object) {
    this.#store = store;
    this.#stats = stats;
  }

  /** Answers one request; an `HttpProblem` it throws is the answer. */
  answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://apm');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      throw new HttpProblem(405, 'the API is read-only', { allow: 'GET, HEAD' });
    }
    if (path === '/healthz') {
      json(res, { status: 'ok' });
      return;
    }
    if (path === '/api/stats') {
      json(res, this.#stats());
      return;
    }
    if (path === '/api/services') {
      const window = seconds(url.searchParams.get('window'), 900);
      json(res, { windowSeconds: window, services: this.#store.services(window * 1000) });
      return;
    }
    if (path === '/api/map') {
      const window = seconds(url.searchParams.get('window'), 900);
      json(res, this.#store.map(window * 1000));
      return;
    }
    if (path === '/api/service') {
      const name = url.searchParams.get('name') ?? '';
      if (name === '') throw new HttpProblem(400, 'name (the service) is required');
      const window = seconds(url.searchParams.get('window'), 900);
      const detail = this.#store.service(name, window * 1000);
      if (detail === undefined) throw new HttpProblem(404, `no service ${name} is stored`);
      json(res, detail);
      return;
    }
    if (path === '/api/traces') {
      json(res, { traces: this.#store.search(traceQuery(url.searchParams)) });
      return;
    }
    const m = /^\/api\/traces\/([^/]+)$/.exec(path);
    if (m !== null) {
      const id = m[1]!.toLowerCase();
      if (!/^[0-9a-f]{32}$/.test(id)) throw new HttpProblem(400, 'a trace id is 32 hex digits');
      const spans = this.#store.trace(id);
      if (spans.length === 0) throw new HttpProblem(404, `no trace ${id}`);
      json(res, { traceId: id, spans });
      return;
    }
    // The pages: `/` and `/apm` are the page, `/apm/NAME` its files.
    if (path === '/' || path === '/apm' || path === '/apm/') {
      this.#pages().send(req, res, 'index.html');
      return;
    }
    if (path.startsWith('/apm/')) {
      this.#pages().send(req, res, path.slice(5));
      return;
    }
    throw new HttpProblem(404, `nothing at ${path}`);
  }

  /** The built UI, read on first use. */
  #pages(): UiAssets {
    this.#ui ??= new UiAssets(APM_UI_DIR, 'apm UI');
    return this.#ui;
  }
}

function seconds(v: string | null, fallback: number): number {
  if (v === null || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 30 * 86400) {
    throw new HttpProblem(400, 'window must be a number of seconds (at most 30 days)');
  }
  return n;
}

function time(v: string | null, what: string): number | undefined {
  if (v === null || v === '') return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(n))
    throw new HttpProblem(400, `${what} must be ms since the epoch or an ISO date`);
  return n;
}

/** The search from the query string. */
export function traceQuery(p: URLSearchParams): TraceQuery {
  const q: TraceQuery = {};
  const text = (name: string) => {
    const v = p.get(name);
    return v === null || v === '' ? undefined : v;
  };
  const service = text('service');
  if (service !== undefined) q.service = service;
  const operation = text('operation');
  if (operation !== undefined) q.operation = operation;
  const route = text('route');
  if (route !== undefined) q.route = route;
  const status = text('status');
  if (status !== undefined) {
    if (status !== 'error' && status !== 'ok' && status !== 'unset') {
      throw new HttpProblem(400, 'status must be error, ok or unset');
    }
    q.status = status;
  }
  const min = text('minDuration');
  if (min !== undefined) {
    const n = Number(min);
    if (!Number.isFinite(n) || n < 0) throw new HttpProblem(400, 'minDuration must be ms ≥ 0');
    q.minDurationMs = n;
  }
  const start = time(p.get('start'), 'start');
  if (start !== undefined) q.startMs = start;
  const end = time(p.get('end'), 'end');
  if (end !== undefined) q.endMs = end;
  const limit = text('limit');
  if (limit !== undefined) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new HttpProblem(400, 'limit must be 1–1000');
    q.limit = n;
  }
  const attrs = p.getAll('attr').map((a) => {
    const i = a.indexOf('=');
    if (i <= 0) throw new HttpProblem(400, 'attr must be key=value');
    return [a.slice(0, i), a.slice(i + 1)] as const;
  });
  if (attrs.length > 0) q.attributes = attrs;
  const caller = text('caller');
  const callee = text('callee');
  if ((caller === undefined) !== (callee === undefined)) {
    throw new HttpProblem(400, 'caller and callee go together (one edge of the map)');
  }
  if (caller !== undefined && callee !== undefined) {
    q.caller = caller;
    q.callee = callee;
  }
  return q;
}
