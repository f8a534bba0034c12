import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { alive, get, startServe, tail } from '../helpers/serve-process.ts';

const APP = 'test/fixtures/server/app.ts';

/** Starts a server expected to halt; resolves to its exit code, time to exit and output. */
async function expectHalt(args: string[], env: NodeJS.ProcessEnv = {}) {
  const started = Date.now();
  const server = await startServe(args, { env, waitReady: false });
  const { code, at } = await server.exited;
  await server.stop();
  const text = server.logs.map((l) => l.raw ?? JSON.stringify(l)).join('\n');
  return { code, ms: at - started, text, server };
}

describe('peregrine serve: boot failures halt instead of crash-looping', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-boot-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a module that throws on import: exit 4 within 5 s, with the error in the log', async () => {
    const { code, ms, text, server } = await expectHalt([APP, '--workers', '2'], {
      FIXTURE_THROW_ON_IMPORT: '1',
    });
    assert.equal(code, 4, text);
    assert.ok(ms < 5000, `took ${ms} ms`);
    assert.match(text, /fixture: this module refuses to load/);
    assert.match(text, /halting/);
    for (const pid of server.allWorkerPids()) assert.equal(alive(pid), false);
    // One attempt per worker, not a loop.
    assert.ok(server.allWorkerPids().length <= 2, `spawned ${server.allWorkerPids().length}`);
  });

  test('a startup hook that throws: exit 3 with the error', async () => {
    const { code, ms, text } = await expectHalt([APP, '--workers', '1'], {
      FIXTURE_FAIL_STARTUP: '1',
    });
    assert.equal(code, 3, text);
    assert.ok(ms < 5000, `took ${ms} ms`);
    assert.match(text, /fixture: startup hook failed/);
  });

  test('a missing module or export: exit 4 naming what is missing', async () => {
    const missing = await expectHalt(['test/fixtures/server/nope.ts', '--workers', '1']);
    assert.equal(missing.code, 4);
    assert.match(missing.text, /cannot find module/);
    const badExport = await expectHalt([`${APP}:nothing`, '--workers', '1']);
    assert.equal(badExport.code, 4);
    assert.ok(
      badExport.server.logs.some((l) => /has no export "nothing"/.test(String(l.msg))),
      badExport.text,
    );
  });

  test('the bind address in use: exit 3 with EADDRINUSE', async (t) => {
    const first = await startServe([APP, '--workers', '1']);
    t.after(() => first.stop());
    const { code, text } = await expectHalt([
      APP,
      '--workers',
      '1',
      '--bind',
      `127.0.0.1:${first.port}`,
    ]);
    assert.equal(code, 3, text);
    assert.match(text, /EADDRINUSE/);
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
    assert.ok(at - killedAt < 15_000, `halted after ${at - killedAt} ms`);
    const failures = server.logs.filter(
      (l) => l.role === 'master' && /worker failed to boot/.test(l.msg ?? ''),
    );
    assert.equal(failures.length, 5, 'five tries with backoff, then halt');
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
