import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServe } from '../helpers/serve-process.ts';

const RECORDER = new URL('../fixtures/server/record-modules.ts', import.meta.url).pathname;

/** What a master must not hold: application code and what only workers (or some Apps) use. */
const WORKER_ONLY = [
  /\/examples\/hello\//, // the App itself
  /\/server\/http1\//, // the HTTP engine
  /\/app\/(route|routing|request|response|pipeline)/, // the framework
  /\/node_modules\/undici\//, // the OTLP exporter's client: only when an endpoint is set
  /\/node_modules\/ajv/, // JSON Schema validation
  /\/node_modules\/busboy\//, // multipart bodies
  /\/node_modules\/pino-pretty\//, // pretty logs: only on a terminal
  /\/node_modules\/(pg|ioredis|better-sqlite3|typebox)\//, // data path and schemas
  /\/node_modules\/@opentelemetry\//, // the tracing API bridge lives in workers
];

test('the master of an idle hello App loads no application code and nothing only workers need; a worker loads neither Ajv nor busboy before the App needs them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-modules-'));
  try {
    const server = await startServe(['examples/hello/app.ts', '--workers', '1'], {
      env: {
        RECORD_MODULES_DIR: dir,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${RECORDER}`.trim(),
        OTEL_EXPORTER_OTLP_ENDPOINT: '',
      },
    });
    const res = await fetch(`http://127.0.0.1:${server.port}/json`);
    assert.equal(res.status, 200);
    await res.text();
    await server.stop();
    const files = readdirSync(dir);
    const read = (role: string) => {
      const file = files.find((f) => f.startsWith(`${role}-`));
      assert.ok(file !== undefined, `no module list from the ${role} (${files.join(', ')})`);
      return readFileSync(join(dir, file), 'utf8').split('\n');
    };
    const master = read('master');
    // The recorder saw the master's own modules, so an empty list cannot pass.
    assert.ok(master.some((url) => url.includes('/server/master/master.')));
    const loaded = master.filter((url) => WORKER_ONLY.some((re) => re.test(url)));
    assert.deepEqual(loaded, [], 'the master loaded modules only workers need');
    // Builtins an idle master does without, however they are imported (each costs RSS): OpenSSL
    // (no admin token set), zlib (nobody opened the dashboard), perf_hooks, Node's bundled undici.
    const builtins = read('builtins-master');
    assert.ok(builtins.includes('NativeModule cluster'), "the builtin list is the master's");
    const heavy = builtins.filter((m) =>
      /^NativeModule (crypto|zlib|perf_hooks|internal\/deps\/undici\/undici)$/.test(m),
    );
    assert.deepEqual(heavy, [], 'the idle master loaded builtins it does not use');
    const worker = read('worker');
    assert.ok(worker.some((url) => url.includes('/examples/hello/app.ts')));
    const eager = worker.filter((url) => /\/node_modules\/(ajv|busboy|undici)/.test(url));
    assert.deepEqual(eager, [], 'the worker loaded what the hello App does not use');
    const workerBuiltins = read('builtins-worker');
    assert.ok(workerBuiltins.includes('NativeModule http'), "the builtin list is the worker's");
    assert.deepEqual(
      workerBuiltins.filter((m) => /^NativeModule internal\/deps\/undici\/undici$/.test(m)),
      [],
      'the worker loaded builtins the hello App does not use',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
