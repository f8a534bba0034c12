import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { EXIT } from '../../src/server/exit-codes.ts';
import { get } from '../helpers/serve-process.ts';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

/** An App that answers GET / with `body`, and optionally breaks on import. */
function appSource(body: string): string {
  return `import { App } from 'peregrine';
const app = new App();
app.addRoute('/', { onGet(_req, resp) { resp.text = ${JSON.stringify(body)}; } });
export default app;
`;
}

/** A project folder that has peregrine (this checkout) in node_modules, as an install would. */
function project(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-dev-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'package.json'), '{ "name": "dev-test", "type": "module" }\n');
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'peregrine'));
  return dir;
}

interface Dev {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Waits until the output so far matches. */
  waitFor(
    stream: 'stdout' | 'stderr',
    pattern: RegExp,
    timeoutMs?: number,
  ): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function startDev(cwd: string, bind = '127.0.0.1:0'): Dev {
  const proc = spawn(
    process.execPath,
    [
      '--conditions=peregrine-source',
      BIN,
      'dev',
      'app.ts',
      '--bind',
      bind,
      '--admin',
      '127.0.0.1:0',
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
  );
  const out = { stdout: '', stderr: '' };
  const waiters = new Set<() => void>();
  proc.stdout!.on('data', (c: Buffer) => {
    out.stdout += c.toString();
    for (const w of waiters) w();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    out.stderr += c.toString();
    for (const w of waiters) w();
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      for (const w of waiters) w();
      resolve(code);
    });
  });
  return {
    proc,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    exited,
    waitFor(stream, pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out[stream]);
          if (m !== null) {
            finish();
            resolve(m);
          } else if (proc.exitCode !== null) {
            finish();
            reject(new Error(`dev exited before ${pattern}\n${out.stdout}\n${out.stderr}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`timed out waiting for ${pattern}\n${out.stdout}\n${out.stderr}`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** GETs / until it answers `body` (a reload is done when the new worker answers). */
async function waitForBody(port: number, body: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    last = (await get(port, '/')).body;
    if (last === body) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  assert.fail(`GET / still answers ${JSON.stringify(last)}, not ${JSON.stringify(body)}`);
}

describe('peregrine dev', () => {
  test('serves with one worker and pretty logs, prints the dashboard, reloads on save, survives a broken save', async (t) => {
    const dir = project(t);
    writeFileSync(join(dir, 'app.ts'), appSource('v1'));
    const dev = startDev(dir);
    t.after(() => dev.proc.kill('SIGKILL'));
    const banner = await dev.waitFor(
      'stdout',
      /serves on http:\/\/127\.0\.0\.1:(\d+) \(1 worker\)\n\s+dashboard\s+http:\/\/127\.0\.0\.1:(\d+)\/dashboard\n/,
    );
    const port = Number(banner[1]);
    const adminPort = Number(banner[2]);
    assert.equal((await get(port, '/')).body, 'v1');
    const health = JSON.parse((await get(adminPort, '/healthz')).body) as {
      workers: { target: number };
    };
    assert.equal(health.workers.target, 1, 'one worker');
    assert.equal((await get(adminPort, '/metrics')).status, 200, 'the admin port is the one shown');
    assert.match(dev.stderr(), /INFO.*worker ready/, 'readable logs');
    assert.doesNotMatch(dev.stderr(), /^\{"level"/m, 'no JSON log lines');

    // Data, dependencies and dot-folders change all the time and never reload; a source does.
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'data', 'app.db'), 'x');
    writeFileSync(join(dir, 'server.log'), 'x');
    mkdirSync(join(dir, '.cache'));
    writeFileSync(join(dir, '.cache', 'x.ts'), 'x');
    writeFileSync(join(dir, 'app.ts'), appSource('v2'));
    await waitForBody(port, 'v2');
    assert.deepEqual(
      dev.stdout().match(/^peregrine dev: .* changed; reloading$/gm),
      ['peregrine dev: app.ts changed; reloading'],
      dev.stdout(),
    );

    // A broken save: the reload fails, the last good code keeps serving.
    const before = dev.stderr().length;
    writeFileSync(join(dir, 'app.ts'), `${appSource('v3')}\nthis is not TypeScript(\n`);
    await dev.waitFor('stderr', /reload failed; generation \d+ keeps serving/);
    assert.ok(dev.stderr().length > before);
    assert.equal((await get(port, '/')).body, 'v2');

    // A new folder is watched too.
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'body.ts'), "export const body = 'v4';\n");
    writeFileSync(
      join(dir, 'app.ts'),
      appSource('v3')
        .replace('"v3"', 'body')
        .replace(/^/, "import { body } from './lib/body.ts';\n"),
    );
    await waitForBody(port, 'v4');
    writeFileSync(join(dir, 'lib', 'body.ts'), "export const body = 'v5';\n");
    await waitForBody(port, 'v5');

    dev.proc.kill('SIGINT');
    assert.equal(await dev.exited, 0);
  });

  test('an App that cannot start waits for a fix, then serves', async (t) => {
    const dir = project(t);
    writeFileSync(join(dir, 'app.ts'), 'export default 42;\n');
    const dev = startDev(dir);
    t.after(() => dev.proc.kill('SIGKILL'));
    await dev.waitFor('stdout', /the App cannot start \(see above\); save a fix/);
    assert.match(dev.stderr(), /is not a Peregrine App \(it is number\)/);
    // Now it loads, but a startup hook (a migration, say) throws: the App's doing too.
    writeFileSync(
      join(dir, 'app.ts'),
      appSource('x').replace(
        'export default app;',
        "app.onStartup(() => { throw new Error('bad migration'); });\nexport default app;",
      ),
    );
    await dev.waitFor('stdout', /(the App cannot start[\s\S]*){2}/);
    assert.match(dev.stderr(), /bad migration/);
    writeFileSync(join(dir, 'app.ts'), appSource('fixed'));
    const banner = await dev.waitFor('stdout', /serves on http:\/\/127\.0\.0\.1:(\d+)/);
    assert.equal((await get(Number(banner[1]), '/')).body, 'fixed');
    dev.proc.kill('SIGTERM');
    assert.equal(await dev.exited, 0);
  });

  test('a port in use is not fixed by saving a file: dev exits with the error', async (t) => {
    const dir = project(t);
    writeFileSync(join(dir, 'app.ts'), appSource('one'));
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    t.after(() => taken.close());
    const dev = startDev(dir, `127.0.0.1:${(taken.address() as AddressInfo).port}`);
    t.after(() => dev.proc.kill('SIGKILL'));
    assert.equal(await dev.exited, EXIT.BIND_ERROR, dev.stderr());
    assert.match(dev.stderr(), /the address is in use/);
    assert.doesNotMatch(dev.stdout(), /save a fix/);
  });
});
