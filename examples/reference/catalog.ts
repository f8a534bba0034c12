/**
 * catalog: the products, in a database behind the tiered cache, priced by the pricing service.
 *
 * - The database is `$DATABASE_URL` (PostgreSQL) or, by default, the embedded SQLite file
 *   `$CATALOG_DB` (`./data/reference/catalog.db`). The table is created and seeded at startup.
 * - Products are read through `peregrine/cache`: in-process, plus Redis as the shared second tier
 *   when `$REDIS_URL` is set (keys prefixed `$CACHE_PREFIX`). A product is read from the database
 *   once a minute at most; the list is read from the database every time (it pages).
 * - Prices come from `$PRICING_URL` through `peregrine/client` (trace context, deadline, retries
 *   on 502/503/504, a breaker), never cached: they change.
 *
 * `GET /products?limit=&offset=` · `GET /products/{sku}` (404 unknown, 502 when pricing failed).
 */
import { App, HTTPBadGateway, HTTPBadRequest, HTTPNotFound } from 'peregrine';
import { Cache } from 'peregrine/cache';
import { HttpClient } from 'peregrine/client';
import { openDatabase } from 'peregrine/db';
import { PRODUCTS, type Product, SKU_PATTERN } from './products.ts';

const app = new App({ requestTimeout: 5000 });
const db = openDatabase(
  process.env.DATABASE_URL ?? `sqlite:${process.env.CATALOG_DB ?? './data/reference/catalog.db'}`,
  { name: 'catalog' },
).install(app);
const products = new Cache<Product, string>({
  name: 'products',
  ttl: 60_000,
  staleTtl: 60_000,
  redis: process.env.REDIS_URL,
  prefix: process.env.CACHE_PREFIX ?? 'reference:',
});
app.onShutdown(() => products.close());
const pricing = new HttpClient({
  origin: process.env.PRICING_URL ?? 'http://127.0.0.1:8082',
  name: 'pricing',
  timeout: 2000,
});
app.onShutdown(() => pricing.close());

app.onStartup(async () => {
  await db.query(
    'CREATE TABLE IF NOT EXISTS reference_products (sku text PRIMARY KEY, name text NOT NULL, category text NOT NULL)',
  );
  for (const p of PRODUCTS) {
    await db.query(
      'INSERT INTO reference_products (sku, name, category) VALUES ($1, $2, $3) ON CONFLICT (sku) DO NOTHING',
      [p.sku, p.name, p.category],
    );
  }
});

function skuOf(params: Record<string, unknown>): string {
  const sku = String(params.sku);
  if (!SKU_PATTERN.test(sku)) throw new HTTPBadRequest({ detail: 'Not a SKU.' });
  return sku;
}

app.addRoute('/products', {
  async onGet(req, resp) {
    const limit = req.query.int('limit', { default: 20, min: 1, max: 100 });
    const offset = req.query.int('offset', { default: 0, min: 0 });
    const rows = await db.query<Product>(
      'SELECT sku, name, category FROM reference_products ORDER BY sku LIMIT $1 OFFSET $2',
      [limit, offset],
      { req },
    );
    resp.media = { products: rows.rows, limit, offset };
  },
});

app.addRoute('/products/{sku}', {
  async onGet(req, resp, params) {
    const sku = skuOf(params);
    const product = await products.get(sku, () =>
      db.one<Product>('SELECT sku, name, category FROM reference_products WHERE sku = $1', [sku], {
        req,
      }),
    );
    if (product === undefined) throw new HTTPNotFound({ detail: `No product ${sku}.` });
    const quote = await pricing.get(`/prices/${encodeURIComponent(sku)}`, { req });
    if (quote.status !== 200) {
      throw new HTTPBadGateway({ detail: `pricing answered ${quote.status} for ${sku}.` });
    }
    resp.media = { ...product, price: quote.json() };
  },
});

export default app;
