import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { App, type Request, Response, responder } from '../../src/index.ts';
import { Type } from '../../src/schema/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function client(onGet: (req: Request, resp: Response) => unknown, extra: object = {}) {
  const app = new App({ logger: false });
  app.addRoute('/r', { onGet, ...extra });
  return new TestClient(app);
}

describe('response', () => {
  test('headers: set, append, delete, case-insensitive; Location; Cache-Control', async () => {
    const c = client((_req, resp) => {
      resp.setHeader('X-One', '1');
      resp.setHeader('x-one', 'replaced');
      resp.appendHeader('X-Many', 'a');
      resp.appendHeader('x-many', 'b');
      resp.setHeader('X-Gone', 'bye');
      resp.deleteHeader('x-gone');
      resp.location = '/elsewhere';
      resp.cacheControl({ public: true, maxAge: 60, staleWhileRevalidate: 30 });
      resp.status = 201;
      resp.text = 'ok';
    });
    const r = await c.get('/r');
    assert.equal(r.status, 201);
    assert.equal(r.header('x-one'), 'replaced');
    assert.equal(r.header('x-many'), 'a, b');
    assert.equal(r.header('x-gone'), undefined);
    assert.equal(r.header('location'), '/elsewhere');
    assert.equal(r.header('cache-control'), 'public, max-age=60, stale-while-revalidate=30');
  });

  test('cookies: set with safe defaults, unset, and invalid names rejected', async () => {
    const c = client((_req, resp) => {
      resp.setCookie('sid', 'a b', { maxAge: 3600 });
      resp.setCookie('pref', 'x', {
        httpOnly: false,
        sameSite: 'Strict',
        secure: false,
        path: '/app',
      });
      resp.unsetCookie('old');
      resp.text = '';
    });
    const cookies = (await c.get('/r')).headers['set-cookie'] as string[];
    assert.deepEqual(cookies, [
      'sid=a%20b; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Lax',
      'pref=x; Path=/app; SameSite=Strict',
      'old=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure; HttpOnly; SameSite=Lax',
    ]);
    const bad = client((_req, resp) => {
      resp.setCookie('bad name', 'x');
    });
    assert.equal((await bad.get('/r')).status, 500);
  });

  test('bodies: text, bytes, media and default content types', async () => {
    const app = new App({ logger: false });
    app.addRoute('/text', {
      onGet: (_q: Request, s: Response) => {
        s.text = 'héllo';
      },
    });
    app.addRoute('/bytes', {
      onGet: (_q: Request, s: Response) => {
        s.data = new Uint8Array([1, 2, 3]);
      },
    });
    app.addRoute('/typed', {
      onGet: (_q: Request, s: Response) => {
        s.contentType = 'text/html; charset=utf-8';
        s.text = '<p>x</p>';
      },
    });
    const c = new TestClient(app);
    const text = await c.get('/text');
    assert.equal(text.header('content-type'), 'text/plain; charset=utf-8');
    assert.equal(text.header('content-length'), '6');
    const bytes = await c.get('/bytes');
    assert.equal(bytes.header('content-type'), 'application/octet-stream');
    assert.deepEqual([...bytes.body], [1, 2, 3]);
    assert.equal((await c.get('/typed')).header('content-type'), 'text/html; charset=utf-8');
  });

  test('streams: Readable and async iterables, chunked with no Content-Length', async () => {
    const app = new App({ logger: false });
    app.addRoute('/readable', {
      onGet: (_q: Request, s: Response) => {
        s.stream = Readable.from(['a', 'b', 'c']);
      },
    });
    app.addRoute('/iter', {
      onGet: (_q: Request, s: Response) => {
        s.contentType = 'application/x-ndjson';
        s.stream = (async function* () {
          for (let i = 0; i < 3; i++) yield `${JSON.stringify({ i })}\n`;
        })();
      },
    });
    const c = new TestClient(app);
    const readable = await c.get('/readable');
    assert.equal(readable.text, 'abc');
    assert.equal(readable.header('content-length'), undefined);
    const iter = await c.get('/iter');
    assert.equal(iter.text, '{"i":0}\n{"i":1}\n{"i":2}\n');
  });

  describe('conditional requests', () => {
    const lastModified = new Date('2024-05-01T10:00:00Z');
    const c = client((_req, resp) => {
      resp.etag = 'v42';
      resp.lastModified = lastModified;
      resp.cacheControl({ maxAge: 10 });
      resp.media = { big: 'payload' };
    });

    test('200 with validators', async () => {
      const r = await c.get('/r');
      assert.equal(r.status, 200);
      assert.equal(r.header('etag'), '"v42"');
      assert.equal(r.header('last-modified'), lastModified.toUTCString());
    });

    test('If-None-Match → 304 without body, keeping the validators', async () => {
      for (const inm of ['"v42"', 'W/"v42"', '"other", "v42"', '*']) {
        const r = await c.get('/r', { headers: { 'if-none-match': inm } });
        assert.equal(r.status, 304, inm);
        assert.equal(r.text, '');
        assert.equal(r.header('etag'), '"v42"');
        assert.equal(r.header('cache-control'), 'max-age=10');
      }
      assert.equal((await c.get('/r', { headers: { 'if-none-match': '"old"' } })).status, 200);
    });

    test('If-Modified-Since → 304 when not modified since', async () => {
      const later = new Date(lastModified.getTime() + 1000).toUTCString();
      const earlier = new Date(lastModified.getTime() - 1000).toUTCString();
      assert.equal((await c.get('/r', { headers: { 'if-modified-since': later } })).status, 304);
      assert.equal((await c.get('/r', { headers: { 'if-modified-since': earlier } })).status, 200);
      // If-None-Match takes precedence over If-Modified-Since.
      const r = await c.get('/r', {
        headers: { 'if-none-match': '"old"', 'if-modified-since': later },
      });
      assert.equal(r.status, 200);
    });

    test('If-Match / If-Unmodified-Since → 412 problem', async () => {
      const r = await c.get('/r', { headers: { 'if-match': '"old"' } });
      assert.equal(r.status, 412);
      assert.equal((r.json as { code: string }).code, 'PRG_PRECONDITION_FAILED');
      assert.equal((await c.get('/r', { headers: { 'if-match': '"v42"' } })).status, 200);
      const earlier = new Date(lastModified.getTime() - 1000).toUTCString();
      assert.equal(
        (await c.get('/r', { headers: { 'if-unmodified-since': earlier } })).status,
        412,
      );
    });
  });

  test('req.checkPreconditions() stops an unsafe method with 412 before it acts', async () => {
    let writes = 0;
    const app = new App({ logger: false });
    app.addRoute('/doc', {
      onPut(req: Request, resp: Response) {
        req.checkPreconditions({ etag: '"v1"' });
        writes++;
        resp.status = 204;
      },
      onDelete(req: Request, resp: Response) {
        // The non-throwing form: the responder decides.
        const outcome = req.preconditions({ etag: '"v1"' });
        resp.media = { outcome };
      },
      onGet(req: Request, resp: Response) {
        resp.media = { outcome: req.checkPreconditions({ etag: '"v1"' }) };
      },
    });
    const c = new TestClient(app);
    const failed = await c.put('/doc', { headers: { 'if-match': '"v0"' } });
    assert.equal(failed.status, 412);
    assert.equal(failed.header('content-type'), 'application/problem+json');
    assert.equal((failed.json as { code: string }).code, 'PRG_PRECONDITION_FAILED');
    assert.equal(writes, 0);
    // If-None-Match: * on an existing resource ("create only if absent") fails too.
    assert.equal((await c.put('/doc', { headers: { 'if-none-match': '*' } })).status, 412);
    assert.equal(writes, 0);
    assert.equal((await c.put('/doc', { headers: { 'if-match': '"v1"' } })).status, 204);
    assert.equal((await c.put('/doc')).status, 204);
    assert.equal(writes, 2);
    const told = await c.delete('/doc', { headers: { 'if-match': '"v0"' } });
    assert.deepEqual([told.status, told.json], [200, { outcome: 'failed' }]);
    const current = await c.get('/doc', { headers: { 'if-none-match': '"v1"' } });
    assert.deepEqual(current.json, { outcome: 'not-modified' });
  });

  test('tasks run after the response is sent; their errors never reach the client', async () => {
    const order: string[] = [];
    let resolveTask!: () => void;
    const ran = new Promise<void>((r) => {
      resolveTask = r;
    });
    const c = client((_req, resp) => {
      resp.schedule(() => {
        order.push('task 1');
        throw new Error('ignored');
      });
      resp.schedule(async () => {
        order.push('task 2');
        resolveTask();
      });
      resp.text = 'sent';
      order.push('responder');
    });
    const r = await c.get('/r');
    order.push('response received');
    assert.equal(r.status, 200);
    await ran;
    assert.deepEqual(order, ['responder', 'response received', 'task 1', 'task 2']);
  });

  test('redirect helper', async () => {
    const c = client((_req, resp) => void resp.redirect('/new', 308));
    const r = await c.get('/r');
    assert.equal(r.status, 308);
    assert.equal(r.header('location'), '/new');
  });

  test('a returned Response is the answer, never serialised as media', async () => {
    const app = new App({ logger: false });
    const validated = responder({ query: Type.Object({}) }, (_req, resp) =>
      resp.redirect('/moved', 302),
    );
    app.addRoute('/sync', { onGet: (_req, resp) => resp.redirect('/moved', 301) });
    app.addRoute('/async', { onGet: async (_req, resp) => resp.redirect('/moved', 307) });
    app.addRoute('/validated', { onGet: validated });
    app.addRoute('/chained', { onGet: (_req, resp) => resp.setHeader('x-a', '1') });
    app.addRoute('/foreign', { onGet: () => new Response() });
    const c = new TestClient(app);
    for (const [path, status] of [
      ['/sync', 301],
      ['/async', 307],
      ['/validated', 302],
    ] as const) {
      const r = await c.get(path);
      assert.equal(r.status, status, path);
      assert.equal(r.header('location'), '/moved', path);
      assert.equal(r.text, '', path);
    }
    const chained = await c.get('/chained');
    assert.equal(chained.status, 200);
    assert.equal(chained.header('x-a'), '1');
    // Someone else's Response is a bug in the App: a 500 that says nothing of the circular JSON.
    const foreign = await c.get('/foreign');
    assert.equal(foreign.status, 500);
    assert.doesNotMatch(foreign.text, /circular/i);
  });
});
