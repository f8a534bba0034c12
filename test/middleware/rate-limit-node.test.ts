import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { freePort } from '../helpers/prometheus.ts';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { portAnswers, requireService } from '../helpers/services.ts';
import { eventually } from '../helpers/wait.ts';

const APP = 'test/fixtures/server/rate-limit-app.ts';
// Shedding (503 when the event loop lags on a loaded machine) is not the subject here.
const SERVE = [APP, '--shed-delay', '0'];

/** One answer, dated by when the server decided it (ms since the load began, same clock). */
interface Hit {
  at: number;
  port: number;
  status: number;
  pid: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(agent: Agent, port: number, headers: Record<string, string> = {}): Promise<Hit> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/hit', agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () =>
        resolve({
          at: Number(res.headers['x-at']),
          port,
          status: res.statusCode ?? 0,
          pid: Number(res.headers['x-pid']),
          headers: res.headers,
          body,
        }),
      );
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.on('error', () =>
      resolve({ at: Number.NaN, port, status: 0, pid: 0, headers: {}, body: '' }),
    );
    req.end();
  });
}

/**
 * An open loop at `rate` requests per second for `ms`, spread over `ports` in turn: requests
 * start on schedule whether or not earlier ones were answered (a late timer sends the ones it
 * owes at once, so the average rate holds on a slow machine).
 */
async function paced(ports: number[], rate: number, ms: number): Promise<Hit[]> {
  const agents = ports.map(() => new Agent({ keepAlive: true, maxSockets: 32 }));
  const pending: Promise<Hit>[] = [];
  const wallStart = Date.now();
  const start = performance.now();
  let sent = 0;
  const total = Math.floor((rate * ms) / 1000);
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    for (; sent < due; sent++) {
      const i = sent % ports.length;
      pending.push(send(agents[i]!, ports[i]!));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const hits = await Promise.all(pending);
  for (const a of agents) a.destroy();
  for (const h of hits) h.at -= wallStart;
  return hits;
}

/**
 * Requests served (200) per whole second of the server's clock, from `fromS` to `toS` after the
 * load began: what the limit is about. (By the client's sending time, a starved client or
 * server on a loaded machine would move requests from one second to another.)
 */
function perSecond(hits: Hit[], fromS: number, toS: number): number[] {
  const out: number[] = [];
  for (let s = fromS; s < toS; s++) {
    out.push(
      hits.filter((h) => h.status === 200 && h.at >= s * 1000 && h.at < (s + 1) * 1000).length,
    );
  }
  return out;
}

function statuses(hits: Hit[]): string {
  const m = new Map<string, number>();
  for (const h of hits) {
    let code = '';
    if (h.status !== 200) {
      try {
        code = ` ${(JSON.parse(h.body) as { code?: string }).code}`;
      } catch {}
    }
    m.set(`${h.status}${code}`, (m.get(`${h.status}${code}`) ?? 0) + 1);
  }
  return [...m].map(([s, n]) => `${s}×${n}`).join(' ');
}

function adminMetrics(server: ServeProcess): Promise<string> {
  return fetch(`http://127.0.0.1:${server.adminPort}/metrics`).then((r) => r.text());
}

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('rate limit across the workers of a node and the nodes of a fleet', () => {
  let release: (() => Promise<void>) | undefined;
  before(async () => {
    release = await acquireLoadLock();
  });
  after(async () => {
    await release?.();
  });

  for (const algorithm of ['token-bucket', 'sliding-window'] as const) {
    test(`${algorithm}, 4 workers, 100/s, a client at 400/s: 100 ± 5% served per second`, async (t) => {
      const server = await startServe([...SERVE, '--workers', '4'], {
        env: { RL_LIMIT: '100', RL_ALGORITHM: algorithm },
      });
      try {
        await server.waitForReady(4);
        const hits = await paced([server.port], 400, 10_000);
        // The first seconds spend the bucket's initial burst (and warm the workers up); then the
        // refill rate rules.
        const seconds = perSecond(hits, 3, 10);
        const mean = seconds.reduce((a, b) => a + b, 0) / seconds.length;
        t.diagnostic(
          `served per second ${seconds.join(' ')} (mean ${mean.toFixed(1)}); ${statuses(hits)}`,
        );
        assert.ok(hits.length >= 3900, `the client sent ${hits.length}`);
        assert.ok(Math.abs(mean - 100) <= 5, `mean ${mean} per second (${seconds.join(' ')})`);
        assert.equal(
          hits.filter((h) => h.status !== 200 && h.status !== 429).length,
          0,
          statuses(hits),
        );
        const servedBy = new Set(hits.filter((h) => h.status === 200).map((h) => h.pid));
        assert.equal(servedBy.size, 4, 'every worker served its share of the one budget');
        const refused = hits.find((h) => h.status === 429)!;
        assert.match(String(refused.headers['content-type']), /application\/problem\+json/);
        assert.equal(JSON.parse(refused.body).code, 'PRG_RATE_LIMITED');
        assert.match(String(refused.headers['retry-after']), /^\d+$/);
        assert.equal(refused.headers['ratelimit-policy'], '"fixture";q=100;w=1');
        assert.match(String(refused.headers.ratelimit), /^"fixture";r=0;t=\d+$/);
        const text = await eventually(
          async () => {
            const m = await adminMetrics(server);
            return (
              sample(
                m,
                'peregrine_rate_limit_requests_total{policy="fixture",outcome="rejected"}',
              ) > 0 && m
            );
          },
          10_000,
          'rejections in /metrics',
        );
        const allowed = sample(
          text,
          'peregrine_rate_limit_requests_total{policy="fixture",outcome="allowed"}',
        );
        assert.ok(
          allowed >= 700 && allowed <= hits.filter((h) => h.status === 200).length,
          `allowed ${allowed}`,
        );
      } finally {
        await server.stop();
      }
    });
  }

  test('Redis store: two nodes share one budget of 100/s', async (t) => {
    const redis = await requireService(t, 'redis');
    if (redis === undefined) return;
    const env = {
      RL_LIMIT: '100',
      RL_REDIS: redis,
      RL_PREFIX: `test:rl:${process.pid}:${Date.now()}:`,
    };
    const a = await startServe([...SERVE, '--workers', '2'], { env });
    const b = await startServe([...SERVE, '--workers', '2'], { env });
    try {
      await Promise.all([a.waitForReady(2), b.waitForReady(2)]);
      const hits = await paced([a.port, b.port], 400, 10_000);
      const seconds = perSecond(hits, 3, 10);
      const mean = seconds.reduce((x, y) => x + y, 0) / seconds.length;
      const byNode = [a.port, b.port].map(
        (p) => hits.filter((h) => h.port === p && h.status === 200).length,
      );
      t.diagnostic(
        `served per second ${seconds.join(' ')} (mean ${mean.toFixed(1)}); by node ${byNode.join(' / ')}; ${statuses(hits)}`,
      );
      assert.ok(Math.abs(mean - 100) <= 5, `mean ${mean} per second (${seconds.join(' ')})`);
      assert.ok(
        byNode.every((n) => n > 100),
        'both nodes served from the one budget',
      );
      assert.equal(
        hits.filter((h) => h.status !== 200 && h.status !== 429).length,
        0,
        statuses(hits),
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('Redis killed: a fail-open node serves, a fail-closed node answers 503; both count it and neither crashes', async () => {
    const redisPort = await freePort();
    let redis: ChildProcess | undefined;
    const startRedis = async () => {
      redis = spawn(
        'redis-server',
        ['--port', String(redisPort), '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await eventually(() => portAnswers('127.0.0.1', redisPort, 200), 10_000, 'redis-server up');
    };
    await startRedis();
    const env = { RL_LIMIT: '5', RL_REDIS: `redis://127.0.0.1:${redisPort}` };
    const open = await startServe([...SERVE, '--workers', '2'], { env });
    const closed = await startServe([...SERVE, '--workers', '2'], {
      env: { ...env, RL_FAILURE: 'closed' },
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const burst = async (server: ServeProcess, client: string) =>
      (
        await Promise.all(
          Array.from({ length: 20 }, () => send(agent, server.port, { 'x-client': client })),
        )
      ).map((h) => h.status);
    try {
      await Promise.all([open.waitForReady(2), closed.waitForReady(2)]);
      const pids = [...open.workerPids(), ...closed.workerPids()].sort();
      // Redis up: both limit.
      for (const [server, name] of [
        [open, 'open'],
        [closed, 'closed'],
      ] as const) {
        const s = await burst(server, `${name}-1`);
        assert.ok(s.includes(429) && s.includes(200), `${name}: ${s.join(',')}`);
      }
      redis!.kill('SIGKILL');
      await new Promise((r) => redis!.once('exit', r));
      // Redis gone: open lets everything through, closed refuses everything with 503.
      await eventually(
        async () => (await burst(open, 'open-2')).every((s) => s === 200),
        10_000,
        'fail open',
      );
      await eventually(
        async () => (await burst(closed, 'closed-2')).every((s) => s === 503),
        10_000,
        'fail closed',
      );
      const r = await send(agent, closed.port);
      assert.equal(JSON.parse(r.body).code, 'PRG_RATE_LIMIT_UNAVAILABLE');
      assert.equal(r.headers['retry-after'], '1');
      for (const [server, outcome] of [
        [open, 'failed_open'],
        [closed, 'failed_closed'],
      ] as const) {
        await eventually(
          async () => {
            const m = await adminMetrics(server);
            return (
              sample(m, 'peregrine_rate_limit_store_errors_total{policy="fixture"}') >= 20 &&
              sample(
                m,
                `peregrine_rate_limit_requests_total{policy="fixture",outcome="${outcome}"}`,
              ) >= 20
            );
          },
          10_000,
          `${outcome} counted in /metrics`,
        );
      }
      // Redis back: both limit again, on the same clients they had.
      await startRedis();
      for (const [server, name] of [
        [open, 'open'],
        [closed, 'closed'],
      ] as const) {
        await eventually(
          async () => {
            const s = await burst(server, `${name}-3`);
            return s.includes(429) && s.includes(200) && !s.includes(503);
          },
          15_000,
          `${name} limits again once Redis is back`,
        );
      }
      assert.deepEqual(
        [...open.workerPids(), ...closed.workerPids()].sort(),
        pids,
        'no worker was replaced',
      );
      assert.equal(
        [...open.logs, ...closed.logs].filter(
          (l) => l.level === 'fatal' || /crash|uncaught/i.test(String(l.msg)),
        ).length,
        0,
      );
    } finally {
      agent.destroy();
      redis?.kill('SIGKILL');
      await Promise.all([open.stop(), closed.stop()]);
    }
  });
});
