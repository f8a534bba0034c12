import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Authenticator, generateApiKey } from '../../src/auth/index.ts';
import { App, before, responder } from '../../src/index.ts';

test('app.openapi() shows the security schemes and each operation’s security', async () => {
  const { generateKeyPairSync } = await import('node:crypto');
  const { publicKey } = generateKeyPairSync('ed25519');
  const auth = new Authenticator({
    jwt: { key: publicKey, issuer: 'https://idp/', audience: 'api', algorithms: ['EdDSA'] },
    apiKeys: { keys: [{ hash: generateApiKey().hash, subject: 'ci' }] },
  });
  const app = new App({ logger: false });
  app.use(auth.middleware());
  class Notes {
    onGet() {
      return [];
    }
    onPost = responder({ before: [auth.requires('notes:write')] }, () => ({}));
  }
  class Admin {
    onDelete() {}
  }
  // The class decorator, applied by hand (Node's type stripping has no decorator syntax).
  before(auth.requires({ roles: ['admin'] }))(Admin);
  app.addRoute('/notes', new Notes(), { before: [auth.requires('notes:read')] });
  app.addRoute('/admin', new Admin());
  app.addRoute('/public', { onGet: () => ({}) });
  const doc = app.openapi() as {
    components: { securitySchemes: Record<string, unknown> };
    paths: Record<
      string,
      Record<string, { security?: unknown; responses: Record<string, unknown> }>
    >;
  };
  assert.deepEqual(doc.components.securitySchemes, {
    bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    apiKeyAuth: { type: 'apiKey', in: 'header', name: 'x-api-key' },
  });
  const notes = doc.paths['/notes']!;
  assert.deepEqual(notes.get!.security, [
    { bearerAuth: ['notes:read'] },
    { apiKeyAuth: ['notes:read'] },
  ]);
  // The responder's own guard is the innermost: it wins over the route's.
  assert.deepEqual(notes.post!.security, [
    { bearerAuth: ['notes:write'] },
    { apiKeyAuth: ['notes:write'] },
  ]);
  assert.ok(notes.post!.responses['401'] && notes.post!.responses['403']);
  assert.deepEqual(doc.paths['/admin']!.delete!.security, [{ bearerAuth: [] }, { apiKeyAuth: [] }]);
  assert.ok(doc.paths['/admin']!.delete!.responses['403']);
  // Only the App's optional authentication: anonymous allowed ({}).
  assert.deepEqual(doc.paths['/public']!.get!.security, [
    { bearerAuth: [] },
    { apiKeyAuth: [] },
    {},
  ]);
  assert.equal(doc.paths['/public']!.get!.responses['401'], undefined);
});

test('an App without guards gets no security in its document', () => {
  const app = new App({ logger: false });
  app.addRoute('/x', { onGet: () => ({}) });
  const doc = app.openapi() as {
    components: Record<string, unknown>;
    paths: Record<string, Record<string, object>>;
  };
  assert.equal(doc.components.securitySchemes, undefined);
  assert.equal('security' in doc.paths['/x']!.get!, false);
});
