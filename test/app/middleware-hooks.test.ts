import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  App,
  after,
  before,
  HTTPForbidden,
  type Middleware,
  type Request,
  type Response,
  withHooks,
} from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function recorder(name: string, log: string[], extra: Partial<Middleware> = {}): Middleware {
  return {
    processRequest(req) {
      log.push(`${name}.request ${req.path}`);
    },
    processResource(_req, _resp, resource, params) {
      log.push(`${name}.resource ${resource ? 'with' : 'without'} ${JSON.stringify(params)}`);
    },
    processResponse(_req, resp, _resource, succeeded) {
      log.push(`${name}.response ${resp.status} ${succeeded}`);
    },
    ...extra,
  };
}

describe('middleware', () => {
  test('three phases in order; processResponse in reverse; route middleware after app middleware', async () => {
    const log: string[] = [];
    const app = new App({ logger: false });
    app.use(recorder('a', log)).use(recorder('b', log));
    app.addRoute(
      '/x/{id:int}',
      {
        onGet(_req: Request, resp: Response) {
          log.push('responder');
          resp.media = {};
        },
      },
      { middleware: [recorder('r', log)] },
    );
    await new TestClient(app).get('/x/1');
    assert.deepEqual(log, [
      'a.request /x/1',
      'b.request /x/1',
      'r.request /x/1',
      'a.resource with {"id":1}',
      'b.resource with {"id":1}',
      'r.resource with {"id":1}',
      'responder',
      'r.response 200 true',
      'b.response 200 true',
      'a.response 200 true',
    ]);
  });

  test('processRequest may rewrite the path before routing', async () => {
    const app = new App({ logger: false });
    app.use({
      processRequest(req) {
        if (req.path.startsWith('/v1/')) req.path = req.path.slice(3);
      },
    });
    app.addRoute('/ping', { onGet: () => ({ pong: true }) });
    assert.deepEqual((await new TestClient(app).get('/v1/ping')).json, { pong: true });
  });

  test('a middleware completes the response early; later phases are skipped but processResponse runs', async () => {
    const log: string[] = [];
    let called = false;
    const app = new App({ logger: false });
    app.use(recorder('a', log));
    app.use({
      processRequest(_req, resp) {
        resp.status = 418;
        resp.text = 'short-circuit';
        resp.complete = true;
      },
      processResponse(_req, resp, _res, ok) {
        log.push(`stopper.response ${resp.status} ${ok}`);
      },
    });
    app.use(recorder('c', log));
    app.addRoute('/x', {
      onGet() {
        called = true;
      },
    });
    const r = await new TestClient(app).get('/x');
    assert.equal(r.status, 418);
    assert.equal(r.text, 'short-circuit');
    assert.equal(called, false);
    assert.deepEqual(log, ['a.request /x', 'stopper.response 418 true', 'a.response 418 true']);
  });

  test('processResponse always runs and is told the request failed', async () => {
    const log: string[] = [];
    const app = new App({ logger: false });
    app.use(recorder('a', log));
    app.addRoute('/boom', {
      onGet() {
        throw new HTTPForbidden();
      },
    });
    const r = await new TestClient(app).get('/boom');
    assert.equal(r.status, 403);
    assert.equal(log.at(-1), 'a.response 403 false');
    const missing = await new TestClient(app).get('/missing');
    assert.equal(missing.status, 404);
    assert.equal(log.at(-1), 'a.response 404 false');
  });

  test('async middleware and an error thrown in processResponse', async () => {
    const app = new App({ logger: false });
    app.use({
      async processRequest(req) {
        await new Promise((r) => setTimeout(r, 1));
        (req.context as Record<string, unknown>).user = 'ann';
      },
    });
    app.use({
      processResponse() {
        throw new HTTPForbidden({ detail: 'late' });
      },
    });
    app.addRoute('/me', {
      onGet: (req: Request) => ({ user: (req.context as Record<string, unknown>).user }),
    });
    const r = await new TestClient(app).get('/me');
    assert.equal(r.status, 403);
    assert.equal((r.json as { detail: string }).detail, 'late');
  });
});

describe('hooks', () => {
  test('before/after on a responder and on a whole resource, via options, decorators and withHooks', async () => {
    const log: string[] = [];
    const routeBefore = () => {
      log.push('route.before');
    };
    const classBefore = () => {
      log.push('class.before');
    };
    const classAfter = () => {
      log.push('class.after');
    };
    const methodBefore = (
      _req: Request,
      _resp: Response,
      _res: object,
      params: Record<string, unknown>,
    ) => {
      log.push('method.before');
      params.extra = 'added';
    };
    const methodAfter = (_req: Request, resp: Response) => {
      log.push('method.after');
      resp.setHeader('x-after', 'yes');
    };
    class Thing {
      onGet(_req: Request, resp: Response, params: Record<string, unknown>) {
        log.push('responder');
        resp.media = params;
      }
    }
    // Decorators applied by hand, as TypeScript would (method first, then class).
    const descriptor = Object.getOwnPropertyDescriptor(Thing.prototype, 'onGet')!;
    after(methodAfter)(Thing.prototype, 'onGet', descriptor);
    before(methodBefore)(Thing.prototype, 'onGet', descriptor);
    before(classBefore)(Thing);
    withHooks(Thing, { after: [classAfter] });
    const app = new App({ logger: false });
    app.addRoute('/t/{id}', new Thing(), { before: [routeBefore] });
    const r = await new TestClient(app).get('/t/1');
    assert.deepEqual(r.json, { id: '1', extra: 'added' });
    assert.equal(r.header('x-after'), 'yes');
    assert.deepEqual(log, [
      'route.before',
      'class.before',
      'method.before',
      'responder',
      'method.after',
      'class.after',
    ]);
  });

  test("the guide's decorator-free form: withHooks on the class and on one responder", async () => {
    const seen: string[] = [];
    const authenticate = (req: Request) => {
      seen.push(`auth ${req.method}`);
    };
    const addCacheHeaders = (_req: Request, resp: Response) => {
      resp.cacheControl({ maxAge: 60 });
    };
    class Orders {
      onGet(_req: Request, resp: Response) {
        resp.media = { orders: [] };
      }
      onPost(_req: Request, resp: Response) {
        resp.status = 201;
      }
    }
    withHooks(Orders, { before: [authenticate] });
    withHooks(Orders.prototype.onGet, { after: [addCacheHeaders] });
    const app = new App({ logger: false });
    app.addRoute('/orders', new Orders());
    const c = new TestClient(app);
    const got = await c.get('/orders');
    assert.equal(got.header('cache-control'), 'max-age=60');
    const posted = await c.post('/orders');
    assert.equal(posted.status, 201);
    assert.equal(posted.header('cache-control'), undefined);
    assert.deepEqual(seen, ['auth GET', 'auth POST']);
  });

  test('TC39 decorator form on a method', async () => {
    const seen: string[] = [];
    const fn = function onGet(_req: Request, resp: Response) {
      resp.media = { ok: true };
    };
    before(() => {
      seen.push('before');
    })(fn, { kind: 'method', name: 'onGet' });
    const app = new App({ logger: false });
    app.addRoute('/d', { onGet: fn });
    assert.deepEqual((await new TestClient(app).get('/d')).json, { ok: true });
    assert.deepEqual(seen, ['before']);
  });

  test('a before hook can answer early or reject', async () => {
    let called = false;
    const app = new App({ logger: false });
    app.addRoute(
      '/guarded',
      {
        onGet() {
          called = true;
        },
      },
      {
        before: [
          async (req, resp) => {
            await Promise.resolve();
            if (req.headers.authorization === undefined) throw new HTTPForbidden();
            resp.status = 202;
            resp.complete = true;
          },
        ],
      },
    );
    const c = new TestClient(app);
    assert.equal((await c.get('/guarded')).status, 403);
    assert.equal((await c.get('/guarded', { headers: { authorization: 'x' } })).status, 202);
    assert.equal(called, false);
  });
});
