import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AUDIENCE, ISSUER, JwksServer, rsaKey, sign } from '../helpers/jwt.ts';
import { startServe } from '../helpers/serve-process.ts';

const APP = 'test/fixtures/server/auth-app.ts';

test('peregrine serve, 2 workers: each fetches the JWKS at startup, verifies, and stops cleanly', async (t) => {
  const key = await rsaKey();
  const jwks = await JwksServer.start([key.jwk]);
  t.after(() => jwks.close());
  const server = await startServe([APP, '--workers', '2'], { env: { JWKS_URL: jwks.url } });
  t.after(() => server.stop());
  await server.waitForReady(2);
  assert.equal(jwks.hits, 2, 'one fetch per worker, at startup');

  const base = `http://127.0.0.1:${server.port}`;
  const token = await sign(key, { sub: 'alice', scope: 'notes:read' });
  for (let i = 0; i < 20; i++) {
    // A new connection each time, so the master hands them to both workers.
    const r = await fetch(`${base}/me`, {
      headers: { authorization: `Bearer ${token}`, connection: 'close' },
    });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), { subject: 'alice', scopes: ['notes:read'] });
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  }
  assert.equal(jwks.hits, 2, 'verified from the keys each worker fetched at startup');

  const noScope = await sign(key, { aud: AUDIENCE, iss: ISSUER });
  const forbidden = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${noScope}` } });
  assert.equal(forbidden.status, 403);
  assert.equal(forbidden.headers.get('content-type'), 'application/problem+json');
  const anonymous = await fetch(`${base}/me`);
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="api"');
  assert.equal(((await anonymous.json()) as { code: string }).code, 'PRG_AUTH_REQUIRED');

  server.signal('SIGTERM');
  const exit = await server.exited;
  assert.equal(exit.code, 0, `the master exited with ${exit.code ?? exit.signal}`);
});
