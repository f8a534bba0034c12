import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, responder } from '../../src/index.ts';
import { Type } from '../../src/schema/index.ts';
import { type SimulatedResult, TestClient } from '../../src/testing/index.ts';

/**
 * Every kind of bad input gets its specific 4xx with a problem+json body, the responder is never
 * called, and the App keeps serving.
 */
describe('bad input', () => {
  let called = 0;
  const app = new App({
    logger: false,
    limits: { bodyLimit: 1024, multipartParts: 3, jsonDepth: 16 },
  });
  const take = async (req: { getMedia(): Promise<unknown> }) => {
    await req.getMedia();
    called++;
    return { ok: true };
  };
  app.addRoute('/items/{id:int(min=1)}', {
    onGet: () => {
      called++;
      return {};
    },
  });
  app.addRoute('/search', {
    onGet: (req) => {
      req.query.int('limit');
      called++;
      return {};
    },
  });
  app.addRoute('/body', { onPost: take });
  app.addRoute('/typed', {
    onPost: responder({ body: Type.Object({ n: Type.Integer() }) }, () => {
      called++;
    }),
  });
  const c = new TestClient(app);

  const expectProblem = (r: SimulatedResult, status: number, code: string) => {
    assert.equal(r.status, status, r.text);
    assert.equal(r.header('content-type'), 'application/problem+json');
    const body = r.json as { status: number; code: string; title: string };
    assert.equal(body.status, status);
    assert.equal(body.code, code);
    assert.ok(body.title.length > 0);
  };

  const cases: Array<[string, () => Promise<SimulatedResult>, number, string]> = [
    ['bad converter value', () => c.get('/items/abc'), 404, 'PRG_ROUTE_NOT_FOUND'],
    ['converter out of range', () => c.get('/items/0'), 404, 'PRG_ROUTE_NOT_FOUND'],
    ['bad percent-encoding', () => c.get('/items/%zz'), 400, 'PRG_PATH_INVALID'],
    ['bad query value', () => c.get('/search?limit=ten'), 400, 'PRG_QUERY_INVALID'],
    [
      'unsupported media type',
      () => c.post('/body', { body: '<x/>', headers: { 'content-type': 'application/xml' } }),
      415,
      'PRG_MEDIA_TYPE_UNSUPPORTED',
    ],
    ['no content type', () => c.post('/body', { body: 'x' }), 415, 'PRG_MEDIA_TYPE_UNSUPPORTED'],
    [
      'content encoding',
      () =>
        c.post('/body', {
          body: 'x',
          headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        }),
      415,
      'PRG_CONTENT_ENCODING_UNSUPPORTED',
    ],
    [
      'oversized body (Content-Length)',
      () => c.post('/body', { json: { pad: 'x'.repeat(2000) } }),
      413,
      'PRG_BODY_TOO_LARGE',
    ],
    [
      'oversized body (chunked)',
      () =>
        c.post('/body', {
          body: [Buffer.alloc(600, 97), Buffer.alloc(600, 97)],
          chunked: true,
          headers: { 'content-type': 'application/json' },
        }),
      413,
      'PRG_BODY_TOO_LARGE',
    ],
    [
      'missing body',
      () => c.post('/body', { headers: { 'content-type': 'application/json' } }),
      400,
      'PRG_BODY_MISSING',
    ],
    [
      'malformed JSON',
      () => c.post('/body', { body: '{"a":', headers: { 'content-type': 'application/json' } }),
      400,
      'PRG_JSON_MALFORMED',
    ],
    [
      '__proto__ payload',
      () =>
        c.post('/body', {
          body: '{"a":{"__proto__":{"admin":true}}}',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'PRG_JSON_FORBIDDEN_KEY',
    ],
    [
      'escaped __proto__ payload',
      () =>
        c.post('/body', {
          body: '{"\\u005f_proto__":{"admin":true}}',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'PRG_JSON_FORBIDDEN_KEY',
    ],
    [
      'constructor.prototype payload',
      () =>
        c.post('/body', {
          body: '[{"constructor":{"prototype":{"admin":true}}}]',
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'PRG_JSON_FORBIDDEN_KEY',
    ],
    [
      'too-deep JSON',
      () =>
        c.post('/body', {
          body: `${'['.repeat(17)}${']'.repeat(17)}`,
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'PRG_JSON_TOO_DEEP',
    ],
    [
      'invalid UTF-8',
      () =>
        c.post('/body', {
          body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
          headers: { 'content-type': 'application/json' },
        }),
      400,
      'PRG_BODY_INVALID_UTF8',
    ],
    [
      'bad form encoding',
      () =>
        c.post('/body', {
          body: 'a=%E0%A4%A',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      400,
      'PRG_FORM_MALFORMED',
    ],
    [
      'multipart without boundary',
      () => c.post('/body', { body: 'x', headers: { 'content-type': 'multipart/form-data' } }),
      400,
      'PRG_MULTIPART_MALFORMED',
    ],
    [
      'truncated multipart',
      () =>
        c.post('/body', {
          body: '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue',
          headers: { 'content-type': 'multipart/form-data; boundary=b' },
        }),
      400,
      'PRG_MULTIPART_MALFORMED',
    ],
    [
      'too many multipart parts',
      () =>
        c.post('/body', {
          body: `${['a', 'b', 'c', 'd'].map((n) => `--b\r\nContent-Disposition: form-data; name="${n}"\r\n\r\nv\r\n`).join('')}--b--\r\n`,
          headers: { 'content-type': 'multipart/form-data; boundary=b' },
        }),
      413,
      'PRG_MULTIPART_LIMIT',
    ],
    [
      'schema violation',
      () => c.post('/typed', { json: { n: 'one' } }),
      422,
      'PRG_VALIDATION_FAILED',
    ],
  ];

  for (const [name, send, status, code] of cases) {
    test(name, async () => {
      const before = called;
      expectProblem(await send(), status, code);
      assert.equal(called, before, 'the responder must not be called');
    });
  }

  test('413 closes the connection so the rest of the body is never read', async () => {
    const r = await c.post('/body', { json: { pad: 'x'.repeat(2000) } });
    assert.equal(r.header('connection'), 'close');
  });

  test('the App still serves after all of that', async () => {
    assert.equal((await c.get('/items/5')).status, 200);
  });
});
