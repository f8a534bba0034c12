/**
 * gateway: the public API. It validates, calls catalog (and inventory, a service another team
 * runs on the plain OpenTelemetry SDK) through `peregrine/client`, and shapes the answer. It
 * keeps no data of its own.
 *
 * - `GET /` — what is here.
 * - `GET /products?limit=&offset=` — one call to catalog.
 * - `GET /products/{sku}` — catalog's product and price, with inventory's stock, fetched in
 *   parallel: one call to each. 404 when catalog has no such product; 502 when catalog failed
 *   (pricing failed behind it); the stock is `null` when inventory failed (the page still works).
 *
 * `$CATALOG_URL` and `$INVENTORY_URL` say where they are.
 */
import { App, HTTPBadGateway, HTTPBadRequest, HTTPNotFound } from 'peregrine';
import { HttpClient } from 'peregrine/client';
import { SKU_PATTERN } from './products.ts';

const app = new App({ requestTimeout: 5000 });
// No retries from the gateway: catalog retries its own downstream calls, and retrying at every
// hop multiplies a failure (two retries at each of two hops is nine calls to the last one).
const catalog = new HttpClient({
  origin: process.env.CATALOG_URL ?? 'http://127.0.0.1:8081',
  name: 'catalog',
  retries: 0,
  timeout: 3000,
});
const inventory = new HttpClient({
  origin: process.env.INVENTORY_URL ?? 'http://127.0.0.1:8083',
  name: 'inventory',
  retries: 0,
  timeout: 500,
});
app.onShutdown(async () => {
  await Promise.all([catalog.close(), inventory.close()]);
});

app.addRoute('/', {
  onGet(_req, resp) {
    resp.media = {
      service: 'gateway',
      endpoints: ['GET /products?limit=&offset=', 'GET /products/{sku}'],
    };
  },
});

app.addRoute('/products', {
  async onGet(req, resp) {
    const limit = req.query.int('limit', { default: 20, min: 1, max: 100 });
    const offset = req.query.int('offset', { default: 0, min: 0 });
    const list = await catalog.get('/products', { req, query: { limit, offset } });
    if (list.status !== 200) {
      throw new HTTPBadGateway({ detail: `catalog answered ${list.status}.` });
    }
    resp.media = list.json();
  },
});

app.addRoute('/products/{sku}', {
  async onGet(req, resp, params) {
    const sku = String(params.sku);
    if (!SKU_PATTERN.test(sku)) throw new HTTPBadRequest({ detail: 'Not a SKU.' });
    const path = encodeURIComponent(sku);
    const [product, stock] = await Promise.all([
      catalog.get(`/products/${path}`, { req }),
      // Stock is a nice-to-have: an inventory failure leaves it null rather than failing the page.
      inventory.get(`/stock/${path}`, { req }).catch(() => undefined),
    ]);
    if (product.status === 404) throw new HTTPNotFound({ detail: `No product ${sku}.` });
    if (product.status !== 200) {
      throw new HTTPBadGateway({ detail: `catalog answered ${product.status} for ${sku}.` });
    }
    resp.media = {
      ...(product.json() as object),
      stock: stock?.status === 200 ? stock.json() : null,
    };
  },
});

export default app;
