import { App, HTTPNotFound, notModified, versionETag } from 'peregrine';
import { Cache } from 'peregrine/cache';
import { HttpClient } from 'peregrine/client';
import { openDatabase } from 'peregrine/db';

/** An item of the catalogue. */
interface Item {
  id: number;
  name: string;
  version: number;
}

/** Where the service keeps its data; every field falls back to the environment. */
export interface ServiceOptions {
  /** `postgres://…` for PostgreSQL, else a SQLite file (default `$DATABASE_URL`, else SQLite). */
  databaseUrl?: string;
  /**
   * Redis for the shared cache tier and invalidation across nodes (default `$REDIS_URL`). The
   * workers of one node invalidate each other without it.
   */
  redisUrl?: string;
  /** Prefix of the cache's Redis keys, for services sharing one Redis (default `$CACHE_PREFIX`). */
  cachePrefix?: string;
  /** A pricing service to call for `/items/{id}/price` (default `$PRICING_URL`). */
  pricingUrl?: string;
}

/**
 * A small catalogue service on the data path: SQLite by default and PostgreSQL + Redis when
 * `DATABASE_URL` / `REDIS_URL` are set. Reads go through the tiered cache and answer conditional
 * GETs with 304; writes invalidate the cache in every worker (through the master, and through
 * Redis for other nodes); a downstream is called with the request's deadline.
 */
export function createService(options: ServiceOptions = {}): App {
  const app = new App({ requestTimeout: 5000 });
  const db = openDatabase(
    options.databaseUrl ?? process.env.DATABASE_URL ?? 'sqlite:./data/service.db',
    {
      name: 'catalogue',
    },
  ).install(app);
  const redis = 'redisUrl' in options ? options.redisUrl : process.env.REDIS_URL;
  const items = new Cache<Item, number>({
    name: 'items',
    ttl: 30_000,
    staleTtl: 30_000,
    redis,
    prefix: options.cachePrefix ?? process.env.CACHE_PREFIX,
  });
  app.onShutdown(() => items.close());
  const pricingUrl = options.pricingUrl ?? process.env.PRICING_URL;
  const pricing =
    pricingUrl === undefined ? undefined : new HttpClient({ origin: pricingUrl, name: 'pricing' });
  if (pricing !== undefined) app.onShutdown(() => pricing.close());

  app.onStartup(async () => {
    const id = db.dialect === 'postgresql' ? 'id serial PRIMARY KEY' : 'id integer PRIMARY KEY';
    await db.query(
      `CREATE TABLE IF NOT EXISTS catalogue_items (${id}, name text NOT NULL, version integer NOT NULL DEFAULT 1)`,
    );
  });

  const load = (id: number) =>
    items.get(id, () =>
      db.one<Item>('SELECT id, name, version FROM catalogue_items WHERE id = $1', [id]),
    );

  app.addRoute('/items', {
    async onPost(req, resp) {
      const body = await req.getMedia<{ name?: unknown }>();
      const name = typeof body?.name === 'string' ? body.name.trim() : '';
      if (name === '' || name.length > 200) {
        resp.status = 422;
        resp.media = { title: 'name must be 1–200 characters' };
        return;
      }
      const row = await db.one<Item>(
        'INSERT INTO catalogue_items (name) VALUES ($1) RETURNING id, name, version',
        [name],
        { req },
      );
      // A cached "not found" for this id must not outlive the insert.
      await items.delete(row!.id);
      resp.status = 201;
      resp.location = `/items/${row!.id}`;
      resp.media = row;
    },
  });

  app.addRoute('/items/{id:int}', {
    async onGet(req, resp, params) {
      const item = await load(params.id as number);
      if (item === undefined) throw new HTTPNotFound({ detail: 'No such item.' });
      if (
        notModified(req, resp, {
          etag: versionETag(item.version),
          cacheControl: { maxAge: 0, mustRevalidate: true },
        })
      ) {
        return;
      }
      resp.media = item;
    },
    async onPut(req, resp, params) {
      const body = await req.getMedia<{ name?: unknown }>();
      const name = typeof body?.name === 'string' ? body.name.trim() : '';
      if (name === '' || name.length > 200) {
        resp.status = 422;
        resp.media = { title: 'name must be 1–200 characters' };
        return;
      }
      const row = await db.one<Item>(
        'UPDATE catalogue_items SET name = $1, version = version + 1 WHERE id = $2 RETURNING id, name, version',
        [name, params.id],
        { req },
      );
      if (row === undefined) throw new HTTPNotFound({ detail: 'No such item.' });
      await items.delete(row.id);
      resp.media = row;
    },
  });

  app.addRoute('/items/{id:int}/price', {
    async onGet(req, resp, params) {
      if (pricing === undefined)
        throw new HTTPNotFound({ detail: 'No pricing service is configured.' });
      const item = await load(params.id as number);
      if (item === undefined) throw new HTTPNotFound({ detail: 'No such item.' });
      const quote = await pricing.get(`/prices/${item.id}`, { req });
      resp.status = quote.status === 200 ? 200 : 502;
      resp.media = { item, price: quote.status === 200 ? quote.json() : null };
    },
  });

  return app;
}
