import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { App } from '../../src/app/app.ts';
import { PostgresPool } from '../../src/db/pool/postgres.ts';
import { Topology } from '../../src/process/topology.ts';
import { serve } from '../../src/server/serve.ts';
import { startFaultProxy } from '../helpers/fault-proxy.ts';
import { get, loop, percentile } from '../helpers/load.ts';
import { requireService } from '../helpers/services.ts';

/** A side connection that watches pg_stat_activity for one application_name. */
async function watcher(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    async count(app: string): Promise<number> {
      const r = await client.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
      return r.rows[0].n as number;
    },
    async terminate(app: string): Promise<number> {
      const r = await client.query(
        'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1',
        [app],
      );
      return r.rows[0].n as number;
    },
    async active(app: string): Promise<number> {
      const r = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active'",
        [app],
      );
      return r.rows[0].n as number;
    },
    end: () => client.end(),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PostgresPool', () => {
  let url: string | undefined;
  before(async (t) => {
    url = await requireService(t as never, 'postgres');
  });

  test('query, one, batch, transaction, and SQL errors pass through', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const pool = new PostgresPool({ url, max: 2, applicationName: `prg-basic-${process.pid}` });
    await pool.open();
    try {
      assert.deepEqual(await pool.one('SELECT $1::int + 1 AS x', [41]), { x: 42 });
      const [a, b] = await pool.batch([
        { text: 'SELECT 1 AS a' },
        { text: 'SELECT $1::text AS b', values: ['hi'] },
      ]);
      assert.deepEqual(a!.rows, [{ a: 1 }]);
      assert.deepEqual(b!.rows, [{ b: 'hi' }]);
      const table = `prg_tx_${process.pid}`;
      await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (x int)`);
      try {
        await pool.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
        });
        await assert.rejects(
          pool.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} VALUES ($1)`, [2]);
            throw new Error('boom');
          }),
          /boom/,
        );
        const rows = (await pool.query<{ x: number }>(`SELECT x FROM ${table} ORDER BY x`)).rows;
        assert.deepEqual(rows, [{ x: 1 }]);
      } finally {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
      }
      await assert.rejects(pool.query('SELEC 1'), (err: unknown) => {
        assert.ok(err instanceof pg.DatabaseError);
        assert.equal(err.code, '42601');
        return true;
      });
      assert.equal(pool.stats().breaker, 'closed');
    } finally {
      await pool.close();
    }
  });

  test('a loader: the calls of one turn share one connection; each caller gets its own result or error', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const pool = new PostgresPool({ url, max: 4, applicationName: `prg-loader-${process.pid}` });
    await pool.open();
    try {
      const divide = pool.loader<{ q: number; pid: number }>(
        'SELECT 100 / $1::int AS q, pg_backend_pid() AS pid',
      );
      // One turn: ten calls, one of them dividing by zero.
      const settled = await Promise.allSettled(
        [1, 2, 4, 5, 0, 10, 20, 25, 50, 100].map((d) => divide.one([d])),
      );
      const pids = new Set<number>();
      settled.forEach((s, i) => {
        if (i === 4) {
          assert.equal(s.status, 'rejected');
          const err = (s as PromiseRejectedResult).reason;
          assert.ok(err instanceof pg.DatabaseError && err.code === '22012', 'division by zero');
          return;
        }
        assert.equal(s.status, 'fulfilled', `call ${i}`);
        const row = (s as PromiseFulfilledResult<{ q: number; pid: number } | undefined>).value!;
        assert.equal(row.q, 100 / [1, 2, 4, 5, 0, 10, 20, 25, 50, 100][i]!);
        pids.add(row.pid);
      });
      assert.equal(pids.size, 1, 'one connection served the whole turn');
      // The failure did not cost the connection, and calls in later turns form their own batches.
      // `query` answers like db.query: the rows and their count.
      const a = await divide.query([4]);
      const b = await divide.query([5]);
      assert.deepEqual([a.rows[0]!.q, b.rows[0]!.q, a.rowCount], [25, 20, 1]);
      // maxBatch splits a turn; an aborted caller is answered at once, the others are not held up.
      const small = pool.loader<{ n: number; pid: number }>(
        'SELECT $1::int AS n, pg_backend_pid() AS pid',
        { maxBatch: 3 },
      );
      const gone = new AbortController();
      const calls = [1, 2, 3, 4, 5, 6, 7].map((n) =>
        small.one([n], n === 2 ? { signal: gone.signal } : undefined),
      );
      gone.abort(new Error('client went away'));
      const results = await Promise.allSettled(calls);
      assert.equal(results[1]!.status, 'rejected');
      const ns = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value!.n] : []));
      assert.deepEqual(ns, [1, 3, 4, 5, 6, 7]);
      // An expired deadline among the callers bounds the batch: a fast 503, no statement sent.
      await assert.rejects(
        divide.one([1], { req: { deadline: Date.now() - 1 } }),
        /deadline|timeout|time/i,
      );
      assert.equal(pool.stats().breaker, 'closed');
    } finally {
      await pool.close();
    }
  });

  test('a lone parameterless SELECT is prepared once; scripts and utility commands are not', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const pool = new PostgresPool({ url, max: 1, applicationName: `prg-prepare-${process.pid}` });
    await pool.open();
    try {
      const prepared = async () =>
        (
          await pool.query<{ statement: string }>(
            'SELECT statement FROM pg_prepared_statements WHERE $1::int = 1 ORDER BY statement',
            [1],
          )
        ).rows.map((r) => r.statement);
      assert.deepEqual((await pool.query('SELECT 41 + 1 AS x')).rows, [{ x: 42 }]);
      assert.deepEqual((await pool.query('SELECT 41 + 1 AS x')).rows, [{ x: 42 }]);
      // A script of two statements runs (the simple protocol), and so does a utility command.
      await pool.query('SELECT 1; SELECT 2');
      await pool.query('SET application_name = DEFAULT');
      const statements = await prepared();
      assert.ok(statements.includes('SELECT 41 + 1 AS x'), statements.join(' | '));
      assert.ok(!statements.some((x) => x.includes('SELECT 1; SELECT 2')));
      assert.ok(!statements.some((x) => x.startsWith('SET ')));
    } finally {
      await pool.close();
    }
  });

  test('the statement timeout follows the request deadline and cancels on the server', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const app = `prg-deadline-${process.pid}`;
    const pool = new PostgresPool({ url, max: 1, applicationName: app });
    const w = await watcher(url);
    await pool.open();
    try {
      const t0 = performance.now();
      await assert.rejects(
        pool.query('SELECT pg_sleep(5)', [], { req: { deadline: Date.now() + 300 } }),
        (err: { status?: number; code?: string }) =>
          err.status === 503 && err.code === 'PRG_DB_TIMEOUT',
      );
      const took = performance.now() - t0;
      assert.ok(took < 1500, `answered after ${took} ms`);
      // The cancel reached the server: the one connection is usable again, nothing still runs.
      assert.deepEqual(await pool.one('SELECT 1 AS ok'), { ok: 1 });
      assert.equal(await w.active(app), 0);
      assert.equal(pool.stats().inUse, 0);
      // A deadline already passed: refused before touching the database.
      await assert.rejects(
        pool.query('SELECT 1', [], { req: { deadline: Date.now() - 1 } }),
        (err: { status?: number }) => err.status === 503,
      );
    } finally {
      await pool.close();
      await w.end();
    }
  });

  test('an error on an idle connection never crashes the process', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const app = `prg-idle-${process.pid}-${randomUUID().slice(0, 8)}`;
    const u = new URL(url);
    const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const pool = new PostgresPool({ url: u.toString(), max: 3, applicationName: app });
    const w = await watcher(url);
    await pool.open();
    try {
      await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
      assert.equal(pool.stats().idle, 3);
      // The server kills the idle backends…
      assert.ok((await w.terminate(app)) >= 1);
      await sleep(200);
      assert.deepEqual(await pool.one('SELECT 1 AS ok'), { ok: 1 });
      // …and the network resets the rest.
      await Promise.all([1, 2, 3].map(() => pool.query('SELECT pg_sleep(0.05)')));
      proxy.reset();
      await sleep(100);
      proxy.pass();
      assert.deepEqual(await pool.one('SELECT 2 AS ok'), { ok: 2 });
      assert.ok(pool.stats().connectionErrors >= 2);
    } finally {
      await pool.close();
      await proxy.close();
      await w.end();
    }
  });

  test('the pool size is the node budget divided by the workers, recomputed on change', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const topology = new Topology();
    topology.update({ workerCount: 2 });
    const app = `prg-budget-${process.pid}`;
    const pool = new PostgresPool({ url, connectionBudget: 12, topology, applicationName: app });
    const w = await watcher(url);
    await pool.open();
    try {
      assert.equal(pool.max, 6);
      await Promise.all(Array.from({ length: 6 }, () => pool.query('SELECT pg_sleep(0.1)')));
      assert.equal(pool.stats().idle, 6);
      topology.update({ workerCount: 4 });
      assert.equal(pool.max, 3);
      await sleep(200);
      assert.equal(await w.count(app), 3);
      await Promise.all(Array.from({ length: 10 }, () => pool.query('SELECT pg_sleep(0.05)')));
      assert.ok((await w.count(app)) <= 3);
      topology.update({ workerCount: 1 });
      assert.equal(pool.max, 12);
    } finally {
      await pool.close();
      await w.end();
    }
  });

  test('Proof: 200 concurrent slow queries on 10 connections: fast 503s, budget kept', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const appName = `prg-exhaust-${process.pid}`;
    const pool = new PostgresPool({ url, max: 10, acquireTimeout: 1000, applicationName: appName });
    const app = new App({ logger: false });
    pool.install(app);
    app.addRoute('/slow', {
      async onGet(req, resp) {
        resp.media = await pool.one('SELECT pg_sleep(0.4) IS NULL AS slept', [], { req });
      },
    });
    const server = await serve(app, { port: 0 });
    const w = await watcher(url);
    let peak = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        peak = Math.max(peak, await w.count(appName));
        await sleep(20);
      }
    })();
    try {
      const base = `http://127.0.0.1:${server.address.port}`;
      const samples = await Promise.all(Array.from({ length: 200 }, () => get(`${base}/slow`)));
      const ok = samples.filter((s) => s.status === 200);
      const busy = samples.filter((s) => s.status === 503);
      assert.equal(ok.length + busy.length, 200, 'only 200s and 503s');
      assert.ok(ok.length >= 10, `${ok.length} served`);
      assert.ok(busy.length > 0);
      for (const s of busy) {
        assert.equal(s.headers['content-type'], 'application/problem+json');
        assert.equal(JSON.parse(s.body).code, 'PRG_DB_BUSY');
        assert.ok(Number(s.headers['retry-after']) >= 1);
      }
      // Nobody waits longer than the acquire timeout (plus a generous margin for this machine).
      const slowest503 = Math.max(...busy.map((s) => s.ms));
      assert.ok(slowest503 < 1000 + 700, `slowest 503 took ${slowest503} ms`);
      const slowest200 = Math.max(...ok.map((s) => s.ms));
      assert.ok(slowest200 < 1000 + 400 + 700, `slowest 200 took ${slowest200} ms`);
      // Once the pool has seen how long these statements hold a connection, a wait that cannot
      // succeed in time is refused at once: the second burst's 503s are immediate.
      const again = await Promise.all(Array.from({ length: 200 }, () => get(`${base}/slow`)));
      const busy2 = again.filter((s) => s.status === 503);
      assert.ok(busy2.length > 100);
      const p50 = percentile(
        busy2.map((s) => s.ms),
        50,
      );
      assert.ok(p50 < 200, `median 503 of the second burst took ${p50} ms`);
      watching = false;
      await watch;
      assert.ok(peak <= 10, `pg_stat_activity peaked at ${peak}`);
      assert.ok(peak >= 1);
    } finally {
      watching = false;
      await watch;
      await server.close(1000);
      await w.end();
    }
  });

  test('Proof: PostgreSQL unreachable for 10 s under load: fast 503s, readiness, recovery', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const u = new URL(url);
    const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const pool = new PostgresPool({
      url: u.toString(),
      max: 5,
      acquireTimeout: 1000,
      connectTimeout: 1000,
      applicationName: `prg-outage-${process.pid}`,
    });
    const app = new App({ logger: false, requestTimeout: 2000 });
    pool.install(app);
    app.addRoute('/db', {
      async onGet(req, resp) {
        resp.media = await pool.one('SELECT $1::int AS n', [1], { req });
      },
    });
    const server = await serve(app, { port: 0 });
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    const ready: Array<{ at: number; ok: boolean }> = [];
    let polling = true;
    const t0 = performance.now();
    const poll = (async () => {
      while (polling) {
        const r = await app.checkReadiness(1000);
        ready.push({ at: performance.now() - t0, ok: r.ready });
        await sleep(100);
      }
    })();
    const load = loop(`http://127.0.0.1:${server.address.port}/db`, {
      concurrency: 8,
      maxMs: 30_000,
      pauseMs: 5,
    });
    try {
      await sleep(2000);
      const stallAt = performance.now() - t0;
      proxy.stall();
      await sleep(10_000);
      const healAt = performance.now() - t0;
      proxy.pass();
      await sleep(6000);
      const samples = await load.stop();
      polling = false;
      await poll;
      const before = samples.filter((s) => s.at + s.ms < stallAt - 100);
      assert.ok(before.length > 50 && before.every((s) => s.status === 200), 'healthy before');
      const during = samples.filter((s) => s.at > stallAt + 3000 && s.at + s.ms < healAt);
      assert.ok(during.length > 50, `${during.length} requests during the outage`);
      assert.ok(
        during.every((s) => s.status === 503),
        `statuses during outage: ${[...new Set(during.map((s) => s.status))]}`,
      );
      const p99 = percentile(
        during.map((s) => s.ms),
        99,
      );
      assert.ok(p99 < 100, `p99 of 503s once the breaker is open: ${p99} ms`);
      for (const s of during) assert.ok(s.headers['retry-after'] !== undefined);
      // Every answer in the whole outage, including the first ones, was bounded.
      const outage = samples.filter((s) => s.at >= stallAt && s.at < healAt);
      const worst = Math.max(...outage.map((s) => s.ms));
      assert.ok(worst < 2000 + 700, `slowest answer during the outage took ${worst} ms`);
      // Readiness false within 2 s of the outage, true again within 5 s of recovery.
      const firstFalse = ready.find((r) => r.at > stallAt && !r.ok);
      assert.ok(
        firstFalse !== undefined && firstFalse.at - stallAt < 2000,
        'readiness turned false',
      );
      const backTrue = ready.find((r) => r.at > healAt && r.ok);
      assert.ok(backTrue !== undefined && backTrue.at - healAt < 5000, 'readiness back');
      // Full recovery within 5 s: from then on every request succeeds.
      const after5 = samples.filter((s) => s.at > healAt + 5000);
      assert.ok(after5.length > 50);
      assert.ok(
        after5.every((s) => s.status === 200),
        `after recovery: ${after5.filter((s) => s.status !== 200).length} failures`,
      );
      assert.deepEqual(unhandled, []);
    } finally {
      polling = false;
      await load.stop();
      await poll;
      process.off('unhandledRejection', onUnhandled);
      await server.close(1000);
      await proxy.close();
    }
  });

  test('a reset and a cut connection are survived the same way', async (t) => {
    url ??= await requireService(t, 'postgres');
    if (url === undefined) return;
    const u = new URL(url);
    const proxy = await startFaultProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const pool = new PostgresPool({ url: u.toString(), max: 3, connectTimeout: 500 });
    await pool.open();
    try {
      for (const fault of ['reset', 'cut'] as const) {
        proxy[fault]();
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, () => pool.query('SELECT 1')),
        );
        for (const r of results) {
          assert.equal(r.status, 'rejected');
          assert.equal((r.reason as { status: number }).status, 503);
        }
        proxy.pass();
        const t0 = performance.now();
        for (;;) {
          try {
            await pool.query('SELECT 1');
            break;
          } catch {
            assert.ok(performance.now() - t0 < 5000, `${fault}: no recovery within 5 s`);
            await sleep(100);
          }
        }
      }
    } finally {
      await pool.close();
      await proxy.close();
    }
  });
});
