import assert from 'node:assert/strict';
import { test } from 'node:test';
import app from '../examples/hello/app.ts';
import { simulate } from '../src/testing/index.ts';

test('examples/hello serves /json and /plaintext', async () => {
  const json = await simulate(app, { path: '/json' });
  assert.equal(json.status, 200);
  assert.equal(json.header('content-type'), 'application/json');
  assert.deepEqual(json.json, { message: 'Hello, World!' });
  const text = await simulate(app, { path: '/plaintext' });
  assert.equal(text.status, 200);
  assert.equal(text.header('content-type'), 'text/plain; charset=utf-8');
  assert.equal(text.text, 'Hello, World!');
});
