import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LocalStore } from '../../src/cache/local-store.ts';

describe('LocalStore (the local tier)', () => {
  test('fresh values only; a stale or expired slot is still found with its times', () => {
    const s = new LocalStore<string, string>(10);
    s.set('a', 'A', 100, 200);
    assert.equal(s.freshValue('a', 99), 'A');
    assert.equal(s.freshValue('a', 100), undefined);
    assert.equal(s.freshValue('missing', 0), undefined);
    const slot = s.find('a');
    assert.notEqual(slot, -1);
    assert.equal(s.freshUntil(slot), 100);
    assert.equal(s.staleUntil(slot), 200);
    assert.equal(s.use(slot), 'A');
    assert.equal(s.find('missing'), -1);
  });

  test('a cached absence is an undefined value', () => {
    const s = new LocalStore<number, string>(10);
    s.set(1, undefined, 100, 100);
    assert.notEqual(s.find(1), -1);
    assert.equal(s.freshValue(1, 0), undefined);
    assert.equal(s.size, 1);
  });

  test('least recently used goes first; reads and writes count as use', () => {
    const s = new LocalStore<number, number>(3);
    s.set(1, 1, 10, 10);
    s.set(2, 2, 10, 10);
    s.set(3, 3, 10, 10);
    assert.deepEqual([...s.keys()], [1, 2, 3]);
    assert.equal(s.freshValue(1, 0), 1); // 1 used: 2 is now the oldest
    s.set(4, 4, 10, 10);
    assert.deepEqual([...s.keys()], [3, 1, 4]);
    assert.equal(s.find(2), -1);
    s.use(s.find(3));
    s.set(1, 11, 10, 10); // an update counts as use
    s.set(5, 5, 10, 10);
    assert.deepEqual([...s.keys()], [3, 1, 5]);
    assert.equal(s.freshValue(1, 0), 11);
    assert.equal(s.size, 3);
  });

  test('delete frees a slot for the next key; clear empties', () => {
    const s = new LocalStore<string, number>(2);
    s.set('a', 1, 10, 10);
    s.set('b', 2, 10, 10);
    assert.equal(s.delete('a'), true);
    assert.equal(s.delete('a'), false);
    s.set('c', 3, 10, 10);
    assert.deepEqual([...s.keys()], ['b', 'c']);
    assert.equal(s.size, 2);
    s.clear();
    assert.equal(s.size, 0);
    assert.deepEqual([...s.keys()], []);
    s.set('d', 4, 10, 10);
    assert.equal(s.freshValue('d', 0), 4);
  });

  test('grows past its first allocation and keeps order and times', () => {
    const s = new LocalStore<number, number>(1000);
    for (let i = 0; i < 1500; i++) s.set(i, i * 2, i + 1, i + 2);
    assert.equal(s.size, 1000);
    assert.equal(s.find(499), -1);
    assert.equal(s.freshValue(500, 0), 1000);
    assert.equal(s.freshUntil(s.find(1499)), 1500);
    assert.equal(s.staleUntil(s.find(1499)), 1501);
    const keys = [...s.keys()];
    assert.equal(keys.length, 1000);
    assert.equal(keys[0], 501);
    assert.equal(keys.at(-1), 500);
  });

  test('small integer keys (own index) and other keys (Map) side by side, evicted alike', () => {
    const s = new LocalStore<number | string, string>(4); // integer index up to 32 keys
    const keys: Array<number | string> = [3, 31, 32, -1, 2.5, 2 ** 40, '3', 0];
    for (const k of keys) s.set(k, `v${String(k)}`, 10, 10);
    // Four entries kept: the four most recent.
    assert.deepEqual([...s.keys()], [2.5, 2 ** 40, '3', 0]);
    assert.equal(s.size, 4);
    for (const k of [3, 31, 32, -1]) assert.equal(s.find(k), -1, `key ${k} evicted`);
    assert.equal(s.freshValue(0, 0), 'v0');
    assert.equal(s.freshValue('3', 0), 'v3');
    assert.equal(s.freshValue(3, 0), undefined, '3 and "3" are different keys here');
    assert.equal(s.freshValue(2 ** 40, 0), `v${2 ** 40}`);
    assert.equal(s.delete(0), true);
    assert.equal(s.delete(2.5), true);
    assert.equal(s.size, 2);
    s.set(-0, 'zero', 10, 10);
    assert.equal(s.freshValue(0, 0), 'zero', '-0 and 0 are one key, as in a Map');
    s.set(31, 'a', 10, 10);
    s.set(1_000_000, 'b', 10, 10); // beyond the integer index: the Map
    assert.deepEqual([...s.keys()], [2 ** 40, -0, 31, 1_000_000]); // '3' was the least recently used
    s.clear();
    assert.equal(s.size, 0);
    assert.equal(s.find(31), -1);
    assert.equal(s.find(1_000_000), -1);
  });

  test('max must be a positive integer', () => {
    assert.throws(() => new LocalStore(0), RangeError);
    assert.throws(() => new LocalStore(1.5), RangeError);
  });
});
