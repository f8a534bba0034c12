/**
 * `Expect: 100-continue` on both engines (RFC 9110 §10.1.1): a request the App refuses without
 * reading its body gets the final answer at once and no `100 Continue`; one whose body is read
 * gets `100 Continue` first, however the body is read.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { App, type Request, type Response, responder } from '../../src/index.ts';
import { type RunningServer, serve } from '../../src/server/serve.ts';
import { RawSocket } from '../helpers/raw-socket.ts';

const T = { timeout: 10_000 };

function buildApp(): App {
  const app = new App({ logger: false, limits: { bodyLimit: 1024 } });
  app.addRoute('/small', {
    onPost: responder({ bodyLimit: 16 }, async (req, resp) => {
      resp.text = (await req.bytes()).toString();
    }),
  });
  app.addRoute('/stream', {
    // Reads the transport's stream itself, not through req.bytes().
    async onPost(req: Request, resp: Response) {
      let n = 0;
      for await (const chunk of req.raw as unknown as AsyncIterable<Buffer>) n += chunk.length;
      resp.text = String(n);
    },
  });
  return app;
}

function head(path: string, length: number): string {
  return `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${length}\r\nExpect: 100-continue\r\n\r\n`;
}

for (const engine of ['peregrine', 'node'] as const) {
  describe(`Expect: 100-continue, engine '${engine}'`, () => {
    let server: RunningServer;
    const open: RawSocket[] = [];
    const connect = async () => {
      const s = await RawSocket.open(server.address.port);
      open.push(s);
      return s;
    };
    before(async () => {
      server = await serve(buildApp(), { port: 0, httpEngine: engine, shedDelay: 0 });
    });
    after(async () => {
      for (const s of open) s.destroy();
      await server.close(1000);
    });

    test('a Content-Length over the limit gets 413 at once, without 100 Continue', T, async () => {
      const s = await connect();
      s.write(head('/small', 1000));
      // The body is never sent: the answer must not wait for it.
      assert.ok(await s.until((t) => t.includes('\r\n\r\n{')), s.text);
      assert.match(s.text, /^HTTP\/1\.1 413 Content Too Large\r\n/);
      assert.doesNotMatch(s.text, /100 Continue/);
      assert.match(s.text, /connection: close/i);
      assert.match(s.text, /"code":"PRG_BODY_TOO_LARGE"/);
      assert.equal(await s.closedWithin(), true, 'the connection is closed after the 413');
    });

    test('a body within the limit gets 100 Continue first, then its answer', T, async () => {
      const s = await connect();
      s.write(head('/small', 4));
      assert.ok(await s.until((t) => t.includes('\r\n\r\n')), s.text);
      assert.equal(s.text, 'HTTP/1.1 100 Continue\r\n\r\n');
      s.write('ping');
      assert.ok(await s.until((t) => t.endsWith('ping')), s.text);
      assert.match(s.text, /HTTP\/1\.1 200 OK\r\n/);
    });

    test('a responder that streams req.raw itself also gets the body', T, async () => {
      const s = await connect();
      s.write(head('/stream', 5));
      assert.ok(await s.until((t) => t.includes('100 Continue\r\n\r\n')), s.text);
      s.write('12345');
      assert.ok(await s.until((t) => /\r\n\r\n5$/.test(t)), s.text);
    });

    test('a request answered without reading its body (404) gets no 100 Continue', T, async () => {
      const s = await connect();
      s.write(head('/nowhere', 10));
      assert.ok(await s.until((t) => t.includes('}')), s.text);
      assert.match(s.text, /^HTTP\/1\.1 404 Not Found\r\n/);
      assert.doesNotMatch(s.text, /100 Continue/);
    });
  });
}
