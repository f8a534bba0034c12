import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app/app.ts';
import { HTTPServiceUnavailable } from '../../src/app/errors/classes.ts';
import type { Logger } from '../../src/app/logger.ts';
import { DatabaseUnavailableError, PoolBusyError } from '../../src/db/errors.ts';
import { simulate } from '../../src/testing/client.ts';

interface Line {
  level: 'error' | 'warn' | 'info' | 'debug';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it is given. */
function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (fields: object, msg = '') =>
      lines.push({ level, msg, fields: fields as Record<string, unknown> });
  const logger: Logger = {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
  };
  return { logger, lines };
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('expected failures are logged once, then one line per interval with the count, without a stack; unexpected ones every time, with it', async () => {
  const { logger, lines } = capture();
  const app = new App({ logger, instrumentation: false, failureLogInterval: 200 });
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:5432');
  app.addRoute('/down', {
    onGet() {
      throw new DatabaseUnavailableError('The database is not answering.', cause);
    },
  });
  app.addRoute('/busy', {
    onGet() {
      throw new PoolBusyError('No database connection became free within 1000 ms.');
    },
  });
  app.addRoute('/bug', {
    onGet() {
      throw new TypeError('a bug');
    },
  });
  app.addRoute('/mine', {
    onGet() {
      throw new HTTPServiceUnavailable({ detail: 'my own 503, without a Peregrine code' });
    },
  });

  for (let i = 0; i < 300; i++) assert.equal((await simulate(app, { path: '/down' })).status, 503);
  for (let i = 0; i < 20; i++) assert.equal((await simulate(app, { path: '/busy' })).status, 503);
  const first = lines.filter((l) => l.level === 'warn');
  assert.equal(first.length, 2, 'one line per code when its failures begin');
  const down = first.find((l) => l.fields.code === 'PRG_DB_UNAVAILABLE')!;
  assert.match(down.msg, /^PRG_DB_UNAVAILABLE: The database is not answering\./);
  assert.equal(down.fields.cause, cause.message);
  assert.equal(down.fields.route, '/down');
  for (const l of first) assert.equal(l.fields.err, undefined, 'no error object, so no stack');

  // At the end of the interval: how many more, per code.
  await until(() => lines.length >= 4, 2000, 'the count lines');
  const counts = lines.slice(2).filter((l) => l.level === 'warn');
  assert.deepEqual(counts.map((l) => [l.fields.code, l.fields.count]).sort(), [
    ['PRG_DB_BUSY', 19],
    ['PRG_DB_UNAVAILABLE', 299],
  ]);
  // An interval with none ends the episode silently; the next failure starts a new one.
  const before = lines.length;
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(lines.length, before, 'nothing logged while nothing fails');
  await simulate(app, { path: '/down' });
  assert.equal(lines.length, before + 1);
  assert.match(lines.at(-1)!.msg, /^PRG_DB_UNAVAILABLE: /);

  // Unexpected errors and 5xx without an expected code: every one, at error, with the error.
  const errorsBefore = lines.filter((l) => l.level === 'error').length;
  for (let i = 0; i < 3; i++) {
    assert.equal((await simulate(app, { path: '/bug' })).status, 500);
    assert.equal((await simulate(app, { path: '/mine' })).status, 503);
  }
  const errors = lines.filter((l) => l.level === 'error').slice(errorsBefore);
  assert.equal(errors.length, 6);
  for (const l of errors) assert.ok(l.fields.err instanceof Error, 'the error, with its stack');
  await app.shutdown();
});
