import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { freePort } from '../helpers/prometheus.ts';
import { get, startServe, tail } from '../helpers/serve-process.ts';

/** `name{labels} value` lines of one family in a Prometheus text exposition. */
function samples(text: string, name: string): Array<{ labels: string; value: number }> {
  const out: Array<{ labels: string; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m !== null) out.push({ labels: m[1] ?? '', value: Number(m[2]) });
  }
  return out;
}

test('/metrics of 2 workers: a breaker open in each is two series of 2 (one per worker), never a sum; HELP says how every family is merged', async (t) => {
  // A port nothing listens on: every call fails, and each worker's breaker opens after 5.
  const closed = await freePort();
  const server = await startServe(['test/fixtures/telemetry/app.ts', '--workers', '2'], {
    env: {
      PEREGRINE_TELEMETRY_INTERVAL: '200',
      FIXTURE_DOWNSTREAM: `http://127.0.0.1:${closed}`,
    },
  });
  t.after(() => server.stop());
  await server.waitForReady(2);
  const workerIds = new Set(
    server.logs.filter((l) => l.msg === 'worker ready').map((l) => String(l.worker)),
  );
  assert.equal(workerIds.size, 2);

  // New connections go round-robin to the two workers: 10 calls each, 5 open a breaker.
  const answered = new Map<number, number>();
  for (let i = 0; i < 20; i++) {
    const r = await get(server.port, '/downstream');
    assert.ok(r.status === 502 || r.status === 503, `status ${r.status}: ${r.body}`);
    answered.set(r.pid, (answered.get(r.pid) ?? 0) + 1);
  }
  assert.equal(answered.size, 2, 'both workers called the downstream');
  for (const [pid, n] of answered) assert.ok(n >= 5, `worker ${pid} made ${n} calls`);

  const metrics = async () => (await get(server.adminPort, '/metrics')).body;
  let text = '';
  let breaker: Array<{ labels: string; value: number }> = [];
  for (const end = Date.now() + 5000; Date.now() < end; ) {
    text = await metrics();
    breaker = samples(text, 'peregrine_breaker_state');
    if (breaker.length === 2 && breaker.every((s) => s.value === 2)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(
    breaker.length,
    2,
    `one series per worker:\n${breaker.map((s) => `${s.labels} ${s.value}`).join('\n')}\n${tail(server.logs)}`,
  );
  const seen = new Set<string>();
  for (const s of breaker) {
    assert.equal(s.value, 2, `${s.labels}: open is 2`);
    assert.match(s.labels, /kind="http"/);
    const worker = /worker="([^"]+)"/.exec(s.labels)?.[1];
    assert.ok(worker !== undefined && workerIds.has(worker), `${s.labels}: a live worker's id`);
    seen.add(worker);
  }
  assert.equal(seen.size, 2, 'the two series are the two workers');

  // Every family says how it was merged; the process model's gauges are the master's own.
  const helps = text.split('\n').filter((l) => l.startsWith('# HELP '));
  assert.ok(helps.length > 10);
  for (const h of helps) {
    assert.match(
      h,
      /(Summed over workers\.|Buckets summed over workers\.|One series per worker \(label worker\)\.|Kept by the master\.)$/,
      h,
    );
  }
  assert.match(
    text,
    /^# HELP peregrine_breaker_state .* One series per worker \(label worker\)\.$/m,
  );
  assert.match(text, /^# HELP http_server_active_requests .* Summed over workers\.$/m);
  assert.match(text, /^# HELP peregrine_workers .* Kept by the master\.$/m);
  const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(lint.status, 0, lint.stdout + lint.stderr);
});
