import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { type ExportLog, OtlpExporter } from '../../src/telemetry/master/otlp-exporter.ts';
import type { WireSpan } from '../../src/telemetry/wire.ts';

function span(i: number): WireSpan {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: (i + 1).toString(16).padStart(16, '0'),
    parentSpanId: '',
    remoteParent: false,
    traceState: '',
    traceFlags: 1,
    name: `span ${i}`,
    kind: 2,
    start: 1_764_000_000_000 + i,
    end: 1_764_000_000_001 + i,
    attributes: {},
    statusCode: 0,
    statusMessage: '',
    events: [],
    links: [],
    scope: 'peregrine',
    kept: 'sampled',
  };
}

test('failed OTLP exports are logged: the first at once, then at most once a minute with the count since', async () => {
  let answer = 503;
  const collector = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(answer, { 'content-type': 'text/plain' });
      res.end(answer === 200 ? '' : 'collector overloaded');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
  const lines: Array<{ level: string; fields: Record<string, unknown>; message: string }> = [];
  const log: ExportLog = {
    warn: (fields, message) => lines.push({ level: 'warn', fields: { ...fields }, message }),
    info: (fields, message) => lines.push({ level: 'info', fields: { ...fields }, message }),
  };
  let now = 1_000_000;
  const exporter = new OtlpExporter({
    url,
    resource: { 'service.name': 'svc' },
    interval: 3_600_000,
    log,
    now: () => now,
  });
  const exportOnce = async (spans: number) => {
    exporter.enqueue(Array.from({ length: spans }, (_, i) => span(i)));
    await exporter.flush();
  };
  try {
    await exportOnce(3);
    assert.equal(lines.length, 1, 'the first failure is logged at once');
    assert.equal(lines[0]!.level, 'warn');
    assert.match(lines[0]!.message, /^OTLP export to http:\/\/127\.0\.0\.1:\d+\/v1\/traces failed/);
    assert.match(lines[0]!.message, /the collector answered 503 \(collector overloaded\)/);
    assert.match(lines[0]!.message, /peregrine_trace_spans_total\{outcome="export_failed"\}/);
    assert.equal(lines[0]!.fields.droppedSpans, 3);
    // Failures within the minute are counted, not logged.
    for (let i = 0; i < 5; i++) {
      now += 10_000;
      await exportOnce(2);
    }
    assert.equal(lines.length, 1);
    now += 10_001; // a minute and a millisecond after the first line
    await exportOnce(4);
    assert.equal(lines.length, 2);
    assert.match(lines[1]!.message, /^OTLP export still failing: the collector answered 503/);
    assert.match(lines[1]!.message, /6 requests and 14 spans dropped since the last report/);
    assert.deepEqual([lines[1]!.fields.failedRequests, lines[1]!.fields.droppedSpans], [6, 14]);
    // The collector is back: one line says so.
    answer = 200;
    await exportOnce(1);
    await exportOnce(1);
    assert.equal(lines.length, 3);
    assert.deepEqual([lines[2]!.level, lines[2]!.message], ['info', 'OTLP export works again']);
    assert.equal(exporter.droppedFailed, 17);
    assert.equal(exporter.exported, 2);
    // A flapping collector: a failure within the minute of the last warning waits for the next.
    answer = 503;
    now += 1000;
    await exportOnce(1);
    assert.equal(lines.length, 3);
  } finally {
    exporter.close();
    await new Promise<void>((r) => collector.close(() => r()));
  }
});
