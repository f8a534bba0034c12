import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Query } from '../../src/app/query.ts';

// Pieces a query string is made of: names, values, separators, empty pairs, and the encodings that
// send a string to URLSearchParams (`+`, `%20`, a malformed `%zz`, UTF-8 `%C3%A9`).
const PIECES = [
  'a',
  'b',
  'ab',
  'x1',
  '=',
  '=',
  '&',
  '&',
  '&&',
  '1',
  '20',
  '',
  '+',
  '%20',
  '%zz',
  '%C3%A9',
];
const NAMES = ['a', 'b', 'ab', 'x1', '', 'a b', 'é', 'zz', '1', '=a'];

function randomQuery(random: () => number, plainOnly: boolean): string {
  const pieces = plainOnly ? PIECES.filter((p) => !p.includes('%') && !p.includes('+')) : PIECES;
  let s = '';
  const n = Math.floor(random() * 12);
  for (let i = 0; i < n; i++) s += pieces[Math.floor(random() * pieces.length)];
  return s;
}

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('query lookups answer exactly what URLSearchParams answers, plain or encoded', () => {
  const random = mulberry32(20261129);
  for (let i = 0; i < 4000; i++) {
    const source = randomQuery(random, i % 2 === 0);
    const expected = new URLSearchParams(source);
    for (const name of NAMES) {
      // A fresh Query per name: the first lookup decides the plain path.
      const q = new Query(source);
      assert.equal(q.get(name), expected.get(name) ?? undefined, `get(${name}) of "${source}"`);
      assert.deepEqual(q.getAll(name), expected.getAll(name), `getAll(${name}) of "${source}"`);
      assert.equal(q.has(name), expected.has(name), `has(${name}) of "${source}"`);
    }
  }
});

test('plain query strings: typed getters read the scanned values', () => {
  const q = new Query('queries=20&page=&flag&tags=a,b&tags=c');
  assert.equal(q.int('queries'), 20);
  assert.equal(q.get('page'), '');
  assert.equal(q.has('flag'), true);
  assert.equal(q.get('flag'), '');
  assert.deepEqual(q.list('tags'), ['a', 'b', 'c']);
  assert.equal(q.get('missing'), undefined);
  assert.throws(() => new Query('queries=2x').int('queries'), /must be an integer/);
});
