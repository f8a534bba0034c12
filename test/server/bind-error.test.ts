import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BindError } from '../../src/server/bind-error.ts';

const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });

test('a taken admin port suggests another that is no Peregrine default', () => {
  const at = (host: string, port: number) => new BindError('admin', { host, port }, inUse).message;
  // The default admin port: not 9465 (peregrine apm's API), the next free ten up.
  assert.match(at('127.0.0.1', 9464), /e\.g\. --admin 127\.0\.0\.1:9474,/);
  assert.doesNotMatch(at('127.0.0.1', 9464), /9465/);
  // 9455 + 10 is apm's API, 9475 is next.
  assert.match(at('127.0.0.1', 9455), /--admin 127\.0\.0\.1:9475,/);
  // 4308 + 10 is apm's OTLP port.
  assert.match(at('0.0.0.0', 4308), /--admin 0\.0\.0\.0:4328,/);
  assert.match(at('127.0.0.1', 50_000), /--admin 127\.0\.0\.1:50010,/);
  assert.match(at('127.0.0.1', 65_530), /--admin 127\.0\.0\.1:9474,/);
  const unix = new BindError('admin', { path: '/tmp/admin.sock' }, inUse).message;
  assert.match(unix, /--admin 127\.0\.0\.1:9474,/);
  // The service listener's message is unchanged.
  const bind = new BindError('bind', { host: '127.0.0.1', port: 8000 }, inUse).message;
  assert.match(bind, /Choose another with --bind HOST:PORT/);
});
