import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The files a fresh process loads while running `body` (repository-relative). */
function loadedBy(body: string): string[] {
  const code = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({ load(url, context, next) { loaded.push(url); return next(url, context); } });
    ${body}
    process.stdout.write(JSON.stringify(loaded));
  `;
  const r = spawnSync(
    process.execPath,
    ['--conditions=peregrine-source', '--input-type=module', '-e', code],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as string[])
    .filter((u) => u.startsWith('file:'))
    .map((u) => fileURLToPath(u).slice(ROOT.length));
}

test('an App that does not use auth or safe headers loads none of it', () => {
  const files = loadedBy(`
    const { App } = await import('peregrine');
    const { TestClient } = await import('peregrine/testing');
    const app = new App({ logger: false });
    app.addRoute('/x', { onGet: () => ({}) });
    await new TestClient(app).get('/x');
  `);
  assert.deepEqual(
    files.filter(
      (f) =>
        f.startsWith('src/auth/') || f.includes('node_modules/jose/') || f.includes('safe-headers'),
    ),
    [],
  );
});

test('API keys alone load neither jose nor the outbound client', () => {
  const files = loadedBy(`
    const { App } = await import('peregrine');
    const { TestClient } = await import('peregrine/testing');
    const { Authenticator, generateApiKey } = await import('peregrine/auth');
    const { key, hash } = generateApiKey();
    const auth = new Authenticator({ apiKeys: { keys: [{ hash, subject: 's' }] } });
    const app = new App({ logger: false });
    app.addRoute('/x', { onGet: () => ({}) }, { before: [auth.requires()] });
    const r = await new TestClient(app).get('/x', { headers: { 'x-api-key': key } });
    if (r.status !== 200) throw new Error(r.text);
  `);
  assert.ok(files.includes('src/auth/authenticator.ts'));
  assert.deepEqual(
    files.filter(
      (f) =>
        f.includes('node_modules/jose/') ||
        f.startsWith('src/client/') ||
        f.includes('node_modules/undici/'),
    ),
    [],
  );
});

test('jose loads with the first token, not with the import', () => {
  const files = loadedBy(`
    const { createPublicKey, generateKeyPairSync } = await import('node:crypto');
    const { Authenticator } = await import('peregrine/auth');
    const { publicKey } = generateKeyPairSync('ed25519');
    new Authenticator({ jwt: { key: publicKey, issuer: 'i', audience: 'a', algorithms: ['EdDSA'] } });
  `);
  assert.deepEqual(
    files.filter((f) => f.includes('node_modules/jose/')),
    [],
  );
});
