import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { App } from '../../src/app/app.ts';
import { silentLogger } from '../../src/app/logger.ts';
import { serve } from '../../src/server/serve.ts';
import { configFromEnv } from '../../src/telemetry/config.ts';
import { HttpInstrumentation } from '../../src/telemetry/worker/http-instrumentation.ts';
import { Recorder } from '../../src/telemetry/worker/recorder.ts';
import { eventually, sleep } from '../helpers/wait.ts';

const activeTrace = (): string => trace.getActiveSpan()?.spanContext().traceId ?? 'none';
const traceOf = (i: number): string => `${i.toString(16).padStart(2, '0')}${'ab'.repeat(15)}`;

/**
 * Requests pipelined on one connection: some dispatched from the socket's read callback (the
 * request context is entered there, not undone on return), others from inside the previous
 * request's code when its response finishes. Each must see only its own trace, before and
 * after an await, and nothing may carry over to the next read.
 */
test('pipelined requests on the engine each see their own trace context, sync and after awaits', async () => {
  const rec = new Recorder(configFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }));
  const app = new App({
    logger: false,
    instrumentation: new HttpInstrumentation(rec, silentLogger),
  });
  // What each request's after-response task saw, by the trace the request came with.
  const tasks = new Map<string, string>();
  const schedule = (
    req: { headers: Record<string, unknown> },
    resp: { schedule(t: () => void): unknown },
  ) => {
    const own = String(req.headers.traceparent).slice(3, 35);
    resp.schedule(() => tasks.set(own, activeTrace()));
  };
  app.addRoute('/sync', {
    onGet: (req, resp) => {
      schedule(req, resp);
      return { before: activeTrace(), after: activeTrace() };
    },
  });
  app.addRoute('/wait/{ms:int}', {
    onGet: async (req, resp) => {
      schedule(req, resp);
      const before = activeTrace();
      await sleep(req.params.ms as number);
      const after = activeTrace();
      return { before, after };
    },
  });
  app.addRoute('/fresh', { onGet: () => ({ before: activeTrace(), after: activeTrace() }) });
  const running = await serve(app, { port: 0, host: '127.0.0.1' });
  try {
    const paths = ['/sync', '/wait/20', '/sync', '/wait/0', '/sync', '/wait/5', '/sync'];
    const head = (path: string, i: number) =>
      `GET ${path} HTTP/1.1\r\nHost: t\r\ntraceparent: 00-${traceOf(i + 1)}-00f067aa0ba902b7-01\r\n\r\n`;
    const socket = connect(running.address.port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.write(paths.map(head).join(''));
    const bodies = async (n: number) => {
      await eventually(
        () => (text.match(/\r\n\r\n\{[^}]*\}/g) ?? []).length >= n,
        2000,
        `${n} responses`,
      );
      return [...text.matchAll(/\r\n\r\n(\{[^}]*\})/g)].map(
        (m) => JSON.parse(m[1]!) as { before: string; after: string },
      );
    };
    const got = await bodies(paths.length);
    assert.equal(got.length, paths.length);
    got.forEach((b, i) => {
      assert.equal(b.before, traceOf(i + 1), `${paths[i]} (#${i + 1}) before`);
      assert.equal(b.after, traceOf(i + 1), `${paths[i]} (#${i + 1}) after its await`);
    });
    await eventually(() => tasks.size >= paths.length, 1000, 'every scheduled task ran');
    paths.forEach((path, i) => {
      // The next request is dispatched when this one's response finishes: the task scheduled
      // after that must still run in this request's context.
      assert.equal(tasks.get(traceOf(i + 1)), traceOf(i + 1), `${path} (#${i + 1}) task`);
    });
    // A later read on the same connection, no traceparent: a new trace, not a leftover.
    socket.write('GET /fresh HTTP/1.1\r\nHost: t\r\n\r\n');
    const last = (await bodies(paths.length + 1))[paths.length]!;
    assert.match(last.before, /^[0-9a-f]{32}$/);
    assert.ok(
      !paths.some((_, i) => last.before === traceOf(i + 1)),
      'the next read starts outside the previous requests',
    );
    socket.destroy();
  } finally {
    await running.close();
  }
});
