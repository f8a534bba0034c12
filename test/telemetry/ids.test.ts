import assert from 'node:assert/strict';
import { test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { SpanOnlyContext } from '../../src/telemetry/tracing/context.ts';
import { isValidSpanId, isValidTraceId, LazySpanContext } from '../../src/telemetry/tracing/ids.ts';
import { startSpan } from '../../src/telemetry/tracing/tracer.ts';
import type { WireAttributeValue } from '../../src/telemetry/wire.ts';

test('lazy span contexts format valid, distinct ids on demand', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const ctx = new LazySpanContext(undefined, 0);
    assert.ok(isValidTraceId(ctx.traceId), ctx.traceId);
    assert.ok(isValidSpanId(ctx.spanId), ctx.spanId);
    assert.equal(ctx.traceId, ctx.traceId, 'stable once formatted');
    seen.add(ctx.traceId);
    assert.equal(
      ctx.low56,
      Number.parseInt(ctx.traceId.slice(18), 16),
      "low56 is the id's low 56 bits",
    );
  }
  assert.equal(seen.size, 2000);
  const child = new LazySpanContext('4bf92f3577b34da6a3ce929d0e0e4736', 1);
  assert.equal(child.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
  assert.ok(isValidSpanId(child.spanId));
});

test("a child context shares its parent's trace id, formatted before or after the child exists", () => {
  for (const formatFirst of [false, true]) {
    const parent = new LazySpanContext(undefined, 1);
    const early = formatFirst ? parent.traceId : undefined;
    const child = LazySpanContext.childOf(parent);
    const grandchild = LazySpanContext.childOf(child);
    assert.equal(child.traceId, parent.traceId);
    assert.equal(grandchild.traceId, parent.traceId);
    if (early !== undefined) assert.equal(parent.traceId, early);
    assert.ok(isValidTraceId(child.traceId));
    assert.notEqual(child.spanId, parent.spanId, 'a span id of its own');
    assert.notEqual(grandchild.spanId, child.spanId);
    assert.equal(child.traceFlags, 1, "the parent's flags");
  }
  const remote = new LazySpanContext('4bf92f3577b34da6a3ce929d0e0e4736', 0);
  assert.equal(LazySpanContext.childOf(remote).traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
});

test('a span-only context is what the OpenTelemetry API expects', () => {
  const span = trace.wrapSpanContext({
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: 1,
  });
  const ctx = new SpanOnlyContext(span);
  assert.equal(trace.getSpan(ctx), span);
  const key = Symbol('other');
  const extended = ctx.setValue(key, 42);
  assert.equal(extended.getValue(key), 42);
  assert.equal(trace.getSpan(extended), span);
  assert.equal(
    trace.getSpan(ctx.deleteValue(Symbol.for('OpenTelemetry Context Key SPAN'))),
    undefined,
  );
  assert.equal(context.active().getValue(key), undefined);
});

test('attributes described later are written on first read, before or after the end', () => {
  const setup = {
    sampler: { ratio: 1, parentBased: true },
    policy: { keepErrors: true, slowMs: Number.POSITIVE_INFINITY },
    sink: { keep() {} },
  };
  const subject = { rows: 0 };
  const describe = (s: { rows: number }, a: Record<string, WireAttributeValue>) => {
    a.rows = s.rows;
  };
  const late = startSpan(setup, 'late', 0, undefined, undefined, 't', Date.now());
  late.describeLater(describe, subject);
  assert.equal(late.describedLater, true);
  subject.rows = 3;
  late.end();
  assert.deepEqual(late.attributes, { rows: 3 }, 'read after the end: the values then');
  assert.equal(late.describedLater, false);
  const early = startSpan(setup, 'early', 0, undefined, undefined, 't', Date.now());
  early.describeLater(describe, { rows: 1 });
  early.setAttribute('extra', true);
  assert.deepEqual(early.attributes, { rows: 1, extra: true }, 'setAttribute reads them first');
  assert.equal(early.toWire('sampled').attributes.rows, 1);
});
