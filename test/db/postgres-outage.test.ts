import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { before, describe, test } from 'node:test';
import { App } from '../../src/app/app.ts';
import type { Logger } from '../../src/app/logger.ts';
import { type BreakerStateMessage, CHANNELS } from '../../src/data/diagnostics.ts';
import { PostgresPool } from '../../src/db/pool/postgres.ts';
import { probeServer } from '../../src/db/pool/probe.ts';
import { serve } from '../../src/server/serve.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { loop, percentile, type Sample } from '../helpers/load.ts';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { requireService } from '../helpers/services.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds (polling every 20 ms), failing after `ms`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = performance.now() + ms;
  while (!check()) {
    if (performance.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(20);
  }
}

/** The breaker transitions of one pool, timed on the test's clock. */
function watchBreaker(name: string, t0: number) {
  const seen: Array<{ at: number; to: string }> = [];
  const onMessage = (m: unknown) => {
    const msg = m as BreakerStateMessage;
    if (msg.kind === 'postgresql' && msg.name === name) {
      seen.push({ at: performance.now() - t0, to: msg.to });
    }
  };
  subscribe(CHANNELS.breakerState, onMessage);
  return { seen, stop: () => unsubscribe(CHANNELS.breakerState, onMessage) };
}

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps what it is given. */
function captureLog() {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: object, msg = '') =>
      lines.push({ level, msg, fields: fields as Record<string, unknown> });
  const logger: Logger = {
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: () => {},
    child: () => logger,
  };
  const text = () => lines.map((l) => `${l.level} ${l.msg}`).join('\n');
  return { logger, lines, text };
}

const codeOf = (s: Sample) => {
  try {
    return (JSON.parse(s.body) as { code?: string }).code ?? '';
  } catch {
    return '';
  }
};

describe('PostgreSQL outage drills', () => {
  let url: string | undefined;
  before(async (t) => {
    url = await requireService(t as never, 'postgres');
  });

  for (const state of ['warm', 'cold'] as const) {
    test(`a blackholed database, ${state} pool, under load: breaker open within 2 s, fast 503s, no request past the statement timeout, recovery within 5 s`, async (t) => {
      url ??= await requireService(t, 'postgres');
      if (url === undefined) return;
      const release = await acquireLoadLock();
      t.after(release);
      const u = new URL(url);
      const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
      t.after(() => proxy.close());
      u.port = String(proxy.port);
      const name = `outage-${state}-${process.pid}`;
      const statementTimeout = 3000;
      const pool = new PostgresPool({
        url: u.toString(),
        name,
        max: 20,
        statementTimeout,
        // Warm: the 20 connections stay open. Cold: every one is closed before the outage.
        idleTimeout: state === 'warm' ? 60_000 : 200,
        applicationName: name,
      });
      // The default request deadline (30 s): the pool must not need a short one to fail fast.
      const log = captureLog();
      const app = new App({ logger: log.logger });
      pool.install(app);
      app.addRoute('/db', {
        async onGet(req, resp) {
          resp.media = await pool.one('SELECT $1::int AS n', [1], { req });
        },
      });
      const server = await serve(app, { port: 0 });
      let stopped = false;
      t.after(() => (stopped ? undefined : server.close(1000)));
      const t0 = performance.now();
      const breaker = watchBreaker(name, t0);
      t.after(breaker.stop);
      const target = `http://127.0.0.1:${server.address.port}/db`;

      // Sample times are from the start of the load; everything else from t0.
      let load: ReturnType<typeof loop>;
      let loadAt = 0;
      let stallAt: number;
      if (state === 'warm') {
        await Promise.all(Array.from({ length: 20 }, () => pool.query('SELECT pg_sleep(0.5)')));
        assert.equal(pool.stats().idle, 20, 'a warm pool of 20 idle connections');
        loadAt = performance.now() - t0;
        load = loop(target, { concurrency: 8, maxMs: 20_000, pauseMs: 5 });
        await sleep(1000);
        stallAt = performance.now() - t0;
        proxy.stall();
      } else {
        await until(() => pool.stats().idle + pool.stats().inUse === 0, 3000, 'a cold pool');
        stallAt = performance.now() - t0;
        proxy.stall();
        loadAt = performance.now() - t0;
        load = loop(target, { concurrency: 8, maxMs: 20_000, pauseMs: 5 });
      }
      t.after(() => load.stop());
      await sleep(3500);
      const opened = breaker.seen.find((b) => b.to === 'open' && b.at >= stallAt);
      assert.ok(opened !== undefined, `the breaker opened: ${JSON.stringify(breaker.seen)}`);
      const openAfter = opened.at - stallAt;
      assert.ok(openAfter < 2000, `breaker open ${Math.round(openAfter)} ms after the blackhole`);
      const healAt = performance.now() - t0;
      proxy.pass();
      const at = (s: Sample) => s.at + loadAt;
      const closed = () => breaker.seen.find((b) => b.to === 'closed' && b.at >= healAt);
      await until(() => closed() !== undefined, 5000, 'the breaker closed after the restore');
      const recoveredAt = closed()!.at;
      await sleep(1000);
      const samples = (await load.stop()).map((s) => ({ ...s, at: at(s) }));

      // Sent during the outage; of those, the ones answered before the restore must be 503s (a
      // half-open probe waiting on its connection may be served once the network is back).
      const outage = samples.filter((s) => s.at >= stallAt && s.at < healAt);
      const answered = outage.filter((s) => s.at + s.ms < healAt);
      assert.ok(answered.length > 100, `${answered.length} requests answered during the outage`);
      const statuses = new Set(answered.map((s) => s.status));
      assert.deepEqual(
        [...statuses],
        [503],
        `statuses during the outage: ${answered
          .filter((s) => s.status !== 503)
          .slice(0, 5)
          .map(
            (s) =>
              `${s.status} sent ${(s.at - stallAt).toFixed(1)} ms after the blackhole, in ${s.ms.toFixed(1)} ms`,
          )
          .join('; ')}`,
      );
      const codes = new Set(answered.map(codeOf));
      for (const code of codes) assert.match(code, /^PRG_DB_(UNAVAILABLE|BUSY|TIMEOUT)$/);
      const worst = Math.max(...outage.map((s) => s.ms));
      assert.ok(worst < statementTimeout, `slowest answer in the outage: ${Math.round(worst)} ms`);
      // Once open, the 503s are immediate. (The bounds leave room for a machine shared with other
      // work: on a quiet one the p99 is a few ms.)
      const fast = answered.filter((s) => s.at > opened.at).map((s) => s.ms);
      const p50 = percentile(fast, 50);
      const p99 = percentile(fast, 99);
      assert.ok(p50 < 20, `median 503 once the breaker was open: ${p50.toFixed(1)} ms`);
      assert.ok(p99 < 300, `p99 of the 503s once the breaker was open: ${p99.toFixed(1)} ms`);

      const recovery = recoveredAt - healAt;
      assert.ok(recovery <= 5000, `recovered ${Math.round(recovery)} ms after the restore`);
      const after = samples.filter((s) => s.at > recoveredAt);
      assert.ok(after.length > 50);
      const failed = after.filter((s) => s.status !== 200);
      assert.deepEqual(
        failed.length,
        0,
        `every request after the recovery succeeds: ${failed
          .slice(0, 5)
          .map((s) => `${Math.round(s.at - recoveredAt)} ms after: ${s.status} ${codeOf(s)}`)
          .join('; ')}`,
      );
      // The log tells the outage, not each request: one line when each kind of failure began
      // and when the breaker opened and closed, then counts (here at shutdown, before 10 s).
      await server.close(1000);
      stopped = true;
      const refused = samples.filter((s) => s.status === 503).length;
      const lines = log.lines;
      assert.ok(lines.length <= 10, `${lines.length} log lines:\n${log.text()}`);
      for (const l of lines) assert.equal(l.fields.err, undefined, `no stack: ${l.msg}`);
      const firsts = lines.filter((l) => /^PRG_DB_\w+: .*expected failure/.test(l.msg));
      const more = lines.filter((l) => /^PRG_DB_\w+: \d+ more/.test(l.msg));
      const logged = firsts.length + more.reduce((n, l) => n + Number(l.fields.count), 0);
      assert.equal(logged, refused, `every 503 counted in the log lines:\n${log.text()}`);
      assert.ok(lines.some((l) => l.level === 'warn' && / unreachable .*breaker open/.test(l.msg)));
      assert.ok(
        lines.some((l) => l.level === 'info' && / answers again .*breaker closed/.test(l.msg)),
      );
      t.diagnostic(
        `${state} pool: breaker open ${Math.round(openAfter)} ms after the blackhole; ` +
          `${fast.length} 503s after it, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; ` +
          `slowest answer ${Math.round(worst)} ms; breaker closed ${Math.round(recovery)} ms after the restore; ` +
          `${lines.length} log lines for ${refused} 503s`,
      );
    });
  }

  test('a slow but healthy database is not an outage: long statements on every connection keep the breaker closed; timeouts are per pool and per statement', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const u = new URL(url);
    const name = `slow-${process.pid}`;
    const pool = new PostgresPool({ url, name, max: 4, statementTimeout: 600 });
    const breaker = watchBreaker(name, performance.now());
    t.after(breaker.stop);
    await pool.open();
    t.after(() => pool.close());
    // The liveness probe answers from a live server.
    assert.equal(await probeServer(u.hostname, Number(u.port || 5432), 500), true);

    // Every connection busy for 2.5 s, nothing answered meanwhile: the server is probed, answers,
    // and the statements finish (their own timeout replaces the pool's 600 ms).
    const long = await Promise.all(
      Array.from({ length: 4 }, () =>
        pool.one<{ ok: boolean }>('SELECT true AS ok FROM pg_sleep(2.5)', [], { timeout: 5000 }),
      ),
    );
    assert.deepEqual(
      long.map((r) => r?.ok),
      [true, true, true, true],
    );
    const stats = pool.stats();
    assert.ok((stats.livenessProbes ?? 0) >= 1, 'the silent server was probed');
    assert.equal(stats.livenessFailures, 0);

    // The pool's ceiling: a slow statement is answered 503 PRG_DB_TIMEOUT in time, cancelled on
    // the server, and — the server having answered the cancel — is no failure of the server.
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      await assert.rejects(pool.query('SELECT pg_sleep(2)'), {
        status: 503,
        code: 'PRG_DB_TIMEOUT',
      });
      assert.ok(performance.now() - t0 < 1000);
    }
    assert.deepEqual(await pool.one('SELECT 1 AS ok'), { ok: 1 });
    assert.deepEqual(breaker.seen, [], 'the breaker never left closed');
    assert.equal(pool.stats().breaker, 'closed');
  });
});
