import assert from 'node:assert/strict';
import { test } from 'node:test';
import { youngGenerationFlags } from '../../src/server/master/spawn-options.ts';
import { startServe } from '../helpers/serve-process.ts';

test('youngGenerationFlags caps the semi-space unless Node flags or NODE_OPTIONS size the heap', () => {
  assert.deepEqual(youngGenerationFlags(16, [], ''), ['--max-semi-space-size=16']);
  assert.deepEqual(youngGenerationFlags(0, [], ''), []);
  assert.deepEqual(youngGenerationFlags(16, ['--max-semi-space-size=32'], ''), []);
  assert.deepEqual(youngGenerationFlags(16, ['--max_semi_space_size', '32'], ''), []);
  assert.deepEqual(youngGenerationFlags(16, ['--max-heap-size=512'], ''), []);
  assert.deepEqual(
    youngGenerationFlags(16, [], '--enable-source-maps --max-semi-space-size=4'),
    [],
  );
  assert.deepEqual(youngGenerationFlags(16, ['--max-old-space-size=512'], '--inspect'), [
    '--max-semi-space-size=16',
  ]);
});

test('peregrine serve starts its workers with --young-generation (default 16 MiB), and NODE_OPTIONS wins', async () => {
  for (const [args, env, expected] of [
    [[], {}, '--max-semi-space-size=16'],
    [['--young-generation', '8'], {}, '--max-semi-space-size=8'],
    [['--young-generation', '0'], {}, undefined],
    [[], { NODE_OPTIONS: '--max-semi-space-size=4' }, undefined],
  ] as const) {
    const server = await startServe(['test/fixtures/server/app.ts', '--workers', '1', ...args], {
      env: { ...env },
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/pid`);
      assert.equal(res.status, 200);
      const { execArgv } = (await res.json()) as { execArgv: string[] };
      const flags = execArgv.filter((a) => a.startsWith('--max-semi-space-size'));
      assert.deepEqual(flags, expected === undefined ? [] : [expected], JSON.stringify(args));
    } finally {
      await server.stop();
    }
  }
});
