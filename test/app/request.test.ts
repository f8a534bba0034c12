import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type Request, type Response } from '../../src/index.ts';
import { simulate, TestClient } from '../../src/testing/index.ts';

function echo(fn: (req: Request) => unknown, options: ConstructorParameters<typeof App>[0] = {}) {
  const app = new App({ logger: false, ...options });
  app.addRoute('/e', {
    onGet: (req: Request) => ({ value: fn(req) }),
    onPost: async (req: Request) => ({ value: await fn(req) }),
  });
  return new TestClient(app);
}

describe('request', () => {
  test('method, path, url and query string', async () => {
    const c = echo((req) => [
      req.method,
      req.path,
      req.url,
      req.query.get('a'),
      req.query.getAll('b'),
    ]);
    assert.deepEqual((await c.get('/e?a=1&b=x&b=y')).json, {
      value: ['GET', '/e', '/e?a=1&b=x&b=y', '1', ['x', 'y']],
    });
  });

  test('typed query getters with defaults, ranges and lists', async () => {
    const c = echo((req) => ({
      limit: req.query.int('limit', { default: 10, min: 1, max: 100 }),
      ratio: req.query.float('ratio'),
      flag: req.query.bool('flag', { default: false }),
      tags: req.query.list('tags'),
      name: req.query.string('name', { default: 'anon' }),
    }));
    assert.deepEqual((await c.get('/e')).json, {
      value: { limit: 10, flag: false, name: 'anon' },
    });
    assert.deepEqual((await c.get('/e?limit=5&ratio=0.5&flag=yes&tags=a,b&tags=c&name=x')).json, {
      value: { limit: 5, ratio: 0.5, flag: true, tags: ['a', 'b', 'c'], name: 'x' },
    });
  });

  test('a bad query value is a 400 that names the parameter', async () => {
    const c = echo((req) => req.query.int('limit', { min: 1 }));
    for (const q of ['limit=abc', 'limit=1.5', 'limit=0', 'limit=1e3']) {
      const r = await c.get(`/e?${q}`);
      assert.equal(r.status, 400, q);
      const body = r.json as { code: string; parameter: string; detail: string };
      assert.equal(body.code, 'PRG_QUERY_INVALID');
      assert.equal(body.parameter, 'limit');
      assert.match(body.detail, /"limit"/);
    }
    const required = echo((req) => req.query.string('q', { required: true }));
    assert.equal((await required.get('/e')).status, 400);
    const flag = echo((req) => req.query.bool('flag'));
    assert.equal((await flag.get('/e?flag=maybe')).status, 400);
  });

  test('headers and cookies', async () => {
    const c = echo((req) => ({
      agent: req.getHeader('User-Agent'),
      session: req.cookies.get('session'),
      theme: req.cookies.get('theme'),
    }));
    const r = await c.get('/e', {
      headers: { 'user-agent': 'test', cookie: 'session=abc%20def; theme="dark"; session=second' },
    });
    assert.deepEqual(r.json, { value: { agent: 'test', session: 'abc def', theme: 'dark' } });
  });

  test('request id: a sane incoming X-Request-Id is kept, otherwise a UUID', async () => {
    const c = echo((req) => req.id);
    const kept = (await c.get('/e', { headers: { 'x-request-id': 'abc-123' } })).json as {
      value: string;
    };
    assert.equal(kept.value, 'abc-123');
    for (const bad of ['has space', 'x'.repeat(200), '<script>']) {
      const r = (await c.get('/e', { headers: { 'x-request-id': bad } })).json as { value: string };
      assert.match(r.value, /^[0-9a-f-]{36}$/);
    }
  });

  test('a per-request context object', async () => {
    const app = new App({ logger: false });
    app.use({
      processRequest(req) {
        (req.context as { started?: number }).started = 1;
      },
    });
    app.addRoute('/c', { onGet: (req: Request) => req.context });
    assert.deepEqual((await simulate(app, { path: '/c' })).json, { started: 1 });
  });

  describe('client address and trusted proxies', () => {
    const info = (req: Request) => ({ ip: req.clientAddress, scheme: req.scheme, host: req.host });

    test('forwarding headers from an untrusted peer are ignored', async () => {
      const c = echo(info);
      const r = await c.get('/e', {
        remoteAddress: '203.0.113.9',
        headers: { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', host: 'api' },
      });
      assert.deepEqual(r.json, { value: { ip: '203.0.113.9', scheme: 'http', host: 'api' } });
    });

    test('X-Forwarded-* from a trusted proxy; trusted hops are skipped from the right', async () => {
      const c = echo(info, { trustedProxies: ['loopback', '10.0.0.0/8'] });
      const r = await c.get('/e', {
        remoteAddress: '127.0.0.1',
        headers: {
          'x-forwarded-for': '198.51.100.7, 203.0.113.1, 10.1.2.3',
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'shop.example',
        },
      });
      assert.deepEqual(r.json, {
        value: { ip: '203.0.113.1', scheme: 'https', host: 'shop.example' },
      });
    });

    test('RFC 7239 Forwarded with IPv6 and ports', async () => {
      const c = echo(info, { trustedProxies: ['::1', '127.0.0.1'] });
      const r = await c.get('/e', {
        remoteAddress: '::1',
        headers: {
          forwarded: 'for="[2001:db8:cafe::17]:4711";proto=https;host=a.example, for=127.0.0.1',
        },
      });
      assert.deepEqual(r.json, {
        value: { ip: '2001:db8:cafe::17', scheme: 'https', host: 'a.example' },
      });
    });

    test('a bad trusted-proxy entry fails at App construction', () => {
      assert.throws(
        () => new App({ logger: false, trustedProxies: ['nonsense'] }),
        /trusted proxy/,
      );
    });
  });

  test('AbortSignal fires when the client goes away', async () => {
    let aborted: string | undefined;
    const app = new App({ logger: false });
    app.addRoute('/slow', {
      async onGet(req: Request, resp: Response) {
        await new Promise<void>((resolve) => {
          req.signal.addEventListener('abort', () => {
            aborted = (req.signal.reason as DOMException).name;
            resolve();
          });
          // The client goes away while the responder waits.
          controller.abort();
        });
        resp.text = 'never seen';
      },
    });
    const controller = new AbortController();
    await simulate(app, { path: '/slow', signal: controller.signal });
    assert.equal(aborted, 'AbortError');
  });

  test('the deadline fires the signal and answers 503 problem+json', async () => {
    let reason: string | undefined;
    const app = new App({ logger: false, requestTimeout: 50 });
    app.addRoute('/hang', {
      async onGet(req: Request, resp: Response) {
        await new Promise<void>((resolve) =>
          req.signal.addEventListener('abort', () => {
            reason = (req.signal.reason as DOMException).name;
            resolve();
          }),
        );
        resp.text = 'too late';
      },
    });
    app.addRoute('/fast', { onGet: () => ({ ok: true }) });
    const started = Date.now();
    const r = await simulate(app, { path: '/hang' });
    assert.equal(r.status, 503);
    assert.equal((r.json as { code: string }).code, 'PRG_DEADLINE_EXCEEDED');
    assert.ok(Date.now() - started < 2000);
    assert.equal(reason, 'TimeoutError');
    assert.equal((await simulate(app, { path: '/fast' })).status, 200);
    await app.shutdown();
  });

  test('content negotiation helpers', async () => {
    const c = echo((req) => [
      req.clientAccepts('text/html'),
      req.clientPrefers(['application/json', 'text/csv']),
    ]);
    const r = await c.get('/e', { headers: { accept: 'text/csv;q=0.9, application/json;q=0.5' } });
    assert.deepEqual(r.json, { value: [false, 'text/csv'] });
  });
});
