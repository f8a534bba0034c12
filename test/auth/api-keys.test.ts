import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ApiKeyRecord,
  Authenticator,
  generateApiKey,
  hashApiKey,
  principalOf,
} from '../../src/auth/index.ts';
import { App, type Request } from '../../src/index.ts';
import { localStore, rateLimit } from '../../src/middleware/index.ts';
import { TestClient } from '../../src/testing/index.ts';

interface Problem {
  code: string;
  detail: string;
}

const batch = generateApiKey('pk');
const ops = generateApiKey('pk');

function service(auth: Authenticator): TestClient {
  const app = new App({ logger: false });
  app.addRoute(
    '/reports',
    {
      onGet: (req: Request) => {
        const p = principalOf(req)!;
        return { subject: p.subject, method: p.method, keyName: p.keyName, scopes: p.scopes };
      },
    },
    { before: [auth.requires('reports:read')] },
  );
  return new TestClient(app);
}

describe('API keys', () => {
  const keys: ApiKeyRecord[] = [
    { hash: batch.hash, subject: 'batch-job', scopes: ['reports:read'], name: 'nightly' },
    { hash: ops.hash, subject: 'ops', scopes: [] },
  ];
  const client = service(new Authenticator({ apiKeys: { keys } }));

  test('keys are random, stored as their SHA-256 and never in the clear', () => {
    assert.match(batch.key, /^pk_[A-Za-z0-9_-]{43}$/);
    assert.match(batch.hash, /^sha256:[A-Za-z0-9_-]{43}$/);
    assert.equal(hashApiKey(batch.key), batch.hash);
    assert.notEqual(batch.key, ops.key);
    assert.ok(!batch.hash.includes(batch.key.slice(3)));
  });

  test('a known key: the principal in req.context', async () => {
    const r = await client.get('/reports', { headers: { 'x-api-key': batch.key } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      subject: 'batch-job',
      method: 'api-key',
      keyName: 'nightly',
      scopes: ['reports:read'],
    });
  });

  test('no key: 401 with an ApiKey challenge; a wrong key: 401 PRG_AUTH_INVALID', async () => {
    const none = await client.get('/reports');
    assert.equal(none.status, 401);
    assert.equal(none.header('www-authenticate'), 'ApiKey realm="api", header="x-api-key"');
    assert.equal((none.json as Problem).code, 'PRG_AUTH_REQUIRED');
    const wrong = await client.get('/reports', { headers: { 'x-api-key': `${batch.key}x` } });
    assert.equal(wrong.status, 401);
    assert.equal((wrong.json as Problem).code, 'PRG_AUTH_INVALID');
    const twice = await client.get('/reports', {
      headers: { 'x-api-key': [batch.key, ops.key] },
    });
    assert.equal(twice.status, 401);
  });

  test('a key without the scope: 403 problem+json', async () => {
    const r = await client.get('/reports', { headers: { 'x-api-key': ops.key } });
    assert.equal(r.status, 403);
    assert.equal(r.header('content-type'), 'application/problem+json');
    assert.equal((r.json as Problem).code, 'PRG_AUTH_FORBIDDEN');
    assert.equal((r.json as Problem).detail, 'The caller lacks the scope reports:read.');
  });

  test('a lookup function gets the hash, never the key', async () => {
    const seen: string[] = [];
    const auth = new Authenticator({
      apiKeys: {
        header: 'X-Service-Key',
        lookup: (hash) => {
          seen.push(hash);
          return hash === batch.hash ? keys[0] : undefined;
        },
      },
    });
    const c = service(auth);
    assert.equal(
      (await c.get('/reports', { headers: { 'x-service-key': batch.key } })).status,
      200,
    );
    assert.equal((await c.get('/reports', { headers: { 'x-service-key': 'nope' } })).status, 401);
    assert.deepEqual(seen, [batch.hash, hashApiKey('nope')]);
  });

  test('a stored key that is not a hash is refused when the authenticator is built', () => {
    assert.throws(
      () => new Authenticator({ apiKeys: { keys: [{ hash: batch.key, subject: 'x' }] } }),
      /hash must be hashApiKey/,
    );
    assert.throws(() => new Authenticator({ apiKeys: {} }), /keys \(hashed\) or a lookup/);
    assert.throws(() => new Authenticator({}), /jwt, apiKeys or both/);
    const auth = new Authenticator({ apiKeys: { keys } });
    assert.throws(() => auth.requires('notes read'), /not a scope or role name/);
    assert.throws(() => auth.requires({ roles: [''] }), /not a scope or role name/);
  });
});

describe('with rateLimit keyed on the subject', () => {
  test('auth.middleware() before rateLimit({ key: "subject" }): one budget per caller', async () => {
    const keys: ApiKeyRecord[] = [
      { hash: batch.hash, subject: 'batch-job' },
      { hash: ops.hash, subject: 'ops' },
    ];
    const auth = new Authenticator({ apiKeys: { keys } });
    const limiter = rateLimit({
      name: 'per-caller',
      limit: 2,
      window: 60,
      key: 'subject',
      store: localStore(),
    });
    const app = new App({ logger: false });
    app.use(auth.middleware()).use(limiter);
    app.addRoute('/r', { onGet: () => ({}) }, { before: [auth.requires()] });
    const c = new TestClient(app);
    const as = (key: string) => c.get('/r', { headers: { 'x-api-key': key } });
    try {
      assert.deepEqual(
        [(await as(batch.key)).status, (await as(batch.key)).status, (await as(batch.key)).status],
        [200, 200, 429],
      );
      // Another caller from the same address has its own budget.
      assert.equal((await as(ops.key)).status, 200);
    } finally {
      await c.close();
      await limiter.close();
    }
  });
});
