/**
 * `peregrine apm`'s pages in a real browser (Debian's chromium driven by playwright-core) against
 * the `npm start` reference system (examples/reference: gateway → catalog (SQLite behind the tiered
 * cache) → pricing under `peregrine serve`, inventory on the plain OpenTelemetry SDK, all
 * exporting OTLP to `peregrine apm`), started with no traffic of its own. Counted calls through
 * the gateway, then, in the page: the map holds exactly the expected nodes and edges and each
 * edge's call count is the calls made; healthy calls leave the edges green, failing pricing calls
 * turn the edges above them red; clicking an edge lists its traces, and a failed trace's waterfall
 * shows the failing span in pricing (each service in its colour, the network gaps drawn); the
 * service page counts the same. Screenshots go to $PEREGRINE_SCREENSHOTS (docs/img for the
 * README's) or a temporary folder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type ReferenceSystem, startReferenceSystem } from '../../examples/reference/system.ts';
import { eventually } from '../helpers/wait.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = new URL('../..', import.meta.url).pathname;
const SHOTS = process.env.PEREGRINE_SCREENSHOTS ?? join(tmpdir(), 'peregrine-apm-shots');
const skip = !existsSync(CHROMIUM) && process.env.CI !== 'true';

interface Fact {
  calls: number;
  errors: number;
  health: string;
  kind: string;
  stroke: string;
}

/** The `data-*` facts of every node and edge on the page's map (and each edge's colour). */
async function mapFacts(page: Page) {
  const read = async (selector: string, key: string) => {
    const rows = await page
      .locator(selector)
      .evaluateAll(
        (els, k) =>
          els.map((el) => [
            el.getAttribute(k) ?? '',
            el.getAttribute('data-calls'),
            el.getAttribute('data-errors'),
            el.getAttribute('data-health'),
            el.getAttribute('data-kind'),
            el.querySelector('.edge-line')?.getAttribute('stroke') ?? '',
          ]),
        key,
      );
    const out: Record<string, Fact> = {};
    for (const [id, calls, errors, health, kind, stroke] of rows) {
      out[id!] = {
        calls: Number(calls),
        errors: Number(errors ?? 0),
        health: health ?? '',
        kind: kind ?? '',
        stroke: stroke ?? '',
      };
    }
    return out;
  };
  return {
    nodes: await read('[data-node]', 'data-node'),
    edges: await read('[data-edge]', 'data-edge'),
  };
}

/**
 * The healthy calls (all 200): 8 product calls over 5 SKUs (one slow) and a list. Each product
 * call is gateway → catalog, gateway → inventory and catalog → pricing; catalog reads the
 * database the first time it sees a SKU (then it is cached) and for every list.
 */
const HEALTHY = [
  '/products/TENT-2P',
  '/products/BAG-0C',
  '/products/TENT-2P',
  '/products/POT-1L',
  '/products/KAYAK-SEA',
  '/products/MAT-AIR',
  '/products/TENT-2P',
  '/products/BAG-0C',
  '/products',
];
/** Then: three calls pricing fails (502 at the gateway; never five in a row) and an unknown SKU (404, no pricing call). */
const FAILING = ['/products/LANTERN-OLD', '/products/ROPE-60M', '/products/LANTERN-OLD'];
const UNKNOWN = '/products/NOPE-0';

test('the apm pages on the reference system: exact map, a failing call reddens its edges, its trace shows where it failed', {
  skip,
  timeout: 150_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  // The pages as the sources say now (the build takes about a second).
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-ui.ts')], { stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), 'prg-apm-ui-'));
  let system: ReferenceSystem | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await system?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const logs: string[] = [];
  system = await startReferenceSystem({
    traffic: false,
    basePort: 0,
    dataDir: dir,
    // SQLite and the in-process cache whatever this test's environment has (PostgreSQL, Redis).
    env: { ...process.env, DATABASE_URL: undefined, REDIS_URL: undefined },
    onLog: (source, line) => {
      logs.push(`${source}: ${line}`);
      if (logs.length > 200) logs.shift();
    },
  });
  const db = system.databaseNode;
  assert.equal(db, 'sqlite/catalog.db');

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  // A Content-Security-Policy refusal or a failed request shows as a console error.
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  mkdirSync(SHOTS, { recursive: true });

  // Before any call: the map says it is waiting, not a blank picture.
  await page.goto(`${system.urls.apmApi}/`);
  await page.getByTestId('map-empty').waitFor({ timeout: 10_000 });
  assert.match((await page.getByTestId('map-empty').textContent()) ?? '', /Waiting for data/);

  const gateway = system.urls.gateway;
  const call = async (path: string) => {
    const res = await fetch(gateway + path);
    await res.arrayBuffer();
    return res.status;
  };
  for (const path of HEALTHY) assert.equal(await call(path), 200, path);
  const waitFor = async (want: Record<string, [calls: number, health: string]>, what: string) => {
    let last: unknown;
    try {
      await eventually(
        async () => {
          const { edges } = await mapFacts(page);
          last = Object.fromEntries(
            Object.entries(edges).map(([k, v]) => [k, [v.calls, v.health]]),
          );
          return JSON.stringify(Object.keys(edges).sort()) ===
            JSON.stringify(Object.keys(want).sort()) &&
            Object.entries(want).every(
              ([k, [calls, health]]) => edges[k]?.calls === calls && edges[k]?.health === health,
            )
            ? true
            : undefined;
        },
        30_000,
        what,
        250,
      );
    } catch (err) {
      assert.fail(
        `${(err as Error).message}: the page shows ${JSON.stringify(last)}\n${logs.slice(-20).join('\n')}`,
      );
    }
  };
  // 8 product calls (5 SKUs) and a list: every edge green with exactly its calls.
  await waitFor(
    {
      'gateway→catalog': [9, 'ok'],
      'gateway→inventory': [8, 'ok'],
      'catalog→pricing': [8, 'ok'],
      [`catalog→${db}`]: [6, 'ok'],
    },
    'the healthy calls on the map, every edge ok',
  );
  for (const path of FAILING) assert.equal(await call(path), 502, path);
  assert.equal(await call(UNKNOWN), 404);
  // 3 failing + 1 unknown more product calls; 2 + 1 new SKUs read from the database.
  await waitFor(
    {
      'gateway→catalog': [13, 'critical'],
      'gateway→inventory': [12, 'ok'],
      'catalog→pricing': [11, 'critical'],
      [`catalog→${db}`]: [9, 'ok'],
    },
    'the failing calls on the map: their edges critical',
  );
  const facts = await mapFacts(page);
  assert.deepEqual(Object.keys(facts.nodes).sort(), [
    'catalog',
    'gateway',
    'inventory',
    'pricing',
    db,
  ]);
  assert.equal(facts.nodes[db]!.kind, 'database');
  assert.equal(facts.edges['gateway→catalog']!.errors, 3);
  assert.equal(facts.edges['catalog→pricing']!.errors, 3);
  assert.equal(facts.edges['gateway→inventory']!.errors, 0);
  // Drawn in the health colours: failing edges red, the others green.
  assert.equal(facts.edges['catalog→pricing']!.stroke, '#f05a5a');
  assert.equal(facts.edges['gateway→catalog']!.stroke, '#f05a5a');
  assert.equal(facts.edges['gateway→inventory']!.stroke, '#4cc38a');
  assert.equal(facts.edges[`catalog→${db}`]!.stroke, '#4cc38a');
  // inventory runs the plain OpenTelemetry SDK (no Peregrine): on the map like the others.
  assert.equal(facts.nodes.inventory!.kind, 'service');
  assert.equal(facts.nodes.inventory!.calls, 12);
  assert.equal(facts.nodes.pricing!.errors, 3);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'apm-map.png') });

  // The edge opens its traces: the search pre-filtered to catalog → pricing.
  await page.locator('[data-edge="catalog→pricing"] .edge-label').click();
  await page.getByTestId('edge-filter').waitFor();
  const rows = page.locator('[data-testid="traces"] tr[data-trace]');
  await eventually(async () => (await rows.count()) === 11, 10_000, '11 traces on the edge', 100);
  assert.equal(await page.locator('[data-testid="traces"] tr.failed').count(), 3);
  // The failed filter on the same edge: exactly the failing calls.
  await page.locator('select[name="status"]').selectOption('error');
  await eventually(
    async () => (await page.getByTestId('traces').getAttribute('data-count')) === '3',
    10_000,
    '3 failed traces on the edge',
    100,
  );
  await page.locator('[data-testid="traces"] tr.failed a').first().click();
  await page.getByTestId('waterfall').waitFor();
  // The failing span is pricing's server span, called by catalog's client span.
  const failing = page.locator('li.wf-row[data-status="error"][data-kind="server"]');
  await failing.first().waitFor();
  const failedServers = await failing.evaluateAll((els) =>
    els.map((el) => el.getAttribute('data-service')),
  );
  assert.ok(failedServers.includes('pricing'), `failed server spans: ${failedServers.join(', ')}`);
  const legend = await page
    .locator('[data-testid="wf-legend"] [data-service]')
    .evaluateAll((els) => els.map((el) => el.getAttribute('data-service')).sort());
  assert.deepEqual(legend, ['catalog', 'gateway', 'inventory', 'pricing']);
  // Each service its own colour.
  const colours = await page
    .locator('[data-testid="wf-legend"] [data-service] i')
    .evaluateAll((els) => els.map((el) => el.getAttribute('style')));
  assert.equal(new Set(colours).size, 4, `colours ${colours.join(' ')}`);
  // Three calls between services in the trace (gateway → catalog, gateway → inventory,
  // catalog → pricing): each server span shows its network gap.
  const gaps = await page
    .getByTestId('wf-gap')
    .evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-gap-ms'))));
  assert.equal(gaps.length, 3, `gaps ${gaps.join(', ')}`);
  for (const g of gaps) assert.ok(g >= 0 && g < 1000, `gap ${g} ms`);
  // The span where the failure began is open: pricing's, with its error.
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'apm-waterfall.png'), fullPage: true });

  // A node opens its service page: the same counts, from the stored aggregates.
  await page.getByTestId('tab-map').click();
  await page.locator('[data-node="catalog"]').click();
  await page.getByTestId('service-page').waitFor();
  assert.equal(await page.getByTestId('service-name').textContent(), 'catalog');
  await eventually(
    async () => (await page.getByTestId('service-calls').textContent()) === '13',
    10_000,
    'catalog served 13',
    100,
  );
  assert.equal(await page.getByTestId('service-health').textContent(), 'critical');
  assert.equal(await page.locator('[data-testid="callers"] tr[data-neighbour]').count(), 1);
  assert.deepEqual(
    await page
      .locator('[data-testid="callees"] tr[data-neighbour]')
      .evaluateAll((els) =>
        els.map((el) => `${el.getAttribute('data-neighbour')}:${el.getAttribute('data-health')}`),
      )
      .then((xs) => xs.sort()),
    [`pricing:critical`, `${db}:ok`].sort(),
  );
  await page.locator('[data-testid="service-failed"] tr[data-trace]').first().waitFor();
  assert.equal(await page.locator('[data-testid="service-failed"] tr[data-trace]').count(), 3);
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(SHOTS, 'apm-service.png'), fullPage: true });

  // The database opens its page too: the calls into it, and their traces (from catalog).
  await page.getByTestId('tab-map').click();
  await page.locator(`[data-node="${db}"]`).click();
  await page.getByTestId('service-page').waitFor();
  await eventually(
    async () => (await page.getByTestId('service-calls').textContent()) === '9',
    10_000,
    'the database read 9 times',
    100,
  );
  assert.equal(await page.getByTestId('service-health').textContent(), 'ok');
  await page.locator('[data-testid="service-recent"] tr[data-trace]').first().waitFor();

  // The services list: the four services (the database is no service), with their requests.
  await page.getByTestId('tab-services').click();
  const services = page.locator('[data-testid="services"] tr[data-service]');
  await services.first().waitFor();
  assert.deepEqual(
    await services.evaluateAll((els) => els.map((el) => el.getAttribute('data-service'))),
    ['catalog', 'gateway', 'inventory', 'pricing'],
  );

  // The search form: an attribute (the SKU pricing was asked for) and a service, from the page.
  await page.getByTestId('tab-traces').click();
  await page.getByTestId('trace-search').waitFor();
  await page.locator('select[name="service"]').selectOption('pricing');
  await eventually(
    () => page.url().includes('service=pricing'),
    5000,
    'the service in the URL',
    50,
  );
  await page.locator('input[name="attr"]').fill('url.path=/prices/LANTERN-OLD');
  // Polls re-render the page meanwhile (every 3 s): what was typed stays until Enter.
  await page.waitForTimeout(3500);
  await page.locator('input[name="attr"]').press('Enter');
  await eventually(
    async () => (await page.getByTestId('traces').getAttribute('data-count')) === '2',
    10_000,
    'the two LANTERN-OLD calls found by attribute',
    100,
  ).catch(async (err: Error) => {
    assert.fail(
      `${err.message}: ${page.url()} shows ${await page.getByTestId('traces').getAttribute('data-count')} (${await page.getByTestId('traces').textContent()})`,
    );
  });
  assert.match(page.url(), /service=pricing/);
  assert.match(page.url(), /attr=url\.path%3D%2Fprices%2FLANTERN-OLD/);
  assert.deepEqual(errors, [], 'no error in the page');
});
