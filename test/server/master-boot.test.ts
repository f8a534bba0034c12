import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { alive, get, type LogLine, loggedAt, startServe, tail } from '../helpers/serve-process.ts';

const APP = 'test/fixtures/server/app.ts';

/**
 * Starts a server expected to halt; resolves to its exit code, output, and how long the master
 * took to exit after the first failed boot (process start-up, slow on a busy machine, excluded).
 */
async function expectHalt(args: string[], env: NodeJS.ProcessEnv = {}) {
  const server = await startServe(args, { env, waitReady: false });
  const { code, at } = await server.exited;
  await server.stop();
  const text = server.logs.map((l) => l.raw ?? JSON.stringify(l)).join('\n');
  const failed = server.logs.find((l) =>
    /^(no worker can start|worker failed to boot)/.test(l.msg ?? ''),
  );
  return { code, ms: failed === undefined ? Number.NaN : at - loggedAt(failed), text, server };
}

/** A halt stops the other workers with the fast-stop grace (2 s) at most, then exits. */
const HALT_MS = 2000 + 1000;

const SRC = pathToFileURL(new URL('../../src/index.ts', import.meta.url).pathname).href;

describe('peregrine serve: boot failures halt instead of crash-looping', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-boot-'));
  writeFileSync(join(dir, 'no-app.ts'), 'export const notAnApp = 1;\n');
  writeFileSync(
    join(dir, 'syntax.ts'),
    `import { App } from '${SRC}';\n\nconst app = new App(;\nexport default app;\n`,
  );
  // The guide's decorator example, in a module the App imports.
  writeFileSync(
    join(dir, 'decorated.ts'),
    `import { before } from '${SRC}';\nconst authenticate = () => {};\n@before(authenticate)\nexport class Orders {\n  onGet() {}\n}\n`,
  );
  writeFileSync(
    join(dir, 'uses-decorated.ts'),
    `import { App } from '${SRC}';\nimport { Orders } from './decorated.ts';\nexport default new App().addRoute('/orders', new Orders());\n`,
  );
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The lines at warn level or above, and whether any shows a frame of Peregrine itself. */
  const problems = (logs: LogLine[]) =>
    logs.filter((l) => l.level === 'error' || l.level === 'fatal' || l.level === 'warn');
  const ownFrames = /\/(dist|src)\/(server|cli|app)\//;

  test('a module that throws on import: exit 4 at once, said once, with its own frame', async () => {
    const { code, ms, text, server } = await expectHalt([APP, '--workers', '2'], {
      FIXTURE_THROW_ON_IMPORT: '1',
    });
    assert.equal(code, 4, text);
    assert.ok(ms < HALT_MS, `exited ${ms} ms after the first failed boot`);
    const said = problems(server.logs);
    assert.equal(said.length, 1, `one message, not one per worker:\n${text}`);
    assert.equal(said[0]!.role, 'master');
    assert.match(String(said[0]!.msg), /^no worker can start: cannot load the App from /);
    assert.match(String(said[0]!.msg), /fixture: this module refuses to load/);
    assert.match(String(said[0]!.msg), /test\/fixtures\/server\/app\.ts:7/, 'where it threw');
    assert.doesNotMatch(text, ownFrames, 'no frames of Peregrine itself');
    assert.doesNotMatch(text, /draining|graceful stop/);
    for (const pid of server.allWorkerPids()) assert.equal(alive(pid), false);
    // One attempt per worker, not a loop.
    assert.ok(server.allWorkerPids().length <= 2, `spawned ${server.allWorkerPids().length}`);
  });

  test('a startup hook that throws: exit 3 with the error and its stack, said once', async () => {
    const { code, ms, text, server } = await expectHalt([APP, '--workers', '2'], {
      FIXTURE_FAIL_STARTUP: '1',
    });
    assert.equal(code, 3, text);
    assert.ok(ms < HALT_MS, `exited ${ms} ms after the first failed boot`);
    const said = problems(server.logs);
    assert.equal(said.length, 1, text);
    assert.match(String(said[0]!.msg), /startup failed: fixture: startup hook failed/);
    assert.match(
      String(said[0]!.stack),
      /fixtures\/server\/app\.ts/,
      "the hook's stack helps here",
    );
  });

  test('a missing module or export: exit 4, one message naming what is missing and the fix', async () => {
    const missing = await expectHalt(['test/fixtures/server/nope.ts', '--workers', '2']);
    assert.equal(missing.code, 4);
    const said = problems(missing.server.logs);
    assert.equal(said.length, 1, missing.text);
    assert.match(
      String(said[0]!.msg),
      /cannot find the App module "test\/fixtures\/server\/nope\.ts"/,
    );
    assert.match(String(said[0]!.msg), /working directory/);
    const badExport = await expectHalt([`${APP}:nothing`, '--workers', '1']);
    assert.equal(badExport.code, 4);
    assert.ok(
      badExport.server.logs.some((l) => /has no export "nothing"/.test(String(l.msg))),
      badExport.text,
    );
    const noApp = await expectHalt([join(dir, 'no-app.ts'), '--workers', '1']);
    assert.equal(noApp.code, 4);
    assert.match(String(problems(noApp.server.logs)[0]?.msg), /export default app/, noApp.text);
  });

  test('a TypeScript syntax error and a decorator: exit 4, file:line and the fix', async () => {
    const syntax = await expectHalt([join(dir, 'syntax.ts'), '--workers', '2']);
    assert.equal(syntax.code, 4);
    const [one] = problems(syntax.server.logs);
    assert.equal(problems(syntax.server.logs).length, 1, syntax.text);
    assert.match(String(one!.msg), new RegExp(`${join(dir, 'syntax.ts')}:3\\n`));
    assert.doesNotMatch(syntax.text, ownFrames);
    const deco = await expectHalt([join(dir, 'uses-decorated.ts'), '--workers', '1']);
    assert.equal(deco.code, 4);
    const [said] = problems(deco.server.logs);
    // The decorator is in a module the App imports: that file and line are named.
    assert.match(String(said!.msg), new RegExp(`${join(dir, 'decorated.ts')}:3\\n`));
    assert.match(String(said!.msg), /@before\(authenticate\)/);
    assert.match(String(said!.msg), /Decorators need a build step/);
    assert.match(String(said!.msg), /withHooks\(Resource, \{ before: \[authenticate\] \}\)/);
  });

  test('the bind address in use: exit 5, naming --bind', async (t) => {
    const first = await startServe([APP, '--workers', '1']);
    t.after(() => first.stop());
    const { code, text, server } = await expectHalt([
      APP,
      '--workers',
      '1',
      '--bind',
      `127.0.0.1:${first.port}`,
    ]);
    assert.equal(code, 5, text);
    const said = problems(server.logs);
    assert.equal(said.length, 1, text);
    assert.match(
      String(said[0]!.msg),
      new RegExp(
        `^cannot serve on 127\\.0\\.0\\.1:${first.port} \\(--bind\\): the address is in use`,
      ),
    );
    assert.doesNotMatch(text, /node:net/);
  });

  test('the admin address in use (a second service on the machine): exit 5, naming --admin', async (t) => {
    const first = await startServe([APP, '--workers', '1']);
    t.after(() => first.stop());
    const { code, text, server } = await expectHalt([
      APP,
      '--workers',
      '1',
      '--admin',
      `127.0.0.1:${first.adminPort}`,
    ]);
    assert.equal(code, 5, text);
    const [said] = problems(server.logs);
    assert.match(
      String(said?.msg),
      /cannot start the admin listener .* \(--admin\): the address is in use/,
    );
    assert.match(String(said?.msg), /another peregrine serve/);
    // Ten ports up: never 9465, which is peregrine apm's API.
    assert.ok(
      String(said?.msg).includes(`--admin 127.0.0.1:${first.adminPort + 10}`),
      String(said?.msg),
    );
    assert.equal(server.allWorkerPids().length, 0, 'no worker is spawned');
  });

  test('a reload whose new workers cannot load keeps the old generation serving', async (t) => {
    const failFile = join(dir, 'fail');
    const server = await startServe([APP, '--workers', '2'], {
      env: { FIXTURE_FAIL_FILE: failFile },
    });
    t.after(() => server.stop());
    await server.waitForReady(2);
    const oldPids = server.workerPids();
    writeFileSync(failFile, '');
    const from = server.logs.length;
    server.signal('SIGHUP');
    const failed = await server.waitForLog((l) => /reload failed/.test(l.msg ?? ''), 10_000, from);
    assert.match(String(failed.msg), /generation 1 keeps serving/);
    assert.match(String(failed.reason), /the fail file exists/);
    const dump = (where: string) => async (err: Error) => {
      throw new Error(`${where}: ${err.message}\n${tail(server.logs, 40)}`);
    };
    for (let i = 0; i < 6; i++) {
      const reply = await get(server.port, '/pid', { headers: { connection: 'close' } }).catch(
        dump(`request ${i}`),
      );
      assert.equal(reply.status, 200);
      assert.ok(oldPids.includes(reply.pid), 'the old generation still serves');
    }
    assert.equal((await get(server.adminPort, '/readyz').catch(dump('readyz'))).status, 200);
    // Fixed: the next reload goes through.
    rmSync(failFile);
    const next = server.logs.length;
    server.signal('SIGHUP');
    await server.waitForLog((l) => /reload complete/.test(l.msg ?? ''), 10_000, next);
    const reply = await get(server.port, '/pid', { headers: { connection: 'close' } }).catch(
      dump('after reload'),
    );
    assert.equal(JSON.parse(reply.body).generation, 3);
  });

  test('replacements that keep failing to boot halt the master within seconds', async (t) => {
    const failFile = join(dir, 'fail-later');
    const server = await startServe([APP, '--workers', '1'], {
      env: { FIXTURE_FAIL_FILE: failFile },
    });
    t.after(() => server.stop());
    writeFileSync(failFile, '');
    const [pid] = server.workerPids();
    const killedAt = Date.now();
    process.kill(pid!, 'SIGKILL');
    const { code, at } = await server.exited;
    assert.equal(code, 4, tail(server.logs));
    const failures = server.logs.filter(
      (l) => l.role === 'master' && /worker failed to boot/.test(l.msg ?? ''),
    );
    assert.equal(failures.length, 5, 'five tries with backoff, then halt');
    // Within seconds: the backoff between the tries (250 + 500 + 1000 + 2000 ms) plus the tries'
    // own boots, which a busy machine slows; so the boots are taken out and the rest is held to
    // the backoff, plus up to a tick (250 ms) for each wait and the exit.
    const spawnedAt = new Map(
      server.logs.filter((l) => l.msg === 'worker spawned').map((l) => [l.worker, loggedAt(l)]),
    );
    const booting = failures.reduce((ms, f) => ms + loggedAt(f) - spawnedAt.get(f.worker)!, 0);
    const waited = at - killedAt - booting;
    t.diagnostic(`halted ${at - killedAt} ms after the kill, ${booting} ms of it booting`);
    assert.ok(waited >= 3700 && waited < 3750 + 2000, `waited ${waited} ms between the tries`);
    assert.ok(server.logs.some((l) => /5 workers in a row failed to boot/.test(l.msg ?? '')));
  });

  test('an uncaught exception: the worker drains and exits 1, a replacement takes over', async (t) => {
    const server = await startServe([APP, '--workers', '1']);
    t.after(() => server.stop());
    const [victim] = server.workerPids();
    const from = server.logs.length;
    const reply = await get(server.port, '/crash');
    assert.equal(reply.status, 200, 'the request that triggered it was answered');
    await server.waitForLog((l) => l.msg === 'worker ready', 10_000, from);
    const exit = await server.waitForLog(
      (l) => l.msg === 'worker exited' && l.workerPid === victim,
      10_000,
      from,
    );
    assert.equal(exit.code, 1);
    assert.ok(
      server.logs.some((l) => l.level === 'fatal' && /uncaught exception/.test(l.msg ?? '')),
    );
    assert.equal((await get(server.port, '/json')).status, 200);
    const health = JSON.parse((await get(server.adminPort, '/healthz')).body);
    assert.equal(health.workers.ready, 1);
  });
});
