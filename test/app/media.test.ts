import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { App, type MultipartForm, type Request, type Response } from '../../src/index.ts';
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
});
