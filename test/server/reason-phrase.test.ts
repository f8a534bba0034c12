/**
 * Status lines carry RFC 9110's reason phrases, the same words as the problem+json titles, on
 * both engines and on connections the Peregrine engine hands to node:http (whose own table
 * still says "Payload Too Large" and "Unprocessable Entity").
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { App, responder } from '../../src/index.ts';
import { Type } from '../../src/schema/index.ts';
import { reasonPhrase } from '../../src/server/reason-phrase.ts';
import { type RunningServer, serve } from '../../src/server/serve.ts';
import { RawSocket } from '../helpers/raw-socket.ts';

const T = { timeout: 10_000 };

function buildApp(): App {
  const app = new App({ logger: false, limits: { bodyLimit: 16 } });
  app.addRoute('/items', {
    onPost: responder({ body: Type.Object({ name: Type.String() }) }, (req, resp) => {
      resp.media = req.valid.body;
    }),
  });
  return app;
}

const post = (extra: string, body: string) =>
  `POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${extra}\r\n${body}`;

const CASES = [
  ['413 from Content-Length', post('Content-Length: 40\r\n', 'x'.repeat(40)), 413],
  // Chunked: the Peregrine engine hands this connection to node:http.
  [
    '413 from a chunked body (handed off)',
    post('Transfer-Encoding: chunked\r\n', `28\r\n${'x'.repeat(40)}\r\n0\r\n\r\n`),
    413,
  ],
  ['422 from the body schema', post('Content-Length: 8\r\n', '{"n":12}'), 422],
  [
    '422 from the body schema (handed off)',
    post('Transfer-Encoding: chunked\r\n', '8\r\n{"n":12}\r\n0\r\n\r\n'),
    422,
  ],
] as const;

test('RFC 9110 phrases where node:http differs', () => {
  assert.equal(reasonPhrase(413), 'Content Too Large');
  assert.equal(reasonPhrase(422), 'Unprocessable Content');
  assert.equal(reasonPhrase(200), 'OK');
  assert.equal(reasonPhrase(509), 'Bandwidth Limit Exceeded');
  assert.equal(reasonPhrase(599), 'unknown');
});

for (const engine of ['peregrine', 'node'] as const) {
  describe(`status lines, engine '${engine}'`, () => {
    let server: RunningServer;
    before(async () => {
      server = await serve(buildApp(), { port: 0, httpEngine: engine, shedDelay: 0 });
    });
    after(() => server.close(1000));

    for (const [name, request, status] of CASES) {
      test(name, T, async () => {
        const s = await RawSocket.open(server.address.port);
        try {
          s.write(request);
          assert.ok(await s.until((t) => t.includes('}')), s.text);
          const [line] = s.text.split('\r\n');
          const title = /"title":"([^"]+)"/.exec(s.text)?.[1];
          assert.equal(line, `HTTP/1.1 ${status} ${title}`);
          assert.equal(title, status === 413 ? 'Content Too Large' : 'Unprocessable Content');
        } finally {
          s.destroy();
        }
      });
    }
  });
}
