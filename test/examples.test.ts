import assert from 'node:assert/strict';
import { test } from 'node:test';
import quickstart from '../examples/quickstart/app.ts';
import { TestClient } from '../src/testing/index.ts';

test('the README quickstart works as written', async () => {
  const client = new TestClient(quickstart);
  const hello = await client.get('/hello/ann?lang=fr');
  assert.deepEqual(hello.json, { hello: 'ann', lang: 'fr' });
  const created = await client.post('/notes', { json: { text: 'hi' } });
  assert.equal(created.status, 201);
  assert.equal(created.header('location'), '/notes/1');
  assert.deepEqual(created.json, { id: 1 });
  assert.deepEqual((await client.get('/notes/1')).json, { text: 'hi' });
  assert.equal((await client.get('/notes/2')).status, 404);
  assert.equal((await client.post('/notes', { json: { text: '' } })).status, 422);
});
