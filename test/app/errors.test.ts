import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as errors from '../../src/app/errors/classes.ts';
import {
  App,
  HTTPBadRequest,
  HTTPConflict,
  HTTPError,
  HTTPMethodNotAllowed,
  HTTPNotFound,
  HTTPServiceUnavailable,
  HTTPTooManyRequests,
  HTTPUnauthorized,
  type Logger,
  STATUS_PHRASES,
} from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function capturingLogger(): Logger & {
  entries: Array<{ obj: Record<string, unknown>; msg?: string }>;
} {
  const entries: Array<{ obj: Record<string, unknown>; msg?: string }> = [];
  const logger = {
    entries,
    error: (obj: object, msg?: string) =>
      void entries.push({ obj: obj as Record<string, unknown>, msg }),
    warn() {},
    info() {},
    debug() {},
    child: () => logger,
  };
  return logger;
}

describe('errors', () => {
  test('a subclass for each standard 4xx/5xx status, named for it', () => {
    const classes = Object.values(errors).filter(
      (v): v is new () => HTTPError => typeof v === 'function' && v.prototype instanceof HTTPError,
    );
    const statuses = new Set(
      classes.map((C) => {
        try {
          return new C().status;
        } catch {
          return new (C as unknown as new (a: string[]) => HTTPError)([]).status;
        }
      }),
    );
    for (const status of Object.keys(STATUS_PHRASES).map(Number)) {
      if (status < 400 || status === 418 || status === 506 || status === 510) continue;
      assert.ok(statuses.has(status), `no class for ${status}`);
    }
    const nf = new HTTPNotFound();
    assert.equal(nf.name, 'HTTPNotFound');
    assert.ok(nf instanceof HTTPError && nf instanceof Error);
  });

  test('problem+json with type, title, status, detail, instance and extensions', async () => {
    const app = new App({ logger: false });
    app.addRoute('/c', {
      onGet() {
        throw new HTTPConflict({
          detail: 'Version mismatch',
          type: 'https://errors.example/conflict',
          instance: '/c/123',
          extensions: { current: 3, status: 999 },
          headers: { 'x-extra': '1' },
        });
      },
    });
    const r = await new TestClient(app).get('/c');
    assert.equal(r.status, 409);
    assert.equal(r.header('content-type'), 'application/problem+json');
    assert.equal(r.header('x-extra'), '1');
    assert.deepEqual(r.json, {
      type: 'https://errors.example/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'Version mismatch',
      instance: '/c/123',
      current: 3,
    });
  });

  test('special statuses carry their headers', () => {
    assert.equal(new HTTPMethodNotAllowed(['GET', 'HEAD']).headers?.allow, 'GET, HEAD');
    assert.equal(new HTTPServiceUnavailable({ retryAfter: 2.2 }).headers?.['retry-after'], '3');
    assert.equal(new HTTPTooManyRequests({ retryAfter: 1 }).toProblem().retryAfter, 1);
    assert.equal(
      new HTTPUnauthorized({ challenges: ['Bearer realm="api"'] }).headers?.['www-authenticate'],
      'Bearer realm="api"',
    );
  });

  test('an unexpected exception is a 500 leaking nothing but the request id; the log has it all', async () => {
    const logger = capturingLogger();
    const app = new App({ logger });
    app.addRoute('/db', {
      onGet() {
        throw new Error('relation "users" does not exist: SELECT * FROM users WHERE secret = 1');
      },
    });
    const r = await new TestClient(app).get('/db', { headers: { 'x-request-id': 'req-77' } });
    assert.equal(r.status, 500);
    assert.deepEqual(r.json, {
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      code: 'PRG_INTERNAL',
      requestId: 'req-77',
    });
    assert.doesNotMatch(r.text, /SELECT|users|at |\/db|\.ts/);
    const entry = logger.entries.find((e) => e.msg === 'unhandled error');
    assert.ok(entry);
    assert.equal(entry.obj.requestId, 'req-77');
    assert.match(String((entry.obj.err as Error).stack), /SELECT \* FROM users/);
  });

  test('error handlers by class, most specific first along the prototype chain', async () => {
    class DomainError extends Error {}
    class NotEnoughStock extends DomainError {}
    const app = new App({ logger: false });
    app.addErrorHandler(DomainError, (err, _req, resp) => {
      resp.status = 409;
      resp.media = { handler: 'domain', message: err.message };
    });
    app.addErrorHandler(NotEnoughStock, (_err, _req, resp) => {
      resp.status = 422;
      resp.media = { handler: 'stock' };
    });
    app.addErrorHandler(HTTPBadRequest, (err, _req, resp) => {
      resp.status = err.status;
      resp.media = { handler: 'bad-request', detail: err.detail };
    });
    app.addRoute('/domain', {
      onGet() {
        throw new DomainError('generic');
      },
    });
    app.addRoute('/stock', {
      onGet() {
        throw new NotEnoughStock('none');
      },
    });
    app.addRoute('/query', { onGet: (req) => req.query.int('n') });
    const c = new TestClient(app);
    assert.deepEqual((await c.get('/domain')).json, { handler: 'domain', message: 'generic' });
    assert.deepEqual((await c.get('/stock')).json, { handler: 'stock' });
    const q = await c.get('/query?n=x');
    assert.equal(q.status, 400);
    assert.equal((q.json as { handler: string }).handler, 'bad-request');
  });

  test('an error handler that throws falls back to the default mapping', async () => {
    class Oops extends Error {}
    const app = new App({ logger: false });
    app.addErrorHandler(Oops, () => {
      throw new HTTPConflict();
    });
    app.addRoute('/o', {
      onGet() {
        throw new Oops();
      },
    });
    assert.equal((await new TestClient(app).get('/o')).status, 409);
  });

  test('unserialisable media becomes a 500, not a crash', async () => {
    const app = new App({ logger: false });
    app.addRoute('/big', { onGet: () => ({ n: 10n }) });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    app.addRoute('/circle', { onGet: () => circular });
    const c = new TestClient(app);
    assert.equal((await c.get('/big')).status, 500);
    assert.equal((await c.get('/circle')).status, 500);
  });
});
