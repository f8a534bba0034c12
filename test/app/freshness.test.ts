import assert from 'node:assert/strict';
import { test } from 'node:test';
import { App } from '../../src/app/app.ts';
import { contentETag, notModified, versionETag } from '../../src/app/freshness.ts';
import { simulate } from '../../src/testing/index.ts';

test('ETags from content and from versions', () => {
  assert.equal(contentETag({ a: 1 }), contentETag('{"a":1}'));
  assert.notEqual(contentETag({ a: 1 }), contentETag({ a: 2 }));
  assert.match(contentETag(Buffer.from('x')), /^"[A-Za-z0-9_-]+"$/);
  assert.equal(versionETag(7), 'W/"7"');
  assert.equal(versionETag('a b', false), '"a_b"');
  assert.equal(versionETag(new Date(36_000)), 'W/"rs0"');
});

test('notModified: 304 with no body and no work; Cache-Control and validators set', async () => {
  let built = 0;
  const app = new App({ logger: false });
  app.addRoute('/items/{id}', {
    onGet(req, resp) {
      const version = 3;
      if (
        notModified(req, resp, {
          etag: versionETag(version),
          cacheControl: { maxAge: 60, public: true },
        })
      ) {
        return;
      }
      built++;
      resp.media = { id: req.params.id, version };
    },
  });
  const first = await simulate(app, { path: '/items/1' });
  assert.equal(first.status, 200);
  assert.equal(first.header('etag'), 'W/"3"');
  assert.equal(first.header('cache-control'), 'public, max-age=60');
  const again = await simulate(app, { path: '/items/1', headers: { 'if-none-match': 'W/"3"' } });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.equal(again.header('etag'), 'W/"3"');
  assert.equal(built, 1);
  const changed = await simulate(app, { path: '/items/1', headers: { 'if-none-match': 'W/"2"' } });
  assert.equal(changed.status, 200);
  assert.equal(built, 2);
});
