import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { alive, get, type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';

describe('peregrine serve: master, admin endpoints, signals', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-basics-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('workers boot, serve, and the admin listener reports health and readiness', async (t) => {
    const unready = join(dir, 'unready');
    const server = await startServe([APP, '--workers', '2'], {
      env: { FIXTURE_UNREADY_FILE: unready },
    });
    t.after(() => server.stop());
    await server.waitForReady(2);

    const health = await get(server.adminPort, '/healthz');
    assert.equal(health.status, 200);
    const h = JSON.parse(health.body);
    assert.equal(h.status, 'ok');
    assert.equal(h.pid, server.pid);
    assert.equal(h.workers.ready, 2);

    const ready = await get(server.adminPort, '/readyz');
    assert.equal(ready.status, 200, ready.body);
    assert.deepEqual(JSON.parse(ready.body).checks, { fixture: { ok: true } });

    // The App's own readiness check decides too (the master asks the workers).
    writeFileSync(unready, '');
    const unreadyReply = await get(server.adminPort, '/readyz');
    assert.equal(unreadyReply.status, 503);
    assert.equal(JSON.parse(unreadyReply.body).checks.fixture.ok, false);
    rmSync(unready);
    assert.equal((await get(server.adminPort, '/readyz')).status, 200);

    const missing = await get(server.adminPort, '/nope');
    assert.equal(missing.status, 404);
    assert.match(String(missing.headers['content-type']), /problem\+json/);

    // Requests spread over both workers; each knows the worker count.
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const reply = await get(server.port, '/pid', { headers: { connection: 'close' } });
      assert.equal(reply.status, 200);
      const body = JSON.parse(reply.body);
      assert.equal(body.workerCount, 2);
      assert.equal(body.generation, 1);
      pids.add(body.pid);
    }
    assert.equal(pids.size, 2, 'round-robin reaches both workers');
    for (const pid of pids) assert.ok(server.workerPids().includes(pid));
  });

  test('TTIN and TTOU add and remove a worker; workers learn the new count', async (t) => {
    const server = await startServe([APP, '--workers', '1']);
    t.after(() => server.stop());
    const from = server.logs.length;
    server.signal('SIGTTIN');
    await server.waitForLog((l) => l.msg === 'worker ready' && l.worker === 2, 10_000, from);
    await eventually(
      async () => JSON.parse((await get(server.port, '/pid')).body).workerCount === 2,
      5000,
      'workers see a count of 2',
    );
    assert.equal(JSON.parse((await get(server.adminPort, '/healthz')).body).workers.ready, 2);
    const before = server.logs.length;
    server.signal('SIGTTOU');
    const exited = await server.waitForLog((l) => l.msg === 'worker exited', 10_000, before);
    assert.equal(exited.code, 0, 'the surplus worker drains and exits cleanly');
    await eventually(
      async () => JSON.parse((await get(server.port, '/pid')).body).workerCount === 1,
      5000,
      'the remaining worker sees a count of 1',
    );
    // TTOU never goes below one worker.
    const last = server.logs.length;
    server.signal('SIGTTOU');
    await server.waitForLog((l) => /TTOU ignored/.test(l.msg ?? ''), 5000, last);
    assert.equal((await get(server.port, '/json')).status, 200);
  });

  test('--pid writes the master pid; USR1 reopens --log-file after rotation', async (t) => {
    const pidFile = join(dir, 'server.pid');
    const logFile = join(dir, 'server.log');
    const server = await startServe([
      APP,
      '--workers',
      '1',
      '--pid',
      pidFile,
      '--log-file',
      logFile,
    ]);
    t.after(() => server.stop());
    await eventually(() => existsSync(pidFile), 10_000, 'the pid file is written');
    assert.equal(readFileSync(pidFile, 'utf8').trim(), String(server.pid));
    // The log goes to the file; wait for the first worker there.
    await eventually(
      () => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('"msg":"listening"'),
      10_000,
      'the log file shows the server listening',
    );
    renameSync(logFile, `${logFile}.1`);
    server.signal('SIGUSR1');
    await eventually(() => existsSync(logFile), 5000, 'USR1 creates a fresh log file');
    // Master and workers write to the new file: a reload makes both log.
    server.signal('SIGHUP');
    await eventually(
      () => {
        const text = readFileSync(logFile, 'utf8');
        return /"role":"worker"/.test(text) && /reload complete/.test(text);
      },
      10_000,
      'the new file receives master and worker lines after the reopen',
    );
    assert.match(readFileSync(logFile, 'utf8'), /USR1: log files reopened/);
    server.signal('SIGTERM');
    const { code } = await server.exited;
    assert.equal(code, 0);
    assert.equal(existsSync(pidFile), false, 'the pid file is removed on exit');
  });

  test('INT stops fast and leaves no worker behind', async (t) => {
    const server: ServeProcess = await startServe([APP, '--workers', '2']);
    t.after(() => server.stop());
    await server.waitForReady(2);
    const workers = server.workerPids();
    const started = Date.now();
    server.signal('SIGINT');
    const { code, at } = await server.exited;
    assert.equal(code, 0);
    assert.ok(at - started < 3000, `fast stop took ${at - started} ms`);
    for (const pid of workers) assert.equal(alive(pid), false, `worker ${pid} is gone`);
  });
});
