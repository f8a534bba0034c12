import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBenchArgs } from '../../bench/lib/args.ts';
import { idealRps, type ScalingRecord, scalingVerdicts } from '../../bench/lib/scaling.ts';
import {
  addRatios,
  evaluateTargets,
  formatTable,
  formatTargets,
  median,
  type ResultRecord,
  type RunMeasurement,
  summarize,
} from '../../bench/lib/stats.ts';
import { estimateSeconds, rotation } from '../../bench/lib/techempower.ts';

function run(rps: number, extra: Partial<RunMeasurement> = {}): RunMeasurement {
  return {
    requests: rps * 10,
    durationS: 10,
    rps,
    p50Ms: 1,
    p99Ms: 5,
    errors: 0,
    non2xx: 0,
    rssMiB: 100,
    cpu: { server: 1, load: 0.6, other: 0.1 },
    ...extra,
  };
}

function record(
  server: string,
  test: ResultRecord['test'],
  rps: number | null,
  status: ResultRecord['status'] = 'ok',
): ResultRecord {
  const runs = rps === null ? [] : [run(rps)];
  return {
    server,
    label: server,
    test,
    concurrency: 64,
    pipeline: 1,
    queries: null,
    status,
    ...summarize(runs),
    ratioToNode: null,
    cpuRatioToNode: null,
    rssRatioToNode: null,
    runs,
  };
}

test('median of odd and even counts, unsorted input untouched', () => {
  const values = [5, 1, 3];
  assert.equal(median(values), 3);
  assert.deepEqual(values, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('summarize takes medians per metric, sums counts, keeps the peak RSS and the spread', () => {
  const s = summarize([
    run(100, {
      p50Ms: 1,
      p99Ms: 9,
      errors: 1,
      rssMiB: 90,
      cpu: { server: 1, load: 0.5, other: 0.4 },
    }),
    run(300, {
      p50Ms: 3,
      p99Ms: 3,
      non2xx: 2,
      rssMiB: 120,
      cpu: { server: 0.9, load: 0.7, other: 0 },
    }),
    run(200, { p50Ms: 2, p99Ms: 6, rssMiB: null, cpu: null }),
  ]);
  assert.equal(s.rps, 200);
  assert.equal(s.p50Ms, 2);
  assert.equal(s.p99Ms, 6);
  assert.equal(s.errors, 1);
  assert.equal(s.non2xx, 2);
  assert.equal(s.requests, 6000);
  assert.equal(s.rssMiB, 120);
  assert.equal(s.spread, 1);
  assert.deepEqual(s.cpu, { server: 0.95, load: 0.6, other: 0.2 });
  assert.equal(
    s.cpuUsPerRequest,
    6500,
    'median of 10,000 and 3,000 µs; the run without CPU data is left out',
  );
  assert.deepEqual(summarize([]).rps, null);
});

test('ratios are taken against raw node:http of the same test and load only', () => {
  const records = [
    record('node', 'json', 1000),
    record('peregrine', 'json', 970),
    record('fastify', 'json', 800),
    record('peregrine', 'plaintext', 500),
    record('node', 'db', null, 'failed'),
    record('peregrine', 'db', 400),
  ];
  const other = record('peregrine', 'json', 2000);
  other.concurrency = 256;
  records.push(other);
  addRatios(records);
  assert.equal(records[0]!.ratioToNode, 1);
  assert.equal(records[1]!.ratioToNode, 0.97);
  assert.equal(records[2]!.ratioToNode, 0.8);
  assert.equal(records[3]!.ratioToNode, null, 'no baseline for plaintext');
  assert.equal(records[5]!.ratioToNode, null, 'the baseline failed');
  assert.equal(other.ratioToNode, null, 'no baseline at 256 connections');
  records[2]!.cpuUsPerRequest = 2000;
  records[2]!.status = 'ok';
  addRatios(records);
  assert.equal(records[2]!.cpuRatioToNode, 0.5, 'node needs 1,000 µs per response, fastify 2,000');
  assert.equal(records[1]!.cpuRatioToNode, 0.97);
  records[0]!.rssMiB = 80;
  records[1]!.rssMiB = 92;
  addRatios(records);
  assert.equal(records[1]!.rssRatioToNode, 1.15, "peak RSS 92 MiB against node's 80");
  assert.equal(records[3]!.rssRatioToNode, null, 'no baseline for plaintext');
});

test('targets: >= 0.95x node and >= 1.15x Fastify, unmeasured ones say so', () => {
  const records = [
    record('node', 'json', 1000),
    record('peregrine', 'json', 960),
    record('fastify', 'json', 850),
    record('node', 'plaintext', 1000),
    record('peregrine', 'plaintext', 900),
    record('fastify', 'plaintext', 700),
    record('node', 'db', 100),
    record('peregrine', 'db', null, 'failed'),
  ];
  const checks = evaluateTargets(records);
  const get = (t: string, a: string) => checks.find((c) => c.test === t && c.against === a);
  assert.deepEqual(get('json', 'node'), {
    server: 'peregrine',
    test: 'json',
    concurrency: 64,
    against: 'node',
    wanted: 0.95,
    got: 0.96,
    gotByCpu: 0.96,
    met: true,
  });
  assert.equal(get('json', 'fastify')!.got, 1.129);
  assert.equal(get('json', 'fastify')!.met, false);
  assert.equal(get('plaintext', 'node')!.met, false);
  assert.equal(get('plaintext', 'fastify')!.met, true);
  assert.equal(get('db', 'node')!.met, null);
  assert.equal(get('fortunes', 'node'), undefined, 'fortunes was not run');
  assert.ok(
    checks.every((c) => c.server === 'peregrine'),
    'the telemetry-off variant did not run',
  );
  const both = evaluateTargets([...records, record('peregrine-telemetry-off', 'json', 1000)]);
  const bare = both.filter((c) => c.server === 'peregrine-telemetry-off');
  assert.deepEqual(
    bare.map((c) => [c.against, c.got, c.met]),
    [
      ['node', 1, true],
      ['fastify', 1.176, true],
    ],
  );
  const text = formatTargets(checks);
  assert.match(
    text,
    /peregrine vs node on json @64: 0\.96x \(target >= 0\.95x\) met; by CPU per response 0\.96x/,
  );
  assert.match(text, /peregrine vs fastify on json @64: 1\.13x \(target >= 1\.15x\) MISSED/);
  assert.match(text, /on db @64: — \(target >= 0\.95x\) NOT MEASURED/);
});

test("target: cached-queries >= 0.8x of the same server's json", () => {
  const records = [
    record('node', 'json', 1000),
    record('node', 'cached-queries', 700),
    record('peregrine', 'json', 1200),
    record('peregrine', 'cached-queries', 600),
  ];
  const checks = evaluateTargets(records);
  const own = checks.find((c) => c.test === 'cached-queries');
  assert.deepEqual(own, {
    server: 'peregrine',
    test: 'cached-queries',
    concurrency: 64,
    against: 'peregrine',
    againstTest: 'json',
    wanted: 0.8,
    got: 0.5,
    gotByCpu: 0.5,
    met: false,
  });
  assert.match(
    formatTargets(checks),
    /peregrine cached-queries vs its json @64: 0\.50x \(target >= 0\.80x\) MISSED; by CPU per response 0\.50x/,
  );
});

test('the table lists every record grouped by test with the ratio, and marks failures', () => {
  const records = [
    record('fastify', 'json', 850),
    record('node', 'json', 1000),
    record('peregrine', 'json', 1234.4),
    record('peregrine', 'db', null, 'failed'),
  ];
  records[3]!.queries = null;
  addRatios(records);
  const table = formatTable(records, ['peregrine', 'node', 'fastify']);
  const lines = table.split('\n');
  assert.match(lines[0]!, /\| test +\| conns \| server +\| +req\/s \| vs node \|/);
  assert.match(lines[2]!, /\| json .*\| peregrine \| +1,234 \| +1\.23x \|/);
  assert.match(lines[3]!, /\| json .*\| node +\| +1,000 \| +1\.00x \|/);
  assert.match(lines[4]!, /\| json .*\| fastify/);
  assert.match(lines[5]!, /\| db .*\| peregrine \| +FAILED \|/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'columns are aligned');
});

test('alternation rotates the server order each repeat', () => {
  assert.deepEqual(rotation(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
  assert.deepEqual(rotation(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
  assert.deepEqual(rotation(['a', 'b', 'c'], 5), ['c', 'a', 'b']);
  assert.deepEqual(rotation([], 3), []);
});

test('the quick check is estimated under 2 minutes with the single-process servers', () => {
  const quick = parseBenchArgs(['--quick']);
  assert.ok(estimateSeconds(quick, 5, quick.tests.length) < 120);
});

test('scaling: ideal throughput is min(connections / delay, capacity); verdicts at 10,000', () => {
  assert.equal(idealRps(100, 50, 20_000), 2000);
  assert.equal(idealRps(10_000, 50, 20_000), 20_000);
  assert.equal(idealRps(64, 0, 20_000), 20_000);
  const base: ScalingRecord = {
    server: 'peregrine',
    label: 'p',
    connections: 10_000,
    delayMs: 50,
    status: 'ok',
    rps: 17_000,
    p50Ms: 60,
    p99Ms: 200,
    errors: 0,
    non2xx: 0,
    rssMiB: 180,
    capacityRps: 20_000,
    idealRps: 20_000,
    efficiency: 0.85,
    runs: [],
  };
  assert.match(
    scalingVerdicts([base])[0]!,
    /RSS 180 MiB \(target <= 200\) met; throughput 85% of ideal \(target >= 80%\) met/,
  );
  assert.match(
    scalingVerdicts([{ ...base, rssMiB: 250, efficiency: 0.5 }])[0]!,
    /RSS 250 MiB .* MISSED; throughput 50% .* MISSED/,
  );
  assert.deepEqual(scalingVerdicts([{ ...base, connections: 1000 }]), []);
});
