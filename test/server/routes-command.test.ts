import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

function routes(args: string[]) {
  const r = spawnSync(process.execPath, ['--conditions=peregrine-source', BIN, 'routes', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('peregrine routes prints methods, responders, converters, hooks, schemas and middleware', () => {
  const r = routes(['test/fixtures/server/routes-app.ts:app']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^App middleware: Timing$/m);
  const lines = r.stdout.split('\n');
  const row = (method: string, route: string) =>
    lines.find((l) => new RegExp(`^${method}\\s+${route.replace(/[{}()]/g, '\\$&')}\\s`).test(l));
  assert.match(row('GET', '/items') ?? '', /Items\.onGet/);
  assert.match(row('POST', '/items') ?? '', /Items\.onPost\s+-\s+-\s+yes/);
  const item = row('GET', '/items/{id:int(min=1)}') ?? '';
  assert.match(item, /Item\.onGet\s+id:int\(min=1\)\s+1 before, 2 after/);
  assert.match(item, /Auth$/);
  assert.match(row('DELETE', '/items/{id:int(min=1)}') ?? '', /Item\.onDelete/);
  assert.match(row('GET', '/files/{path:path}') ?? '', /path:path/);
});

test('peregrine routes --json gives the same facts as data', () => {
  const r = routes(['--json', 'test/fixtures/server/routes-app.ts:app']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.middleware, ['Timing']);
  const item = out.routes.find(
    (x: { method: string; template: string }) =>
      x.method === 'GET' && x.template === '/items/{id:int(min=1)}',
  );
  assert.deepEqual(item.converters, { id: 'int(min=1)' });
  assert.deepEqual(item.hooks, { before: 1, after: 2 });
  assert.deepEqual(item.middleware, ['Auth']);
});

test('peregrine routes on a module that is not an App fails with exit code 4', () => {
  const r = routes(['test/fixtures/server/routes-app.ts']);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /has no export "default" \(Apps exported: app\)/);
  const usage = routes([]);
  assert.equal(usage.code, 2);
});

test('routes and serve --check-config: a user error is one message with file:line, no internal frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-routes-'));
  try {
    const src = pathToFileURL(join(ROOT, 'src/index.ts')).href;
    const throws = join(dir, 'throws.ts');
    writeFileSync(
      throws,
      `import { App } from '${src}';\nconst app = new App();\napp.addRoute('/x/{', { onGet() {} });\nexport default app;\n`,
    );
    const decorated = join(dir, 'decorated.ts');
    writeFileSync(
      decorated,
      `import { App, before } from '${src}';\nconst auth = () => {};\n@before(auth)\nclass Orders {\n  onGet() {}\n}\nexport default new App().addRoute('/orders', new Orders());\n`,
    );
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--conditions=peregrine-source', BIN, ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
    for (const args of [['routes'], ['serve', '--check-config']]) {
      const bad = run(...args, throws);
      assert.equal(bad.status, 4, bad.stderr);
      assert.match(bad.stderr, /unbalanced "\{" in template \/x\/\{/);
      assert.match(bad.stderr, new RegExp(`${throws}:3:5`), 'the line of the user code');
      assert.doesNotMatch(bad.stderr, /\/(src|dist)\/(app|server|cli)\/|node:internal/, bad.stderr);
      const deco = run(...args, decorated);
      assert.equal(deco.status, 4, deco.stderr);
      assert.match(deco.stderr, new RegExp(`${decorated}:3\\n\\s+@before\\(auth\\)`));
      assert.match(deco.stderr, /Decorators need a build step/);
      assert.match(deco.stderr, /withHooks\(Resource, \{ before: \[auth\] \}\)/);
      assert.doesNotMatch(deco.stderr, /\/(src|dist)\/(app|server|cli)\/|node:internal/);
    }
    const missing = run('serve', '--check-config', 'nope.ts');
    assert.equal(missing.status, 4);
    assert.equal(
      missing.stderr,
      `peregrine serve: cannot find the App module "nope.ts": there is no file ${join(ROOT, 'nope.ts')} (a relative path starts from the working directory, ${ROOT.replace(/\/$/, '')})\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
