import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { cpuBudget } from '../../src/server/cores.ts';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { get, type LogLine, startServe, tail } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/app.ts';

/** Every request sent, every answer by status and by worker pid, and every failure. */
interface Tally {
  sent: number;
  statuses: Map<number, number>;
  byPid: Map<number, number>;
  errors: string[];
}

/**
 * Closed-loop clients: each sends a request, waits for the answer (and `pauseMs`), sends the
 * next. A connection is kept alive for `perConnection` requests and then closed by the client,
 * so new connections keep arriving and a new worker gets its share, as behind a balancer.
 */
function clients(options: {
  port: number;
  path: string;
  connections: number;
  pauseMs: number;
  perConnection: number;
  untilMs: number;
}) {
  const tally: Tally = { sent: 0, statuses: new Map(), byPid: new Map(), errors: [] };
  let stopped = false;
  const one = (agent: Agent, close: boolean) =>
    new Promise<void>((resolve) => {
      tally.sent++;
      const req = request(
        {
          host: '127.0.0.1',
          port: options.port,
          path: options.path,
          agent,
          headers: close ? { connection: 'close' } : {},
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            tally.statuses.set(status, (tally.statuses.get(status) ?? 0) + 1);
            const pid = Number(res.headers['x-pid'] ?? 0);
            tally.byPid.set(pid, (tally.byPid.get(pid) ?? 0) + 1);
            resolve();
          });
          res.on('error', (err) => {
            tally.errors.push(`response: ${err.message}`);
            resolve();
          });
        },
      );
      req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
      req.on('error', (err) => {
        tally.errors.push(err.message);
        resolve();
      });
      req.end();
    });
  const end = Date.now() + options.untilMs;
  const runners = Array.from({ length: options.connections }, async () => {
    while (!stopped && Date.now() < end) {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (let i = 1; i <= options.perConnection && !stopped && Date.now() < end; i++) {
        await one(agent, i === options.perConnection);
        if (options.pauseMs > 0) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
      agent.destroy();
    }
  });
  const done = Promise.all(runners).then(() => tally);
  return {
    tally,
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

function answered(t: Tally): number {
  let n = 0;
  for (const count of t.statuses.values()) n += count;
  return n;
}

function summary(t: Tally): string {
  const statuses = [...t.statuses].map(([s, n]) => `${s}×${n}`).join(' ');
  return `sent ${t.sent}; answered ${answered(t)} (${statuses}); errors ${t.errors.length} ${JSON.stringify(t.errors.slice(0, 5))}; by pid ${JSON.stringify([...t.byPid])}`;
}

function assertNoneLost(t: Tally, phase: string, logs: readonly LogLine[]): void {
  assert.deepEqual(t.errors, [], `${phase}: ${summary(t)}\n${tail(logs)}`);
  assert.equal(answered(t), t.sent, `${phase}: every request answered: ${summary(t)}`);
  assert.equal(t.statuses.get(200), t.sent, `${phase}: every answer a 200: ${summary(t)}`);
}

test('--workers auto: a load step adds a worker within seconds, idling retires it, no request lost', {
  skip: cpuBudget().cores < 2 ? 'needs 2 cores for a second worker' : false,
}, async (t) => {
  const release = await acquireLoadLock();
  t.after(release);
  // Short windows so the test takes seconds; shedding off, so every answer must be a 200.
  const server = await startServe([
    APP,
    '--workers',
    'auto',
    '--min-workers',
    '1',
    '--max-workers',
    '2',
    '--scale-up-after',
    '2',
    '--scale-down-after',
    '4',
    '--scale-cooldown',
    '2',
    '--shed-delay',
    '0',
  ]);
  t.after(() => server.stop());
  await server.waitForReady(1);
  const health = async () => JSON.parse((await get(server.adminPort, '/healthz')).body);
  assert.equal((await health()).workers.target, 1, 'auto starts at --min-workers');
  assert.deepEqual(
    [(await health()).workers.autoscale.min, (await health()).workers.autoscale.max],
    [1, 2],
  );
  const started = server.logs.find((l) => /^autoscale: 1 to 2 workers$/.test(l.msg ?? ''));
  assert.ok(started !== undefined, `the bounds are logged\n${tail(server.logs)}`);

  // The load step: eight clients on a route that burns 4 ms of CPU per request saturate one
  // worker. Bounded: 45 s at most, stopped as soon as the second worker has served its share.
  const loadFrom = server.logs.length;
  const stepAt = Date.now();
  const step = clients({
    port: server.port,
    path: '/work?ms=4',
    connections: 8,
    pauseMs: 0,
    perConnection: 25,
    untilMs: 45_000,
  });
  const up = await server.waitForLog((l) => l.event === 'scale-up', 40_000, loadFrom);
  const upAfterMs = up.seenAt - stepAt;
  assert.equal(up.from, 1);
  assert.equal(up.to, 2);
  assert.match(String(up.reason), /event-loop utilization [01]\.\d\d ≥ 0\.75 for \d+\.\d s; CPU/);
  assert.ok((up.utilization as number) >= 0.75, `utilization ${up.utilization}`);
  await server.waitForReady(1, 30_000, loadFrom);
  const readyAt = Date.now();
  const firstPid = [...step.tally.byPid.keys()][0]!;
  // The new worker takes new connections: wait until it has served a fair number.
  await eventually(
    () => [...step.tally.byPid].some(([pid, n]) => pid !== firstPid && n >= 100),
    30_000,
    `the new worker serves: ${summary(step.tally)}`,
  );
  const stepResult = await step.stop();
  const stepMs = Date.now() - stepAt;
  assertNoneLost(stepResult, 'load step', server.logs);
  assert.equal(stepResult.byPid.size, 2, `two workers served: ${summary(stepResult)}`);
  assert.ok(upAfterMs < 20_000, `the decision came ${upAfterMs} ms after the step began`);

  // Idle (a trickle of cheap requests, so the retirement happens under traffic).
  const idleFrom = server.logs.length;
  const idleAt = Date.now();
  const trickle = clients({
    port: server.port,
    path: '/json',
    connections: 4,
    pauseMs: 20,
    perConnection: 10,
    untilMs: 60_000,
  });
  const down = await server.waitForLog((l) => l.event === 'scale-down', 45_000, idleFrom);
  const downAfterMs = down.seenAt - idleAt;
  assert.equal(down.from, 2);
  assert.equal(down.to, 1);
  assert.match(String(down.reason), /event-loop utilization 0\.\d\d ≤ 0\.25 for \d+\.\d s/);
  const retired = await server.waitForLog(
    (l) => l.msg === 'worker exited' && l.reason === 'recycled (scale-down)',
    30_000,
    idleFrom,
  );
  // Keep the trickle going a little past the exit: the remaining worker serves it all.
  const afterExit = answered(trickle.tally);
  await eventually(() => answered(trickle.tally) >= afterExit + 50, 20_000, 'trickle goes on');
  const idleResult = await trickle.stop();
  assertNoneLost(idleResult, 'idle', server.logs);
  assert.equal((await health()).workers.target, 1);
  assert.equal((await health()).workers.ready, 1);

  // The decisions are master events on the admin API, with the log lines' reasons.
  const { events } = JSON.parse((await get(server.adminPort, '/api/events')).body) as {
    events: Array<{ seq: number; type: string; message: string; fields: Record<string, unknown> }>;
  };
  const scaleEvents = events.filter((e) => e.type === 'scale-up' || e.type === 'scale-down');
  assert.deepEqual(
    scaleEvents.map((e) => [e.type, e.message]),
    [
      ['scale-up', 'added 1 worker: 1 → 2'],
      ['scale-down', 'retired 1 worker: 2 → 1'],
    ],
  );
  assert.equal(scaleEvents[0]!.fields.reason, up.reason);
  assert.equal(scaleEvents[1]!.fields.reason, down.reason);
  const newer = JSON.parse(
    (await get(server.adminPort, `/api/events?since=${scaleEvents[0]!.seq}`)).body,
  ) as { events: Array<{ type: string }> };
  assert.ok(!newer.events.some((e) => e.type === 'scale-up'), '?since= leaves older events out');

  // And counted in /metrics.
  const metrics = (await get(server.adminPort, '/metrics')).body;
  assert.match(metrics, /^peregrine_autoscale_decisions_total\{action="up"\} 1$/m);
  assert.match(metrics, /^peregrine_autoscale_decisions_total\{action="down"\} 1$/m);

  t.diagnostic(
    `load step: scale-up decided ${upAfterMs} ms after it began, second worker ready ${readyAt - stepAt} ms after; ${answered(stepResult)} requests in ${stepMs} ms, 0 lost (${JSON.stringify([...stepResult.byPid.values()])} by worker)`,
  );
  t.diagnostic(
    `idle: scale-down decided ${downAfterMs} ms after the load ended, the worker exited ${retired.seenAt - idleAt} ms after; ${answered(idleResult)} requests, 0 lost`,
  );
  server.signal('SIGTERM');
  assert.equal((await server.exited).code, 0);
});

test('--workers auto: TTIN/TTOU stay within the bounds and are events; a HUP reload keeps autoscaling', {
  skip: cpuBudget().cores < 2 ? 'needs 2 cores for a second worker' : false,
}, async (t) => {
  // Idle throughout: a long low window, so only the signals move the count.
  const server = await startServe([
    APP,
    '--workers',
    'auto',
    '--max-workers',
    '2',
    '--scale-down-after',
    '600',
  ]);
  t.after(() => server.stop());
  await server.waitForReady(1);
  const health = async () => JSON.parse((await get(server.adminPort, '/healthz')).body);
  const signal = async (name: NodeJS.Signals, msg: RegExp) => {
    const from = server.logs.length;
    server.signal(name);
    return server.waitForLog((l) => msg.test(l.msg ?? ''), 15_000, from);
  };
  await signal('SIGTTOU', /^TTOU ignored: at --min-workers$/);
  await signal('SIGTTIN', /^TTIN: one worker more$/);
  await eventually(async () => (await health()).workers.ready === 2, 30_000, 'two ready');
  await signal('SIGTTIN', /^TTIN ignored: at --max-workers$/);
  const reload = await signal('SIGHUP', /^reload complete/);
  assert.equal(reload.generation, 2);
  const after = await health();
  assert.equal(after.workers.target, 2, 'a reload keeps the count');
  assert.deepEqual([after.workers.autoscale.min, after.workers.autoscale.max], [1, 2]);
  await signal('SIGTTOU', /^TTOU: one worker less$/);
  await eventually(async () => (await health()).workers.ready === 1, 30_000, 'one ready');
  const { events } = JSON.parse((await get(server.adminPort, '/api/events')).body) as {
    events: Array<{ type: string; fields: { target: number } }>;
  };
  // The timeline also has the workers' lives (spawns, exits, the reload); these are the counts.
  const counts = events.filter((e) => /^(ttin|ttou|scale-)/.test(e.type));
  assert.deepEqual(
    counts.map((e) => [e.type, e.fields.target]),
    [
      ['ttin', 2],
      ['ttou', 1],
    ],
  );
  server.signal('SIGTERM');
  assert.equal((await server.exited).code, 0);
});
