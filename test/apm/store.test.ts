/**
 * The store's per-service page from its aggregates (src/apm/store.ts): operations bounded per
 * service, per-minute points, a leaf's page, nothing for an unknown node.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EdgeCall, NodeCall } from '../../src/apm/graph.ts';
import { ApmStore, MAX_OPERATIONS, OTHER_OPERATION } from '../../src/apm/store.ts';

const NOW = Date.UTC(2026, 11, 5, 12, 0, 30);
const us = (ms: number) => ms * 1000;

function store() {
  return new ApmStore({ path: ':memory:', retentionMs: 86_400_000, retentionBytes: 1 << 30 });
}

test('operations: at most MAX_OPERATIONS names per service, the rest counted together', () => {
  const s = store();
  const nodes: NodeCall[] = Array.from({ length: MAX_OPERATIONS + 20 }, (_, i) => ({
    service: 'ids-in-names',
    operation: `GET /users/${i}`,
    startUs: us(NOW - 1000),
    durationUs: 2000,
    failed: i % 2 === 0,
  }));
  s.write([], [], [], nodes);
  const d = s.service('ids-in-names', 600_000, NOW)!;
  assert.equal(d.totals.calls, MAX_OPERATIONS + 20);
  assert.equal(d.operations.length, 100, 'the page lists the busiest 100');
  const other = d.operations.find((o) => o.operation === OTHER_OPERATION)!;
  assert.equal(other.calls, 20, 'the names past the bound, together');
  const rows = s.db.prepare('SELECT count(*) FROM op_minutes').pluck().get() as number;
  assert.equal(rows, MAX_OPERATIONS + 1);
  s.close();
});

test('points per minute: rates over the minute (the current one over its seconds so far), gaps without calls', () => {
  const s = store();
  const call = (msAgo: number, failed = false): NodeCall => ({
    service: 'svc',
    operation: 'GET /x',
    startUs: us(NOW - msAgo),
    durationUs: 10_000,
    failed,
  });
  // 60 calls two minutes ago (1/s), 15 in the current minute (30 s old: 0.5/s), 3 of them failed.
  s.write(
    [],
    [],
    [],
    [
      ...Array.from({ length: 60 }, () => call(120_000)),
      ...Array.from({ length: 15 }, (_, i) => call(10_000, i < 3)),
    ],
  );
  const d = s.service('svc', 300_000, NOW)!;
  const p = d.points;
  assert.equal(p.stepMs, 60_000);
  assert.equal(p.callsPerSecond.length, 6);
  assert.deepEqual(p.callsPerSecond, [0, 0, 0, 1, 0, 0.5]);
  assert.deepEqual(p.errorRate, [null, null, null, 0, null, 0.2]);
  assert.equal(p.p95Ms[4], null, 'no latency in a minute without calls');
  assert.ok(p.p95Ms[3]! > 7.5 && p.p95Ms[3]! <= 10);
  assert.equal(d.totals.calls, 75);
  assert.equal(d.totals.errors, 3);
  assert.equal(d.totals.health, 'warning');
  assert.equal(s.service('nobody', 300_000, NOW), undefined);
  s.close();
});

test("a leaf's page: the calls into it, its callers", () => {
  const s = store();
  const edges: EdgeCall[] = Array.from({ length: 4 }, (_, i) => ({
    source: 'catalog',
    target: 'sqlite/catalog.db',
    targetKind: 'database',
    startUs: us(NOW - 5000),
    durationUs: 300,
    failed: i === 0,
  }));
  s.write([], [], edges, []);
  const d = s.service('sqlite/catalog.db', 600_000, NOW)!;
  assert.equal(d.kind, 'database');
  assert.equal(d.lastSeenMs, null);
  assert.equal(d.totals.calls, 4);
  assert.equal(d.totals.errors, 1);
  assert.deepEqual(
    d.callers.map((e) => `${e.source}:${e.calls}:${e.kind}`),
    ['catalog:4:service'],
  );
  assert.deepEqual(d.operations, []);
  s.close();
});
