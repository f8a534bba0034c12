import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App } from '../../src/index.ts';
import { cors, requestId } from '../../src/middleware/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function client(middleware: Parameters<App['use']>[0]) {
  const app = new App({ logger: false });
  app.use(middleware);
  app.addRoute('/r', { onGet: () => ({ ok: true }), onPut: () => ({ ok: true }) });
  return new TestClient(app);
}

describe('cors', () => {
  const c = client(
    cors({
      origins: ['https://app.example'],
      credentials: true,
      exposeHeaders: ['x-total'],
      maxAge: 60,
    }),
  );

  test('preflight from an allowed origin', async () => {
    const r = await c.options('/r', {
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type, x-token',
      },
    });
    assert.equal(r.status, 204);
    assert.equal(r.header('access-control-allow-origin'), 'https://app.example');
    assert.equal(r.header('access-control-allow-credentials'), 'true');
    assert.match(r.header('access-control-allow-methods')!, /PUT/);
    assert.equal(r.header('access-control-allow-headers'), 'content-type, x-token');
    assert.equal(r.header('access-control-max-age'), '60');
    assert.match(r.header('vary')!, /Origin/);
  });

  test('preflight from another origin is refused with 403 problem+json', async () => {
    const r = await c.options('/r', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(r.status, 403);
    assert.equal((r.json as { code: string }).code, 'PRG_CORS_REJECTED');
  });

  test('actual requests get the allow headers only for allowed origins', async () => {
    const ok = await c.get('/r', { headers: { origin: 'https://app.example' } });
    assert.equal(ok.header('access-control-allow-origin'), 'https://app.example');
    assert.equal(ok.header('access-control-expose-headers'), 'x-total');
    assert.equal(ok.header('vary'), 'Origin');
    const other = await c.get('/r', { headers: { origin: 'https://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.header('access-control-allow-origin'), undefined);
  });

  test('a predicate decides the origin', async () => {
    const p = client(cors({ origins: (o) => o.endsWith('.trusted.example') }));
    const r = await p.get('/r', { headers: { origin: 'https://a.trusted.example' } });
    assert.equal(r.header('access-control-allow-origin'), 'https://a.trusted.example');
  });

  test('"*" never goes with credentials', () => {
    assert.throws(() => cors({ origins: '*', credentials: true }), /cannot be combined/);
    const star = client(cors({ origins: '*' }));
    return star.get('/r', { headers: { origin: 'https://x.example' } }).then((r) => {
      assert.equal(r.header('access-control-allow-origin'), '*');
      assert.equal(r.header('access-control-allow-credentials'), undefined);
    });
  });
});

describe('requestId', () => {
  const c = client(requestId());
  test('echoes a sane incoming id and generates one otherwise, errors included', async () => {
    assert.equal(
      (await c.get('/r', { headers: { 'x-request-id': 'abc' } })).header('x-request-id'),
      'abc',
    );
    assert.match((await c.get('/nope')).header('x-request-id')!, /^[0-9a-f-]{36}$/);
  });
});
