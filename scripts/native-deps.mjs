#!/usr/bin/env node
// Makes sure better-sqlite3's native addon matches the Node that runs Peregrine (the pinned
// `node` dev dependency), not the Node that ran npm. npm on this kind of machine builds addons
// against the system Node's headers (`nodedir`), so after `npm ci` the addon can have the wrong
// ABI. When it does not load, this fetches the headers of the pinned Node from the npm registry
// (the `node-<platform>-<arch>` package ships them) and rebuilds the addon against them.
// Plain JavaScript on purpose: it runs before anything is built, under whichever Node npm uses.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const pinned = join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'node.cmd' : 'node',
);
const node = existsSync(pinned) ? pinned : process.execPath;
const addon = join(root, 'node_modules', 'better-sqlite3');

function loads() {
  const r = spawnSync(node, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], {
    cwd: root,
    stdio: 'pipe',
  });
  return r.status === 0;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
}

if (!existsSync(addon) || loads()) process.exit(0);

const version = spawnSync(node, ['-p', 'process.version'], { encoding: 'utf8' }).stdout.trim();
const headers = join(root, 'node_modules', '.cache', 'node-headers', version);
if (!existsSync(join(headers, 'include', 'node', 'node_version.h'))) {
  const work = mkdtempSync(join(tmpdir(), 'peregrine-node-headers-'));
  try {
    const pkg = `node-${process.platform}-${process.arch}@${version.slice(1)}`;
    console.error(`native-deps: fetching the headers of Node ${version} (${pkg})`);
    run('npm', ['pack', pkg, '--pack-destination', work, '--silent'], { stdio: 'ignore' });
    const tgz = `node-${process.platform}-${process.arch}-${version.slice(1)}.tgz`;
    run('tar', ['xzf', join(work, tgz), '-C', work, 'package/include']);
    mkdirSync(headers, { recursive: true });
    renameSync(join(work, 'package', 'include'), join(headers, 'include'));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
console.error(`native-deps: rebuilding better-sqlite3 for Node ${version}`);
run('npm', ['rebuild', 'better-sqlite3'], {
  env: { ...process.env, npm_config_nodedir: headers },
});
if (!loads()) {
  console.error('native-deps: better-sqlite3 still does not load under', node);
  process.exit(1);
}
