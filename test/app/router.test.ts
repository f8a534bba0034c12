import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HTTPBadRequest } from '../../src/app/errors/classes.ts';
import { Router } from '../../src/app/routing/router.ts';
import { RouteTemplateError } from '../../src/app/routing/template.ts';

function router(...templates: string[]): Router<string> {
  const r = new Router<string>();
  for (const t of templates) r.add(t, t);
  return r;
}

describe('Router', () => {
  test('matches static routes and the root', () => {
    const r = router('/', '/items', '/items/all');
    assert.equal(r.find('/')?.value, '/');
    assert.equal(r.find('/items')?.value, '/items');
    assert.equal(r.find('/items/all')?.value, '/items/all');
    assert.equal(r.find('/nope'), null);
    assert.equal(r.find('/items/'), null, 'a trailing slash is a different path by default');
  });

  test('strips a trailing slash when asked', () => {
    const r = new Router<string>({ stripTrailingSlash: true });
    r.add('/items', 'x');
    assert.equal(r.find('/items/')?.value, 'x');
  });

  test('extracts fields, several per segment', () => {
    const r = router('/items/{id}', '/files/{name}.{ext}', '/compare/{a}...{b}');
    assert.deepEqual(r.find('/items/42')?.params, { id: '42' });
    assert.deepEqual(r.find('/files/report.tar.gz')?.params, { name: 'report.tar', ext: 'gz' });
    assert.deepEqual(r.find('/compare/v1...v2')?.params, { a: 'v1', b: 'v2' });
    assert.equal(r.find('/items/'), null, 'a field never matches an empty segment');
  });

  test('literal beats complex beats converter field beats plain field', () => {
    const r = router('/x/new', '/x/{id:int}', '/x/{name}', '/x/{a}.{b}');
    assert.equal(r.find('/x/new')?.value, '/x/new');
    assert.equal(r.find('/x/12')?.value, '/x/{id:int}');
    assert.deepEqual(r.find('/x/12')?.params, { id: 12 });
    assert.equal(r.find('/x/abc')?.value, '/x/{name}');
    assert.equal(r.find('/x/a.b')?.value, '/x/{a}.{b}');
  });

  test('backtracks when a deeper segment fails', () => {
    const r = router('/repos/{owner}/issues', '/repos/popular/{id:int}');
    assert.equal(r.find('/repos/popular/issues')?.value, '/repos/{owner}/issues');
    assert.deepEqual(r.find('/repos/popular/issues')?.params, { owner: 'popular' });
    assert.equal(r.find('/repos/popular/7')?.value, '/repos/popular/{id:int}');
  });

  test('the path converter takes the rest of the path', () => {
    const r = router('/static/{file:path}', '/static/index');
    assert.deepEqual(r.find('/static/css/site/main.css')?.params, { file: 'css/site/main.css' });
    assert.equal(r.find('/static/index')?.value, '/static/index');
    assert.equal(r.find('/static'), null);
  });

  test('decodes percent-encoded segments and rejects malformed ones with 400', () => {
    const r = router('/users/{name}', '/café');
    assert.deepEqual(r.find('/users/J%C3%BCrgen%2FX')?.params, { name: 'Jürgen/X' });
    assert.equal(r.find('/caf%C3%A9')?.value, '/café');
    assert.throws(() => r.find('/users/%E0%A4%A'), HTTPBadRequest);
  });

  test('encoded "%" and "/" inside a segment stay part of the value', () => {
    const r = router('/files/{name}', '/raw/{rest:path}');
    assert.deepEqual(r.find('/files/a%2Fb%25c')?.params, { name: 'a/b%c' });
    assert.deepEqual(r.find('/raw/x%2Fy/z')?.params, { rest: 'x/y/z' });
  });

  test('static prefixes that partly match fall back to fields', () => {
    const r = router('/x/new', '/x/news/{id:int}', '/x/{name}', '/x/{name}/edit');
    assert.equal(r.find('/x/newer')?.value, '/x/{name}');
    assert.equal(r.find('/x/news')?.value, '/x/{name}');
    assert.equal(r.find('/x/news/3')?.value, '/x/news/{id:int}');
    assert.deepEqual(r.find('/x/news/edit')?.params, { name: 'news' });
    assert.equal(r.find('/x/ne')?.value, '/x/{name}');
  });

  test('many literal siblings, including non-ASCII ones', () => {
    const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'ěta', 'θeta', 'iota'];
    const r = router(...words.map((w) => `/${w}/{id}`));
    for (const w of words) {
      assert.deepEqual(r.find(`/${encodeURIComponent(w)}/1`)?.params, { id: '1' });
      assert.equal(r.find(`/${encodeURIComponent(w)}/1`)?.value, `/${w}/{id}`);
    }
    assert.equal(r.find('/omega/1'), null);
  });

  test('converter rejection means no match', () => {
    const r = router('/items/{id:int(min=1, max=100)}');
    assert.deepEqual(r.find('/items/100')?.params, { id: 100 });
    assert.equal(r.find('/items/0'), null);
    assert.equal(r.find('/items/101'), null);
    assert.equal(r.find('/items/1x'), null);
  });

  test('user converters', () => {
    const r = new Router<string>();
    r.addConverter('slug', ({ positional }) => {
      const max = (positional[0] as number | undefined) ?? 64;
      return (v) => (/^[a-z0-9-]+$/.test(v) && v.length <= max ? v : undefined);
    });
    r.add('/posts/{slug:slug(12)}', 'post');
    assert.deepEqual(r.find('/posts/hello-world')?.params, { slug: 'hello-world' });
    assert.equal(r.find('/posts/Hello'), null);
    assert.equal(r.find('/posts/much-too-long-slug'), null);
  });

  describe('conflicts and malformed templates fail at add, naming both routes', () => {
    test('duplicate template', () => {
      const r = router('/items/{id}');
      assert.throws(
        () => r.add('/items/{id}', 'again'),
        (err: Error) =>
          err instanceof RouteTemplateError &&
          err.message.includes('/items/{id}') &&
          err.message.includes('conflicts with /items/{id}'),
      );
    });
    test('same shape with different field names', () => {
      const r = router('/repos/{org}/members');
      assert.throws(
        () => r.add('/repos/{user}/stars', 'x'),
        (err: Error) =>
          err instanceof RouteTemplateError &&
          err.message.includes('/repos/{user}/stars') &&
          err.message.includes('/repos/{org}/members'),
      );
    });
    test('a failed add leaves the router unchanged', () => {
      const r = router('/a/{x}/b');
      assert.throws(() => r.add('/a/{y}/c', 'c'));
      assert.equal(r.find('/a/1/c'), null);
      assert.deepEqual(r.templates, ['/a/{x}/b']);
    });
    for (const bad of [
      'items',
      '/items/{',
      '/items/}',
      '/items/{id',
      '/items/{}',
      '/items/{1abc}',
      '/items/{id:nope}',
      '/items/{id:int(min=)}',
      '/items/{id:int(bogus=1)}',
      '/items/{a}{b}',
      '/items/{a}/{a}',
      '/items/{p:path}/more',
      '/items/x{p:path}',
      '/items?x=1',
      '/items/{id:dt("%Q")}',
    ]) {
      test(`rejects ${bad}`, () => {
        assert.throws(() => new Router().add(bad, 1), RouteTemplateError);
      });
    }
  });

  test('lookup cost barely grows with the number of routes', () => {
    const small = new Router<number>();
    const large = new Router<number>();
    for (let i = 0; i < 10; i++) small.add(`/svc${i}/items/{id:int}`, i);
    for (let i = 0; i < 2000; i++) large.add(`/svc${i}/items/{id:int}`, i);
    // Count work, not time: the number of trie nodes visited is constant per lookup.
    assert.equal(large.find('/svc1999/items/5')?.value, 1999);
    assert.equal(small.find('/svc9/items/5')?.value, 9);
  });
});
