import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;
const OWN = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: Record<string, string>;
};

function peregrine(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--conditions=peregrine-source', BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function workdir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-new-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('peregrine new writes a service: scripts, Node 24 pinned, app, migration, test, README', (t) => {
  const cwd = workdir(t);
  const r = peregrine(cwd, ['new', 'orders', '--no-install', '--peregrine-spec', '^9.9.9']);
  assert.equal(r.code, 0, r.stderr);
  const dir = join(cwd, 'orders');
  assert.deepEqual(readdirSync(dir).sort(), [
    '.gitignore',
    'README.md',
    'app.test.ts',
    'app.ts',
    'deploy',
    'migrations.ts',
    'package.json',
    'tsconfig.json',
  ]);
  // The files to copy for many nodes come along (load balancers, Prometheus, Kubernetes).
  for (const f of [
    'haproxy/haproxy.cfg',
    'nginx/nginx.conf',
    'prometheus/rules.yml',
    'kubernetes/deployment.yaml',
  ])
    assert.ok(existsSync(join(dir, 'deploy', f)), f);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  assert.equal(pkg.name, 'orders');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.private, true);
  assert.deepEqual(pkg.scripts, {
    start: 'peregrine serve app.ts',
    dev: 'peregrine dev app.ts',
    test: 'tsc && node --test',
  });
  assert.deepEqual(pkg.dependencies, { peregrine: '^9.9.9' });
  assert.match(pkg.devDependencies.node, /^\^24(\.|$)/);
  assert.equal(pkg.devDependencies.typescript, OWN.devDependencies.typescript);
  assert.equal(pkg.devDependencies['@types/node'], OWN.devDependencies['@types/node']);
  assert.deepEqual(pkg.engines, { node: OWN.engines.node });
  assert.equal(pkg.allowScripts.node, true, 'npm 12 must let node fetch its binary');
  assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^node_modules\/$/m);
  assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^data\/$/m);
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  assert.match(readme, /^# orders$/m);
  assert.match(readme, /^npm test\b/m);
  assert.match(readme, /^npm run dev\b/m);
  assert.doesNotMatch(readme, /\{\{/);
  assert.match(readFileSync(join(dir, 'app.ts'), 'utf8'), /from 'peregrine\/db'/);
  assert.match(readFileSync(join(dir, 'app.test.ts'), 'utf8'), /TestClient/);
  assert.match(r.stdout, /cd orders\n {2}npm install\n {2}npm test/);
  assert.match(r.stdout, /http:\/\/127\.0\.0\.1:9464\/dashboard/);
});

test('peregrine new refuses a folder that is not empty and writes nothing', (t) => {
  const cwd = workdir(t);
  mkdirSync(join(cwd, 'taken'));
  writeFileSync(join(cwd, 'taken', 'app.ts'), 'mine');
  const r = peregrine(cwd, ['new', 'taken', '--no-install']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /exists and is not empty; nothing was written/);
  assert.deepEqual(readdirSync(join(cwd, 'taken')), ['app.ts']);
  assert.equal(readFileSync(join(cwd, 'taken', 'app.ts'), 'utf8'), 'mine');
  writeFileSync(join(cwd, 'file'), 'x');
  assert.equal(peregrine(cwd, ['new', 'file', '--no-install']).code, 2);
  // An empty folder is fine (a fresh `git clone` of an empty repository, say).
  mkdirSync(join(cwd, 'empty'));
  assert.equal(peregrine(cwd, ['new', 'empty', '--no-install']).code, 0);
  assert.ok(existsSync(join(cwd, 'empty', 'app.ts')));
});

test('peregrine new checks the name and suggests one npm accepts', (t) => {
  const cwd = workdir(t);
  const r = peregrine(cwd, ['new', 'My Service', '--no-install']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /"My Service" cannot be a package name: .* Try my-service\./);
  assert.equal(existsSync(join(cwd, 'My Service')), false);
  assert.equal(peregrine(cwd, ['new']).code, 2);
});

test('the peregrine spec: local paths are rewritten for the new folder; a checkout is linked', (t) => {
  const cwd = workdir(t);
  const tgz = '../vendor/peregrine-0.1.0.tgz';
  const r = peregrine(join(cwd), ['new', 'svc/a', '--no-install', '--peregrine-spec', tgz]);
  assert.equal(r.code, 0, r.stderr);
  const a = JSON.parse(readFileSync(join(cwd, 'svc', 'a', 'package.json'), 'utf8'));
  assert.equal(a.dependencies.peregrine, 'file:../../../vendor/peregrine-0.1.0.tgz');
  assert.equal(peregrine(cwd, ['new', 'b', '--no-install']).code, 0);
  const b = JSON.parse(readFileSync(join(cwd, 'b', 'package.json'), 'utf8'));
  assert.equal(b.dependencies.peregrine, `file:${relative(join(cwd, 'b'), ROOT)}`);
});

test('peregrine new runs npm install, and says so clearly when it cannot', (t) => {
  const cwd = workdir(t);
  const cache = join(cwd, 'empty-npm-cache');
  mkdirSync(cache);
  // Offline with an empty cache: npm install must fail, and the project stays for later.
  const r = peregrine(cwd, ['new', 'svc', '--peregrine-spec', '^0.1.0'], {
    npm_config_offline: 'true',
    npm_config_cache: cache,
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /npm install failed \(exit code \d+\)\. svc\/ is written; run npm install/,
  );
  assert.match(r.stderr, /ENOTCACHED/);
  assert.ok(existsSync(join(cwd, 'svc', 'app.ts')));
});
