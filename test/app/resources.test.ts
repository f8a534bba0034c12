import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type Request, type Response } from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function client(setup: (app: App) => void): TestClient {
  const app = new App({ logger: false });
  setup(app);
  return new TestClient(app);
}

describe('resources and responders', () => {
  test('responders per method, sync and async, with params', async () => {
    class Item {
      onGet(_req: Request, resp: Response, params: Record<string, unknown>) {
        resp.media = { id: params.id };
      }
      async onPut(req: Request, resp: Response) {
        const body = (await req.getMedia()) as { name: string };
        resp.status = 201;
        resp.media = { updated: body.name };
      }
      onDelete(_req: Request, resp: Response) {
        resp.status = 204;
      }
    }
    const c = client((app) => app.addRoute('/items/{id:int}', new Item()));
    assert.deepEqual((await c.get('/items/5')).json, { id: 5 });
    const put = await c.put('/items/5', { json: { name: 'x' } });
    assert.equal(put.status, 201);
    assert.deepEqual(put.json, { updated: 'x' });
    const del = await c.delete('/items/5');
    assert.equal(del.status, 204);
    assert.equal(del.text, '');
    assert.equal(del.header('content-length'), undefined);
  });

  test('one instance per route: state on the resource is shared across requests', async () => {
    let instances = 0;
    class Counter {
      n = 0;
      constructor() {
        instances++;
      }
      onGet(_req: Request, resp: Response) {
        resp.media = { n: ++this.n };
      }
    }
    const c = client((app) => app.addRoute('/count', new Counter()));
    await c.get('/count');
    assert.deepEqual((await c.get('/count')).json, { n: 2 });
    assert.equal(instances, 1);
  });

  test('a returned value becomes the media unless a body was set', async () => {
    const c = client((app) =>
      app
        .addRoute('/ret', { onGet: () => ({ returned: true }) })
        .addRoute('/both', {
          onGet(_req, resp) {
            resp.text = 'explicit';
            return { ignored: true };
          },
        })
        .addRoute('/async-ret', { onGet: async () => [1, 2, 3] }),
    );
    assert.deepEqual((await c.get('/ret')).json, { returned: true });
    assert.equal((await c.get('/both')).text, 'explicit');
    assert.deepEqual((await c.get('/async-ret')).json, [1, 2, 3]);
  });

  test('suffixed responders', async () => {
    class Items {
      onGetCollection(_req: Request, resp: Response) {
        resp.media = ['all'];
      }
      onPostCollection(_req: Request, resp: Response) {
        resp.status = 201;
      }
      onGet(_req: Request, resp: Response, params: Record<string, unknown>) {
        resp.media = { one: params.id };
      }
    }
    const items = new Items();
    const c = client((app) =>
      app.addRoute('/items', items, { suffix: 'collection' }).addRoute('/items/{id}', items),
    );
    assert.deepEqual((await c.get('/items')).json, ['all']);
    assert.equal((await c.post('/items')).status, 201);
    assert.deepEqual((await c.get('/items/a')).json, { one: 'a' });
    const nope = await c.delete('/items');
    assert.equal(nope.status, 405);
    assert.equal(nope.header('allow'), 'GET, HEAD, POST, OPTIONS');
  });

  test('404 for unknown paths, 405 with Allow, automatic OPTIONS, HEAD from GET', async () => {
    let gets = 0;
    const c = client((app) =>
      app.addRoute('/thing', {
        onGet(_req: Request, resp: Response) {
          gets++;
          resp.media = { hello: 'world' };
        },
        onPatch(_req: Request, resp: Response) {
          resp.status = 204;
        },
      }),
    );
    const missing = await c.get('/other');
    assert.equal(missing.status, 404);
    assert.equal(missing.header('content-type'), 'application/problem+json');
    assert.equal((missing.json as { code: string }).code, 'PRG_ROUTE_NOT_FOUND');

    const post = await c.post('/thing');
    assert.equal(post.status, 405);
    assert.equal(post.header('allow'), 'GET, HEAD, PATCH, OPTIONS');
    assert.equal((post.json as { status: number }).status, 405);

    const options = await c.options('/thing');
    assert.equal(options.status, 204);
    assert.equal(options.header('allow'), 'GET, HEAD, PATCH, OPTIONS');

    const head = await c.head('/thing');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal(head.header('content-length'), String(JSON.stringify({ hello: 'world' }).length));
    assert.equal(gets, 1);
  });

  test('a resource without responders is rejected at addRoute', () => {
    const app = new App({ logger: false });
    assert.throws(() => app.addRoute('/x', { notAResponder: 1 }), /no responders/);
    assert.throws(() => app.addRoute('/x', { onGet: 'nope' } as never), /not a function/);
  });

  test('conflicting templates fail at addRoute naming both routes', () => {
    const app = new App({ logger: false });
    app.addRoute('/users/{id}', { onGet() {} });
    assert.throws(
      () => app.addRoute('/users/{name}', { onGet() {} }),
      /\/users\/\{name\}.*\/users\/\{id\}/,
    );
  });

  test('describeRoutes lists templates, responders, hooks and middleware', () => {
    const app = new App({ logger: false });
    class Widget {
      onGet() {}
      onPost() {}
    }
    class Audit {
      processResource() {}
    }
    app.addRoute('/widgets/{id:int}', new Widget(), {
      middleware: [new Audit()],
      before: [() => {}],
    });
    assert.deepEqual(app.describeRoutes(), [
      {
        template: '/widgets/{id:int}',
        resource: 'Widget',
        methods: [
          { method: 'GET', responder: 'onGet', before: 1, after: 0, schema: false },
          { method: 'POST', responder: 'onPost', before: 1, after: 0, schema: false },
        ],
        middleware: ['Audit'],
      },
    ]);
  });
});
