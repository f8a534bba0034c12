import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../src/app/app.ts';
import {
  Cache,
  type CacheLoader,
  contentETag,
  type Loader,
  notModified,
  versionETag,
} from '../src/cache/index.ts';
import {
  formatTraceparent,
  parseTraceparent,
  recorder,
  TelemetryHub,
} from '../src/telemetry/index.ts';

/** Runs `fn` twice and returns the names the deprecation warnings with `code` were about. */
async function warnedAbout(code: string, fn: () => void | Promise<void>): Promise<string[]> {
  const names: string[] = [];
  const onWarning = (w: Error & { code?: string }) => {
    if (w.code === code) names.push(w.message.split(' ')[0]!);
  };
  process.on('warning', onWarning);
  try {
    await fn();
    await fn();
    // process.emitWarning emits on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return names.sort();
}

test('the validator helpers peregrine/cache used to export work for one release, warning once each', async () => {
  const { simulate } = await import('../src/testing/index.ts');
  const app = new App({ logger: false });
  app.addRoute('/item', {
    onGet(req, resp) {
      if (notModified(req, resp, { etag: versionETag(3) })) return;
      resp.media = { etag: contentETag({ a: 1 }) };
    },
  });
  const names = await warnedAbout('PEREGRINE_DEP_CACHE_FRESHNESS', async () => {
    assert.equal((await simulate(app, { path: '/item' })).status, 200);
    const r = await simulate(app, { path: '/item', headers: { 'if-none-match': 'W/"3"' } });
    assert.equal(r.status, 304);
  });
  assert.deepEqual(names, ['contentETag', 'notModified', 'versionETag']);
});

test('machinery peregrine/telemetry used to export still works for one release, warning once each', async () => {
  const names = await warnedAbout('PEREGRINE_DEP_TELEMETRY_MACHINERY', () => {
    const hub = new TelemetryHub({ exporter: false });
    const rec = recorder();
    rec.registry.counter({ name: 'dep_test', help: 'A counter.' }).inc();
    hub.ingest('1', rec.flush());
    assert.match(hub.render('prometheus').body, /^dep_test_total 1$/m);
    const header = formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', 1);
    assert.equal(parseTraceparent(header)?.traceId, '0af7651916cd43dd8448eb211c80319c');
  });
  assert.deepEqual(names, ['TelemetryHub', 'formatTraceparent', 'parseTraceparent', 'recorder']);
});

test("serve()'s requestTimeout (the receive timeout) works for one release as receiveTimeout, warning once", async () => {
  const { serve } = await import('../src/server/index.ts');
  const app = new App({ logger: false });
  const timeouts: number[] = [];
  const names = await warnedAbout('PEREGRINE_DEP_SERVE_REQUEST_TIMEOUT', async () => {
    const running = await serve(app, {
      port: 0,
      headersTimeout: 1000,
      requestTimeout: 4321,
      shedDelay: 0,
    });
    timeouts.push(running.server.requestTimeout);
    await running.close();
  });
  assert.deepEqual(names, ['requestTimeout']);
  assert.deepEqual(timeouts, [4321, 4321]);
  const renamed = await serve(app, {
    port: 0,
    headersTimeout: 1000,
    receiveTimeout: 1234,
    shedDelay: 0,
  });
  assert.equal(renamed.server.requestTimeout, 1234);
  await renamed.close();
});

test("peregrine/cache's Loader type is CacheLoader; the old name still type-checks for one release", async () => {
  const cache = new Cache<string>({ name: 'deprecated-loader' });
  const renamed: CacheLoader<string> = (key) => `new ${key}`;
  const old: Loader<string> = renamed;
  assert.equal(await cache.get('a', old), 'new a');
  assert.equal(await cache.get('b', renamed), 'new b');
  await cache.close();
});
