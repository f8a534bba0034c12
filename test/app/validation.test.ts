import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, responder, type StandardSchemaV1 } from '../../src/index.ts';
import { Type } from '../../src/schema/index.ts';
import { TestClient } from '../../src/testing/index.ts';

const Item = Type.Object({
  name: Type.String({ minLength: 1 }),
  price: Type.Number({ minimum: 0 }),
  tags: Type.Optional(Type.Array(Type.String())),
});

function app(): App {
  const a = new App({ logger: false });
  let calls = 0;
  class Items {
    onPost = responder(
      {
        params: Type.Object({ shop: Type.Integer({ minimum: 1 }) }),
        query: Type.Object({
          dryRun: Type.Optional(Type.Boolean()),
          limit: Type.Integer({ default: 5 }),
        }),
        headers: Type.Object({ 'x-tenant': Type.String({ pattern: '^[a-z]+$' }) }),
        body: Item,
        response: {
          201: Type.Object({ id: Type.Integer(), name: Type.String(), calls: Type.Integer() }),
        },
        summary: 'Create an item',
        tags: ['items'],
      },
      (req, resp) => {
        // These are typed: a wrong property access would fail the type check of this file.
        const name: string = req.valid.body.name;
        const limit: number = req.valid.query.limit;
        const shop: number = req.valid.params.shop;
        calls++;
        resp.status = 201;
        resp.media = { id: shop * 1000 + limit, name, calls };
      },
    );
    onGet = responder({ response: Type.Object({ ok: Type.Boolean() }) }, () => ({ ok: 'yes' }));
  }
  a.addRoute('/shops/{shop:int}/items', new Items());
  return a;
}

describe('validation', () => {
  test('valid input arrives coerced and typed', async () => {
    const r = await new TestClient(app()).post('/shops/7/items?limit=3&dryRun=true', {
      json: { name: 'pen', price: 2.5 },
      headers: { 'x-tenant': 'acme' },
    });
    assert.equal(r.status, 201);
    assert.deepEqual(r.json, { id: 7003, name: 'pen', calls: 1 });
  });

  test('bad params, query and headers → 400 listing each field; responder not called', async () => {
    const r = await new TestClient(app()).post('/shops/7/items?limit=many', {
      json: { name: 'pen', price: 1 },
      headers: { 'x-tenant': 'ACME' },
    });
    assert.equal(r.status, 400);
    const body = r.json as { code: string; errors: Array<{ in: string; pointer: string }> };
    assert.equal(body.code, 'PRG_VALIDATION_FAILED');
    assert.deepEqual(body.errors.map((e) => `${e.in}:${e.pointer}`).sort(), [
      'headers:/x-tenant',
      'query:/limit',
    ]);
  });

  test('a bad body → 422 listing every failing field', async () => {
    const r = await new TestClient(app()).post('/shops/7/items', {
      json: { name: '', price: -1, tags: [1] },
      headers: { 'x-tenant': 'acme' },
    });
    assert.equal(r.status, 422);
    const body = r.json as { errors: Array<{ in: string; pointer: string; message: string }> };
    assert.deepEqual(body.errors.map((e) => e.pointer).sort(), ['/name', '/price', '/tags/0']);
    assert.ok(body.errors.every((e) => e.in === 'body' && e.message.length > 0));
    const missing = await new TestClient(app()).post('/shops/7/items', {
      json: { price: 1 },
      headers: { 'x-tenant': 'acme' },
    });
    assert.deepEqual(
      (missing.json as { errors: Array<{ pointer: string; message: string }> }).errors,
      [{ in: 'body', pointer: '/name', message: 'is required' }],
    );
  });

  test('a response that breaks its schema is a 500', async () => {
    const r = await new TestClient(app()).get('/shops/1/items');
    assert.equal(r.status, 500);
    assert.equal((r.json as { code: string }).code, 'PRG_RESPONSE_INVALID');
  });

  test('any Standard Schema validator works', async () => {
    const positive: StandardSchemaV1<unknown, { n: number }> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate(value) {
          const n = (value as { n?: unknown } | undefined)?.n;
          return typeof n === 'number' && n > 0
            ? { value: { n } }
            : { issues: [{ message: 'must be positive', path: ['n'] }] };
        },
      },
    };
    const a = new App({ logger: false });
    a.addRoute('/n', {
      onPost: responder({ body: positive }, (req) => ({ doubled: req.valid.body.n * 2 })),
    });
    const c = new TestClient(a);
    assert.deepEqual((await c.post('/n', { json: { n: 2 } })).json, { doubled: 4 });
    const bad = await c.post('/n', { json: { n: -2 } });
    assert.equal(bad.status, 422);
    assert.deepEqual((bad.json as { errors: unknown[] }).errors, [
      { in: 'body', pointer: '/n', message: 'must be positive' },
    ]);
  });
});

test('an async Standard Schema response validator is run too: a mismatch is a 500', async () => {
  let checked = 0;
  const okBody: StandardSchemaV1<unknown, { ok: boolean }> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      async validate(value) {
        checked++;
        return typeof (value as { ok?: unknown }).ok === 'boolean'
          ? { value: value as { ok: boolean } }
          : { issues: [{ message: 'ok must be a boolean', path: ['ok'] }] };
      },
    },
  };
  const a = new App({ logger: false });
  a.addRoute('/good', { onGet: responder({ response: okBody }, () => ({ ok: true })) });
  a.addRoute('/bad', { onGet: responder({ response: okBody }, () => ({ ok: 'yes' })) });
  const c = new TestClient(a);
  const good = await c.get('/good');
  assert.equal(good.status, 200);
  assert.deepEqual(good.json, { ok: true });
  const bad = await c.get('/bad');
  assert.equal(bad.status, 500);
  assert.equal((bad.json as { code: string }).code, 'PRG_RESPONSE_INVALID');
  assert.equal(checked, 2);
});

describe('openapi', () => {
  test('an OpenAPI 3.1 document from templates and specs', () => {
    const a = app();
    a.addRoute('/files/{name}.{ext}', { onGet() {} });
    const doc = a.openapi({ info: { title: 'Shop', version: '1.2.3' } }) as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, Record<string, unknown>>>;
    };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.info, { title: 'Shop', version: '1.2.3' });
    const post = doc.paths['/shops/{shop}/items']!.post!;
    assert.equal(post.summary, 'Create an item');
    assert.deepEqual(post.tags, ['items']);
    const params = post.parameters as Array<{ name: string; in: string; required: boolean }>;
    assert.deepEqual(
      params.map((p) => `${p.in}:${p.name}:${p.required}`),
      ['path:shop:true', 'query:dryRun:false', 'query:limit:true', 'header:x-tenant:true'],
    );
    assert.deepEqual(
      (post.requestBody as { content: Record<string, { schema: { required: string[] } }> }).content[
        'application/json'
      ]!.schema.required,
      ['name', 'price'],
    );
    const responses = post.responses as Record<string, unknown>;
    assert.ok(responses['201'] && responses['400'] && responses['422'] && responses.default);
    const files = doc.paths['/files/{name}.{ext}']!.get!;
    assert.deepEqual(
      (files.parameters as Array<{ name: string }>).map((p) => p.name),
      ['name', 'ext'],
    );
    assert.ok(JSON.stringify(doc));
  });
});
