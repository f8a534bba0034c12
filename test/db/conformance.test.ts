import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import diagnostics_channel from 'node:diagnostics_channel';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App } from '../../src/app/app.ts';
import {
  CHANNELS,
  type DbQueryContext,
  dataSnapshot,
  type PoolStats,
} from '../../src/data/diagnostics.ts';
import type { Database } from '../../src/db/db.ts';
import { openDatabase } from '../../src/db/open.ts';
import { PostgresPool } from '../../src/db/pool/postgres.ts';
import { SqliteDatabase } from '../../src/db/sqlite/sqlite.ts';
import { requireService } from '../helpers/services.ts';
import { sleep } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'peregrine-db-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** One conformance suite, run against every implementation of the query interface. */
const backends: Array<{
  name: string;
  make(t: import('node:test').TestContext): Promise<Database | undefined>;
}> = [
  {
    name: 'sqlite',
    async make() {
      return new SqliteDatabase({ path: join(dir, `conf-${Date.now()}.db`) });
    },
  },
  {
    name: 'postgresql',
    async make(t) {
      const url = await requireService(t, 'postgres');
      return url === undefined ? undefined : new PostgresPool({ url, max: 3 });
    },
  },
];

for (const backend of backends) {
  describe(`query interface: ${backend.name}`, () => {
    test('CRUD with $n placeholders, one, batch, rowCount', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      await db.open();
      const table = `conf_items_${process.pid}`;
      try {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.query(
          `CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, n integer)`,
        );
        const ins = await db.query(`INSERT INTO ${table} (id, name, n) VALUES ($1, $2, $3)`, [
          1,
          'a',
          10,
        ]);
        assert.equal(ins.rowCount, 1);
        await db.query(`INSERT INTO ${table} (id, name, n) VALUES ($1, $2, $3)`, [2, 'b', null]);
        // The same placeholder twice works in both dialects.
        assert.deepEqual(
          await db.one(`SELECT id, name FROM ${table} WHERE id = $1 OR n = $1`, [1]),
          {
            id: 1,
            name: 'a',
          },
        );
        assert.equal(await db.one(`SELECT id FROM ${table} WHERE id = $1`, [99]), undefined);
        const results = await db.batch([
          { text: `SELECT name FROM ${table} WHERE id = $1`, values: [1] },
          { text: `SELECT name FROM ${table} WHERE id = $1`, values: [2] },
          { text: `UPDATE ${table} SET n = $1 WHERE id <= $2`, values: [5, 2] },
        ]);
        assert.deepEqual(
          results.map((r) => r.rows),
          [[{ name: 'a' }], [{ name: 'b' }], []],
        );
        assert.equal(results[2]!.rowCount, 2);
        const all = await db.query<{ id: number; n: number }>(
          `SELECT id, n FROM ${table} ORDER BY id`,
        );
        assert.deepEqual(all.rows, [
          { id: 1, n: 5 },
          { id: 2, n: 5 },
        ]);
      } finally {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.close();
      }
    });

    test('transactions commit and roll back; other callers never see the middle', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      await db.open();
      const table = `conf_tx_${process.pid}`;
      try {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.query(`CREATE TABLE ${table} (x integer)`);
        await db.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} VALUES ($1)`, [1]);
        });
        let outside: Promise<number> | undefined;
        await assert.rejects(
          db.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} VALUES ($1)`, [2]);
            // A concurrent caller outside the transaction must not see row 2.
            outside = db
              .query(`SELECT count(*) AS c FROM ${table}`)
              .then((r) => Number((r.rows[0] as { c: number | string }).c));
            // Give it time to run while the transaction is open (it may also wait for it).
            await sleep(20);
            throw new Error('roll back');
          }),
          /roll back/,
        );
        assert.equal(await outside, 1);
        const c = await db.one<{ c: number | string }>(`SELECT count(*) AS c FROM ${table}`);
        assert.equal(Number(c!.c), 1);
      } finally {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.close();
      }
    });

    test('statements are published on the db query tracing channel without values', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      await db.open();
      const seen: DbQueryContext[] = [];
      const handlers = {
        start(ctx: unknown) {
          seen.push(ctx as DbQueryContext);
        },
        end() {},
        asyncStart() {},
        asyncEnd() {},
        error() {},
      };
      const channel = diagnostics_channel.tracingChannel(CHANNELS.dbQuery);
      channel.subscribe(handlers);
      try {
        await db.query('SELECT $1 AS secret', ['hunter2']);
        const ctx = seen.find((c) => c.text.includes('secret'));
        assert.ok(ctx);
        assert.equal(ctx.system, backend.name);
        assert.equal(ctx.operation, 'SELECT');
        // The channel attaches the operation's result as `result`; every attribute is value-free.
        const { result: _result, ...attributes } = ctx as DbQueryContext & { result?: unknown };
        assert.ok(!JSON.stringify(attributes).includes('hunter2'), JSON.stringify(attributes));
        assert.equal(ctx.rowCount, 1);
        assert.ok(db.name in dataSnapshot().pools);
      } finally {
        channel.unsubscribe(handlers);
        await db.close();
      }
    });

    test('db.loader: one answers a row (or undefined), query the rows and their count', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      await db.open();
      const table = `conf_loader_${process.pid}`;
      try {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL)`);
        await db.batch(
          ['a', 'b', 'c'].map((name, i) => ({
            text: `INSERT INTO ${table} (id, name) VALUES ($1, $2)`,
            values: [i + 1, name],
          })),
        );
        const byId = db.loader<{ id: number; name: string }>(
          `SELECT id, name FROM ${table} WHERE id = $1`,
        );
        // Calls of one turn: each caller gets its own row.
        assert.deepEqual(await Promise.all([3, 1, 99, 2].map((id) => byId.one([id]))), [
          { id: 3, name: 'c' },
          { id: 1, name: 'a' },
          undefined,
          { id: 2, name: 'b' },
        ]);
        const from = db.loader<{ id: number }>(
          `SELECT id FROM ${table} WHERE id >= $1 ORDER BY id`,
        );
        const [two, none] = await Promise.all([from.query([2]), from.query([9])]);
        assert.deepEqual(two.rows, [{ id: 2 }, { id: 3 }]);
        assert.equal(two.rowCount, 2);
        assert.deepEqual([none.rows, none.rowCount], [[], 0]);
      } finally {
        await db.query(`DROP TABLE IF EXISTS ${table}`);
        await db.close();
      }
    });

    test('a wrong argument is a TypeError naming the shape, before any connection is used', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      await db.open();
      const stats = () => (db as unknown as { stats(): PoolStats }).stats();
      try {
        const before = stats();
        // Past the pool's breaker threshold (5): none of these may count as a lost connection.
        for (let i = 0; i < 6; i++) {
          await assert.rejects(db.batch(['SELECT 1'] as never), {
            name: 'TypeError',
            message:
              'db.batch() expects an array of statements: [{ text: string, values?: unknown[] }, …]; item 0 is a string: write { text: "SELECT 1" }.',
          });
        }
        const wrong: Array<[string, () => Promise<unknown>, RegExp]> = [
          ['batch(string)', () => db.batch('SELECT 1' as never), /db\.batch\(\) expects an array/],
          ['batch([null])', () => db.batch([null] as never), /item 0 is null/],
          [
            'batch values',
            () => db.batch([{ text: 'SELECT 1', values: 1 as never }]),
            /db\.batch\(\) item 0 expects its values as an array/,
          ],
          ['query(undefined)', () => db.query(undefined as never), /SQL text as a string/],
          ['query values', () => db.query('SELECT $1', 7 as never), /values as an array/],
          ['one values', () => db.one('SELECT $1', { id: 1 } as never), /db\.one\(\) .*an object/],
          ['loader values', () => db.loader('SELECT 1').one(7 as never), /loader\.one\(\)/],
          [
            'tx.batch',
            () => db.transaction((tx) => tx.batch(['SELECT 1'] as never)),
            /item 0 is a string/,
          ],
        ];
        for (const [what, call, message] of wrong) {
          await assert.rejects(call(), (err: unknown) => {
            assert.ok(err instanceof TypeError, `${what}: ${String(err)}`);
            assert.match(err.message, message, what);
            return true;
          });
        }
        assert.throws(() => db.loader(42 as never), /db\.loader\(\) expects the SQL text/);
        const after = stats();
        assert.equal(after.breaker, 'closed');
        assert.equal(after.connectionErrors, before.connectionErrors);
        assert.equal(after.queryErrors, before.queryErrors);
        assert.deepEqual(await db.one('SELECT 1 AS one'), { one: 1 });
      } finally {
        await db.close();
      }
    });

    test('install(): opens on startup, readiness check, closes on shutdown', async (t) => {
      const db = await backend.make(t);
      if (db === undefined) return;
      const app = new App({ logger: false });
      db.install(app);
      assert.equal((await app.checkReadiness()).ready, false);
      await app.startup();
      const r = await app.checkReadiness();
      assert.equal(r.ready, true);
      assert.deepEqual(Object.keys(r.checks), [db.name]);
      await app.shutdown();
      assert.equal((await app.checkReadiness()).ready, false);
    });
  });
}

describe('SQLite', () => {
  test('openDatabase picks the backend from the URL', () => {
    assert.ok(openDatabase('postgres://u@h/db') instanceof PostgresPool);
    assert.ok(openDatabase('sqlite:/tmp/x.db') instanceof SqliteDatabase);
    assert.equal((openDatabase('sqlite:/tmp/x.db') as SqliteDatabase).path, '/tmp/x.db');
    assert.ok(openDatabase(join(dir, 'y.db')) instanceof SqliteDatabase);
  });

  test('WAL: one file shared by several worker processes writing at once', async () => {
    const path = join(dir, 'shared.db');
    const db = new SqliteDatabase({ path });
    await db.open();
    await db.query('CREATE TABLE hits (worker integer, i integer)');
    assert.equal(db.handle.pragma('journal_mode', { simple: true }), 'wal');
    const child = new URL('../fixtures/sqlite-writer.ts', import.meta.url).pathname;
    const workers = [1, 2, 3].map((w) =>
      fork(child, [path, String(w), '200'], { execArgv: ['--conditions=peregrine-source'] }),
    );
    const codes = await Promise.all(workers.map(async (w) => (await once(w, 'exit'))[0]));
    assert.deepEqual(codes, [0, 0, 0]);
    const rows = await db.query<{ worker: number; c: number }>(
      'SELECT worker, count(*) AS c FROM hits GROUP BY worker ORDER BY worker',
    );
    assert.deepEqual(rows.rows, [
      { worker: 1, c: 200 },
      { worker: 2, c: 200 },
      { worker: 3, c: 200 },
    ]);
    await db.close();
  });

  test('a write lock held too long by another connection is a 503, not a hang', async () => {
    const path = join(dir, 'busy.db');
    const a = new SqliteDatabase({ path, name: 'a' });
    const b = new SqliteDatabase({ path, name: 'b', busyTimeout: 100 });
    await a.open();
    await b.open();
    await a.query('CREATE TABLE t (x integer)');
    a.handle.exec('BEGIN IMMEDIATE');
    try {
      const t0 = performance.now();
      await assert.rejects(
        b.query('INSERT INTO t VALUES ($1)', [1]),
        (err: { status?: number; code?: string }) => {
          assert.equal(err.status, 503);
          assert.equal(err.code, 'PRG_DB_BUSY');
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 1000);
      // Readers are not blocked by the writer in WAL mode.
      assert.deepEqual((await b.query('SELECT count(*) AS c FROM t')).rows, [{ c: 0 }]);
    } finally {
      a.handle.exec('ROLLBACK');
      await a.close();
      await b.close();
    }
  });

  test('booleans, dates and nulls bind the way PostgreSQL would store them', async () => {
    const db = new SqliteDatabase({ path: ':memory:' });
    await db.open();
    const d = new Date('2024-01-02T03:04:05.000Z');
    assert.deepEqual(await db.one('SELECT $1 AS b, $2 AS d, $3 AS n', [true, d, undefined]), {
      b: 1,
      d: '2024-01-02T03:04:05.000Z',
      n: null,
    });
    await db.close();
  });
});
