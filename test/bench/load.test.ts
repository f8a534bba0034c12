import assert from 'node:assert/strict';
import { test } from 'node:test';
import { busyTicks, splitCpu, statFields, statTicks } from '../../bench/lib/cpu-usage.ts';
import { formatProfile, summarizeProfile } from '../../bench/lib/cpuprofile.ts';
import {
  autocannonMeasurement,
  parseWrkOutput,
  wrapCommand,
  wrkMeasurement,
} from '../../bench/lib/load.ts';
import { planCpus, redactUrl, runtimeInfo } from '../../bench/lib/machine.ts';

const WRK_OUT = `Running 8s test @ http://127.0.0.1:4000/json
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  300.00us   9.00ms   90.00%
  400000 requests in 8.00s, 60.00MB read
Requests/sec:  50000.00
Transfer/sec:      7.50MB
BENCH_RESULT {"requests":400000,"duration_us":8000000,"bytes":62914560,"connect":0,"read":2,"write":0,"status":7,"timeout":1,"p50_us":950,"p90_us":1400,"p99_us":3250,"max_us":9000,"mean_us":1020.5}
`;

test('wrk: the bench.lua summary line becomes a measurement', () => {
  const report = parseWrkOutput(WRK_OUT);
  assert.equal(report.requests, 400_000);
  assert.deepEqual(wrkMeasurement(report), {
    requests: 400_000,
    durationS: 8,
    rps: 50_000,
    p50Ms: 0.95,
    p99Ms: 3.25,
    errors: 3,
    non2xx: 7,
  });
  assert.throws(() => parseWrkOutput('Requests/sec: 1\n'), /no result line/);
  const unknownP99 = wrkMeasurement({ ...report, p99_us: 0 });
  assert.equal(unknownP99.p99Ms, null, "wrk's 0 µs percentile with samples is unknown");
  assert.equal(unknownP99.p50Ms, 0.95);
});

test('autocannon: its JSON report becomes a measurement', () => {
  assert.deepEqual(
    autocannonMeasurement({
      requests: { total: 1000 },
      latency: { p50: 2, p99: 7 },
      duration: 2,
      errors: 1,
      timeouts: 2,
      non2xx: 4,
    }),
    { requests: 1000, durationS: 2, rps: 500, p50Ms: 2, p99Ms: 7, errors: 3, non2xx: 4 },
  );
});

test('commands raise the open-file limit and pin when asked', () => {
  const pinned = wrapCommand('wrk', ['-c10', 'http://x'], '0');
  assert.equal(pinned.file, 'bash');
  assert.match(pinned.args[1]!, /ulimit -n "\$\(ulimit -Hn\)"/);
  assert.deepEqual(pinned.args.slice(3), ['taskset', '-c', '0', 'wrk', '-c10', 'http://x']);
  assert.deepEqual(wrapCommand('wrk', ['a'], null).args.slice(3), ['wrk', 'a']);
});

test('cores: load generator on 0, server on the rest; no pinning on one core or when off', () => {
  assert.deepEqual(planCpus(2, true, true), { server: '1', load: '0' });
  assert.deepEqual(planCpus(8, true, true), { server: '1-7', load: '0' });
  assert.deepEqual(planCpus(1, true, true), { server: null, load: null });
  assert.deepEqual(planCpus(8, false, true), { server: null, load: null });
  assert.deepEqual(planCpus(8, true, false), { server: null, load: null });
});

test('CPU accounting from /proc', () => {
  const stat =
    '1234 (node (worker)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 2500';
  const fields = statFields(stat);
  assert.equal(fields[0], 'S');
  assert.equal(fields[2], '1234');
  assert.equal(statTicks(fields), 300);
  assert.equal(fields[21], '2500');
  assert.equal(busyTicks('cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1'), 161);
  assert.deepEqual(splitCpu(10, 2500, 1000, 600), { server: 1, load: 0.6, other: 0.9 });
  assert.deepEqual(splitCpu(10, 100, 1000, 600).other, 0, 'never negative');
});

test('database URLs lose their password in the results', () => {
  assert.equal(redactUrl('postgres://u:secret@h:5432/db'), 'postgres://u:***@h:5432/db');
  assert.equal(redactUrl('postgres://u@h/db'), 'postgres://u@h/db');
});

test('a CPU profile summary: self and inclusive time per function and per file', () => {
  const frame = (functionName: string, url = '', lineNumber = 0) => ({
    functionName,
    url,
    lineNumber,
    columnNumber: 0,
  });
  const profile = {
    startTime: 0,
    endTime: 100,
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 5] },
      { id: 2, callFrame: frame('handle', 'file:///w/src/app/app.ts', 269), children: [3] },
      { id: 3, callFrame: frame('send', 'file:///w/src/app/send.ts', 86), children: [4] },
      { id: 4, callFrame: frame('writeUtf8String'), children: [] },
      { id: 5, callFrame: frame('(garbage collector)'), children: [] },
    ],
    samples: [4, 4, 4, 3, 2, 5, 4, 3, 5, 4],
  };
  const costs = summarizeProfile(profile);
  const by = (n: string) => costs.find((c) => c.name.startsWith(n))!;
  assert.equal(costs[0]!.name, 'writeUtf8String');
  assert.equal(by('writeUtf8String').self, 0.5);
  assert.equal(by('send').self, 0.2);
  assert.equal(by('send').total, 0.7);
  assert.equal(by('handle').name, 'handle src/app/app.ts:270');
  assert.equal(by('handle').total, 0.8);
  assert.equal(by('(garbage collector)').file, '');
  const text = formatProfile(costs);
  assert.match(text, /50\.0% +50\.0% +writeUtf8String/);
  assert.match(text, /self time by file[\s\S]*20\.0% +src\/app\/send\.ts/);
});

test('the results name the installed version of every peer', () => {
  const { packages, node } = runtimeInfo();
  assert.equal(node, process.versions.node);
  for (const name of [
    'fastify',
    'hono',
    '@hono/node-server',
    'express',
    'pg',
    'lru-cache',
    'find-my-way',
  ]) {
    assert.match(packages[name] ?? '', /^\d+\.\d+\.\d+/, name);
  }
});
