import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { App } from '../../src/app/app.ts';
import { serve } from '../../src/server/serve.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { simulate } from '../../src/testing/index.ts';
import { eventually } from '../helpers/wait.ts';

type Line = Record<string, unknown>;

function capture(): { lines: Line[]; logger: pino.Logger } {
  const lines: Line[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text));
      done();
    },
  });
  return { lines, logger: pino({ base: null, timestamp: false }, stream) };
}

function routes(app: App): App {
  return app.addRoute('/items/{id}', { onGet: (req) => ({ id: req.params.id }) });
}

test('one access-log format: the server (App without telemetry) writes the fields telemetry writes, with the same names', async (t) => {
  // Telemetry's line.
  const own = capture();
  const rec = new Recorder(
    configFromEnv({ PEREGRINE_ACCESS_LOG: 'on', OTEL_TRACES_SAMPLER_ARG: '1' }),
  );
  const measured = routes(
    new App({ logger: false, instrumentation: new HttpInstrumentation(rec, own.logger) }),
  );
  assert.equal((await simulate(measured, { path: '/items/7?x=1' })).status, 200);
  const telemetryLine = own.lines.find((l) => l.msg === 'request');
  assert.ok(telemetryLine, JSON.stringify(own.lines));

  // The server's line, for the same request over HTTP.
  const served = capture();
  const app = routes(new App({ logger: false, instrumentation: false }));
  const server = await serve(app, { port: 0, shedDelay: 0, accessLog: served.logger });
  t.after(() => server.close());
  const res = await fetch(`http://127.0.0.1:${server.address.port}/items/7?x=1`);
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  await eventually(() => served.lines.some((l) => l.msg === 'request'), 5000, 'the access line');
  const serverLine = served.lines.find((l) => l.msg === 'request')!;

  assert.equal(serverLine.level, telemetryLine.level);
  assert.equal(serverLine.type, 'access');
  assert.equal(serverLine.method, 'GET');
  assert.equal(serverLine.path, '/items/7');
  assert.equal(serverLine.status, 200);
  assert.equal(typeof serverLine.duration_ms, 'number');
  assert.equal(serverLine.client, '127.0.0.1');
  assert.equal(telemetryLine.path, '/items/7');
  assert.equal(telemetryLine.route, '/items/{id}');
  const extra = Object.keys(serverLine).filter((k) => !(k in telemetryLine));
  assert.deepEqual(extra, [], 'every field of the server line is one of telemetry’s');
});
