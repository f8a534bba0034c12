import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { App, type Request, type Response } from '../../src/index.ts';
import { type RunningServer, serve } from '../../src/server/index.ts';
import { eventually } from '../helpers/wait.ts';

/** Sends raw bytes and collects everything the server answers until it closes or `ms` pass. */
function rawExchange(port: number, chunks: string[], ms = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let data = '';
    const timer = setTimeout(() => socket.destroy(), ms);
    socket.on('data', (d) => {
      data += d.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    for (const c of chunks) socket.write(c);
  });
}

describe('an App over node:http', () => {
  let server: RunningServer;
  let aborted = false;
  let bodyBytesSeen = 0;
  const app = new App({ logger: false, limits: { bodyLimit: 1024 } });
  app.addRoute('/json', { onGet: () => ({ message: 'Hello, World!' }) });
  app.addRoute('/upload', {
    async onPost(req: Request, resp: Response) {
      const body = await req.bytes();
      bodyBytesSeen += body.length;
      resp.media = { size: body.length };
    },
  });
  app.addRoute('/slow', {
    async onGet(req: Request, resp: Response) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 300);
        req.signal.addEventListener('abort', () => {
          aborted = true;
          clearTimeout(t);
          resolve();
        });
      });
      resp.text = 'done';
    },
  });

  before(async () => {
    server = await serve(app, { port: 0 });
  });
  after(async () => {
    await server.close(1000);
  });

  test('serves JSON with keep-alive', async () => {
    const res = await fetch(`http://127.0.0.1:${server.address.port}/json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('content-length'), '27');
    assert.deepEqual(await res.json(), { message: 'Hello, World!' });
  });

  test('an oversized declared body gets 413 at once, unread, and the connection closes', async () => {
    const started = Date.now();
    const reply = await rawExchange(server.address.port, [
      'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n',
      'x'.repeat(100),
    ]);
    assert.match(reply, /^HTTP\/1\.1 413 /);
    assert.match(reply, /connection: close/i);
    assert.match(reply, /PRG_BODY_TOO_LARGE/);
    assert.ok(Date.now() - started < 1500, 'the server must not wait for the body');
    assert.equal(bodyBytesSeen, 0);
  });

  test('a chunked body is cut off as soon as it passes the limit', async () => {
    const chunk = 'x'.repeat(600);
    const reply = await rawExchange(server.address.port, [
      'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
      `${(600).toString(16)}\r\n${chunk}\r\n`,
      `${(600).toString(16)}\r\n${chunk}\r\n`,
    ]);
    assert.match(reply, /^HTTP\/1\.1 413 /);
  });

  test('the signal fires when the client disconnects mid-request', async () => {
    // The client hangs up 50 ms into the 300 ms responder.
    await rawExchange(server.address.port, ['GET /slow HTTP/1.1\r\nHost: x\r\n\r\n'], 50);
    await eventually(() => aborted, 250, 'the signal fired before the responder finished');
  });

  test('malformed HTTP never takes the process down', async () => {
    const reply = await rawExchange(server.address.port, [
      'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n',
    ]);
    assert.match(reply, /^HTTP\/1\.1 400 /);
    const res = await fetch(`http://127.0.0.1:${server.address.port}/json`);
    assert.equal(res.status, 200);
  });

  test('graceful close: an in-flight request completes with Connection: close', async () => {
    const own = await serve(app, { port: 0 });
    const pending = fetch(`http://127.0.0.1:${own.address.port}/slow`);
    await eventually(() => own.inflight === 1, 5000, 'the request is in flight');
    const closing = own.close(5000);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'done');
    assert.equal(res.headers.get('connection'), 'close');
    await closing;
  });
});
