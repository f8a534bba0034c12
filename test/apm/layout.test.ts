/**
 * The map's layout (src/apm/ui/layout.ts, pure): layers by call depth, leaves right of their
 * callers, cycles cut, no two nodes on one spot, the same picture for the same map.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layout, NODE_HEIGHT, NODE_WIDTH } from '../../src/apm/ui/layout.ts';

const svc = (id: string) => ({ id, kind: 'service' });
const db = (id: string) => ({ id, kind: 'database' });
const e = (source: string, target: string) => ({ source, target });

test('layers left to right by call depth; a database right of its deepest caller', () => {
  const map = {
    nodes: [svc('gateway'), svc('catalog'), svc('pricing'), svc('inventory'), db('sqlite/c.db')],
    edges: [
      e('gateway', 'catalog'),
      e('gateway', 'inventory'),
      e('catalog', 'pricing'),
      e('catalog', 'sqlite/c.db'),
      e('gateway', 'sqlite/c.db'),
    ],
  };
  const l = layout(map);
  const layer = (id: string) => l.nodes.get(id)!.layer;
  assert.equal(layer('gateway'), 0);
  assert.equal(layer('catalog'), 1);
  assert.equal(layer('inventory'), 1);
  assert.equal(layer('pricing'), 2);
  assert.equal(layer('sqlite/c.db'), 2);
  // Columns left to right, nodes apart, everything inside the picture.
  const boxes = [...l.nodes.values()];
  for (const a of boxes) {
    assert.ok(a.x >= 0 && a.y >= 0 && a.x + NODE_WIDTH <= l.width && a.y + NODE_HEIGHT <= l.height);
    for (const b of boxes) {
      if (a === b) continue;
      const apart =
        a.x + a.width <= b.x ||
        b.x + b.width <= a.x ||
        a.y + a.height <= b.y ||
        b.y + b.height <= a.y;
      assert.ok(apart, `${a.id} and ${b.id} overlap`);
    }
  }
  assert.ok(l.nodes.get('gateway')!.x < l.nodes.get('catalog')!.x);
  assert.deepEqual(layout(map), l, 'deterministic');
});

test('a cycle is cut, a lone node sits in the first column, 15 nodes stay readable', () => {
  const cyc = layout({
    nodes: [svc('a'), svc('b'), svc('c'), svc('alone')],
    edges: [e('a', 'b'), e('b', 'c'), e('c', 'a')],
  });
  assert.deepEqual(
    ['a', 'b', 'c', 'alone'].map((id) => cyc.nodes.get(id)!.layer),
    [0, 1, 2, 0],
  );
  // A fan-out of 14 callees: one column of 14 under each other, none overlapping.
  const many = layout({
    nodes: [svc('root'), ...Array.from({ length: 14 }, (_, i) => svc(`s${i}`))],
    edges: Array.from({ length: 14 }, (_, i) => e('root', `s${i}`)),
  });
  const ys = Array.from({ length: 14 }, (_, i) => many.nodes.get(`s${i}`)!.y).sort((x, y) => x - y);
  for (let i = 1; i < ys.length; i++) assert.ok(ys[i]! - ys[i - 1]! >= NODE_HEIGHT);
  const root = many.nodes.get('root')!;
  assert.ok(Math.abs(root.y + NODE_HEIGHT / 2 - many.height / 2) < 1, 'the caller centred');
});
