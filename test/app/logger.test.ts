import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const LOGGER = fileURLToPath(new URL('../../src/app/logger.ts', import.meta.url));

test('the default logger writes an object with fields outside a trace (it once threw from its mixin)', () => {
  // A child process: the default logger writes to fd 2.
  const code = `
    const { defaultLogger } = await import(${JSON.stringify(LOGGER)});
    const log = defaultLogger();
    log.error({ err: new Error('boom') }, 'first');
    log.warn({ detail: 1 }, 'second');
    log.info({ detail: 2 }, 'third');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 10_000,
    env: { ...process.env, PEREGRINE_LOG_LEVEL: 'info' },
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; err?: { message: string }; detail?: number });
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['first', 'second', 'third'],
  );
  assert.equal(lines[0]!.err?.message, 'boom');
  assert.equal(lines[1]!.detail, 1);
});
