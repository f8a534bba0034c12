import type { App, Request, Resource, Response } from 'peregrine';

/**
 * The rest of a realistic service's routing table: 42 routes of the kind a microservice has
 * (collections, items by int or uuid, nested resources, actions, static endpoints). They are
 * registered so the measured routes are looked up among 50, not alone.
 */

function item(name: string): Resource {
  return {
    onGet(_req: Request, resp: Response, params: Record<string, unknown>) {
      resp.media = { kind: name, ...params };
    },
    onPut(_req: Request, resp: Response) {
      resp.status = 204;
    },
    onDelete(_req: Request, resp: Response) {
      resp.status = 204;
    },
  };
}

function collection(name: string): Resource {
  return {
    onGet(_req: Request, resp: Response) {
      resp.media = { kind: name, items: [] };
    },
    onPost(_req: Request, resp: Response) {
      resp.status = 201;
    },
  };
}

/** The 42 routes, as templates. */
export const FILLER_TEMPLATES: readonly string[] = [
  '/healthz',
  '/version',
  '/api/v1/users',
  '/api/v1/users/{id:int}',
  '/api/v1/users/{id:int}/orders',
  '/api/v1/users/{id:int}/orders/{orderId:int}',
  '/api/v1/users/{id:int}/addresses',
  '/api/v1/users/{id:int}/addresses/{addressId:int}',
  '/api/v1/users/me',
  '/api/v1/users/me/settings',
  '/api/v1/orders',
  '/api/v1/orders/{id:uuid}',
  '/api/v1/orders/{id:uuid}/items',
  '/api/v1/orders/{id:uuid}/items/{line:int}',
  '/api/v1/orders/{id:uuid}/cancel',
  '/api/v1/orders/{id:uuid}/refund',
  '/api/v1/products',
  '/api/v1/products/{sku}',
  '/api/v1/products/{sku}/reviews',
  '/api/v1/products/{sku}/reviews/{reviewId:int}',
  '/api/v1/products/{sku}/images/{name}.{ext}',
  '/api/v1/categories',
  '/api/v1/categories/{slug}',
  '/api/v1/categories/{slug}/products',
  '/api/v1/carts/{cartId:uuid}',
  '/api/v1/carts/{cartId:uuid}/items',
  '/api/v1/carts/{cartId:uuid}/items/{sku}',
  '/api/v1/carts/{cartId:uuid}/checkout',
  '/api/v1/payments',
  '/api/v1/payments/{id:uuid}',
  '/api/v1/invoices/{year:int(min=2000)}/{number:int}',
  '/api/v1/shipments/{id}',
  '/api/v1/shipments/{id}/events',
  '/api/v1/search',
  '/api/v1/search/suggest',
  '/api/v2/users/{id:int}',
  '/api/v2/orders/{id:uuid}',
  '/api/v2/products/{sku}',
  '/admin/users',
  '/admin/users/{id:int}/roles',
  '/admin/audit/{day:dt("%Y-%m-%d")}',
  '/files/{path:path}',
];

/** Registers the 42 filler routes on an App. */
export function addFillerRoutes(app: App): void {
  for (const template of FILLER_TEMPLATES) {
    const name =
      template
        .split('/')
        .filter((s) => s !== '' && !s.startsWith('{'))
        .pop() ?? 'root';
    const resource = template.endsWith('}') ? item(name) : collection(name);
    app.addRoute(template, resource);
  }
}
