import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TestClient } from 'peregrine/testing';
import { createApp } from './app.ts';

// A fresh in-memory database per run: the tests never touch ./data. Like a server, the client
// runs the App's startup hooks (open the database, migrate) before its first request.
const client = new TestClient(createApp({ database: ':memory:' }));
after(() => client.close()); // the shutdown hooks: the database closes

test('a note is created, listed, read and deleted', async () => {
  const created = await client.post('/notes', { json: { text: 'hello' } });
  assert.equal(created.status, 201);
  const note = created.json as { id: number; text: string };
  assert.equal(note.text, 'hello');
  assert.equal(created.header('location'), `/notes/${note.id}`);

  const list = await client.get('/notes');
  assert.deepEqual(
    (list.json as { notes: Array<{ id: number }> }).notes.map((n) => n.id),
    [note.id],
  );

  const read = await client.get(`/notes/${note.id}`);
  assert.equal(read.status, 200);
  assert.equal((read.json as { text: string }).text, 'hello');

  assert.equal((await client.delete(`/notes/${note.id}`)).status, 204);
  assert.equal((await client.get(`/notes/${note.id}`)).status, 404);
});

test('an empty note is refused with a problem+json 422 naming the field', async () => {
  const r = await client.post('/notes', { json: { text: '' } });
  assert.equal(r.status, 422);
  assert.match(r.header('content-type') ?? '', /^application\/problem\+json/);
  assert.match(r.text, /\/text/);
});

test('a note that does not exist is a 404', async () => {
  const r = await client.get('/notes/999999');
  assert.equal(r.status, 404);
  assert.match(r.header('content-type') ?? '', /^application\/problem\+json/);
});
