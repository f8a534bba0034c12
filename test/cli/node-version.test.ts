import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { refusal, satisfies } from '../../bin/node-version.js';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const PKG = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
  engines: { node: string };
};

/**
 * A Node on PATH (outside node_modules, where npm puts the pinned one) that is older than
 * `engines`: Debian's Node 20 on this machine and in CI. Without one the test is skipped on a
 * developer machine and fails under CI, so CI cannot pass by skipping.
 */
function oldNode(t: TestContext): { path: string; version: string } | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '' || dir.includes('node_modules')) continue;
    const path = join(dir, 'node');
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const r = spawnSync(path, ['--version'], { encoding: 'utf8' });
    const version = r.stdout.trim().replace(/^v/, '');
    if (r.status === 0 && !satisfies(version, PKG.engines.node)) return { path, version };
  }
  const why = `no Node older than ${PKG.engines.node} on PATH outside node_modules`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${why}; CI has one`);
  t.skip(why);
  return undefined;
}

test('engines ranges are read as npm reads them', () => {
  const cases: Array<[string, string, boolean]> = [
    ['22.11.0', '>=22.12', false],
    ['22.12.0', '>=22.12', true],
    ['22.12.1', '>=22.12.0', true],
    ['23.0.0', '>=22.12', true],
    ['24.21.0', '>=22.12', true],
    ['20.20.2', '>=22.12', false],
    ['18.20.8', '>=22.12', false],
    ['v24.0.0', '^24', true],
    ['25.0.0', '^24', false],
    ['22.12.9', '~22.12', true],
    ['22.13.0', '~22.12', false],
    ['22.13.0', '^22.12 || >=24', true],
    ['23.5.0', '^22.12 || >=24', false],
    ['24.1.0', '^22.12 || >=24', true],
    ['24.1.0', '>= 22.12 < 25', true],
    ['25.0.0', '>= 22.12 < 25', false],
    ['22.12.0', '22.12.0', true],
    ['22.12.1', '=22.12.0', false],
  ];
  for (const [version, range, ok] of cases) {
    assert.equal(satisfies(version, range), ok, `${version} in ${range}`);
  }
  assert.throws(() => satisfies('22.12.0', '>=22.x'), /unsupported engines comparator/);
});

test("the package's own engines range is one the launcher reads, and this Node meets it", () => {
  assert.equal(satisfies(process.versions.node, PKG.engines.node), true);
  assert.equal(
    refusal(process.versions.node, PKG.engines.node, {
      args: ['serve'],
      execPath: process.execPath,
      version: PKG.version,
    }),
    null,
  );
});

test('every command refuses an old Node before starting anything, and says how to get Node 24', (t) => {
  const found = oldNode(t);
  if (found === undefined) return;
  const node: { path: string; version: string } = found;
  const cwd = mkdtempSync(join(tmpdir(), 'peregrine-old-node-'));
  t.after(() => rmSync(cwd, { recursive: true, force: true }));
  const commands = [
    ['serve', 'app.ts'],
    ['routes', 'app.ts'],
    ['dev', 'app.ts'],
    ['new', 'my-service'],
    ['serve', '--check-config', 'app.ts'],
    ['--version'],
    ['--help'],
    [],
    ['no-such-command'],
  ];
  for (const args of commands) {
    const r: SpawnSyncReturns<string> = spawnSync(node.path, [BIN, ...args], {
      cwd,
      encoding: 'utf8',
      timeout: 10_000,
    });
    const what: string = `peregrine ${args.join(' ')} on Node ${node.version}`;
    assert.equal(r.status, 2, `${what}: exit code\n${r.stderr}`);
    assert.equal(r.stdout, '', `${what}: nothing on stdout`);
    assert.match(r.stderr, new RegExp(`Node\\.js ${node.version.replaceAll('.', '\\.')} \\(`));
    assert.ok(r.stderr.includes(`needs Node.js ${PKG.engines.node}`), what);
    assert.ok(r.stderr.includes('Nothing was started.'), what);
    if (args[0] === 'new') {
      assert.ok(r.stderr.includes('npx -p node@24 -p peregrine peregrine new my-service'), what);
    } else {
      assert.ok(r.stderr.includes('npm i -D node@24'), what);
      if (args.length > 0) assert.ok(r.stderr.includes(`npx peregrine ${args.join(' ')}`), what);
    }
    assert.doesNotMatch(r.stderr, /master starting|SyntaxError|bad option/, what);
  }
  assert.equal(existsSync(join(cwd, 'my-service')), false, '`new` created nothing');
});
