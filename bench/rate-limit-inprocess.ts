/**
 * The rate limiter's cost per request inside one process, where the machine's other load
 * matters least: the same App with and without the limiter (node store, a key that never runs
 * out), simulated requests (no socket) in alternating batches, CPU time per request of the
 * fastest batch of each. KEY=ip keys by address instead of the header; HEADERS=0 drops the
 * RateLimit fields from allowed responses.
 *
 *   flock /tmp/peregrine-load.lock npx node --conditions=peregrine-source bench/rate-limit-inprocess.ts
 */
import { App } from '../src/index.ts';
import { rateLimit } from '../src/middleware/index.ts';
import { simulate } from '../src/testing/index.ts';

function build(limited: boolean): App {
  const app = new App({ logger: false });
  if (limited) {
    app.use(
      rateLimit({
        limit: 1_000_000_000,
        key: process.env.KEY === 'ip' ? 'ip' : { header: 'x-client' },
        headers: process.env.HEADERS !== '0',
      }),
    );
  }
  app.addRoute('/hit', { onGet: () => ({ ok: true }) });
  return app;
}

const apps = { off: build(false), on: build(true) };
const BATCH = 5000;
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const headers = { 'x-client': 'never-limited' };

async function batch(app: App): Promise<number> {
  const t0 = process.cpuUsage();
  for (let i = 0; i < BATCH; i++) await simulate(app, { path: '/hit', headers });
  const used = process.cpuUsage(t0);
  return ((used.user + used.system) * 1000) / BATCH; // ns per request
}

await batch(apps.off);
await batch(apps.on);
const ns = { off: [] as number[], on: [] as number[] };
for (let i = 0; i < ROUNDS; i++) {
  ns.off.push(await batch(apps.off));
  ns.on.push(await batch(apps.on));
}
// The least disturbed batch of each: on a shared machine the others carry other processes' noise.
const off = Math.min(...ns.off);
const on = Math.min(...ns.on);
console.log(
  `CPU per simulated request: off ${(off / 1000).toFixed(2)} µs, on ${(on / 1000).toFixed(2)} µs; ` +
    `the limiter adds ${((on - off) / 1000).toFixed(2)} µs (ratio on/off ${(on / off).toFixed(3)})`,
);
