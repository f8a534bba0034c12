import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createService, type ServiceOptions } from '../examples/service/service.ts';
import { simulate } from '../src/testing/index.ts';
import { requireService } from './helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'peregrine-service-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

async function exercise(options: ServiceOptions): Promise<void> {
  const pricing = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ path: req.url, amount: 42 }));
  });
  await new Promise<void>((r) => pricing.listen(0, '127.0.0.1', r));
  const app = createService({
    ...options,
    pricingUrl: `http://127.0.0.1:${(pricing.address() as AddressInfo).port}`,
  });
  await app.startup();
  try {
    assert.equal((await app.checkReadiness()).ready, true);
    const created = await simulate(app, {
      method: 'POST',
      path: '/items',
      json: { name: 'kettle' },
    });
    assert.equal(created.status, 201);
    const item = created.json as { id: number; name: string; version: number };
    assert.equal(created.header('location'), `/items/${item.id}`);
    const got = await simulate(app, { path: `/items/${item.id}` });
    assert.equal(got.status, 200);
    assert.deepEqual(got.json, item);
    const etag = got.header('etag')!;
    assert.equal(
      (await simulate(app, { path: `/items/${item.id}`, headers: { 'if-none-match': etag } }))
        .status,
      304,
    );
    const put = await simulate(app, {
      method: 'PUT',
      path: `/items/${item.id}`,
      json: { name: 'teapot' },
    });
    assert.equal(put.status, 200);
    const after = await simulate(app, {
      path: `/items/${item.id}`,
      headers: { 'if-none-match': etag },
    });
    assert.equal(after.status, 200, 'the update invalidated the cached item');
    assert.deepEqual(after.json, { id: item.id, name: 'teapot', version: 2 });
    const price = await simulate(app, { path: `/items/${item.id}/price` });
    assert.deepEqual((price.json as { price: unknown }).price, {
      path: `/prices/${item.id}`,
      amount: 42,
    });
    const missing = await simulate(app, { path: '/items/999999999' });
    assert.equal(missing.status, 404);
    assert.equal(missing.header('content-type'), 'application/problem+json');
    const bad = await simulate(app, { method: 'POST', path: '/items', json: { name: '' } });
    assert.equal(bad.status, 422);
  } finally {
    await app.shutdown();
    pricing.close();
  }
}

describe('examples/service', () => {
  test('runs on SQLite with no server', async () => {
    await exercise({ databaseUrl: `sqlite:${join(dir, 'service.db')}`, redisUrl: undefined });
  });

  test('runs on PostgreSQL + Redis when they are configured', async (t) => {
    const databaseUrl = await requireService(t, 'postgres');
    const redisUrl = await requireService(t, 'redis');
    if (databaseUrl === undefined || redisUrl === undefined) return;
    await exercise({ databaseUrl, redisUrl });
  });
});
