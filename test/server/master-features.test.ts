import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { alive, get, startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';
const ROOT = new URL('../..', import.meta.url).pathname;

describe('peregrine serve: more of the process model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-features-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('--request-timeout fires the responder signal and answers 503 problem+json', async (t) => {
    const server = await startServe([APP, '--workers', '1', '--request-timeout', '0.3']);
    t.after(() => server.stop());
    const started = Date.now();
    const reply = await get(server.port, '/deadline');
    assert.equal(reply.status, 503);
    assert.match(String(reply.headers['content-type']), /application\/problem\+json/);
    assert.equal(JSON.parse(reply.body).code, 'PRG_DEADLINE_EXCEEDED');
    assert.ok(Date.now() - started < 2000);
    // A responder that ignores the signal is answered by the deadline sweep.
    const ignoring = await get(server.port, '/slow?ms=1500');
    assert.equal(ignoring.status, 503);
    assert.equal(JSON.parse(ignoring.body).code, 'PRG_DEADLINE_EXCEEDED');
    assert.equal((await get(server.port, '/json')).status, 200);
  });

  test('--access-log writes one line per request', async (t) => {
    const server = await startServe([APP, '--workers', '1', '--access-log']);
    t.after(() => server.stop());
    await get(server.port, '/json?x=1');
    const line = await server.waitForLog((l) => l.msg === 'request' && l.path === '/json');
    assert.equal(line.type, 'access');
    assert.equal(line.method, 'GET');
    assert.equal(line.route, '/json');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.match(String(line.trace_id), /^[0-9a-f]{32}$/);
    assert.equal(line.role, 'worker');

    // The App's own lines inside a request carry the request's trace, before and after an await.
    await get(server.port, '/log');
    const access = await server.waitForLog((l) => l.msg === 'request' && l.path === '/log');
    const inside = server.logs.filter((l) =>
      /^fixture: (before|after) an await$/.test(l.msg ?? ''),
    );
    assert.equal(inside.length, 2);
    for (const l of inside) {
      assert.equal(l.trace_id, access.trace_id, JSON.stringify(l));
      assert.equal(l.span_id, access.span_id, JSON.stringify(l));
    }
    const outside = server.logs.find((l) => l.msg === 'fixture: started');
    assert.equal(outside?.role, 'worker');
    assert.equal(outside?.trace_id, undefined, 'a line outside a request has no trace');
  });

  test('--log-format pretty writes readable lines', async (t) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=peregrine-source',
        'bin/peregrine.js',
        'serve',
        APP,
        '--workers',
        '1',
        '--bind',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--log-format',
        'pretty',
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let text = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${text}`)), 15_000);
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
        if (/listening \{"addresses"/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const line = text.split('\n').find((l) => /master \[\d+\] listening/.test(l));
    assert.ok(line, text);
    assert.match(line, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: master \[\d+\] listening/);
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });

  test('--reuse-port: each worker binds its own socket; serving and reloads work', async (t) => {
    const server = await startServe([APP, '--workers', '2', '--reuse-port']);
    t.after(() => server.stop());
    await server.waitForReady(2);
    const pids = new Set<number>();
    for (let i = 0; i < 30 && pids.size < 2; i++) {
      pids.add((await get(server.port, '/pid', { headers: { connection: 'close' } })).pid);
    }
    assert.equal(pids.size, 2, 'the kernel spreads connections over both workers');
    const from = server.logs.length;
    server.signal('SIGHUP');
    await server.waitForLog((l) => /reload complete/.test(l.msg ?? ''), 10_000, from);
    // Without net.ipv4.tcp_migrate_req, a connection queued on a closing reuse-port socket is
    // reset by the kernel (documented); ask once the old generation is gone.
    await eventually(() => server.workerPids().length === 2, 10_000, 'the old generation exited');
    const reply = await get(server.port, '/pid', { headers: { connection: 'close' } });
    assert.equal(JSON.parse(reply.body).generation, 2);
  });

  test('HUP reads the config file again: new workers get the new settings', async (t) => {
    const config = join(dir, 'peregrine.json');
    writeFileSync(config, JSON.stringify({ workers: 1 }));
    const server = await startServe([APP, '--config', config]);
    t.after(() => server.stop());
    writeFileSync(config, JSON.stringify({ workers: 2, backlog: 100 }));
    const from = server.logs.length;
    server.signal('SIGHUP');
    const warned = await server.waitForLog((l) => /need a restart/.test(l.msg ?? ''), 10_000, from);
    assert.deepEqual(warned.settings, ['backlog']);
    await server.waitForLog((l) => /reload complete/.test(l.msg ?? ''), 10_000, from);
    assert.equal(server.allWorkerPids().length, 3, 'no worker of the old generation was added');
    await eventually(
      async () => JSON.parse((await get(server.adminPort, '/healthz')).body).workers.ready === 2,
      10_000,
      'two workers after the reload',
    );
    // An invalid file aborts the reload and keeps the workers.
    writeFileSync(config, '{ not json');
    const next = server.logs.length;
    server.signal('SIGHUP');
    await server.waitForLog((l) => /reload aborted/.test(l.msg ?? ''), 10_000, next);
    assert.equal((await get(server.port, '/json')).status, 200);
  });

  test('when the master dies, its workers drain and exit instead of lingering', async (t) => {
    const server = await startServe([APP, '--workers', '2']);
    t.after(() => server.stop());
    await server.waitForReady(2);
    const workers = server.workerPids();
    process.kill(server.pid, 'SIGKILL');
    await server.exited;
    await eventually(() => workers.every((pid) => !alive(pid)), 10_000, 'orphaned workers exit');
  });

  test('npx peregrine serve examples/hello/app.ts: the built package serves the example', async (t) => {
    // No --conditions=peregrine-source: this is the path a fresh checkout takes (dist/ from `prepare`).
    const child = spawn(
      process.execPath,
      [
        'bin/peregrine.js',
        'serve',
        'examples/hello/app.ts',
        '--workers',
        '1',
        '--bind',
        '127.0.0.1:0',
        '--admin',
        '127.0.0.1:0',
        '--log-format',
        'json',
      ],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    t.after(() => child.kill('SIGKILL'));
    let text = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line:\n${text}`)), 15_000);
      child.stderr.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /"addresses":\["127\.0\.0\.1:(\d+)"\]/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const reply = await get(port, '/json');
    assert.equal(reply.status, 200);
    assert.deepEqual(JSON.parse(reply.body), { message: 'Hello, World!' });
    const exit = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill('SIGTERM');
    assert.equal(await exit, 0);
  });
});
