import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TEST_NAMES, TESTS, type TestName } from '../../bench/lib/catalogue.ts';
import { ensureDatabase } from '../../bench/lib/database.ts';
import { SERVERS } from '../../bench/lib/servers.ts';
import { type StartedServer, startServer } from '../../bench/lib/session.ts';
import { databaseTruth, get, type Truth, verifyTest } from '../../bench/lib/verify.ts';
import app, { ROUTE_COUNT } from '../../bench/servers/peregrine/app.ts';
import { requireService } from '../helpers/services.ts';

/**
 * Every benchmark server follows TechEmpower's rules: each one is started the way the runner
 * starts it and checked with the runner's own checks (the db tests against real PostgreSQL).
 */

const DB_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NO_DB = { cpus: { server: null, load: null }, databaseUrl: '', pool: 4 };

test('the Peregrine bench App is the full App: 50 routes, one middleware, a hook per route', () => {
  const routes = app.describeRoutes();
  assert.equal(routes.length, 50);
  assert.equal(ROUTE_COUNT, 50);
  assert.equal(app.middleware.length, 1);
  for (const path of [
    '/json',
    '/plaintext',
    '/db',
    '/queries',
    '/fortunes',
    '/updates',
    '/cached-queries',
  ]) {
    const route = routes.find((r) => r.template === path);
    assert.ok(route, `${path} is routed`);
    assert.equal(route.methods.find((m) => m.method === 'GET')?.before, 1, `${path} has one hook`);
  }
});

const available = (
  await Promise.all(SERVERS.map(async (s) => ((await s.available()) === true ? s : undefined)))
).filter((s) => s !== undefined);

test('the single-process peers and raw node:cluster are always available', () => {
  const names = available.map((s) => s.name);
  for (const n of [
    'peregrine',
    'node',
    'fastify',
    'hono',
    'express',
    'node-cluster-1',
    'node-cluster-2',
  ]) {
    assert.ok(names.includes(n), `${n} is available`);
  }
});

for (const variant of available) {
  test(`${variant.name} follows the TechEmpower rules`, async (t) => {
    const url = await requireService(t, 'postgres');
    let truth: Truth | undefined;
    if (url !== undefined) {
      await ensureDatabase(DB_URL);
      truth = databaseTruth(DB_URL);
    }
    let server: StartedServer | undefined;
    try {
      server = await startServer(
        variant,
        url === undefined ? NO_DB : { ...NO_DB, databaseUrl: DB_URL },
      );
      const tests: TestName[] = TEST_NAMES.filter(
        (n) => truth !== undefined || !TESTS[n].needsDatabase,
      );
      for (const name of tests) {
        assert.deepEqual(
          await verifyTest(server.baseUrl, name, truth),
          [],
          `${variant.name} ${name}`,
        );
      }
      const missing = await get(`${server.baseUrl}/no/such/route`);
      assert.equal(missing.status, 404);
    } finally {
      await server?.stop();
      await truth?.close();
    }
    assert.equal(server?.process.alive, false, 'the server and its workers are stopped');
  });
}
