/**
 * `peregrine apm`'s pages in a real browser (Debian's chromium driven by playwright-core) against
 * a real fleet: gateway → catalog under `peregrine serve` (calling through peregrine/client) →
 * pricing, a service with no Peregrine in it (node:http + the OpenTelemetry Node SDK), all
 * exporting OTLP to `peregrine apm`. A counted number of calls, then, in the page: the map holds
 * exactly the expected nodes and edges, each edge's call count is the calls made, failing
 * downstream calls turn its edges red, clicking an edge lists its traces, a failed trace's
 * waterfall shows the failing span in pricing (with the network gaps drawn), and the service page
 * counts the same. Screenshots go to $PEREGRINE_SCREENSHOTS (docs/img for the README's) or a
 * temporary folder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type ServeProcess, startServe } from '../helpers/serve-process.ts';
import { eventually } from '../helpers/wait.ts';
import { type ApmProcess, startApm, startOtelService } from './helpers.ts';

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

test('the apm pages: the map counts every call, a failing call reddens its edge, its trace shows where it failed', {
  skip,
  timeout: 120_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing (apt-get install chromium)`);
  // The pages as the sources say now (the build takes about a second).
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-ui.ts')], { stdio: 'ignore' });
  const dir = await mkdtemp(join(tmpdir(), 'prg-apm-ui-'));
  const stops: Array<() => Promise<unknown>> = [];
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  const apm: ApmProcess = await startApm([
    '--otlp',
    '127.0.0.1:0',
    '--api',
    '127.0.0.1:0',
    '--db',
    join(dir, 'apm.db'),
    '--pair-wait',
    '3000',
  ]);
  stops.push(() => apm.stop());
  const otlp = `http://127.0.0.1:${apm.otlpPort}`;
  const pricing = await startOtelService(otlp, 'pricing');
  stops.push(() => pricing.stop());
  const env = (name: string, next: string, nextName: string) => ({
    OTEL_SERVICE_NAME: name,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp,
    OTEL_TRACES_SAMPLER_ARG: '1',
    PEREGRINE_TELEMETRY_INTERVAL: '200',
    APM_NEXT: next,
    APM_NEXT_NAME: nextName,
  });
  const args = ['test/fixtures/apm/service.ts', '--workers', '1', '--shed-delay', '0'];
  const services: ServeProcess[] = [];
  const [catalog] = await Promise.all([
    startServe(args, { env: env('catalog', `http://127.0.0.1:${pricing.port}`, 'pricing') }),
  ]);
  services.push(catalog!);
  stops.push(() => catalog!.stop());
  const gateway = await startServe(args, {
    env: env('gateway', `http://127.0.0.1:${catalog!.port}`, 'catalog'),
  });
  stops.push(() => gateway.stop());

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  mkdirSync(SHOTS, { recursive: true });
  const ui = `http://127.0.0.1:${apm.apiPort}`;

  // Before any call: the map says it is waiting, not a blank picture.
  await page.goto(`${ui}/`);
  await page.getByTestId('map-empty').waitFor({ timeout: 10_000 });
  assert.match((await page.getByTestId('map-empty').textContent()) ?? '', /Waiting for data/);

  const call = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${gateway.port}${path}`);
    await res.arrayBuffer();
    return res.status;
  };
  const OK = 20;
  const FAILING = 3;
  for (let i = 0; i < OK; i++) assert.equal(await call('/work'), 200);

  // The healthy calls first: both edges green with every call.
  await eventually(
    async () => {
      const { edges } = await mapFacts(page);
      return (
        edges['gateway→catalog']?.calls === OK &&
        edges['catalog→pricing']?.calls === OK &&
        edges['gateway→catalog']?.health === 'ok' &&
        edges['catalog→pricing']?.health === 'ok'
      );
    },
    30_000,
    `both edges on the map with ${OK} calls, ok`,
    200,
  );
  for (let i = 0; i < FAILING; i++) assert.ok((await call('/fail')) >= 500);
  const total = OK + FAILING;
  await eventually(
    async () => {
      const { edges } = await mapFacts(page);
      return edges['gateway→catalog']?.calls === total && edges['catalog→pricing']?.calls === total;
    },
    30_000,
    `both edges with ${total} calls`,
    200,
  );
  const facts = await mapFacts(page);
  assert.deepEqual(Object.keys(facts.nodes).sort(), ['catalog', 'gateway', 'pricing']);
  assert.deepEqual(Object.keys(facts.edges).sort(), ['catalog→pricing', 'gateway→catalog']);
  for (const [id, e] of Object.entries(facts.edges)) {
    assert.equal(e.calls, total, `${id} calls`);
    assert.equal(e.errors, FAILING, `${id} errors`);
    // 3 of 23 failed: ≥ 5 %, critical, drawn in the critical red.
    assert.equal(e.health, 'critical', `${id} health`);
    assert.equal(e.stroke, '#f05a5a', `${id} colour`);
  }
  // pricing is the OpenTelemetry-SDK service: on the map like the others, with its requests.
  assert.equal(facts.nodes.pricing!.kind, 'service');
  assert.equal(facts.nodes.pricing!.calls, total);
  assert.equal(facts.nodes.pricing!.health, 'critical');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'apm-map.png') });

  // The edge opens its traces: the search pre-filtered to catalog → pricing.
  await page.locator('[data-edge="catalog→pricing"] .edge-label').click();
  await page.getByTestId('edge-filter').waitFor();
  const rows = page.locator('[data-testid="traces"] tr[data-trace]');
  await eventually(async () => (await rows.count()) === total, 10_000, `${total} traces`, 100);
  assert.equal(await page.locator('[data-testid="traces"] tr.failed').count(), FAILING);
  // The failed filter on the same edge: exactly the failing calls.
  await page.locator('select[name="status"]').selectOption('error');
  await eventually(
    async () => (await page.getByTestId('traces').getAttribute('data-count')) === String(FAILING),
    10_000,
    `${FAILING} failed traces on the edge`,
    100,
  );
  await page.locator('[data-testid="traces"] tr.failed a').first().click();
  await page.getByTestId('waterfall').waitFor();
  // The failing span is pricing's server span, under catalog's client span.
  const failing = page.locator('li.wf-row[data-status="error"][data-kind="server"]');
  await failing.first().waitFor();
  const failedServers = await failing.evaluateAll((els) =>
    els.map((el) => el.getAttribute('data-service')),
  );
  assert.ok(failedServers.includes('pricing'), `failed server spans: ${failedServers.join(', ')}`);
  const legend = await page
    .locator('[data-testid="wf-legend"] [data-service]')
    .evaluateAll((els) => els.map((el) => el.getAttribute('data-service')).sort());
  assert.deepEqual(legend, ['catalog', 'gateway', 'pricing']);
  // Each service its own colour.
  const colours = await page
    .locator('[data-testid="wf-legend"] [data-service] i')
    .evaluateAll((els) => els.map((el) => el.getAttribute('style')));
  assert.equal(new Set(colours).size, 3, `colours ${colours.join(' ')}`);
  // Two calls in the trace (gateway → catalog → pricing): each server span shows its network gap.
  const gaps = await page
    .getByTestId('wf-gap')
    .evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-gap-ms'))));
  assert.equal(gaps.length, 2, `gaps ${gaps.join(', ')}`);
  for (const g of gaps) assert.ok(g >= 0 && g < 1000, `gap ${g} ms`);
  await page.screenshot({ path: join(SHOTS, 'apm-waterfall.png'), fullPage: true });

  // A node opens its service page: the same counts, from the stored aggregates.
  await page.getByTestId('tab-map').click();
  await page.locator('[data-node="catalog"]').click();
  await page.getByTestId('service-page').waitFor();
  assert.equal(await page.getByTestId('service-name').textContent(), 'catalog');
  await eventually(
    async () => (await page.getByTestId('service-calls').textContent()) === String(total),
    10_000,
    `catalog served ${total}`,
    100,
  );
  assert.equal(await page.getByTestId('service-health').textContent(), 'critical');
  assert.deepEqual(
    await page
      .locator('[data-testid="operations"] tr[data-operation]')
      .evaluateAll((els) => els.map((el) => el.getAttribute('data-operation')).sort()),
    ['GET /fail', 'GET /work'],
  );
  assert.equal(await page.locator('[data-testid="callers"] tr[data-neighbour]').count(), 1);
  assert.equal(
    await page
      .locator('[data-testid="callees"] tr[data-neighbour="pricing"]')
      .getAttribute('data-health'),
    'critical',
  );
  await page.locator('[data-testid="service-failed"] tr[data-trace]').first().waitFor();
  assert.equal(
    await page.locator('[data-testid="service-failed"] tr[data-trace]').count(),
    FAILING,
  );
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(SHOTS, 'apm-service.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no error in the page');
});
