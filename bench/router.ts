/**
 * `npm run bench:router`: Peregrine's router against find-my-way (Fastify's router) at 1,000
 * routes, in ns per lookup, for static paths, parameterised paths, a realistic mix and misses.
 * Both routers are checked to find the same route and parameters for every path first.
 *
 *   flock /tmp/peregrine-load.lock npm run bench:router [-- --rounds 7 --lookups 200000]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import FindMyWay from 'find-my-way';
import { Router } from '../src/app/routing/router.ts';
import { commitInfo, machineInfo } from './lib/machine.ts';
import { type BenchLookup, benchLookups, benchRoutes } from './lib/router-routes.ts';
import { ROOT } from './lib/servers.ts';
import { markdownTable, median } from './lib/stats.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    lookups: { type: 'string', default: '200000' },
    output: { type: 'string' },
  },
});
const rounds = Math.max(1, Number(values.rounds));
const perRound = Math.max(1000, Number(values.lookups));

const routes = benchRoutes();
const peregrine = new Router<number>();
const fmw = FindMyWay();
routes.forEach((r, i) => {
  peregrine.add(r.template, i);
  // The handler closes over the index so a match can be checked.
  const handler = Object.assign(() => {}, { index: i });
  fmw.on('GET', r.pattern, handler);
});

type Finder = (path: string) => { index: number; params: Record<string, unknown> } | null;

const finders: Record<string, Finder> = {
  peregrine: (path) => {
    const m = peregrine.find(path);
    return m === null ? null : { index: m.value, params: m.params };
  },
  'find-my-way': (path) => {
    const m = fmw.find('GET', path);
    return m === null
      ? null
      : { index: (m.handler as unknown as { index: number }).index, params: m.params };
  },
};

// Both routers must agree with the expected match on every path before anything is timed.
const check = benchLookups(routes, 5000, 7, 0.1);
for (const [name, find] of Object.entries(finders)) {
  for (const l of check) {
    const m = find(l.path);
    const ok =
      l.route === -1
        ? m === null
        : m !== null &&
          m.index === l.route &&
          JSON.stringify({ ...m.params }) === JSON.stringify(l.params);
    if (!ok) throw new Error(`${name} got ${l.path} wrong: ${JSON.stringify(m)}`);
  }
}

const sets: Record<string, BenchLookup[]> = {
  static: benchLookups(routes, 20_000, 1).filter((l) => l.kind === 'static'),
  dynamic: benchLookups(routes, 20_000, 2).filter((l) => l.kind === 'dynamic'),
  mixed: benchLookups(routes, 20_000, 3),
  miss: benchLookups(routes, 20_000, 4, 1),
};

let sink = 0;
// One loop per router and mode, each calling its router directly, so no call site is shared (a
// shared, polymorphic call site would slow both and blur the difference).
//
// `fresh`: every lookup gets a new string decoded from bytes, as a server gets from the HTTP
// parser; a reused string keeps its cached hash, which flatters hash-map lookups. The cost of
// making the string alone (`copy`) is measured the same way and subtracted.
type Timer = (paths: readonly string[], bufs: readonly Buffer[]) => number;
const timers: Record<string, Timer> = {
  peregrine(paths) {
    const n = paths.length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const m = peregrine.find(paths[i % n]!);
      if (m !== null) sink += m.value;
    }
    return Number(process.hrtime.bigint() - start) / perRound;
  },
  'find-my-way'(paths) {
    const n = paths.length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const m = fmw.find('GET', paths[i % n]!);
      if (m !== null) sink += 1;
    }
    return Number(process.hrtime.bigint() - start) / perRound;
  },
  'peregrine fresh'(_paths, bufs) {
    const n = bufs.length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const m = peregrine.find(bufs[i % n]!.toString('latin1'));
      if (m !== null) sink += m.value;
    }
    return Number(process.hrtime.bigint() - start) / perRound;
  },
  'find-my-way fresh'(_paths, bufs) {
    const n = bufs.length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) {
      const m = fmw.find('GET', bufs[i % n]!.toString('latin1'));
      if (m !== null) sink += 1;
    }
    return Number(process.hrtime.bigint() - start) / perRound;
  },
  copy(_paths, bufs) {
    const n = bufs.length;
    const start = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) sink += bufs[i % n]!.toString('latin1').length;
    return Number(process.hrtime.bigint() - start) / perRound;
  },
};

const results: Array<{ set: string; router: string; nsPerLookup: number; rounds: number[] }> = [];
for (const [set, lookups] of Object.entries(sets)) {
  const paths = lookups.map((l) => l.path);
  const bufs = paths.map((p) => Buffer.from(p, 'latin1'));
  const names = Object.keys(timers);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  // Warm every loop up, then rotate which goes first each round.
  for (const t of Object.values(timers)) t(paths, bufs);
  for (let r = 0; r < rounds; r++) {
    const order = [...names.slice(r % names.length), ...names.slice(0, r % names.length)];
    for (const name of order) samples[name]!.push(timers[name]!(paths, bufs));
  }
  const copy = median(samples.copy!);
  for (const router of ['peregrine', 'find-my-way']) {
    const reused = samples[router]!;
    const fresh = samples[`${router} fresh`]!.map((v) => v - copy);
    results.push({ set, router, nsPerLookup: round1(median(fresh)), rounds: fresh.map(round1) });
    results.push({
      set,
      router: `${router} (reused strings)`,
      nsPerLookup: round1(median(reused)),
      rounds: reused.map(round1),
    });
  }
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}

const ns = (set: string, router: string) =>
  results.find((r) => r.set === set && r.router === router)!.nsPerLookup;
const rows = Object.keys(sets).map((set) => {
  const p = ns(set, 'peregrine');
  const f = ns(set, 'find-my-way');
  return [
    set,
    String(sets[set]!.length),
    p.toFixed(1),
    f.toFixed(1),
    `${(f / p).toFixed(2)}x`,
    ns(set, 'peregrine (reused strings)').toFixed(1),
    ns(set, 'find-my-way (reused strings)').toFixed(1),
  ];
});
const table = markdownTable(
  [
    'lookups',
    'paths',
    'peregrine ns',
    'find-my-way ns',
    'peregrine speed-up',
    'peregrine ns, reused',
    'find-my-way ns, reused',
  ],
  rows,
);
const mp = ns('mixed', 'peregrine');
const mf = ns('mixed', 'find-my-way');
const verdict = `router at ${routes.length} routes (${routes.filter((r) => !r.dynamic).length} static): peregrine ${mp} ns vs find-my-way ${mf} ns per mixed lookup — target "no slower than find-my-way" ${mp <= mf ? 'met' : 'MISSED'}`;
const file = values.output ?? join(ROOT, 'bench', 'results', 'router.json');
mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
writeFileSync(
  file,
  `${JSON.stringify({ kind: 'router', date: new Date().toISOString(), ...commitInfo(), machine: machineInfo(), node: process.versions.node, routes: routes.length, lookupsPerRound: perRound, rounds, results, sink: sink > 0 }, null, 2)}\n`,
);
process.stdout.write(`${table}\n\n${verdict}\nwritten to ${file}\n`);
