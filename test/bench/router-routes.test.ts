import assert from 'node:assert/strict';
import { test } from 'node:test';
import FindMyWay from 'find-my-way';
import { benchLookups, benchRoutes, prng } from '../../bench/lib/router-routes.ts';
import { Router } from '../../src/app/routing/router.ts';

test('the router benchmark has 1,000 distinct routes, 30% static, valid in both routers', () => {
  const routes = benchRoutes();
  assert.equal(routes.length, 1000);
  assert.equal(new Set(routes.map((r) => r.template)).size, 1000);
  assert.equal(routes.filter((r) => !r.dynamic).length, 300);
  const peregrine = new Router<number>();
  const fmw = FindMyWay();
  routes.forEach((r, i) => {
    peregrine.add(r.template, i);
    fmw.on('GET', r.pattern, () => i);
  });
  assert.equal(routes[3]!.pattern, '/api/v1/users/:id');
  assert.equal(routes[3]!.template, '/api/v1/users/{id}');
});

test('lookups are deterministic and say what they must match', () => {
  const routes = benchRoutes();
  const a = benchLookups(routes, 500, 9, 0.2);
  assert.deepEqual(a, benchLookups(routes, 500, 9, 0.2));
  assert.notDeepEqual(a, benchLookups(routes, 500, 10, 0.2));
  const peregrine = new Router<number>();
  for (const [i, r] of routes.entries()) peregrine.add(r.template, i);
  const kinds = new Set(a.map((l) => l.kind));
  assert.deepEqual([...kinds].sort(), ['dynamic', 'miss', 'static']);
  for (const l of a) {
    const m = peregrine.find(l.path);
    if (l.route === -1) assert.equal(m, null, l.path);
    else {
      assert.equal(m?.value, l.route, l.path);
      assert.deepEqual({ ...m.params }, l.params, l.path);
    }
  }
  const r = prng(1);
  const values = Array.from({ length: 1000 }, r);
  assert.ok(values.every((v) => v >= 0 && v < 1));
});
