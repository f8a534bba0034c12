import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Logger } from '../../src/app/logger.ts';
import { setServerDefaults } from '../../src/app/server-defaults.ts';
import { App, type Request } from '../../src/index.ts';
import { simulate } from '../../src/testing/index.ts';

function recordingLogger(lines: string[]): Logger {
  const log: Logger = {
    error: (_o, m) => lines.push(`error ${m}`),
    warn: (_o, m) => lines.push(`warn ${m}`),
    info: (_o, m) => lines.push(`info ${m}`),
    debug: () => {},
    child: () => log,
  };
  return log;
}

describe('server settings become defaults of the Apps a worker builds', () => {
  afterEach(() => setServerDefaults(undefined));

  test('logger, body limit, trusted proxies and request timeout apply when the App sets none', async () => {
    const lines: string[] = [];
    setServerDefaults({
      logger: recordingLogger(lines),
      bodyLimit: 10,
      trustedProxies: ['loopback'],
      requestTimeout: 50,
    });
    const app = new App();
    app.addRoute('/echo', {
      async onPost(req: Request) {
        return { size: (await req.bytes()).length };
      },
    });
    app.addRoute('/who', { onGet: (req: Request) => ({ client: req.clientAddress }) });
    app.addRoute('/wait', {
      async onGet(req: Request) {
        await new Promise((_r, reject) =>
          req.signal.addEventListener('abort', () => reject(req.signal.reason)),
        );
      },
    });
    app.addRoute('/boom', {
      onGet() {
        throw new Error('boom');
      },
    });
    assert.equal(
      (await simulate(app, { method: 'POST', path: '/echo', body: '0123456789abc' })).status,
      413,
    );
    const who = await simulate(app, {
      path: '/who',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal((who.json as { client: string }).client, '203.0.113.9');
    const waited = await simulate(app, { path: '/wait' });
    assert.equal(waited.status, 503);
    assert.equal((waited.json as { code: string }).code, 'PRG_DEADLINE_EXCEEDED');
    assert.equal(app.deadlinesExpired, 1);
    await simulate(app, { path: '/boom' });
    assert.ok(
      lines.some((l) => l.startsWith('error')),
      'the server logger receives App errors',
    );
  });

  test('options the App is built with win over server defaults', async () => {
    setServerDefaults({ bodyLimit: 10, requestTimeout: 50, trustedProxies: ['loopback'] });
    const app = new App({
      logger: false,
      limits: { bodyLimit: 100 },
      requestTimeout: 0,
      trustedProxies: [],
    });
    app.addRoute('/echo', {
      async onPost(req: Request) {
        return { size: (await req.bytes()).length };
      },
    });
    app.addRoute('/who', { onGet: (req: Request) => ({ client: req.clientAddress }) });
    assert.equal(
      (await simulate(app, { method: 'POST', path: '/echo', body: '0123456789abc' })).status,
      200,
    );
    const who = await simulate(app, {
      path: '/who',
      headers: { 'x-forwarded-for': '203.0.113.9' },
    });
    assert.equal((who.json as { client: string }).client, '127.0.0.1');
  });
});
