import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App } from '../../src/app/app.ts';
import { openDatabase } from '../../src/db/open.ts';
import { TestClient } from '../../src/testing/index.ts';
import { requireService } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'peregrine-testclient-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** An App that keeps its data in a database, the way the README's services do. */
function notesApp(url: string) {
  const app = new App({ logger: false });
  const db = openDatabase(url).install(app);
  const table = `tc_notes_${process.pid}`;
  app.onStartup(async () => {
    await db.query(`DROP TABLE IF EXISTS ${table}`);
    await db.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, text text NOT NULL)`);
  });
  app.addRoute('/notes/{id:int}', {
    async onPut(req, resp, { id }) {
      const { text } = await req.getMedia<{ text: string }>();
      await db.query(`INSERT INTO ${table} (id, text) VALUES ($1, $2)`, [id, text], { req });
      resp.status = 201;
    },
    async onGet(req, resp, { id }) {
      resp.media = await db.one(`SELECT id, text FROM ${table} WHERE id = $1`, [id], { req });
    },
  });
  return { app, db };
}

describe('TestClient runs the App lifecycle', () => {
  const backends: Array<
    [string, (t: import('node:test').TestContext) => Promise<string | undefined>]
  > = [
    ['sqlite', async () => `sqlite:${join(dir, 'notes.db')}`],
    ['postgresql', (t) => requireService(t, 'postgres')],
  ];
  for (const [name, url] of backends) {
    test(`an App with openDatabase().install(app) answers from its database (${name})`, async (t) => {
      const u = await url(t);
      if (u === undefined) return;
      const { app, db } = notesApp(u);
      {
        await using client = new TestClient(app);
        const put = await client.put('/notes/7', { json: { text: 'hi' } });
        assert.equal(put.status, 201, put.text);
        const got = await client.get('/notes/7');
        assert.equal(got.status, 200, got.text);
        assert.deepEqual(got.json, { id: 7, text: 'hi' });
        assert.equal((await app.checkReadiness()).ready, true);
      }
      // Leaving the block ran the shutdown hooks: the database is closed.
      assert.equal(app.started, false);
      assert.equal(await db.ready(), false);
    });
  }

  test('startup runs once however many clients ask; close() runs shutdown once', async () => {
    const app = new App({ logger: false });
    const calls: string[] = [];
    app.onStartup(async () => {
      calls.push('startup');
    });
    app.onShutdown(() => {
      calls.push('shutdown');
    });
    app.addRoute('/', { onGet: () => 'ok' });
    const a = new TestClient(app);
    const b = new TestClient(app);
    await Promise.all([a.get('/'), b.get('/'), a.get('/')]);
    await app.startup(); // a server, or the test itself, asking again
    assert.deepEqual(calls, ['startup']);
    await a.close();
    await b.close(); // already shut down: nothing more to run
    assert.deepEqual(calls, ['startup', 'shutdown']);
    // Used again after close, the App starts again.
    assert.equal((await b.get('/')).status, 200);
    await b.close();
    assert.deepEqual(calls, ['startup', 'shutdown', 'startup', 'shutdown']);
  });

  test('a failing startup hook fails the request with its own error', async () => {
    const app = new App({ logger: false });
    app.onStartup(() => {
      throw new Error('migrations failed');
    });
    app.addRoute('/', { onGet: () => 'ok' });
    const client = new TestClient(app);
    await assert.rejects(client.get('/'), /migrations failed/);
    await client.close();
  });
});
