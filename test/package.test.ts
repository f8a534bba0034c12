/**
 * The package as users get it: `npm pack`, installed from the tarball into a project of its own
 * (from the npm cache, no network), `peregrine new` run from that install, the new service's own
 * `npm test`, then `npm start`, a few requests and a TERM. Catches files missing from `files`,
 * subpath exports that point at nothing, types that do not resolve, and a tarball that carries
 * what users do not need.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { type Manifest, offlineLock } from './helpers/offline-lock.ts';
import { alive, get } from './helpers/serve-process.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const LOCK = join(ROOT, 'package-lock.json');
const OWN = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest & {
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  [field: string]: unknown;
};

/**
 * What the tarball may weigh: 592 KiB packed and 1.85 MiB unpacked at the time of writing, of
 * which the apm's pages (dist/apm-ui) are ~43 KiB packed and 111 KB unpacked (369 KiB before the
 * dashboard UI, peregrine/auth, rate limiting and deploy/ joined). The bound is there
 * to catch what should not ship (source maps alone were 708 KB), not to freeze the features.
 */
const MAX_PACKED = 640 * 1024;
const MAX_UNPACKED = 2 * 1024 * 1024;

/** Top-level entries the tarball may hold; anything else (src, test, bench…) is a mistake. */
const SHIPPED = new Set([
  'bin',
  'deploy',
  'dist',
  'docs',
  'templates',
  'CHANGELOG.md',
  'README.md',
  'package.json',
]);

/**
 * The environment of the commands run in the temporary projects: no npm_* variables from the
 * `npm test` around us, no node --test context, no DATABASE_URL (the service must use its SQLite
 * default, not the suite's PostgreSQL), this repository's node_modules/.bin off the PATH (the
 * service must bring its own Node), and npm offline.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') || k.startsWith('NODE_TEST') || k === 'NODE_OPTIONS') continue;
    // The suite's services and settings are not the new service's: it runs on its defaults.
    if (/^(DATABASE_URL|REDIS_URL|PORT|PEREGRINE_.*|OTEL_.*)$/.test(k)) continue;
    env[k] = v;
  }
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((d) => !d.includes('node_modules'))
    .join(delimiter);
  return {
    ...env,
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
}

function run(
  command: string,
  args: string[],
  cwd: string,
  env = cleanEnv(),
  timeout = 120_000,
): SpawnSyncReturns<string> {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout });
  const shown = `${command} ${args.join(' ')} (in ${cwd})`;
  assert.equal(r.error, undefined, `${shown}: ${r.error}`);
  assert.equal(r.status, 0, `${shown} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** Writes a lock cut from this repository's, so `npm ci --offline` needs only the npm cache. */
function lockFor(dir: string, tarball: string): void {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  const spec = manifest.dependencies?.[OWN.name];
  assert.ok(spec !== undefined, `${dir}/package.json depends on ${OWN.name}`);
  const lock = offlineLock(manifest, LOCK, [{ spec, path: tarball, manifest: OWN }]);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
}

/** Every file an `exports` entry names, by subpath and condition (`peregrine-source` is repo-only). */
function exportTargets(): Array<{ subpath: string; condition: string; file: string }> {
  const out: Array<{ subpath: string; condition: string; file: string }> = [];
  for (const [subpath, target] of Object.entries(OWN.exports)) {
    if (typeof target === 'string') {
      out.push({ subpath, condition: 'default', file: target });
      continue;
    }
    for (const [condition, file] of Object.entries(target)) {
      if (condition !== 'peregrine-source') out.push({ subpath, condition, file });
    }
  }
  return out;
}

test('the packed tarball installs offline, scaffolds a service that passes its tests, serves and stops on TERM', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'peregrine-package-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const env = cleanEnv();
  let mark = Date.now();
  const step = (what: string) => {
    t.diagnostic(`${what}: ${Date.now() - mark} ms`);
    mark = Date.now();
  };

  // 1. npm pack, as `npm publish` would (dist/ is built by `npm test` before this runs).
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  const packed = JSON.parse(
    run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], ROOT, env)
      .stdout,
  ) as Array<{ filename: string; size: number; unpackedSize: number; files: { path: string }[] }>;
  step('npm pack');
  const info = packed[0]!;
  const tarball = join(packDir, info.filename);
  const files = new Set(info.files.map((f) => f.path));
  await t.test('the tarball carries what users need and nothing else', () => {
    for (const path of files) {
      assert.ok(SHIPPED.has(path.split('/')[0]!), `${path} should not be in the package`);
      assert.doesNotMatch(path, /\.map$/, `${path}: maps point at src/, which is not shipped`);
      assert.doesNotMatch(path, /(^|\/)(test|tests|bench|__tests__)\//, path);
      // The one test users get is the new service's own (templates/service/app.test.ts).
      if (!path.startsWith('templates/')) {
        assert.doesNotMatch(path, /\.test\.[cm]?[jt]s$|\.bench\.[cm]?[jt]s$/, path);
      }
    }
    for (const { subpath, condition, file } of exportTargets()) {
      assert.ok(
        files.has(file.replace(/^\.\//, '')),
        `exports["${subpath}"].${condition}: ${file}`,
      );
    }
    for (const bin of Object.values(OWN.bin)) assert.ok(files.has(bin.replace(/^\.\//, '')), bin);
    assert.ok(files.has('bin/node-version.js'));
    assert.ok(files.has('templates/service/app.ts'));
    // The dashboard works offline: its built UI ships (the README's screenshots do not).
    for (const f of ['index.html', 'app.js', 'app.css']) {
      assert.ok(files.has(`dist/dashboard-ui/${f}`), `dist/dashboard-ui/${f}`);
    }
    assert.ok(![...files].some((f) => f.startsWith('docs/img/')), 'screenshots stay in the repo');
    assert.ok(files.has('templates/service/gitignore'), 'npm drops .gitignore: shipped renamed');
    assert.ok(info.size <= MAX_PACKED, `packed ${info.size} B > ${MAX_PACKED} B`);
    assert.ok(info.unpackedSize <= MAX_UNPACKED, `unpacked ${info.unpackedSize} B`);
  });

  // 2. A project that installs the tarball, as `npm install ./peregrine-x.tgz` would.
  const tool = join(work, 'tool');
  mkdirSync(tool);
  writeFileSync(
    join(tool, 'package.json'),
    JSON.stringify({
      name: 'tool',
      version: '1.0.0',
      private: true,
      dependencies: { [OWN.name]: `file:../pack/${info.filename}` },
    }),
  );
  lockFor(tool, tarball);
  run('npm', ['ci', '--ignore-scripts'], tool, env);
  step('npm ci of the tarball');
  await t.test('every subpath export imports with the default conditions', () => {
    const subpaths = Object.keys(OWN.exports).filter((s) => s !== './package.json');
    const script = `for (const s of ${JSON.stringify(subpaths)}) {
      const spec = s === '.' ? '${OWN.name}' : '${OWN.name}/' + s.slice(2);
      const m = await import(spec);
      if (Object.keys(m).length === 0) throw new Error(spec + ' exports nothing');
      if (import.meta.resolve(spec).includes('/src/')) throw new Error(spec + ' resolved to src');
    }`;
    run(process.execPath, ['--input-type=module', '-e', script], tool, env);
  });

  // 3. peregrine new from the installed package, run by the Node that runs this test (24).
  const projects = join(work, 'projects');
  mkdirSync(projects);
  const bin = join(tool, 'node_modules', OWN.name, OWN.bin.peregrine!);
  const created = run(process.execPath, [bin, 'new', 'svc', '--no-install'], projects, env);
  const svc = join(projects, 'svc');
  step('peregrine new');
  const svcPkg = JSON.parse(readFileSync(join(svc, 'package.json'), 'utf8')) as Manifest;
  // The spec the tool project installed peregrine with, rewritten for the new folder.
  assert.equal(svcPkg.dependencies?.[OWN.name], `file:../../pack/${info.filename}`);
  assert.match(created.stdout, /Created svc\//);
  assert.equal(
    existsSync(join(ROOT, 'deploy')),
    existsSync(join(svc, 'deploy')),
    'the deploy files the package ships are copied into new services',
  );

  // 4. The service installs from the cache: its own Node 24, TypeScript and peregrine.
  lockFor(svc, tarball);
  run('npm', ['ci'], svc, env, 180_000);
  step('npm ci of the service');
  const svcNode = run(join(svc, 'node_modules', '.bin', 'node'), ['--version'], svc, env);
  assert.match(svcNode.stdout, /^v24\./);

  await t.test("the service's own npm test passes (tsc, then node --test)", () => {
    const r = run('npm', ['test'], svc, env);
    assert.match(r.stdout, /^# pass 3$|ℹ pass 3/m, r.stdout);
    assert.match(r.stdout, /ℹ fail 0|^# fail 0$/m);
    step('npm test of the service');
  });

  await t.test('every subpath resolves to types (tsc with skipLibCheck off)', () => {
    const subpaths = Object.keys(OWN.exports).filter((s) => s !== './package.json');
    const lines = subpaths.map((s, i) => {
      const spec = s === '.' ? OWN.name : `${OWN.name}/${s.slice(2)}`;
      return `import type * as m${i} from '${spec}';\nexport type T${i} = keyof typeof m${i};`;
    });
    writeFileSync(join(svc, 'exports-check.ts'), `${lines.join('\n')}\n`);
    writeFileSync(
      join(svc, 'tsconfig.exports.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: { skipLibCheck: false },
        files: ['exports-check.ts'],
      }),
    );
    try {
      run(join(svc, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.exports.json'], svc, {
        ...env,
        PATH: `${join(svc, 'node_modules', '.bin')}${delimiter}${env.PATH}`,
      });
    } finally {
      rmSync(join(svc, 'exports-check.ts'));
      rmSync(join(svc, 'tsconfig.exports.json'));
    }
    step('tsc of every subpath');
  });

  await t.test('npm start serves the service; TERM stops it cleanly', async (st) => {
    const proc = spawn(
      'npm',
      [
        'start',
        '--',
        '--bind',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--workers',
        '1',
        '--log-format',
        'json',
      ],
      { cwd: svc, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    const seen = new Set<() => void>();
    const onData = (c: Buffer) => {
      output += c.toString();
      for (const w of seen) w();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    const exited = new Promise<number | null>((resolve) => proc.once('exit', resolve));
    let master = 0;
    // Whatever happens, nothing outlives the test: the master (npm does not pass SIGKILL on),
    // npm, and the pipes a leftover process would keep open.
    st.after(() => {
      if (master !== 0 && alive(master)) process.kill(master, 'SIGKILL');
      proc.kill('SIGKILL');
      proc.stdout!.destroy();
      proc.stderr!.destroy();
    });
    const logLine = (msg: string) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const check = () => {
          for (const text of output.split('\n')) {
            if (!text.startsWith('{')) continue;
            const line = JSON.parse(text) as Record<string, unknown>;
            if (line.msg === msg) {
              clearTimeout(timer);
              seen.delete(check);
              resolve(line);
              return;
            }
          }
          if (proc.exitCode !== null) reject(new Error(`npm start exited\n${output}`));
        };
        const timer = setTimeout(() => reject(new Error(`no "${msg}" log\n${output}`)), 30_000);
        seen.add(check);
        check();
      });
    const admin = await logLine('admin listening');
    master = Number(admin.pid);
    // Started by npm with the system Node first on PATH: the service's own Node 24 runs it.
    assert.match(String((await logLine('master starting')).node), /^v24\./);
    const listening = await logLine('listening');
    const port = Number(
      String((listening.addresses as string[])[0])
        .split(':')
        .pop(),
    );
    const adminPort = Number(String(admin.address).split(':').pop());

    const created = await fetch(`http://127.0.0.1:${port}/notes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'from the packaging test' }),
    });
    assert.equal(created.status, 201, output);
    const note = (await created.json()) as { id: number };
    const read = await get(port, `/notes/${note.id}`);
    assert.equal(read.status, 200);
    assert.equal(JSON.parse(read.body).text, 'from the packaging test');
    assert.equal((await get(adminPort, '/readyz')).status, 200);
    assert.ok(existsSync(join(svc, 'data', 'app.db')), 'the embedded SQLite default is used');

    process.kill(master, 'SIGTERM');
    const code = await exited;
    assert.equal(code, 0, output);
    assert.match(output, /"msg":"master stopped"/);
    step('npm start, requests, TERM');
  });
});
