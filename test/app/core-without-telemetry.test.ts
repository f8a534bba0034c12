import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `body` in a fresh process (so nothing this test file imported counts) with a module hook
 * that records every file loaded; the body sets `globalThis.result`. Returns the repository files
 * loaded (relative paths) and the result.
 */
function inChild(body: string): { files: string[]; result: unknown; stderr: string } {
  const code = `
    import { registerHooks } from 'node:module';
    const loaded = [];
    registerHooks({
      load(url, context, next) {
        loaded.push(url);
        return next(url, context);
      },
    });
    ${body}
    process.stdout.write(JSON.stringify({ loaded, result: globalThis.result }));
  `;
  const r = spawnSync(
    process.execPath,
    ['--conditions=peregrine-source', '--input-type=module', '-e', code],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...process.env, PEREGRINE_LOG_LEVEL: 'info' },
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const { loaded, result } = JSON.parse(r.stdout) as { loaded: string[]; result: unknown };
  const files = loaded
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url).slice(ROOT.length));
  return { files, result, stderr: r.stderr };
}

test("import { App } from 'peregrine' loads the framework core only: no telemetry", () => {
  const { files, result } = inChild(`
    const { App } = await import('peregrine');
    const app = new App({ logger: false });
    app.addRoute('/items/{id:int}', { onGet(req, resp) { resp.media = { id: req.params.id }; } });
    globalThis.result = { instrumented: app.instrumented };
  `);
  const ours = files.filter((f) => f.startsWith('src/'));
  const outside = ours.filter((f) => f !== 'src/index.ts' && !f.startsWith('src/app/'));
  assert.deepEqual(outside, [], 'the root loaded modules outside src/app/');
  assert.ok(ours.includes('src/app/app.ts'), `the hook saw the core load: ${ours.join(', ')}`);
  const otel = files.filter((f) => f.includes('node_modules/@opentelemetry/'));
  assert.deepEqual(otel, [], 'the root loaded the OpenTelemetry API');
  assert.deepEqual(result, { instrumented: false });
});

test("import 'peregrine/telemetry' turns request telemetry and trace ids in log lines on", () => {
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const { files, result, stderr } = inChild(`
    const { App } = await import('peregrine');
    await import('peregrine/telemetry');
    const { simulate } = await import('peregrine/testing');
    const app = new App();
    app.addRoute('/log', {
      onGet(req, resp) {
        app.logger.info({ marker: 'inside' }, 'in a request');
        resp.media = {};
      },
    });
    const r = await simulate(app, {
      path: '/log',
      headers: { traceparent: '00-${traceId}-b7ad6b7169203331-01' },
    });
    globalThis.result = { instrumented: app.instrumented, status: r.status };
  `);
  assert.deepEqual(result, { instrumented: true, status: 200 });
  assert.ok(files.includes('src/telemetry/worker/http-instrumentation.ts'));
  const line = stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { marker?: string; trace_id?: string; span_id?: string })
    .find((l) => l.marker === 'inside');
  assert.equal(line?.trace_id, traceId, stderr);
  assert.match(line?.span_id ?? '', /^[0-9a-f]{16}$/);
});
