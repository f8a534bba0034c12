import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  App,
  type MultipartForm,
  type Request,
  type Response,
  responder,
} from '../../src/index.ts';
import { TestClient } from '../../src/testing/index.ts';

function echoMedia(options: ConstructorParameters<typeof App>[0] = {}) {
  const app = new App({ logger: false, ...options });
  app.addRoute('/m', {
    async onPost(req: Request, resp: Response) {
      resp.media = { got: await req.getMedia() };
    },
  });
  return { app, c: new TestClient(app) };
}

function multipart(
  boundary: string,
  parts: Array<{ name: string; filename?: string; type?: string; value: string }>,
): string {
  let out = '';
  for (const p of parts) {
    out += `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) out += `; filename="${p.filename}"`;
    out += '\r\n';
    if (p.type) out += `Content-Type: ${p.type}\r\n`;
    out += `\r\n${p.value}\r\n`;
  }
  return `${out}--${boundary}--\r\n`;
}

describe('media', () => {
  test('JSON in and out, +json types, a default when empty', async () => {
    const { c } = echoMedia();
    assert.deepEqual((await c.post('/m', { json: { a: [1, { b: null }] } })).json, {
      got: { a: [1, { b: null }] },
    });
    const vendor = await c.post('/m', {
      body: '{"x":1}',
      headers: { 'content-type': 'application/vnd.api+json; charset=utf-8' },
    });
    assert.deepEqual(vendor.json, { got: { x: 1 } });
    const app = new App({ logger: false });
    app.addRoute('/d', {
      onPost: async (req: Request) => ({ got: await req.getMedia({ defaultWhenEmpty: 'none' }) }),
    });
    assert.deepEqual((await new TestClient(app).post('/d')).json, { got: 'none' });
  });

  test('urlencoded forms, repeated fields as arrays', async () => {
    const { c } = echoMedia();
    const r = await c.post('/m', {
      body: 'a=1&b=x+y&b=%C3%A9&empty=&flag',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.deepEqual(r.json, { got: { a: '1', b: ['x y', 'é'], empty: '', flag: '' } });
  });

  test('multipart forms with fields and files', async () => {
    const app = new App({ logger: false });
    app.addRoute('/upload', {
      async onPost(req: Request, resp: Response) {
        const form = await req.getMedia<MultipartForm>();
        resp.media = {
          fields: form.fields,
          files: form.files.map((f) => ({
            field: f.field,
            name: f.filename,
            type: f.mimeType,
            text: f.data.toString(),
          })),
        };
      },
    });
    const body = multipart('XyZ', [
      { name: 'title', value: 'hello' },
      { name: 'doc', filename: 'a.txt', type: 'text/plain', value: 'file content' },
    ]);
    const r = await new TestClient(app).post('/upload', {
      body,
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
    });
    assert.deepEqual(r.json, {
      fields: { title: 'hello' },
      files: [{ field: 'doc', name: 'a.txt', type: 'text/plain', text: 'file content' }],
    });
  });

  test('user media handlers: parse and serialise by type, negotiated by Accept', async () => {
    const app = new App({ logger: false });
    app.media.set('text/csv', {
      parse: (body) =>
        body
          .toString()
          .trim()
          .split('\n')
          .map((line) => line.split(',')),
      serialize: (value) => (value as string[][]).map((row) => row.join(',')).join('\n'),
    });
    app.addRoute('/csv', {
      async onPost(req: Request, resp: Response) {
        resp.media = await req.getMedia();
      },
    });
    const c = new TestClient(app);
    const csv = await c.post('/csv', {
      body: 'a,b\n1,2\n',
      headers: { 'content-type': 'text/csv', accept: 'text/csv' },
    });
    assert.equal(csv.header('content-type'), 'text/csv');
    assert.equal(csv.text, 'a,b\n1,2');
    const json = await c.post('/csv', {
      body: 'a,b\n',
      headers: { 'content-type': 'text/csv', accept: 'application/json;q=0.9, text/csv;q=0.1' },
    });
    assert.equal(json.header('content-type'), 'application/json');
    assert.deepEqual(json.json, [['a', 'b']]);
    const none = await c.post('/csv', {
      body: 'a\n',
      headers: { 'content-type': 'text/csv', accept: 'image/png' },
    });
    assert.equal(none.status, 406);
    assert.equal((none.json as { code: string }).code, 'PRG_NOT_ACCEPTABLE');
  });

  test('per-route body limit override', async () => {
    const app = new App({ logger: false, limits: { bodyLimit: 10 } });
    const onPost = async (req: Request) => ({ size: (await req.bytes()).length });
    app.addRoute('/small', { onPost });
    app.addRoute('/big', { onPost }, { bodyLimit: 100 });
    const c = new TestClient(app);
    assert.equal((await c.post('/small', { body: 'x'.repeat(20) })).status, 413);
    assert.deepEqual((await c.post('/big', { body: 'x'.repeat(20) })).json, { size: 20 });
  });

  test('per-responder body limit: lower and higher than the App limit, over the route limit', async () => {
    const app = new App({ logger: false, limits: { bodyLimit: 50 } });
    const size = async (req: { bytes(): Promise<Buffer> }) => ({
      size: (await req.bytes()).length,
    });
    app.addRoute('/tight', { onPost: responder({ bodyLimit: 16 }, size), onPut: size });
    app.addRoute('/upload', { onPost: responder({ bodyLimit: 10_000 }, size) });
    // The responder's own limit wins over the route's too.
    app.addRoute('/both', { onPost: responder({ bodyLimit: 30 }, size) }, { bodyLimit: 100 });
    // A body read by middleware before the responder runs is bounded by the responder's limit.
    const early = new App({ logger: false, limits: { bodyLimit: 50 } });
    early.use({ processResource: async (req) => void (await req.bytes()) });
    early.addRoute('/upload', { onPost: responder({ bodyLimit: 10_000 }, size) });
    const c = new TestClient(app);
    const tight = await c.post('/tight', { body: 'x'.repeat(72) });
    assert.equal(tight.status, 413);
    assert.equal((tight.json as { limit: number }).limit, 16);
    assert.deepEqual((await c.post('/tight', { body: 'x'.repeat(16) })).json, { size: 16 });
    // The other method of the same resource keeps the App's limit.
    assert.deepEqual((await c.put('/tight', { body: 'x'.repeat(40) })).json, { size: 40 });
    assert.deepEqual((await c.post('/upload', { body: 'x'.repeat(10_000) })).json, {
      size: 10_000,
    });
    assert.equal((await c.post('/upload', { body: 'x'.repeat(10_001) })).status, 413);
    assert.equal((await c.post('/both', { body: 'x'.repeat(40) })).status, 413);
    const chunked = await c.post('/tight', { body: 'x'.repeat(72), chunked: true });
    assert.equal(chunked.status, 413);
    const viaMiddleware = await new TestClient(early).post('/upload', { body: 'x'.repeat(5000) });
    assert.deepEqual(viaMiddleware.json, { size: 5000 });
  });

  test('a bad responder body limit fails when the route is added', () => {
    const app = new App({ logger: false });
    assert.throws(
      () => app.addRoute('/x', { onPost: responder({ bodyLimit: -1 }, () => {}) }),
      /bodyLimit must be a whole number/,
    );
  });
});
