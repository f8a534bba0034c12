import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { AdminServer, sendJSON } from '../../src/server/master/admin.ts';
import { resolveSettings, toConfigObject } from '../../src/server/settings/resolve.ts';
import { isLoopback } from '../../src/server/settings/setting.ts';

test('loopback addresses are told apart from the others', () => {
  for (const host of ['127.0.0.1', '127.9.8.7', '::1', 'localhost']) {
    assert.equal(isLoopback({ host, port: 1 }), true, host);
  }
  for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com']) {
    assert.equal(isLoopback({ host, port: 1 }), false, host);
  }
  assert.equal(isLoopback({ path: '/run/peregrine.sock' }), true);
});

test('a non-loopback admin address without a token refuses to start', async () => {
  await assert.rejects(
    resolveSettings({ cli: { admin: '0.0.0.0:9464' }, env: {} }),
    /not a loopback address: the dashboard and \/api\/\* need --admin-token/,
  );
  await assert.rejects(
    resolveSettings({ cli: { adminProtectMetrics: true }, env: {} }),
    /--admin-protect-metrics needs --admin-token/,
  );
  await assert.rejects(
    resolveSettings({ cli: { admin: '0.0.0.0:9464', adminToken: 'short' }, env: {} }),
    /at least 16 characters/,
  );
  const ok = await resolveSettings({
    cli: { admin: '0.0.0.0:9464' },
    env: { PEREGRINE_ADMIN_TOKEN: 's3cret-token-of-some-length' },
  });
  assert.equal(ok.settings.adminToken, 's3cret-token-of-some-length');
  assert.equal(toConfigObject(ok.settings).adminToken, '<redacted>', 'never printed');
  // loopback needs none
  assert.equal((await resolveSettings({ env: {} })).settings.adminToken, null);
});

test('the token guards /dashboard and /api/*; probes and /metrics stay open unless asked', async (t) => {
  const token = 'a-token-long-enough-1234';
  for (const protectMetrics of [false, true]) {
    const admin = new AdminServer(pino({ level: 'silent' }));
    admin.protect(
      token,
      (p) =>
        p === '/dashboard' ||
        p.startsWith('/dashboard/') ||
        p.startsWith('/api/') ||
        (protectMetrics && p === '/metrics'),
    );
    for (const path of ['/healthz', '/metrics', '/dashboard', '/dashboard/app.js', '/api/*']) {
      admin.route('GET', path, (_req, res) => sendJSON(res, 200, { path }));
    }
    const address = await admin.listen({ host: '127.0.0.1', port: 0 });
    t.after(() => admin.close());
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(`http://${address}${path}`, { headers });
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/metrics')).status, protectMetrics ? 401 : 200);
    for (const path of ['/api/overview', '/dashboard/app.js']) {
      const res = await get(path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="peregrine-admin"');
      assert.equal(res.headers.get('content-type'), 'application/problem+json');
      assert.equal(
        (await get(path, { authorization: 'Bearer wrong-token-000000000' })).status,
        401,
      );
      assert.equal((await get(path, { authorization: `Bearer ${token}` })).status, 200);
      assert.equal(
        (await get(path, { cookie: `x=1; peregrine_admin_token=${encodeURIComponent(token)}` }))
          .status,
        200,
      );
    }
    // A browser without the token gets the sign-in page, which holds no data.
    const page = await get('/dashboard');
    assert.equal(page.status, 401);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /needs its token/);
  }
});
