import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { App } from '../src/app/app.ts';
import { PostgresPool } from '../src/db/pool/postgres.ts';
import { TestClient } from '../src/testing/index.ts';
import { requestJSON } from './helpers/json-request.ts';
import { type LogLine, startServe, tail } from './helpers/serve-process.ts';
import { requireService } from './helpers/services.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const QUICKSTART = 'examples/quickstart/app.ts';
const dir = mkdtempSync(join(tmpdir(), 'peregrine-quickstart-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** A fresh instance of the quickstart module, built with this DATABASE_URL. */
async function quickstart(databaseUrl: string, instance: string): Promise<App> {
  const before = process.env.DATABASE_URL;
  process.env.DATABASE_URL = databaseUrl;
  try {
    const url = new URL(`../${QUICKSTART}?${instance}`, import.meta.url).href;
    return ((await import(url)) as { default: App }).default;
  } finally {
    if (before === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = before;
  }
}

/** The README quickstart's requests, on a fresh database. */
async function exercise(app: App): Promise<void> {
  await using client = new TestClient(app);
  const hello = await client.get('/hello/ann?lang=fr');
  assert.deepEqual(hello.json, { hello: 'ann', lang: 'fr' });
  assert.deepEqual((await client.get('/notes')).json, []);
  const created = await client.post('/notes', { json: { text: 'hi' } });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.header('location'), '/notes/1');
  assert.deepEqual(created.json, { id: 1 });
  assert.deepEqual((await client.get('/notes/1')).json, { id: 1, text: 'hi' });
  assert.deepEqual((await client.get('/notes')).json, [{ id: 1, text: 'hi' }]);
  assert.equal((await client.get('/notes/2')).status, 404);
  // /notes/{id} has no POST: a note is created on the collection only.
  const misplaced = await client.post('/notes/1', { json: { text: 'again' } });
  assert.equal(misplaced.status, 405);
  assert.equal((await client.post('/notes', { json: { text: '' } })).status, 422);
  assert.deepEqual((await client.get('/notes')).json, [{ id: 1, text: 'hi' }]);
}

describe('the README quickstart', () => {
  test('the README code block is examples/quickstart/app.ts, byte for byte', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Quickstart'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    assert.equal(block, readFileSync(join(ROOT, QUICKSTART), 'utf8'));
  });

  test('works as written on the SQLite default (TestClient)', async () => {
    await exercise(await quickstart(`sqlite:${join(dir, 'client.db')}`, 'sqlite'));
  });

  test('works as written on PostgreSQL (TestClient)', async (t) => {
    const url = await requireService(t, 'postgres');
    if (url === undefined) return;
    const pool = new PostgresPool({ url, max: 1 });
    await pool.open();
    await pool.query('DROP TABLE IF EXISTS notes');
    await pool.close();
    await exercise(await quickstart(url, 'postgresql'));
  });

  test('under peregrine serve --workers 2 every worker answers alike, and a restart keeps the note', async () => {
    const env = { DATABASE_URL: `sqlite:${join(dir, 'served.db')}` };
    const args = [QUICKSTART, '--workers', '2', '--access-log'];
    let server = await startServe(args, { env });
    try {
      await server.waitForReady(2);
      const created = await requestJSON(server.port, 'POST', '/notes', { text: 'hi' });
      assert.equal(created.status, 201, created.body);
      const from = server.logs.length;
      // Each request on its own connection: the master hands them to the workers in turn.
      for (let i = 0; i < 4; i++) {
        const one = await requestJSON(server.port, 'GET', '/notes/1');
        assert.equal(one.status, 200, `GET /notes/1 #${i}: ${one.status} ${one.body}`);
        assert.deepEqual(JSON.parse(one.body), { id: 1, text: 'hi' });
      }
      for (let i = 0; i < 4; i++) {
        const all = await requestJSON(server.port, 'GET', '/notes');
        assert.deepEqual(JSON.parse(all.body), [{ id: 1, text: 'hi' }], `GET /notes #${i}`);
      }
      const gets = () =>
        server.logs.slice(from).filter((l) => l.type === 'access' && l.method === 'GET');
      await server.waitForLog(() => gets().length >= 8, 5000, from);
      for (const path of ['/notes/1', '/notes']) {
        const answered = new Set(
          gets()
            .filter((l: LogLine) => l.path === path)
            .map((l) => l.worker),
        );
        assert.equal(answered.size, 2, `both workers answered GET ${path}\n${tail(server.logs)}`);
      }
      await server.stop();
      server = await startServe(args, { env });
      await server.waitForReady(2);
      for (let i = 0; i < 2; i++) {
        const after = await requestJSON(server.port, 'GET', '/notes/1');
        assert.equal(after.status, 200, `after the restart: ${after.status} ${after.body}`);
        assert.deepEqual(JSON.parse(after.body), { id: 1, text: 'hi' });
      }
    } finally {
      await server.stop();
    }
  });
});
