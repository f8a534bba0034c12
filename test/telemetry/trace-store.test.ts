import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TraceStore } from '../../src/telemetry/master/trace-store.ts';
import type { WireSpan } from '../../src/telemetry/wire.ts';

let seq = 0;
function root(duration: number, error = false, traceId = `t${++seq}`): WireSpan {
  const start = 1_000_000 + seq;
  return {
    traceId,
    spanId: `s${seq}`,
    parentSpanId: '',
    remoteParent: false,
    traceState: '',
    traceFlags: 1,
    name: 'GET /x',
    kind: 1,
    start,
    end: start + duration,
    attributes: {},
    statusCode: error ? 2 : 0,
    statusMessage: '',
    events: [],
    links: [],
    scope: 'peregrine',
    kept: 'sampled',
  };
}

/** A deterministic pseudo-random sequence (so a failure replays). */
function lcg(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

/**
 * The lists as the straightforward definition keeps them: on each root, errors newest first and
 * slowest by a full sort, both cut to `size`; an evicted trace leaves both.
 */
class ReferenceLists {
  slowest: Array<{ id: string; d: number }> = [];
  errors: string[] = [];
  readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  root(id: string, d: number, error: boolean): void {
    if (error) this.errors = [id, ...this.errors.filter((x) => x !== id)].slice(0, this.size);
    const slow = this.slowest.filter((x) => x.id !== id);
    slow.push({ id, d });
    slow.sort((a, b) => b.d - a.d);
    this.slowest = slow.slice(0, this.size);
  }
  evict(id: string): void {
    this.slowest = this.slowest.filter((x) => x.id !== id);
    this.errors = this.errors.filter((x) => x !== id);
  }
}

test('slowest and errors match the full-sort definition, through evictions and ties', () => {
  const store = new TraceStore({ maxTraces: 200, listSize: 10, maxNewPerSecond: Infinity });
  const ref = new ReferenceLists(10);
  const rand = lcg(7);
  const order: string[] = [];
  for (let i = 0; i < 5000; i++) {
    // Repeated durations on purpose: ties must not duplicate or lose a trace.
    const span = root(Math.floor(rand() * 300), rand() < 0.05);
    store.add([span]);
    // The store files a new trace, evicting the oldest beyond its bound, then ranks the root.
    order.push(span.traceId);
    if (order.length > 200) ref.evict(order.shift()!);
    ref.root(span.traceId, span.end - span.start, span.statusCode === 2);
    assert.deepEqual(
      store.slowest().map((t) => t.duration),
      ref.slowest.map((x) => x.d),
      `slowest after ${i + 1} traces`,
    );
    assert.deepEqual(
      store.errors().map((t) => t.traceId),
      ref.errors,
      `errors after ${i + 1} traces`,
    );
    assert.equal(new Set(store.slowest()).size, store.slowest().length, 'no duplicates');
  }
  assert.equal(store.get(order[0]!)?.traceId, order[0]);
  const latest = Math.max(...order.map((id) => store.get(id)!.time));
  assert.equal(store.recent(1)[0]?.time, latest);
});

test('a trace whose root arrives after a child is ranked once, by its root', () => {
  const store = new TraceStore({ listSize: 3 });
  const r = root(50, false, 'late-root');
  const child: WireSpan = { ...r, spanId: 'child', parentSpanId: r.spanId, kind: 3 };
  child.start = r.start + 10;
  child.end = r.start + 20;
  store.add([child]);
  assert.equal(store.slowest().length, 0, 'a child alone names no trace');
  store.add([r]);
  assert.deepEqual(
    store.slowest().map((t) => [t.traceId, t.duration, t.spans.length]),
    [['late-root', 50, 2]],
  );
  // A second local root that started earlier replaces the first as the trace's root.
  const earlier = { ...root(80, true, 'late-root'), spanId: 'earlier' };
  earlier.start = r.start - 5;
  earlier.end = earlier.start + 80;
  store.add([earlier]);
  assert.deepEqual(
    store.slowest().map((t) => [t.traceId, t.duration]),
    [['late-root', 80]],
  );
  assert.deepEqual(
    store.errors().map((t) => t.traceId),
    ['late-root'],
  );
});

test('past the per-second budget only traces that can enter a list are stored; the lists are unchanged', () => {
  const budgeted = new TraceStore({ listSize: 10, maxNewPerSecond: 20, maxTraces: 100_000 });
  const unbounded = new TraceStore({ listSize: 10, maxNewPerSecond: Infinity, maxTraces: 100_000 });
  const rand = lcg(3);
  for (let i = 0; i < 3000; i++) {
    const span = root(Math.floor(rand() * 1000), rand() < 0.02);
    // All in a few seconds of end time: the budget binds.
    const duration = span.end - span.start;
    span.start = 5_000_000 + i;
    span.end = span.start + duration;
    budgeted.add([span]);
    unbounded.add([span]);
  }
  assert.deepEqual(
    budgeted.slowest().map((t) => t.traceId),
    unbounded.slowest().map((t) => t.traceId),
  );
  assert.deepEqual(
    budgeted.errors().map((t) => t.traceId),
    unbounded.errors().map((t) => t.traceId),
  );
  assert.ok(budgeted.skipped > 2000, `skipped ${budgeted.skipped}`);
  assert.equal(unbounded.skipped, 0);
  // A child of a stored trace is always added; a new trace's child past the budget is not.
  const stored = budgeted.slowest()[0]!;
  const child: WireSpan = {
    ...stored.root!,
    spanId: 'c1',
    parentSpanId: stored.root!.spanId,
    kind: 0,
  };
  budgeted.add([child]);
  assert.equal(budgeted.get(stored.traceId)!.spans.length, 2);
  const orphan: WireSpan = { ...child, traceId: 'never-stored', statusCode: 0 };
  budgeted.add([orphan]);
  assert.equal(budgeted.get('never-stored'), undefined);
});
