import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, HTTPNotFound } from '../../src/index.ts';
import { type SafeHeadersOptions, safeHeaders } from '../../src/middleware/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function client(options?: SafeHeadersOptions, trustedProxies: string[] = ['10.0.0.0/8']) {
  const app = new App({ logger: false, trustedProxies });
  app.use(safeHeaders(options));
  app.addRoute('/r', { onGet: () => ({ ok: true }) });
  app.addRoute('/cached', {
    onGet: (_req, resp) => {
      resp.cacheControl({ public: true, maxAge: 60 });
      resp.setHeader('x-powered-by', 'Express');
      return { ok: true };
    },
  });
  app.addRoute('/fails', {
    onGet: () => {
      throw new HTTPNotFound({ detail: 'no such thing' });
    },
  });
  app.addRoute('/frame', {
    onGet: (_req, resp) => {
      resp.setHeader('x-frame-options', 'SAMEORIGIN');
      return {};
    },
  });
  return new TestClient(app);
}

describe('safeHeaders', () => {
  test('API defaults on a plain, anonymous request', async () => {
    const r = await client().get('/r');
    assert.equal(r.status, 200);
    assert.equal(r.header('x-content-type-options'), 'nosniff');
    assert.equal(r.header('content-security-policy'), "default-src 'none'; frame-ancestors 'none'");
    assert.equal(r.header('x-frame-options'), 'DENY');
    assert.equal(r.header('referrer-policy'), 'no-referrer');
    assert.equal(r.header('strict-transport-security'), undefined, 'plain HTTP gets no HSTS');
    assert.equal(r.header('cache-control'), undefined, 'anonymous answers stay cacheable');
    assert.equal(r.header('x-powered-by'), undefined);
  });

  test('errors and unrouted paths get them too', async () => {
    const c = client();
    for (const path of ['/fails', '/nowhere']) {
      const r = await c.get(path);
      assert.equal(r.status, 404);
      assert.equal(r.header('content-type'), 'application/problem+json');
      assert.equal(r.header('x-content-type-options'), 'nosniff', path);
    }
  });

  test('Cache-Control: no-store when the request is authenticated, unless the responder chose', async () => {
    const c = client();
    const sets: Array<Record<string, string>> = [
      { authorization: 'Bearer abc' },
      { 'x-api-key': 'k' },
    ];
    for (const headers of sets) {
      const r = await c.get('/r', { headers });
      assert.equal(r.header('cache-control'), 'no-store', JSON.stringify(headers));
      const failed = await c.get('/fails', { headers });
      assert.equal(failed.header('cache-control'), 'no-store');
    }
    const own = await c.get('/cached', { headers: { authorization: 'Bearer abc' } });
    assert.equal(own.header('cache-control'), 'public, max-age=60');
  });

  test('a principal in req.context counts as authenticated', async () => {
    const app = new App({ logger: false });
    app.use(safeHeaders());
    app.use({
      processRequest(req) {
        (req.context as { principal?: unknown }).principal = { subject: 'session-user' };
      },
    });
    app.addRoute('/r', { onGet: () => ({}) });
    const r = await new TestClient(app).get('/r');
    assert.equal(r.header('cache-control'), 'no-store');
  });

  test('HSTS only over TLS: on the connection, or said by a trusted proxy', async () => {
    const c = client();
    const direct = await c.get('/r', { encrypted: true });
    assert.equal(direct.header('strict-transport-security'), 'max-age=31536000');
    const proxied = await c.get('/r', {
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
    });
    assert.equal(proxied.header('strict-transport-security'), 'max-age=31536000');
    const forwarded = await c.get('/r', {
      remoteAddress: '10.1.2.3',
      headers: { forwarded: 'for=203.0.113.9;proto=https' },
    });
    assert.equal(forwarded.header('strict-transport-security'), 'max-age=31536000');
    // The same header from a peer that is not a trusted proxy is a client's claim: ignored.
    const spoofed = await c.get('/r', {
      remoteAddress: '203.0.113.9',
      headers: { 'x-forwarded-for': '198.51.100.1', 'x-forwarded-proto': 'https' },
    });
    assert.equal(spoofed.header('strict-transport-security'), undefined);
    const untrusted = client({}, []);
    const noProxies = await untrusted.get('/r', {
      remoteAddress: '10.1.2.3',
      headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' },
    });
    assert.equal(noProxies.header('strict-transport-security'), undefined);
  });

  test('each header is overridable or off; the responder’s own value wins', async () => {
    const c = client({
      contentTypeOptions: false,
      contentSecurityPolicy: "default-src 'self'",
      frameOptions: false,
      referrerPolicy: 'same-origin',
      hsts: { maxAge: 600, includeSubDomains: true, preload: true },
      authenticatedCacheControl: 'private, no-cache',
      remove: ['x-powered-by', 'x-debug'],
    });
    const r = await c.get('/r', { encrypted: true, headers: { authorization: 'Bearer x' } });
    assert.equal(r.header('x-content-type-options'), undefined);
    assert.equal(r.header('content-security-policy'), "default-src 'self'");
    assert.equal(r.header('x-frame-options'), undefined);
    assert.equal(r.header('referrer-policy'), 'same-origin');
    assert.equal(r.header('strict-transport-security'), 'max-age=600; includeSubDomains; preload');
    assert.equal(r.header('cache-control'), 'private, no-cache');
    const off = client({ hsts: false, authenticatedCacheControl: false });
    const o = await off.get('/r', { encrypted: true, headers: { authorization: 'Bearer x' } });
    assert.equal(o.header('strict-transport-security'), undefined);
    assert.equal(o.header('cache-control'), undefined);
    const framed = await client().get('/frame');
    assert.equal(framed.header('x-frame-options'), 'SAMEORIGIN');
  });

  test('a responder’s X-Powered-By is removed', async () => {
    const r = await client().get('/cached');
    assert.equal(r.header('x-powered-by'), undefined);
  });

  test('a custom authenticated predicate', async () => {
    const c = client({ authenticated: (req) => req.cookies.has('session') });
    const withCookie = await c.get('/r', { headers: { cookie: 'session=abc' } });
    assert.equal(withCookie.header('cache-control'), 'no-store');
    const bearer = await c.get('/r', { headers: { authorization: 'Bearer x' } });
    assert.equal(bearer.header('cache-control'), undefined);
  });

  test('a bad hsts.maxAge fails when the middleware is built', () => {
    assert.throws(() => safeHeaders({ hsts: { maxAge: -1 } }), /maxAge/);
  });
});
